// openai_batch_sdk.mjs - OpenAI's own `openai` package, unmodified, against tunedfs-server's
// Batch API: files.create with purpose batch, batches.create, retrieve until it ends,
// batches.list, files.content of the output file.
// Usage: node openai_batch_sdk.mjs BASE_URL INPUT_JSONL. Prints one JSON object.
import fs from 'node:fs';
import OpenAI, {toFile} from 'openai';

const [baseUrl, input] = process.argv.slice(2);
const client = new OpenAI({apiKey: 'sk-sdk-test', baseURL: `${baseUrl}/v1`, maxRetries: 0});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = {};

const file = await client.files.create(
    {file: await toFile(fs.readFileSync(input), 'batch.jsonl'), purpose: 'batch'});
out.file = {id: file.id, purpose: file.purpose};
const batch = await client.batches.create({
  input_file_id: file.id,
  endpoint: '/v1/chat/completions',
  completion_window: '24h',
  metadata: {run: 'sdk'},
});
out.created = {id: batch.id, status: batch.status, metadata: batch.metadata};
let done = batch;
for (const end = Date.now() + 540000; Date.now() < end;) {
  done = await client.batches.retrieve(batch.id);
  if (['completed', 'failed', 'expired', 'cancelled'].includes(done.status)) break;
  await sleep(50);
}
out.done = {status: done.status, counts: done.request_counts};
const content = await client.files.content(done.output_file_id);
out.lines = (await content.text()).trim().split('\n').map((l) => JSON.parse(l));
out.listed = [];
for await (const b of client.batches.list({limit: 1})) out.listed.push(b.id);
console.log(JSON.stringify(out));
