"""tunedfs-server's OpenAI routes over real HTTP: files (multipart), fine_tuning/jobs with
events and checkpoints, chat completions (whole and streamed), models, OpenAI's error
envelope and the Bearer key."""
import json
import time
import urllib.request
import uuid

import pytest

from .conftest import number_examples

KEY = "sk-test-key"
AUTH = {"Authorization": "Bearer " + KEY}


def oa_error(status_body, code, param=None):
    st, body, _ = status_body
    assert st == code, body
    e = body["error"]
    assert e["message"] and e["type"] and "code" in e and "param" in e
    if param is not None:
        assert e["param"] == param, e
    return e["message"]


def chat_lines(examples):
    return "".join(json.dumps({"messages": [
        {"role": "system", "content": "You add one."},
        {"role": "user", "content": e["text_input"]},
        {"role": "assistant", "content": e["output"]}]}) + "\n" for e in examples)


def upload(server, text, purpose="fine-tune", filename="train.jsonl", headers=AUTH):
    b = "b" + uuid.uuid4().hex
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n{purpose}\r\n"
            f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + text.encode() + \
        f"\r\n--{b}--\r\n".encode()
    h = dict(headers, **{"Content-Type": f"multipart/form-data; boundary={b}"})
    return server.request("POST", "/v1/files", raw=body, headers=h)


def create(server, file_id, **extra):
    body = {"model": "gpt-4o-mini-2024-07-18", "training_file": file_id}
    body.update(extra)
    return server.request("POST", "/v1/fine_tuning/jobs", body, headers=AUTH)


