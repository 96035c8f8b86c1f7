"""Batch jobs over HTTP: the Gemini API's batchGenerateContent with the Files API, OpenAI
Batch over its files, Vertex batch prediction over Cloud Storage; each batch's answers equal
the online ones, its counts, cancel, an injected failure half-way and expiry, and a restart
of the server in the middle of a batch."""
import json
import time

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
        {"request": gen_request(p), "metadata": {"key": f"k{i}"}}
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
    assert [g["metadata"]["key"] for g in got] == [f"k{i}" for i in range(6)]
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
