// vertex_batch_sdk.mjs - Google's own @google/genai in Vertex mode, unmodified, against
// tunedfs-server's batch prediction: ai.batches.create on a tuned model with a gs:// input
// and destination, get until it ends, list.
// Usage: node vertex_batch_sdk.mjs BASE_URL PROJECT MODEL GS_INPUT GS_DEST. Prints one JSON object.
import {GoogleGenAI} from '@google/genai';
import {OAuth2Client} from 'google-auth-library';

const [baseUrl, project, model, input, dest] = process.argv.slice(2);
const auth = new OAuth2Client();
auth.setCredentials({access_token: 'sdk-test-token'}); // no expiry: never refreshed
const ai = new GoogleGenAI({
  vertexai: true,
  project,
  location: 'us-central1',
  googleAuthOptions: {authClient: auth},
  httpOptions: {baseUrl},
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = {};

const job = await ai.batches.create(
    {model, src: input, config: {dest, displayName: 'sdk vertex batch'}});
out.created = {name: job.name, state: job.state, model: job.model};
let done = job;
for (const end = Date.now() + 540000; Date.now() < end;) {
  done = await ai.batches.get({name: job.name});
  if (['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED',
       'JOB_STATE_EXPIRED'].includes(done.state))
    break;
  await sleep(50);
}
out.done = {state: done.state, displayName: done.displayName,
            completionStats: done.completionStats, outputInfo: done.outputInfo,
            dest: done.dest};
out.listed = [];
for await (const b of await ai.batches.list({config: {pageSize: 1}})) out.listed.push(b.name);
console.log(JSON.stringify(out));
