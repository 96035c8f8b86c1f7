"""Every route of tunedfs-server over real HTTP, and the errors of each."""
import http.client
import json
import socket



def error_of(status_body, code, status):
    st, body, _ = status_body
    assert st == code, body
    assert body["error"]["code"] == code
    assert body["error"]["status"] == status
    assert body["error"]["message"]
    return body["error"]["message"]


def test_base_models(server):
    st, body, _ = server.request("GET", "/v1beta/models")
    assert st == 200
    names = [m["name"] for m in body["models"]]
    assert "models/tunedfs-local-1" in names
    assert "createTunedModel" in body["models"][0]["supportedGenerationMethods"]
    for name in ("models/tunedfs-local-1", "models/gemini-1.0-pro-001",
                 "models/gemini-1.5-flash-001-tuning"):
        st, m, _ = server.request("GET", "/v1beta/" + name)
        assert st == 200 and m["name"] == name
        assert "createTunedModel" in m["supportedGenerationMethods"]
    error_of(server.request("GET", "/v1beta/models/no-such-model"), 404, "NOT_FOUND")


def test_create_get_list_patch_delete(server, make_model):
    op, model = make_model(server, "first", display="First model", epochs=1)
    assert op["name"].startswith("tunedModels/first/operations/")
    md = op["metadata"]
    assert md["@type"].endswith("v1beta.CreateTunedModelMetadata")
    assert md["tunedModel"] == "tunedModels/first" and md["totalSteps"] == 1
    assert not op.get("done")
    assert model["state"] == "ACTIVE"
    assert model["displayName"] == "First model"
    assert model["baseModel"] == "models/tunedfs-local-1"
    assert model["tuningTask"]["hyperparameters"] == {
        "learningRate": 0.001, "epochCount": 1, "batchSize": 4}
    snaps = model["tuningTask"]["snapshots"]
    assert [s["step"] for s in snaps] == [1] and snaps[0]["epoch"] == 1
    assert "meanLoss" in snaps[0] and snaps[0]["computeTime"].endswith("Z")
    assert "trainingData" not in model["tuningTask"]

    st, done, _ = server.request("GET", "/v1beta/" + op["name"])
    assert st == 200 and done["done"] is True
    assert done["response"]["@type"].endswith("v1beta.TunedModel")
    assert done["response"]["name"] == "tunedModels/first"
    assert done["metadata"]["completedSteps"] == 1
    assert done["metadata"]["completedPercent"] == 100
    # The v1 surface polls operations too (the tutorial's Python code does).
    st, v1, _ = server.request("GET", "/v1/" + op["name"])
    assert st == 200 and v1["name"] == op["name"]

    st, ops, _ = server.request("GET", "/v1beta/tunedModels/first/operations")
    assert st == 200 and [o["name"] for o in ops["operations"]] == [op["name"]]

    st, lst, _ = server.request("GET", "/v1beta/tunedModels")
    assert st == 200 and [m["name"] for m in lst["tunedModels"]] == ["tunedModels/first"]
    assert "nextPageToken" not in lst

    st, patched, _ = server.request(
        "PATCH", "/v1beta/tunedModels/first?updateMask=displayName,description,temperature",
        {"displayName": "Renamed", "description": "about it", "temperature": 0.25,
         "topK": 3})
    assert st == 200, patched
    assert patched["displayName"] == "Renamed" and patched["description"] == "about it"
    assert patched["temperature"] == 0.25 and "topK" not in patched
    assert patched["updateTime"] > model["updateTime"]
    st, patched, _ = server.request("PATCH", "/v1beta/tunedModels/first",
                                    {"top_k": 5, "top_p": 0.5})
    assert st == 200 and patched["topK"] == 5 and patched["topP"] == 0.5
    msg = error_of(server.request("PATCH", "/v1beta/tunedModels/first?updateMask=baseModel",
                                  {"baseModel": "models/x"}), 400, "INVALID_ARGUMENT")
    assert "baseModel" in msg
    error_of(server.request("PATCH", "/v1beta/tunedModels/first",
                            {"temperature": 9}), 400, "INVALID_ARGUMENT")
    error_of(server.request("PATCH", "/v1beta/tunedModels/nope", {"description": "x"}),
             404, "NOT_FOUND")

    # Official clients send {} on DELETE and an x-goog-api-client header.
    st, body, _ = server.request("DELETE", "/v1beta/tunedModels/first", {},
                                 headers={"x-goog-api-client": "genai-py/1.0 gl-python/3"})
    assert st == 200 and body == {}
    error_of(server.request("GET", "/v1beta/tunedModels/first"), 404, "NOT_FOUND")
    error_of(server.request("GET", "/v1beta/" + op["name"]), 404, "NOT_FOUND")
    error_of(server.request("DELETE", "/v1beta/tunedModels/first"), 404, "NOT_FOUND")