def wait_job(server, job_id, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, j, _ = server.request("GET", "/v1/fine_tuning/jobs/" + job_id, headers=AUTH)
        assert st == 200, j
        if j["status"] in ("succeeded", "failed") or (
                j["status"] == "cancelled" and j["finished_at"]):
            return j
        time.sleep(0.05)
    raise AssertionError("job did not end: " + json.dumps(j))


@pytest.fixture
def file_id(server):
    st, f, _ = upload(server, chat_lines(number_examples()))
    assert st == 200, f
    return f["id"]


def test_files(server):
    text = chat_lines(number_examples()[:3])
    st, f, _ = upload(server, text, filename="mine.jsonl")
    assert st == 200, f
    assert f["object"] == "file" and f["id"].startswith("file-") and f["bytes"] == len(text)
    assert f["filename"] == "mine.jsonl" and f["purpose"] == "fine-tune"
    assert f["status"] == "processed"
    st, g, _ = server.request("GET", "/v1/files/" + f["id"], headers=AUTH)
    assert st == 200 and g == f
    req = urllib.request.Request(server.url + f"/v1/files/{f['id']}/content", headers=AUTH)
    with urllib.request.urlopen(req) as r:
        assert r.read().decode() == text
    st, f2, _ = upload(server, "{}\n", purpose="batch", filename="b.jsonl")
    st, lst, _ = server.request("GET", "/v1/files", headers=AUTH)
    assert st == 200 and lst["object"] == "list"
    assert [x["id"] for x in lst["data"]] == [f2["id"], f["id"]]  # newest first
    st, lst, _ = server.request("GET", "/v1/files?purpose=fine-tune", headers=AUTH)
    assert [x["id"] for x in lst["data"]] == [f["id"]]
    st, lst, _ = server.request("GET", "/v1/files?limit=1", headers=AUTH)
    assert len(lst["data"]) == 1 and lst["has_more"] is True
    st, lst, _ = server.request("GET", f"/v1/files?limit=1&after={f2['id']}", headers=AUTH)
    assert [x["id"] for x in lst["data"]] == [f["id"]] and lst["has_more"] is False
    st, d, _ = server.request("DELETE", "/v1/files/" + f["id"], headers=AUTH)
    assert st == 200 and d == {"id": f["id"], "object": "file", "deleted": True}
    oa_error(server.request("GET", "/v1/files/" + f["id"], headers=AUTH), 404)
    oa_error(server.request("DELETE", "/v1/files/" + f["id"], headers=AUTH), 404)
    oa_error(upload(server, "x", purpose="nonsense"), 400, "purpose")
    oa_error(server.request("POST", "/v1/files", {"file": "x"}, headers=AUTH), 400)


def test_job_create_list_events_checkpoints(server, file_id):
    st, job, _ = create(server, file_id, suffix="ng", seed=7, metadata={"tunedfs-name": "ng"},
                        method={"type": "supervised",
                                "supervised": {"hyperparameters": {"n_epochs": 50}}})
    assert st == 200, job
    assert job["object"] == "fine_tuning.job" and job["id"].startswith("ftjob-")
    assert job["status"] in ("queued", "running") and job["fine_tuned_model"] is None
    assert job["training_file"] == file_id and job["metadata"] == {"tunedfs-name": "ng"}
    assert job["hyperparameters"] == {"n_epochs": 50, "batch_size": 1,
                                      "learning_rate_multiplier": 1}
    assert job["seed"] == 7 and job["user_provided_suffix"] == "ng"
    done = wait_job(server, job["id"])
    assert done["status"] == "succeeded" and done["error"] is None
    ft = done["fine_tuned_model"]
    assert ft.startswith("ft:gpt-4o-mini-2024-07-18:") and ":ng:" in ft
    assert done["trained_tokens"] > 0 and done["finished_at"] >= done["created_at"]
    # learning: the tutorial's 15 examples at 50 epochs, defaults otherwise
    exact = 0
    for e in number_examples():
        st, r, _ = server.request("POST", "/v1/chat/completions", {
            "model": ft, "messages": [{"role": "user", "content": e["text_input"]}],
            "temperature": 0}, headers=AUTH)
        assert st == 200, r
        exact += r["choices"][0]["message"]["content"] == e["output"]
    assert exact >= 14
    # events, newest first, in pages
    st, ev, _ = server.request("GET", f"/v1/fine_tuning/jobs/{job['id']}/events?limit=2",
                               headers=AUTH)
    assert st == 200 and len(ev["data"]) == 2 and ev["has_more"] is True
    assert ev["data"][0]["message"] == "The job has successfully completed"
    seen, after = [], None
    while True:
        q = "limit=100" + (f"&after={after}" if after else "")
        st, ev, _ = server.request("GET", f"/v1/fine_tuning/jobs/{job['id']}/events?{q}",
                                   headers=AUTH)
        seen += ev["data"]
        if not ev["has_more"]:
            break
        after = ev["data"][-1]["id"]
    assert len({e["id"] for e in seen}) == len(seen)
    metrics = [e for e in seen if e["type"] == "metrics"]
    assert len(metrics) == 750 and metrics[0]["data"]["step"] == 750
    assert seen[-1]["message"].startswith("Validating training file")
    st, ck, _ = server.request("GET", f"/v1/fine_tuning/jobs/{job['id']}/checkpoints",
                               headers=AUTH)
    assert st == 200 and len(ck["data"]) == 1
    assert ck["data"][0]["step_number"] == 750
    assert ck["data"][0]["fine_tuned_model_checkpoint"].startswith(ft + ":ckpt-step-")
    # listed newest first, with after and limit and a metadata filter
    st, other, _ = create(server, file_id, hyperparameters={"n_epochs": 1})
    st, lst, _ = server.request("GET", "/v1/fine_tuning/jobs?limit=1", headers=AUTH)
    assert [j["id"] for j in lst["data"]] == [other["id"]] and lst["has_more"] is True
    st, lst, _ = server.request("GET", f"/v1/fine_tuning/jobs?after={other['id']}",
                                headers=AUTH)
    assert [j["id"] for j in lst["data"]] == [job["id"]] and lst["has_more"] is False
    st, lst, _ = server.request("GET", "/v1/fine_tuning/jobs?metadata%5Btunedfs-name%5D=ng",
                                headers=AUTH)
    assert [j["id"] for j in lst["data"]] == [job["id"]]
    wait_job(server, other["id"])


def test_chat_and_models(server, file_id):
    st, job, _ = create(server, file_id, hyperparameters={"n_epochs": 2})
    ft = wait_job(server, job["id"])["fine_tuned_model"]
    ask = {"model": ft, "messages": [{"role": "user", "content": "one two three"}],
           "temperature": 0, "max_tokens": 30}
    st, r, _ = server.request("POST", "/v1/chat/completions", ask, headers=AUTH)
    assert st == 200 and r["object"] == "chat.completion" and r["model"] == ft
    c = r["choices"][0]
    assert c["message"]["role"] == "assistant" and c["finish_reason"] in ("stop", "length")
    assert r["usage"]["prompt_tokens"] == len("one two three")
    req = urllib.request.Request(server.url + "/v1/chat/completions",
                                 data=json.dumps(dict(ask, stream=True)).encode(),
                                 headers=dict(AUTH, **{"Content-Type": "application/json"}))
    with urllib.request.urlopen(req) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        lines = [x for x in resp.read().decode().split("\n") if x.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(x[6:]) for x in lines[:-1]]
    assert all(ch["object"] == "chat.completion.chunk" for ch in chunks)
    text = "".join(ch["choices"][0]["delta"].get("content", "") for ch in chunks)
    assert text == c["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == c["finish_reason"]
    st, models, _ = server.request("GET", "/v1/models", headers=AUTH)
    assert st == 200 and ft in [m["id"] for m in models["data"]]
    st, m, _ = server.request("GET", "/v1/models/" + ft, headers=AUTH)
    assert st == 200 and m == {"id": ft, "object": "model", "created": m["created"],
                               "owned_by": m["owned_by"]}
    oa_error(server.request("DELETE", "/v1/models/gpt-4o-mini-2024-07-18", headers=AUTH), 403)
    st, d, _ = server.request("DELETE", "/v1/models/" + ft, headers=AUTH)
    assert st == 200 and d == {"id": ft, "object": "model", "deleted": True}
    oa_error(server.request("GET", "/v1/models/" + ft, headers=AUTH), 404, "model")
    oa_error(server.request("POST", "/v1/chat/completions", ask, headers=AUTH), 404, "model")
    oa_error(server.request("POST", "/v1/chat/completions",
                            {"model": "gpt-4o-mini", "messages": []}, headers=AUTH), 404)


def test_job_errors(server, file_id):
    for hp, param in (({"n_epochs": 0}, "hyperparameters.n_epochs"),
                      ({"n_epochs": 51}, "hyperparameters.n_epochs"),
                      ({"n_epochs": "lots"}, "hyperparameters.n_epochs"),
                      ({"n_epochs": 1e300}, "hyperparameters.n_epochs"),  # beyond int
                      ({"batch_size": 0}, "hyperparameters.batch_size"),
                      ({"batch_size": -1e300}, "hyperparameters.batch_size"),
                      ({"learning_rate_multiplier": -1},
                       "hyperparameters.learning_rate_multiplier")):
        oa_error(create(server, file_id, hyperparameters=hp), 400, param)
    oa_error(create(server, "file-nope"), 400, "training_file")
    oa_error(create(server, file_id, model="gpt-99"), 400, "model")
    oa_error(create(server, file_id, suffix="a:b"), 400, "suffix")
    oa_error(create(server, file_id, colour="red"), 400, "colour")
    oa_error(create(server, file_id, metadata={"k": 5}), 400, "metadata")
    oa_error(server.request("GET", "/v1/fine_tuning/jobs/ftjob-nope", headers=AUTH), 404)
    oa_error(server.request("GET", "/v1/fine_tuning/jobs?limit=0", headers=AUTH), 400, "limit")


def test_invalid_file_fails_the_job(server):
    text = chat_lines(number_examples()[:2]) + '{"messages": [{"role": "user"}]}\n'
    st, f, _ = upload(server, text)
    st, job, _ = create(server, f["id"])
    assert st == 200, job
    done = wait_job(server, job["id"])
    assert done["status"] == "failed" and done["fine_tuned_model"] is None
    assert done["error"]["code"] == "invalid_training_file"
    assert done["error"]["param"] == "training_file"
    assert "line 3" in done["error"]["message"]
    st, ev, _ = server.request("GET", f"/v1/fine_tuning/jobs/{job['id']}/events",
                               headers=AUTH)
    assert ev["data"][0]["level"] == "error" and "line 3" in ev["data"][0]["message"]


def test_cancel(server_factory):
    s = server_factory("--workers", "1")
    st, f, _ = upload(s, chat_lines([{"text_input": "a" * 200, "output": "b" * 200}] * 30))
    st, job, _ = create(s, f["id"], hyperparameters={"n_epochs": 50})
    st, c, _ = s.request("POST", f"/v1/fine_tuning/jobs/{job['id']}/cancel", headers=AUTH)
    assert st == 200 and c["status"] == "cancelled"
    done = wait_job(s, job["id"])
    assert done["status"] == "cancelled" and done["fine_tuned_model"] is None
    oa_error(s.request("POST", f"/v1/fine_tuning/jobs/{job['id']}/cancel", headers=AUTH), 400)


def test_key(server_factory, tmp_path):
    open_srv = server_factory()
    oa_error(open_srv.request("GET", "/v1/fine_tuning/jobs"), 401)
    assert open_srv.request("GET", "/v1/fine_tuning/jobs",
                            headers={"Authorization": "Bearer anything"})[0] == 200
    keyfile = tmp_path / "key"
    keyfile.write_text(KEY + "\n")
    locked = server_factory("--api-key-file", str(keyfile), sub="locked")
    assert locked.request("GET", "/v1/fine_tuning/jobs", headers=AUTH)[0] == 200
    st, body, _ = locked.request("GET", "/v1/models",
                                 headers={"Authorization": "Bearer sk-wrong"})
    assert st == 401 and body["error"]["code"] == "invalid_api_key"
    assert KEY not in json.dumps(body)
    oa_error(locked.request("GET", "/v1/files", headers={"x-goog-api-key": KEY}), 401)


def test_validation_file_reaches_the_job_and_its_loss_is_reported(server, file_id):
    held = [{"text_input": str(n), "output": str(n + 1)} for n in (21, 37, 48)]
    st, v, _ = upload(server, chat_lines(held), filename="valid.jsonl")
    assert st == 200, v
    st, job, _ = create(server, file_id, validation_file=v["id"],
                        method={"type": "supervised", "supervised": {
                            "hyperparameters": {"n_epochs": 2, "batch_size": 4}}})
    assert st == 200, job
    assert job["validation_file"] == v["id"]
    done = wait_job(server, job["id"])
    assert done["status"] == "succeeded", done
    assert done["validation_file"] == v["id"]
    st, ev, _ = server.request("GET", f"/v1/fine_tuning/jobs/{job['id']}/events?limit=100",
                               headers=AUTH)
    metrics = [e for e in ev["data"] if e["type"] == "metrics"]
    valid = [e for e in metrics if "valid_loss" in e["data"]]
    # one a finished epoch, the last at the last step
    assert len(valid) == 2, metrics
    assert valid[0]["data"]["step"] == metrics[0]["data"]["total_steps"]
    assert all(e["data"]["valid_loss"] > 0 for e in valid)
    assert "validation loss=" in valid[0]["message"]
    st, ck, _ = server.request("GET", f"/v1/fine_tuning/jobs/{job['id']}/checkpoints",
                               headers=AUTH)
    [c] = ck["data"]
    assert c["metrics"]["full_valid_loss"] == valid[0]["data"]["valid_loss"]


def test_validation_file_errors(server, file_id):
    e = oa_error(create(server, file_id, validation_file="file-nope"), 400, "validation_file")
    assert "file-nope" in e
    st, b, _ = upload(server, chat_lines(number_examples()[:2]), purpose="batch")
    e = oa_error(create(server, file_id, validation_file=b["id"]), 400, "validation_file")
    assert "fine-tune" in e
    st, bad, _ = upload(server, '{"messages": [{"role": "user"}]}\n')
    e = oa_error(create(server, file_id, validation_file=bad["id"]), 400, "validation_file")
    assert "line 1" in e
    oa_error(create(server, file_id, validation_file=5), 400, "validation_file")
