// vertex_sdk.mjs - Google's own @google/genai, unmodified, against tunedfs-server's Vertex
// routes: tune from a gs:// file, wait, list in pages, cancel, prompt the endpoint (whole and
// streamed). Usage: node vertex_sdk.mjs BASE_URL GS_URI LONG_GS_URI [API_VERSION]
// Prints one JSON object of what it saw; test_sdk_vertex.py checks it.
import {GoogleGenAI} from '@google/genai';
import {OAuth2Client} from 'google-auth-library';

const [baseUrl, gsUri, longUri, apiVersion] = process.argv.slice(2);
const auth = new OAuth2Client();
auth.setCredentials({access_token: 'sdk-test-token'}); // no expiry: never refreshed
const httpOptions = {baseUrl};
if (apiVersion) httpOptions.apiVersion = apiVersion;
const ai = new GoogleGenAI({
  vertexai: true,
  project: 'sdk-proj',
  location: 'us-central1',
  googleAuthOptions: {authClient: auth},
  httpOptions,
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Bounded by time, not tries: a sanitizer build trains many times slower (the caller's
// own bound on this script is 600 s).
async function waitFor(name, states) {
  for (const until = Date.now() + 540000; Date.now() < until;) {
    const job = await ai.tunings.get({name});
    if (states.includes(job.state)) return job;
    await sleep(50);
  }
  throw new Error(`${name} never reached ${states}`);
}

const out = {};
const job = await ai.tunings.tune({
  baseModel: 'gemini-2.5-flash',
  trainingDataset: {gcsUri: gsUri},
  config: {epochCount: 300, tunedModelDisplayName: 'number generator'},
});
out.created = {name: job.name, state: job.state};
const long = await ai.tunings.tune({
  baseModel: 'gemini-2.5-flash',
  trainingDataset: {gcsUri: longUri},
  config: {epochCount: 10000, learningRateMultiplier: 1.0},
});
await waitFor(long.name, ['JOB_STATE_RUNNING']);
await ai.tunings.cancel({name: long.name});
const cancelled = await waitFor(long.name, ['JOB_STATE_CANCELLED', 'JOB_STATE_FAILED']);
out.cancelled = {state: cancelled.state, code: cancelled.error?.code};

const done = await waitFor(job.name, ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED']);
out.done = {state: done.state, endpoint: done.tunedModel?.endpoint,
            model: done.tunedModel?.model, displayName: done.tunedModelDisplayName};

const pager = await ai.tunings.list({config: {pageSize: 1}});
out.listed = [];
for await (const j of pager) out.listed.push(j.name);
out.listedPages = pager.pageLength !== undefined ? undefined : null;

out.answers = {};
for (const prompt of ['1', 'seven', 'ninety nine']) {
  const r = await ai.models.generateContent({model: done.tunedModel.endpoint, contents: prompt,
                                             config: {temperature: 0}});
  out.answers[prompt] = r.text;
}
let streamed = '';
let chunks = 0;
const stream = await ai.models.generateContentStream(
    {model: done.tunedModel.endpoint, contents: 'ninety nine', config: {temperature: 0}});
for await (const c of stream) {
  streamed += c.text ?? '';
  chunks++;
}
out.streamed = {text: streamed, chunks};
const count = await ai.models.countTokens({model: done.tunedModel.endpoint, contents: 'hello'});
out.countTokens = count.totalTokens;
console.log(JSON.stringify(out));