def test_generated_id_from_display_name(server, tuning):
    st, op, _ = server.request("POST", "/v1beta/tunedModels",
                               tuning(display="Sentence Translator"))
    assert st == 200, op
    name = op["metadata"]["tunedModel"]
    assert name.startswith("tunedModels/sentence-translator-")
    assert len(name) - len("tunedModels/sentence-translator-") >= 5
    st, op2, _ = server.request("POST", "/v1beta/tunedModels", tuning())
    assert st == 200
    rnd = op2["metadata"]["tunedModel"].split("/")[1]
    assert rnd[0].isalpha() and len(rnd) >= 8
    server.wait_model(name)
    server.wait_model(op2["metadata"]["tunedModel"])


def test_generate_content(server, make_model):
    ex = [{"text_input": "ab", "output": "cd"}, {"text_input": "xy", "output": "zw"}]
    _, m = make_model(server, "gen", examples=ex, epochs=3, batch=2)
    req = {"contents": [{"role": "user", "parts": [{"text": "ab"}]}],
           "systemInstruction": {"parts": [{"text": "be brief"}]},
           "generationConfig": {"temperature": 0, "maxOutputTokens": 4,
                                "candidateCount": 1, "topP": 0.9, "topK": 5}}
    st, r, _ = server.request("POST", "/v1beta/tunedModels/gen:generateContent", req)
    assert st == 200, r
    cand = r["candidates"][0]
    assert cand["content"]["role"] == "model" and cand["index"] == 0
    text = "".join(p["text"] for p in cand["content"]["parts"])
    assert len(text.encode()) <= 4
    assert cand["finishReason"] in ("STOP", "MAX_TOKENS")
    u = r["usageMetadata"]
    assert u["promptTokenCount"] == 2
    assert u["candidatesTokenCount"] == len(text.encode())
    assert u["totalTokenCount"] == 2 + len(text.encode())
    assert r["modelVersion"] and r["responseId"]
    st, r2, _ = server.request("POST", "/v1beta/tunedModels/gen:generateContent", req)
    assert r2["responseId"] != r["responseId"]
    # Greedy decoding is deterministic.
    assert r2["candidates"][0]["content"] == cand["content"]

    req["generationConfig"] = {"maxOutputTokens": 1}
    st, r, _ = server.request("POST", "/v1beta/tunedModels/gen:generateContent", req)
    assert st == 200
    c = r["candidates"][0]
    assert len(c["content"]["parts"][0]["text"].encode()) <= 1 or c["finishReason"] == "STOP"

    # Stop sequences: the answer ends before the first one.
    req["generationConfig"] = {"stopSequences": [text[:1] or "c"], "maxOutputTokens": 8}
    st, r, _ = server.request("POST", "/v1beta/tunedModels/gen:generateContent", req)
    assert st == 200 and r["candidates"][0]["finishReason"] == "STOP"
    assert (text[:1] or "c") not in r["candidates"][0]["content"]["parts"][0]["text"]

    # Sampling accepted.
    req["generationConfig"] = {"temperature": 1.5, "topK": 3, "topP": 0.8, "seed": 7}
    st, r, _ = server.request("POST", "/v1beta/tunedModels/gen:generateContent", req)
    assert st == 200 and "candidates" in r

    # Safety blocks, on demand.
    st, r, _ = server.request("POST", "/v1beta/tunedModels/gen:generateContent",
                              {"contents": [{"parts": [{"text": "x TUNEDFS-BLOCK y"}]}]})
    assert st == 200 and "candidates" not in r
    assert r["promptFeedback"]["blockReason"] == "SAFETY"

    # Streaming: SSE and the JSON array form.
    conn = http.client.HTTPConnection(server.url.split("//")[1])
    conn.request("POST", "/v1beta/tunedModels/gen:streamGenerateContent?alt=sse",
                 json.dumps({"contents": [{"parts": [{"text": "ab"}]}]}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    body = resp.read().decode()
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    assert events and events[-1]["candidates"][0]["finishReason"]
    conn.close()
    st, arr, _ = server.request("POST", "/v1beta/tunedModels/gen:streamGenerateContent",
                                {"contents": [{"parts": [{"text": "ab"}]}]})
    assert st == 200 and isinstance(arr, list) and arr[0]["candidates"]


def test_generate_errors(server, make_model):
    _, m = make_model(server, "gerr")
    path = "/v1beta/tunedModels/gerr:generateContent"
    error_of(server.request("POST", path, {}), 400, "INVALID_ARGUMENT")
    error_of(server.request("POST", path, {"contents": []}), 400, "INVALID_ARGUMENT")
    error_of(server.request("POST", path, {"contents": [{"parts": "x"}]}), 400,
             "INVALID_ARGUMENT")
    for gc, field in [({"temperature": 3}, "temperature"), ({"candidateCount": 2},
                      "candidate_count"), ({"maxOutputTokens": 0}, "max_output_tokens"),
                      ({"stopSequences": ["a"] * 6}, "stop_sequences"), ({"topP": 2}, "top_p")]:
        msg = error_of(server.request("POST", path, {"contents": [{"parts": [{"text": "1"}]}],
                                                     "generationConfig": gc}),
                       400, "INVALID_ARGUMENT")
        assert field in msg
    error_of(server.request("POST", "/v1beta/tunedModels/nope:generateContent",
                            {"contents": [{"parts": [{"text": "1"}]}]}), 404, "NOT_FOUND")
    error_of(server.request("POST", path, raw=b"{not json"), 400, "INVALID_ARGUMENT")
    msg = error_of(server.request("POST", path, {"contents": [{"parts": [{"text": "1"}]}],
                                                 "generationConfig": {"temprature": 1}}),
                   400, "INVALID_ARGUMENT")
    assert 'Unknown name "temprature"' in msg
    # Fields the service knows but this server does not use are accepted.
    st, _, _ = server.request("POST", path, {
        "contents": [{"role": "user", "parts": [{"text": "1"}]}],
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "generationConfig": {"responseMimeType": "text/plain", "presencePenalty": 0}})
    assert st == 200


def test_generate_not_active(server, make_model):
    # A long job keeps the model CREATING while it is prompted.
    op, _ = make_model(server, "busy", wait=False, epochs=10000, batch=1,
                       examples=[{"text_input": "a" * 200, "output": "b" * 200}] * 8)
    msg = error_of(server.request("POST", "/v1beta/tunedModels/busy:generateContent",
                                  {"contents": [{"parts": [{"text": "a"}]}]}),
                   400, "FAILED_PRECONDITION")
    assert "CREATING" in msg
    st, running, _ = server.request("GET", "/v1beta/" + op["name"])
    assert st == 200 and not running.get("done")
    # Deleting a model in training cancels its job.
    st, _, _ = server.request("DELETE", "/v1beta/tunedModels/busy")
    assert st == 200
    error_of(server.request("GET", "/v1beta/tunedModels/busy"), 404, "NOT_FOUND")


def test_create_errors(server, make_model, tuning):
    P = "/v1beta/tunedModels"
    error_of(server.request("POST", P, raw=b'{"baseModel": '), 400, "INVALID_ARGUMENT")
    error_of(server.request("POST", P, raw=b""), 400, "INVALID_ARGUMENT")
    error_of(server.request("POST", P, raw=b"[]"), 400, "INVALID_ARGUMENT")
    body = tuning()
    del body["tuningTask"]["trainingData"]
    assert "training_data" in error_of(server.request("POST", P, body), 400, "INVALID_ARGUMENT")
    assert "examples" in error_of(server.request("POST", P, tuning(examples=[])), 400,
                                  "INVALID_ARGUMENT")
    for kw, field in [(dict(batch=0), "batch_size"), (dict(lr=-0.5), "learning_rate"),
                      (dict(epochs=0), "epoch_count"), (dict(epochs=10001), "epoch_count")]:
        msg = error_of(server.request("POST", P, tuning(**kw)), 400, "INVALID_ARGUMENT")
        assert field in msg
    for bad in ["Upper", "1abc", "a_b", "a" * 41, "ends-"]:
        msg = error_of(server.request("POST", P + "?tunedModelId=" + bad, tuning()),
                       400, "INVALID_ARGUMENT")
        assert "tuned_model_id" in msg
    error_of(server.request("POST", P, tuning(base="models/unknown")), 404, "NOT_FOUND")
    # Unknown names are refused, as the service does: a misspelt field is not ignored.
    body = tuning()
    body["tuningTask"]["hyperparameters"]["epochs"] = 3
    msg = error_of(server.request("POST", P, body), 400, "INVALID_ARGUMENT")
    assert 'Unknown name "epochs"' in msg and "tuning_task.hyperparameters" in msg
    assert "Unknown name" in error_of(server.request("POST", P, tuning(colour="red")), 400,
                                      "INVALID_ARGUMENT")
    make_model(server, "taken")
    error_of(server.request("POST", P + "?tunedModelId=taken", tuning()), 409,
             "ALREADY_EXISTS")
    error_of(server.request("GET", "/v1beta/tunedModels/taken/operations/nope"), 404,
             "NOT_FOUND")
    error_of(server.request("GET", "/v1beta/tunedModels/nope/operations"), 404, "NOT_FOUND")
    error_of(server.request("GET", "/v1beta/nothing/here"), 404, "NOT_FOUND")
    error_of(server.request("PUT", "/v1beta/tunedModels/taken", {}), 404, "NOT_FOUND")
    error_of(server.request("GET", "/v1beta/tunedModels?pageSize=-1"), 400, "INVALID_ARGUMENT")


def test_body_cap(server_factory):
    s = server_factory("--max-body", "1")
    big = b'{"displayName": "' + b"x" * (1 << 20) + b'"}'
    error_of(s.request("POST", "/v1beta/tunedModels", raw=big), 413, "INVALID_ARGUMENT")
    # The server still answers afterwards.
    st, _, _ = s.request("GET", "/v1beta/tunedModels")
    assert st == 200


def test_garbage_does_not_crash(server):
    """Odd requests at the socket level: the server answers or closes, and lives."""
    host, port = server.url.split("//")[1].split(":")
    junk = [b"GET /v1beta/tunedModels/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST /v1beta/tunedModels HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{[[[",
            b"GET /v1beta/tunedModels?pageToken=%00 HTTP/1.1\r\nHost: x\r\n\r\n",
            b"\x00\x01\x02garbage\r\n\r\n",
            b"POST /v1beta/tunedModels HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n"
            b'{"a":"\xff\xfe\x00"}']
    deep = b"[" * 5000 + b"]" * 5000
    junk.append(b"POST /v1beta/tunedModels HTTP/1.1\r\nHost: x\r\nContent-Length: "
                + str(len(deep)).encode() + b"\r\n\r\n" + deep)
    for j in junk:
        with socket.create_connection((host, int(port)), timeout=10) as c:
            c.sendall(j)
            c.shutdown(socket.SHUT_WR)
            try:
                c.recv(65536)
            except ConnectionResetError:
                pass
    st, _, _ = server.request("GET", "/v1beta/models")
    assert st == 200


def test_debug_stats_and_request_log(server_factory, tmp_path):
    log = tmp_path / "requests.log"
    s = server_factory("--request-log", str(log))
    for _ in range(3):
        s.request("GET", "/v1beta/tunedModels?pageSize=2&key=SECRET123")
    s.request("GET", "/v1beta/models")
    st, stats, _ = s.request("GET", "/debug/stats")
    assert st == 200
    assert stats["routes"]["tunedModels.list"]["requests"] == 3
    assert stats["routes"]["models.list"]["requests"] == 1
    assert stats["total"] == 4
    text = log.read_text()
    assert "GET /v1beta/tunedModels 200" in text
    assert "SECRET123" not in text and "key=" not in text
    assert oct(log.stat().st_mode & 0o777) == oct(0o600)
