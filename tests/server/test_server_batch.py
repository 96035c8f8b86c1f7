"""Batch jobs over HTTP: the Gemini API's batchGenerateContent with the Files API, OpenAI
Batch over its files, Vertex batch prediction over Cloud Storage; each batch's answers equal
the online ones, its counts, cancel, an injected failure half-way and expiry, and a restart
of the server in the middle of a batch."""
import json
import time

import pytest

PROMPTS = ["1", "2", "3", "4", "5", "6"]


def gen_request(text):
    return {"contents": [{"role": "user", "parts": [{"text": text}]}],
            "generationConfig": {"temperature": 0, "maxOutputTokens": 16}}


def online(server, model, text):
    st, r, _ = server.request("POST", f"/v1beta/{model}:generateContent", gen_request(text))
    assert st == 200, r
    return r


def wait_batch(server, name, timeout=60, path="/v1beta/"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, op, _ = server.request("GET", path + name)
        assert st == 200, op
        if op.get("done"):
            return op
        time.sleep(0.05)
    raise AssertionError(f"{name} not done after {timeout}s")


def stats(server):
    st, s, _ = server.request("GET", "/debug/stats")
    assert st == 200
    return s


def upload_gemini_file(server, data, display="in.jsonl", chunk=7):
    """The Files API's resumable protocol, in small chunks."""
    st, _, h = server.request(
        "POST", "/upload/v1beta/files",
        {"file": {"displayName": display, "mimeType": "application/jsonl"}},
        headers={"X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
                 "X-Goog-Upload-Header-Content-Length": str(len(data)),
                 "X-Goog-Upload-Header-Content-Type": "application/jsonl"})
    assert st == 200
    url = h["X-Goog-Upload-URL"]
    assert h["X-Goog-Upload-Status"] == "active"
    path = url[url.index("/upload/"):]
    off = 0
    while True:
        part = data[off:off + chunk]
        last = off + len(part) >= len(data)
        st, body, h = server.request(
            "POST", path, raw=part,
            headers={"X-Goog-Upload-Command": "upload, finalize" if last else "upload",
                     "X-Goog-Upload-Offset": str(off)})
        assert st == 200, body
        off += len(part)
        if last:
            assert h["X-Goog-Upload-Status"] == "final"
            return body["file"]
        assert h["X-Goog-Upload-Status"] == "active"


def raw_get(server, path):
    import urllib.request
    with urllib.request.urlopen(server.url + path, timeout=30) as r:
        return r.read()


def test_gemini_inline_batch_equals_online(server, make_model):
    make_model(server, "bm", epochs=2, examples=[{"text_input": "1", "output": "2"}])
    body = {"batch": {"displayName": "six", "inputConfig": {"requests": {"requests": [
        {"request": gen_request(p), "metadata": {"key": f"k{i}", "n": i}}
        for i, p in enumerate(PROMPTS)]}}}}
    st, op, _ = server.request("POST", "/v1beta/tunedModels/bm:batchGenerateContent", body)
    assert st == 200, op
    assert op["name"].startswith("batches/") and op["metadata"]["model"] == "tunedModels/bm"
    assert op["metadata"]["batchStats"]["requestCount"] == "6"
    done = wait_batch(server, op["name"])
    meta = done["metadata"]
    assert meta["state"] == "BATCH_STATE_SUCCEEDED"
    assert meta["batchStats"]["successfulRequestCount"] == "6"
    assert meta["batchStats"]["failedRequestCount"] == "0"
    assert meta["batchStats"]["pendingRequestCount"] == "0"
    got = done["response"]["inlinedResponses"]["inlinedResponses"]
    assert [g["metadata"] for g in got] == [{"key": f"k{i}", "n": i} for i in range(6)]
    for g, p in zip(got, PROMPTS):
        want = online(server, "tunedModels/bm", p)
        assert g["response"]["candidates"][0]["content"] == want["candidates"][0]["content"]
    s = stats(server)
    assert s["batches"]["created"]["gemini"] == 1
    assert s["routes"]["tunedModels.batchGenerateContent"]["requests"] == 1
    # the items are not online requests
    assert s["routes"]["tunedModels.generateContent"]["requests"] == 6
    st, lst, _ = server.request("GET", "/v1beta/batches?pageSize=1")
    assert st == 200 and lst["operations"][0]["name"] == op["name"]
    st, _, _ = server.request("DELETE", "/v1beta/" + op["name"])
    assert st == 200
    st, _, _ = server.request("GET", "/v1beta/" + op["name"])
    assert st == 404


def test_gemini_file_batch_and_files_api(server, make_model):
    make_model(server, "fm", epochs=2, examples=[{"text_input": "1", "output": "2"}])
    lines = [{"key": f"r{i}", "request": gen_request(p)} for i, p in enumerate(PROMPTS)]
    lines.append({"key": "bad", "request": {"contents": []}})
    data = "".join(json.dumps(x) + "\n" for x in lines).encode()
    f = upload_gemini_file(server, data)
    assert f["name"].startswith("files/") and f["sizeBytes"] == str(len(data))
    assert f["state"] == "ACTIVE" and f["displayName"] == "in.jsonl"
    st, got, _ = server.request("GET", "/v1beta/" + f["name"])
    assert st == 200 and got["name"] == f["name"]
    assert raw_get(server, f"/v1beta/{f['name']}:download?alt=media") == data
    st, op, _ = server.request("POST", "/v1beta/tunedModels/fm:batchGenerateContent",
                               {"batch": {"inputConfig": {"fileName": f["name"]}}})
    assert st == 200, op
    done = wait_batch(server, op["name"])
    assert done["metadata"]["batchStats"]["successfulRequestCount"] == "6"
    assert done["metadata"]["batchStats"]["failedRequestCount"] == "1"
    out = done["response"]["responsesFile"]
    assert done["metadata"]["output"]["responsesFile"] == out
    text = raw_get(server, f"/download/v1beta/{out}:download?alt=media").decode()
    rows = [json.loads(x) for x in text.splitlines()]
    assert [r["key"] for r in rows] == [x["key"] for x in lines]
    for r, p in zip(rows, PROMPTS):
        want = online(server, "tunedModels/fm", p)
        assert r["response"]["candidates"][0]["content"] == want["candidates"][0]["content"]
    assert rows[-1]["error"]["code"] == 400
    st, lst, _ = server.request("GET", "/v1beta/files")
    assert {x["name"] for x in lst["files"]} == {f["name"], out}
    st, _, _ = server.request("DELETE", "/v1beta/" + f["name"])
    assert st == 200
    st, _, _ = server.request("GET", "/v1beta/" + f["name"])
    assert st == 404


def test_gemini_base_model_batch_answers_as_online(server):
    body = {"batch": {"inputConfig": {"requests": {"requests": [
        {"request": gen_request("1")}]}}}}
    st, op, _ = server.request("POST", "/v1beta/models/tunedfs-local-1:batchGenerateContent",
                               body)
    assert st == 200, op
    done = wait_batch(server, op["name"])
    item = done["response"]["inlinedResponses"]["inlinedResponses"][0]
    st, want, _ = server.request("POST", "/v1beta/models/tunedfs-local-1:generateContent",
                                 gen_request("1"))
    assert item["error"] == want["error"]
    st, err, _ = server.request("POST", "/v1beta/tunedModels/nope:batchGenerateContent", body)
    assert st == 404


def test_gemini_cancel(server_factory, make_model):
    server = server_factory("--latency", "100", "--batch-workers", "1")
    make_model(server, "cm", epochs=1)
    body = {"batch": {"inputConfig": {"requests": {"requests": [
        {"request": gen_request("1")}] * 40}}}}
    st, op, _ = server.request("POST", "/v1beta/tunedModels/cm:batchGenerateContent", body)
    st, _, _ = server.request("POST", f"/v1beta/{op['name']}:cancel", {})
    assert st == 200
    done = wait_batch(server, op["name"])
    assert done["metadata"]["state"] == "BATCH_STATE_CANCELLED"
    assert int(done["metadata"]["batchStats"]["pendingRequestCount"]) > 0
    st, _, _ = server.request("POST", f"/v1beta/{op['name']}:cancel", {})
    assert st == 400


def test_gemini_fail_half_way_and_expire(server_factory, make_model):
    server = server_factory("--fail-batch-after", "3", "--batch-workers", "2")
    make_model(server, "hm", epochs=1)
    body = {"batch": {"inputConfig": {"requests": {"requests": [
        {"request": gen_request(p), "metadata": {"key": p}} for p in PROMPTS]}}}}
    st, op, _ = server.request("POST", "/v1beta/tunedModels/hm:batchGenerateContent", body)
    done = wait_batch(server, op["name"])
    meta = done["metadata"]
    assert meta["state"] == "BATCH_STATE_FAILED" and "error" in done
    assert meta["batchStats"]["successfulRequestCount"] == "3"
    assert meta["batchStats"]["pendingRequestCount"] == "3"
    got = meta["output"]["inlinedResponses"]["inlinedResponses"]
    assert sum("response" in g for g in got) == 3 and len(got) == 6

    server2 = server_factory("--batch-expire", "300", "--latency", "200",
                             "--batch-workers", "1")
    make_model(server2, "em", epochs=1)
    st, op, _ = server2.request("POST", "/v1beta/tunedModels/em:batchGenerateContent", body)
    done = wait_batch(server2, op["name"])
    assert done["metadata"]["state"] == "BATCH_STATE_EXPIRED"
    assert done["error"]["status"] == "DEADLINE_EXCEEDED"


def test_gemini_restart_mid_batch(server_factory, make_model):
    server = server_factory("--latency", "50", "--batch-workers", "1")
    make_model(server, "rm", epochs=1)
    body = {"batch": {"inputConfig": {"requests": {"requests": [
        {"request": gen_request(str(i % 7)), "metadata": {"key": str(i)}}
        for i in range(30)]}}}}
    st, op, _ = server.request("POST", "/v1beta/tunedModels/rm:batchGenerateContent", body)
    deadline = time.time() + 30
    while time.time() < deadline:
        st, cur, _ = server.request("GET", "/v1beta/" + op["name"])
        if int(cur["metadata"]["batchStats"]["successfulRequestCount"]) >= 3:
            break
        time.sleep(0.02)
    server.kill9()
    server.start()
    st, cur, _ = server.request("GET", "/v1beta/" + op["name"])
    assert st == 200 and int(cur["metadata"]["batchStats"]["successfulRequestCount"]) >= 3
    done = wait_batch(server, op["name"])
    assert done["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
    got = done["response"]["inlinedResponses"]["inlinedResponses"]
    assert [g["metadata"]["key"] for g in got] == [str(i) for i in range(30)]
    assert all("response" in g for g in got)


# --- OpenAI ------------------------------------------------------------------

OA = {"Authorization": "Bearer sk-batch"}


def oa_model(server):
    from .test_server_openai import chat_lines, upload, wait_job
    from .conftest import number_examples
    st, f, _ = upload(server, chat_lines(number_examples()[:10]), headers=OA)
    assert st == 200, f
    st, job, _ = server.request("POST", "/v1/fine_tuning/jobs", {
        "model": "gpt-4o-mini-2024-07-18", "training_file": f["id"],
        "hyperparameters": {"n_epochs": 1}}, headers=OA)
    assert st == 200, job
    done = wait_job(server, job["id"])
    assert done["status"] == "succeeded", done
    return done["fine_tuned_model"]


def chat_body(model, text):
    return {"model": model, "temperature": 0, "max_tokens": 16,
            "messages": [{"role": "user", "content": text}]}


def oa_batch_file(server, lines):
    from .test_server_openai import upload
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    st, f, _ = upload(server, text, purpose="batch", filename="batch.jsonl", headers=OA)
    assert st == 200, f
    return f["id"]


def oa_wait(server, bid, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, b, _ = server.request("GET", "/v1/batches/" + bid, headers=OA)
        assert st == 200, b
        if b["status"] in ("completed", "failed", "expired", "cancelled"):
            return b
        time.sleep(0.05)
    raise AssertionError(f"{bid} did not end")


def oa_content(server, file_id):
    import urllib.request
    req = urllib.request.Request(server.url + f"/v1/files/{file_id}/content", headers=OA)
    with urllib.request.urlopen(req, timeout=30) as r:
        return [json.loads(x) for x in r.read().decode().splitlines()]


def test_openai_batch_equals_online(server):
    model = oa_model(server)
    lines = [{"custom_id": f"c{i}", "method": "POST", "url": "/v1/chat/completions",
              "body": chat_body(model, p)} for i, p in enumerate(PROMPTS)]
    lines.append({"custom_id": "nomodel", "method": "POST", "url": "/v1/chat/completions",
                  "body": chat_body("ft:nope", "1")})
    fid = oa_batch_file(server, lines)
    st, b, _ = server.request("POST", "/v1/batches", {
        "input_file_id": fid, "endpoint": "/v1/chat/completions", "completion_window": "24h",
        "metadata": {"job": "t"}}, headers=OA)
    assert st == 200, b
    assert b["id"].startswith("batch_") and b["object"] == "batch"
    assert b["status"] in ("validating", "in_progress", "completed")
    assert b["input_file_id"] == fid and b["metadata"] == {"job": "t"}
    done = oa_wait(server, b["id"])
    assert done["status"] == "completed", done
    assert done["request_counts"] == {"total": 7, "completed": 6, "failed": 1}
    assert done["completed_at"] and done["in_progress_at"] and done["errors"] is None
    assert done["model"] == model and done["usage"]["total_tokens"] > 0
    out = oa_content(server, done["output_file_id"])
    assert [o["custom_id"] for o in out] == [f"c{i}" for i in range(6)]
    for o, p in zip(out, PROMPTS):
        assert o["error"] is None and o["response"]["status_code"] == 200
        st, want, _ = server.request("POST", "/v1/chat/completions", chat_body(model, p),
                                     headers=OA)
        assert o["response"]["body"]["choices"][0]["message"] == want["choices"][0]["message"]
    err = oa_content(server, done["error_file_id"])
    assert err[0]["custom_id"] == "nomodel" and err[0]["response"]["status_code"] == 404
    st, lst, _ = server.request("GET", "/v1/batches?limit=1", headers=OA)
    assert lst["data"][0]["id"] == b["id"] and lst["has_more"] is False
    assert stats(server)["batches"]["created"]["openai"] == 1
    st, _, _ = server.request("POST", f"/v1/batches/{b['id']}/cancel", headers=OA)
    assert st == 409


def test_openai_batch_validation(server):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
    ok = {"method": "POST", "url": "/v1/chat/completions", "body": body}
    fid = oa_batch_file(server, [dict(ok, custom_id="a"), "{not json",
                                 dict(ok, custom_id="a"),
                                 dict(ok, custom_id="b", url="/v1/embeddings")])
    st, b, _ = server.request("POST", "/v1/batches", {
        "input_file_id": fid, "endpoint": "/v1/chat/completions",
        "completion_window": "24h"}, headers=OA)
    assert st == 200, b
    done = oa_wait(server, b["id"])
    assert done["status"] == "failed" and done["failed_at"]
    errs = done["errors"]["data"]
    assert [(e["code"], e["line"]) for e in errs] == [
        ("invalid_json_line", 2), ("duplicate_custom_id", 3), ("invalid_url", 4)]
    assert done["request_counts"]["total"] == 0
    st, e, _ = server.request("POST", "/v1/batches", {
        "input_file_id": fid, "endpoint": "/v1/completions", "completion_window": "24h"},
        headers=OA)
    assert st == 400 and e["error"]["param"] == "endpoint"
    st, e, _ = server.request("POST", "/v1/batches", {
        "input_file_id": "file-nope", "endpoint": "/v1/chat/completions",
        "completion_window": "24h"}, headers=OA)
    assert st == 404


def test_openai_batch_fail_half_way_and_cancel(server_factory):
    server = server_factory("--fail-batch-after", "2", "--batch-workers", "1")
    model = oa_model(server)
    lines = [{"custom_id": f"c{i}", "method": "POST", "url": "/v1/chat/completions",
              "body": chat_body(model, p)} for i, p in enumerate(PROMPTS)]
    fid = oa_batch_file(server, lines)
    st, b, _ = server.request("POST", "/v1/batches", {
        "input_file_id": fid, "endpoint": "/v1/chat/completions",
        "completion_window": "24h"}, headers=OA)
    done = oa_wait(server, b["id"])
    assert done["status"] == "failed"
    assert done["request_counts"] == {"total": 6, "completed": 2, "failed": 0}
    assert [o["custom_id"] for o in oa_content(server, done["output_file_id"])] == ["c0", "c1"]
    err = oa_content(server, done["error_file_id"])
    assert [o["error"]["code"] for o in err] == ["batch_failed"] * 4

    slow = server_factory("--latency", "100", "--batch-workers", "1")
    model = oa_model(slow)
    fid = oa_batch_file(slow, [dict(x, body=chat_body(model, "1")) for x in lines] * 1)
    st, b, _ = slow.request("POST", "/v1/batches", {
        "input_file_id": fid, "endpoint": "/v1/chat/completions",
        "completion_window": "24h"}, headers=OA)
    st, c, _ = slow.request("POST", f"/v1/batches/{b['id']}/cancel", headers=OA)
    assert st == 200 and c["status"] in ("cancelling", "cancelled")
    done = oa_wait(slow, b["id"])
    assert done["status"] == "cancelled" and done["cancelled_at"]
    assert done["request_counts"]["completed"] < 6


# --- Vertex ------------------------------------------------------------------

BEARER = {"Authorization": "Bearer any-token"}
PARENT = "projects/test-proj/locations/us-central1"


def vx_model(server):
    from .test_server_vertex import contents_lines, job_body, put_object
    from .test_server_vertex import wait_job as vx_wait_job
    from .conftest import number_examples
    uri = put_object(server, "train.jsonl", contents_lines(number_examples()[:4]))
    st, job, _ = server.request("POST", f"/v1/{PARENT}/tuningJobs", job_body(uri, epochs=1),
                                headers=BEARER)
    assert st == 200, job
    done = vx_wait_job(server, job["name"])
    assert done["state"] == "JOB_STATE_SUCCEEDED", done
    return done["tunedModel"]["model"], done["tunedModel"]["endpoint"]


def vx_batch_body(model, uris, prefix="gs://bkt/out"):
    return {"displayName": "vb", "model": model,
            "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": uris}},
            "outputConfig": {"predictionsFormat": "jsonl",
                             "gcsDestination": {"outputUriPrefix": prefix}}}


def vx_wait(server, name, version="v1", timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, j, _ = server.request("GET", f"/{version}/{name}", headers=BEARER)
        assert st == 200, j
        if j["state"] in ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
                          "JOB_STATE_EXPIRED"):
            return j
        time.sleep(0.05)
    raise AssertionError(f"{name} did not end")


def gcs_read(server, gs_uri):
    import urllib.parse
    import urllib.request
    bucket, name = gs_uri[5:].split("/", 1)
    path = f"/storage/v1/b/{bucket}/o/{urllib.parse.quote(name, safe='')}?alt=media"
    req = urllib.request.Request(server.url + path, headers=BEARER)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


def vx_lines(server, prompts):
    from .test_server_vertex import put_object
    lines = [{"id": i, "request": gen_request(p)} for i, p in enumerate(prompts)]
    return put_object(server, "batch/in.jsonl",
                      "".join(json.dumps(x) + "\n" for x in lines))


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_vertex_batch_equals_online(server, version):
    model, endpoint = vx_model(server)
    uri = vx_lines(server, PROMPTS)
    st, job, _ = server.request("POST", f"/{version}/{PARENT}/batchPredictionJobs",
                                vx_batch_body(model, [uri]), headers=BEARER)
    assert st == 200, job
    assert job["name"].startswith(PARENT + "/batchPredictionJobs/")
    assert job["model"] == model and job["displayName"] == "vb"
    assert job["state"] in ("JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED")
    done = vx_wait(server, job["name"], version)
    assert done["state"] == "JOB_STATE_SUCCEEDED", done
    assert done["completionStats"] == {"successfulCount": "6", "failedCount": "0",
                                       "incompleteCount": "0"}
    assert done["endTime"] and done["createTime"] and "error" not in done
    out_dir = done["outputInfo"]["gcsOutputDirectory"]
    assert out_dir.startswith("gs://bkt/out/prediction-model-")
    rows = [json.loads(x) for x in gcs_read(server, out_dir + "/predictions.jsonl").splitlines()]
    assert [r["id"] for r in rows] == list(range(6))
    for r, p in zip(rows, PROMPTS):
        assert r["request"] == gen_request(p)
        st, want, _ = server.request("POST", f"/v1/{endpoint}:generateContent",
                                     gen_request(p), headers=BEARER)
        assert r["response"]["candidates"][0]["content"] == want["candidates"][0]["content"]
    st, lst, _ = server.request(
        "GET", f"/{version}/{PARENT}/batchPredictionJobs?filter=state%3DJOB_STATE_SUCCEEDED",
        headers=BEARER)
    assert [j["name"] for j in lst["batchPredictionJobs"]] == [job["name"]]
    st, lst, _ = server.request("GET", f"/v1/projects/other/locations/x/batchPredictionJobs",
                                headers=BEARER)
    assert lst.get("batchPredictionJobs", []) == []
    assert stats(server)["batches"]["created"]["vertex"] == 1
    st, op, _ = server.request("DELETE", f"/{version}/{job['name']}", headers=BEARER)
    assert st == 200 and op["done"] is True
    st, _, _ = server.request("GET", f"/{version}/{job['name']}", headers=BEARER)
    assert st == 404


def test_vertex_batch_errors_fail_and_cancel(server_factory):
    server = server_factory("--fail-batch-after", "2", "--batch-workers", "1")
    model, _ = vx_model(server)
    uri = vx_lines(server, PROMPTS)
    st, e, _ = server.request("POST", f"/v1/{PARENT}/batchPredictionJobs",
                              vx_batch_body(PARENT + "/models/nope", [uri]), headers=BEARER)
    assert st == 404, e
    st, e, _ = server.request("POST", f"/v1/{PARENT}/batchPredictionJobs",
                              vx_batch_body(model, ["gs://bkt/missing.jsonl"]), headers=BEARER)
    assert st == 400, e
    st, job, _ = server.request("POST", f"/v1/{PARENT}/batchPredictionJobs",
                                vx_batch_body(model, [uri]), headers=BEARER)
    done = vx_wait(server, job["name"])
    assert done["state"] == "JOB_STATE_FAILED" and done["error"]["message"]
    assert done["completionStats"]["successfulCount"] == "2"
    assert done["completionStats"]["incompleteCount"] == "4"
    rows = gcs_read(server, done["outputInfo"]["gcsOutputDirectory"] + "/predictions.jsonl")
    rows = [json.loads(x) for x in rows.splitlines()]
    assert sum("response" in r for r in rows) == 2 and len(rows) == 6
    assert all(r["status"] for r in rows if "response" not in r)

    slow = server_factory("--latency", "100", "--batch-workers", "1")
    model, _ = vx_model(slow)
    uri = vx_lines(slow, PROMPTS * 3)
    st, job, _ = slow.request("POST", f"/v1/{PARENT}/batchPredictionJobs",
                              vx_batch_body(model, [uri]), headers=BEARER)
    st, r, _ = slow.request("POST", f"/v1/{job['name']}:cancel", {}, headers=BEARER)
    assert st == 200 and r == {}
    done = vx_wait(slow, job["name"])
    assert done["state"] == "JOB_STATE_CANCELLED"
    assert int(done["completionStats"]["incompleteCount"]) > 0
