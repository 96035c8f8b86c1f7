// gemini_batch_sdk.mjs - Google's own `@google/genai` package, unmodified, against
// tunedfs-server's Gemini API batch mode: ai.files.upload (the resumable protocol),
// ai.batches.create with inline requests and with a file, ai.batches.get until done,
// ai.batches.list, ai.files.download of the responses file.
// Usage: node gemini_batch_sdk.mjs BASE_URL MODEL INPUT_JSONL OUT_PATH. Prints one JSON object.
import fs from 'node:fs';
import {GoogleGenAI} from '@google/genai';

const [baseUrl, model, input, outPath] = process.argv.slice(2);
const ai = new GoogleGenAI({apiKey: 'sdk-test-key', httpOptions: {baseUrl}});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = {};

async function until(name) {
  for (const end = Date.now() + 540000; Date.now() < end;) {
    const b = await ai.batches.get({name});
    if (['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED',
         'JOB_STATE_EXPIRED'].includes(b.state))
      return b;
    await sleep(50);
  }
  throw new Error(`${name} never ended`);
}

const prompts = ['1', '2', '3'];
const inline = await ai.batches.create({
  model,
  src: prompts.map((p) => ({contents: [{role: 'user', parts: [{text: p}]}],
                            config: {temperature: 0, maxOutputTokens: 16},
                            metadata: {key: `k${p}`}})),
  config: {displayName: 'sdk inline'},
});
out.created = {name: inline.name, state: inline.state, displayName: inline.displayName};
const doneInline = await until(inline.name);
out.inline = {
  state: doneInline.state,
  model: doneInline.model,
  keys: doneInline.dest.inlinedResponses.map((r) => r.metadata.key),
  texts: doneInline.dest.inlinedResponses.map(
      (r) => r.response.candidates[0].content.parts.map((x) => x.text).join('')),
};

const file = await ai.files.upload(
    {file: input, config: {mimeType: 'application/jsonl', displayName: 'sdk input'}});
out.file = {name: file.name, sizeBytes: file.sizeBytes, state: file.state,
            displayName: file.displayName};
const fromFile = await ai.batches.create({model, src: file.name});
const doneFile = await until(fromFile.name);
out.fromFile = {state: doneFile.state, responsesFile: doneFile.dest.fileName};
await ai.files.download({file: doneFile.dest.fileName, downloadPath: outPath});

out.listed = [];
for await (const b of await ai.batches.list({config: {pageSize: 1}})) out.listed.push(b.name);
console.log(JSON.stringify(out));
