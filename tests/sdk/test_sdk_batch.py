"""The official SDKs' batch calls, unmodified, against tunedfs-server: `@google/genai`
(files.upload, batches.create inline and from a file, batches.get/list, files.download)
and `openai` (files.create with purpose batch, batches.create/retrieve/list,
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
