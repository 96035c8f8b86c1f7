"""The official SDKs' batch calls, unmodified, against tunedfs-server: `@google/genai`
(files.upload, batches.create inline and from a file, batches.get/list, files.download;
in Vertex mode batches.create/get/list over gs://) and `openai` (files.create with purpose batch, batches.create/retrieve/list,
files.content). Every answer equals the online one for the same prompt."""
import json
import time

from .conftest import run_node


def gen_request(text):
    return {"contents": [{"role": "user", "parts": [{"text": text}]}],
            "generationConfig": {"temperature": 0, "maxOutputTokens": 16}}


def tuned(server, model_id):
    body = {"baseModel": "models/tunedfs-local-1", "tuningTask": {
        "hyperparameters": {"epochCount": 2},
        "trainingData": {"examples": {"examples": [{"textInput": "1", "output": "2"}]}}}}
    st, op, _ = server.request("POST", f"/v1beta/tunedModels?tunedModelId={model_id}", body)
    assert st == 200, op
    server.wait_model(f"tunedModels/{model_id}")
    return f"tunedModels/{model_id}"


def online_text(server, model, text):
    st, r, _ = server.request("POST", f"/v1beta/{model}:generateContent", gen_request(text))
    assert st == 200, r
    return "".join(p["text"] for p in r["candidates"][0]["content"]["parts"])


def test_gemini_batch_sdk(server_factory, tmp_path, node):
    server = server_factory()
    model = tuned(server, "sdkb")
    lines = [{"key": f"f{p}", "request": gen_request(p)} for p in ("4", "5")]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    dest = tmp_path / "out.jsonl"
    out = json.loads(run_node(node, "gemini_batch_sdk.mjs", server.url, model, str(src),
                              str(dest)))
    assert out["created"]["name"].startswith("batches/")
    assert out["created"]["displayName"] == "sdk inline"
    assert out["inline"]["state"] == "JOB_STATE_SUCCEEDED"
    assert out["inline"]["model"] == model
    assert out["inline"]["keys"] == ["k1", "k2", "k3"]
    assert out["inline"]["texts"] == [online_text(server, model, p) for p in ("1", "2", "3")]
    assert out["file"]["state"] == "ACTIVE" and out["file"]["displayName"] == "sdk input"
    assert out["file"]["sizeBytes"] == str(src.stat().st_size)
    assert out["fromFile"]["state"] == "JOB_STATE_SUCCEEDED"
    rows = [json.loads(x) for x in dest.read_text().splitlines()]
    assert [r["key"] for r in rows] == ["f4", "f5"]
    for r, p in zip(rows, ("4", "5")):
        got = "".join(x["text"] for x in r["response"]["candidates"][0]["content"]["parts"])
        assert got == online_text(server, model, p)
    assert len(out["listed"]) == 2 and len(set(out["listed"])) == 2


def oa_tuned(server, tmp_path):
    from ..server.conftest import number_examples
    from ..server.test_server_openai import chat_lines, upload, wait_job
    auth = {"Authorization": "Bearer sk-sdk-test"}
    st, f, _ = upload(server, chat_lines(number_examples()[:10]), headers=auth)
    assert st == 200, f
    st, job, _ = server.request("POST", "/v1/fine_tuning/jobs", {
        "model": "gpt-4o-mini-2024-07-18", "training_file": f["id"],
        "hyperparameters": {"n_epochs": 1}}, headers=auth)
    assert st == 200, job
    return wait_job(server, job["id"])["fine_tuned_model"]


def test_openai_batch_sdk(server_factory, tmp_path, node):
    server = server_factory()
    model = oa_tuned(server, tmp_path)
    prompts = ["1", "2", "3"]
    bodies = [{"model": model, "temperature": 0, "max_tokens": 16,
               "messages": [{"role": "user", "content": p}]} for p in prompts]
    src = tmp_path / "batch.jsonl"
    src.write_text("".join(json.dumps({"custom_id": f"q{i}", "method": "POST",
                                       "url": "/v1/chat/completions", "body": b}) + "\n"
                           for i, b in enumerate(bodies)))
    out = json.loads(run_node(node, "openai_batch_sdk.mjs", server.url, str(src)))
    assert out["file"]["purpose"] == "batch"
    assert out["created"]["id"].startswith("batch_")
    assert out["created"]["metadata"] == {"run": "sdk"}
    assert out["done"] == {"status": "completed",
                           "counts": {"total": 3, "completed": 3, "failed": 0}}
    assert [x["custom_id"] for x in out["lines"]] == ["q0", "q1", "q2"]
    auth = {"Authorization": "Bearer sk-sdk-test"}
    for line, body in zip(out["lines"], bodies):
        st, want, _ = server.request("POST", "/v1/chat/completions", body, headers=auth)
        assert st == 200
        got = line["response"]["body"]["choices"][0]["message"]
        assert got == want["choices"][0]["message"]
    assert out["listed"] == [out["created"]["id"]]


def test_vertex_batch_sdk(server_factory, tmp_path, node):
    from ..server.conftest import number_examples
    from ..server.test_server_vertex import contents_lines, job_body, put_object, wait_job
    server = server_factory()
    bearer = {"Authorization": "Bearer t"}
    parent = "projects/sdk-proj/locations/us-central1"
    uri = put_object(server, "train.jsonl", contents_lines(number_examples()[:4]))
    st, job, _ = server.request("POST", f"/v1/{parent}/tuningJobs", job_body(uri, epochs=1),
                                headers=bearer)
    assert st == 200, job
    tuned = wait_job(server, job["name"])["tunedModel"]
    lines = [{"request": gen_request(p), "tag": p} for p in ("1", "2")]
    src = put_object(server, "in/batch.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    out = json.loads(run_node(node, "vertex_batch_sdk.mjs", server.url, "sdk-proj",
                              tuned["model"], src, "gs://bkt/out"))
    assert out["created"]["name"].startswith(parent + "/batchPredictionJobs/")
    assert out["created"]["model"] == tuned["model"]
    assert out["done"]["state"] == "JOB_STATE_SUCCEEDED"
    assert out["done"]["displayName"] == "sdk vertex batch"
    assert out["done"]["completionStats"]["successfulCount"] == "2"
    assert out["done"]["dest"]["gcsUri"] == "gs://bkt/out"
    out_dir = out["done"]["outputInfo"]["gcsOutputDirectory"]
    from ..server.test_server_batch import gcs_read
    rows = [json.loads(x) for x in gcs_read(server, out_dir + "/predictions.jsonl").splitlines()]
    assert [r["tag"] for r in rows] == ["1", "2"]
    for r, p in zip(rows, ("1", "2")):
        st, want, _ = server.request("POST", f"/v1/{tuned['endpoint']}:generateContent",
                                     gen_request(p), headers=bearer)
        assert r["response"]["candidates"][0]["content"] == want["candidates"][0]["content"]
    assert out["listed"] == [out["created"]["name"]]
