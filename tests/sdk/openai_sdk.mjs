// openai_sdk.mjs - OpenAI's own `openai` package, unmodified, against tunedfs-server's
// OpenAI routes: upload a file, fine-tune (with the same file as its validation file),
// retrieve, list and list events in pages, cancel, checkpoints, chat completions (whole and
// streamed), models retrieve and delete.
// Usage: node openai_sdk.mjs BASE_URL TRAIN_JSONL LONG_JSONL. Prints one JSON object.
import fs from 'node:fs';
import OpenAI, {toFile} from 'openai';

const [baseUrl, train, longTrain] = process.argv.slice(2);
const client = new OpenAI({apiKey: 'sk-sdk-test', baseURL: `${baseUrl}/v1`, maxRetries: 0});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = {};

// Bounded by time, not tries: a sanitizer build trains many times slower (the caller's
// own bound on this script is 600 s).
async function until(id, done) {
  for (const end = Date.now() + 540000; Date.now() < end;) {
    const j = await client.fineTuning.jobs.retrieve(id);
    if (done(j)) return j;
    await sleep(50);
  }
  throw new Error(`${id} never ended`);
}

const file = await client.files.create(
    {file: await toFile(fs.readFileSync(train), 'train.jsonl'), purpose: 'fine-tune'});
out.file = {id: file.id, bytes: file.bytes, purpose: file.purpose};
const longFile = await client.files.create(
    {file: await toFile(fs.readFileSync(longTrain), 'long.jsonl'), purpose: 'fine-tune'});

const job = await client.fineTuning.jobs.create({
  model: 'gpt-4o-mini-2024-07-18',
  training_file: file.id,
  validation_file: file.id,
  suffix: 'ng',
  metadata: {'tunedfs-name': 'ng'},
  method: {type: 'supervised', supervised: {hyperparameters: {n_epochs: 50}}},
});
const long = await client.fineTuning.jobs.create(
    {model: 'gpt-4o-mini-2024-07-18', training_file: longFile.id,
     hyperparameters: {n_epochs: 50}});
const cancelled = await client.fineTuning.jobs.cancel(long.id);
out.cancel = {status: cancelled.status};
out.cancelled = (await until(long.id, (j) => j.finished_at !== null)).status;

const done = await until(job.id, (j) => ['succeeded', 'failed'].includes(j.status));
out.done = {status: done.status, model: done.fine_tuned_model, metadata: done.metadata,
            epochs: done.hyperparameters.n_epochs, validation: done.validation_file};

out.listed = [];
for await (const j of client.fineTuning.jobs.list({limit: 1})) out.listed.push(j.id);
out.events = 0;
let last = '';
for await (const e of client.fineTuning.jobs.listEvents(job.id, {limit: 100})) {
  out.events++;
  last = e.message;
}
out.firstEvent = last;
const ck = await client.fineTuning.jobs.checkpoints.list(job.id);
out.checkpoints = ck.data.map((c) => c.step_number);
out.validLoss = ck.data.map((c) => c.metrics.full_valid_loss);

const ft = done.fine_tuned_model;
out.answers = {};
for (const prompt of ['1', 'seven', 'ninety nine']) {
  const r = await client.chat.completions.create(
      {model: ft, messages: [{role: 'user', content: prompt}], temperature: 0});
  out.answers[prompt] = r.choices[0].message.content;
}
const stream = await client.chat.completions.create(
    {model: ft, messages: [{role: 'user', content: 'ninety nine'}], temperature: 0,
     stream: true});
out.streamed = {text: '', chunks: 0};
for await (const chunk of stream) {
  out.streamed.text += chunk.choices[0]?.delta?.content ?? '';
  out.streamed.chunks++;
}
out.retrieved = (await client.models.retrieve(ft)).id;
out.deleted = (await client.models.del ? await client.models.del(ft)
                                       : await client.models.delete(ft)).deleted;
try {
  await client.models.retrieve(ft);
  out.afterDelete = 'found';
} catch (e) {
  out.afterDelete = e.status;
}
console.log(JSON.stringify(out));
