"""tunedfs-server's Vertex AI routes over real HTTP, under /v1 and /v1beta1: tuningJobs
create/get/list/cancel over training files in its Cloud Storage, the endpoint and model a
job makes (generate, stream, countTokens, undeploy, delete), credentials and errors."""
import json
import time
import urllib.parse

import pytest

from .conftest import number_examples

BEARER = {"Authorization": "Bearer any-token"}
PARENT = "projects/test-proj/locations/us-central1"


def error_of(status_body, code, status):
    st, body, _ = status_body
    assert st == code, body
    assert body["error"]["code"] == code and body["error"]["status"] == status, body
    assert body["error"]["message"]
    return body["error"]["message"]


def contents_lines(examples):
    return "".join(json.dumps({"contents": [
        {"role": "user", "parts": [{"text": e["text_input"]}]},
        {"role": "model", "parts": [{"text": e["output"]}]}]}) + "\n" for e in examples)


def put_object(server, name, text, bucket="bkt"):
    q = urllib.parse.urlencode({"uploadType": "media", "name": name})
    st, o, _ = server.request("POST", f"/upload/storage/v1/b/{bucket}/o?{q}",
                              raw=text.encode(), headers=BEARER)
    assert st == 200, o
    return f"gs://{bucket}/{name}"


def job_body(uri, epochs=1, **extra):
    body = {"baseModel": "gemini-2.5-flash",
            "supervisedTuningSpec": {"trainingDatasetUri": uri,
                                     "hyperParameters": {"epochCount": epochs}}}
    body.update(extra)
    return body


def create(server, body, version="v1", parent=PARENT):
    return server.request("POST", f"/{version}/{parent}/tuningJobs", body, headers=BEARER)


def wait_job(server, name, timeout=120, version="v1"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, j, _ = server.request("GET", f"/{version}/{name}", headers=BEARER)
        assert st == 200, j
        if j["state"] not in ("JOB_STATE_PENDING", "JOB_STATE_RUNNING",
                              "JOB_STATE_CANCELLING"):
            return j
        time.sleep(0.05)
    raise AssertionError("job did not end: " + json.dumps(j))


@pytest.fixture
def dataset(server):
    return put_object(server, "tunedfs/ng/train.jsonl", contents_lines(number_examples()))


LONG = [{"text_input": "a" * 100, "output": "b" * 100}] * 4


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_create_get_list(server, dataset, version):
    body = job_body(dataset, epochs=2, tunedModelDisplayName="number generator",
                    description="d", labels={"tunedfs-name": "ng"})
    body["supervisedTuningSpec"]["hyperParameters"].update(
        {"learningRateMultiplier": 2.0, "adapterSize": "ADAPTER_SIZE_FOUR"})
    st, job, _ = create(server, body, version)
    assert st == 200, job
    assert job["name"].startswith(PARENT + "/tuningJobs/")
    assert job["name"].rsplit("/", 1)[1].isdigit()
    assert job["state"] in ("JOB_STATE_PENDING", "JOB_STATE_RUNNING")
    assert job["tunedModelDisplayName"] == "number generator"
    assert job["labels"] == {"tunedfs-name": "ng"} and job["baseModel"] == "gemini-2.5-flash"
    hp = job["supervisedTuningSpec"]["hyperParameters"]
    assert hp == {"epochCount": "2", "learningRateMultiplier": 2,
                  "adapterSize": "ADAPTER_SIZE_FOUR"}
    assert job["supervisedTuningSpec"]["trainingDatasetUri"] == dataset
    stats = job["tuningDataStats"]["supervisedTuningDataStats"]
    assert stats["tuningDatasetExampleCount"] == "15"
    assert stats["tuningStepCount"] == str(-(-15 * 2 // 4))
    done = wait_job(server, job["name"], version=version)
    assert done["state"] == "JOB_STATE_SUCCEEDED"
    assert done["startTime"] and done["endTime"] >= done["startTime"]
    assert "error" not in done and "tuningJobState" not in done
    assert done["tuningJobMetadata"] == {"completedEpochCount": "2",
                                         "completedStepCount": stats["tuningStepCount"]}
    tm = done["tunedModel"]
    assert tm["endpoint"] == PARENT + "/endpoints/" + job["name"].rsplit("/", 1)[1]
    assert tm["model"].startswith(PARENT + "/models/") and tm["model"].endswith("@1")
    st, page, _ = server.request("GET", f"/{version}/{PARENT}/tuningJobs", headers=BEARER)
    assert st == 200 and [j["name"] for j in page["tuningJobs"]] == [job["name"]]
    # the other protocol's listing and other parents do not show it
    st, gem, _ = server.request("GET", "/v1beta/tunedModels")
    assert "tunedModels" not in gem
    st, other, _ = server.request("GET", f"/{version}/projects/x/locations/y/tuningJobs",
                                  headers=BEARER)
    assert st == 200 and "tuningJobs" not in other
    error_of(server.request("GET", f"/{version}/projects/x/locations/y/tuningJobs/"
                            + job["name"].rsplit("/", 1)[1], headers=BEARER), 404, "NOT_FOUND")


def test_list_pages_and_filter(server, dataset):
    names = []
    for i in range(5):
        st, j, _ = create(server, job_body(dataset, labels={"tunedfs-name": f"m{i}"}))
        assert st == 200, j
        names.append(j["name"])
    seen, token, pages = [], None, 0
    while True:
        q = "pageSize=2" + (f"&pageToken={token}" if token else "")
        st, page, _ = server.request("GET", f"/v1beta1/{PARENT}/tuningJobs?{q}", headers=BEARER)
        assert st == 200, page
        pages += 1
        assert len(page.get("tuningJobs", [])) <= 2
        seen += [j["name"] for j in page.get("tuningJobs", [])]
        token = page.get("nextPageToken")
        if not token:
            break
    assert seen == names and pages == 3
    q = urllib.parse.urlencode({"filter": 'labels.tunedfs-name="m3"'})
    st, page, _ = server.request("GET", f"/v1/{PARENT}/tuningJobs?{q}", headers=BEARER)
    assert [j["name"] for j in page["tuningJobs"]] == [names[3]]
    q = urllib.parse.urlencode({"filter": "labels.tunedfs-name=m3 AND state=JOB_STATE_FAILED"})
    st, page, _ = server.request("GET", f"/v1/{PARENT}/tuningJobs?{q}", headers=BEARER)
    assert st == 200 and "tuningJobs" not in page
    q = urllib.parse.urlencode({"filter": "create_time>0"})
    error_of(server.request("GET", f"/v1/{PARENT}/tuningJobs?{q}", headers=BEARER), 400,
             "INVALID_ARGUMENT")
    error_of(server.request("GET", f"/v1/{PARENT}/tuningJobs?pageToken=nope", headers=BEARER),
             400, "INVALID_ARGUMENT")
    for n in names:
        wait_job(server, n)


def test_cancel(server_factory):
    s = server_factory("--workers", "1")
    uri = put_object(s, "long.jsonl", contents_lines(LONG))
    st, running, _ = create(s, job_body(uri, epochs=10000))
    st, queued, _ = create(s, job_body(uri, epochs=10000))
    deadline = time.time() + 60
    while s.request("GET", "/v1/" + running["name"], headers=BEARER)[1]["state"] != \
            "JOB_STATE_RUNNING" and time.time() < deadline:
        time.sleep(0.05)
    for j in (queued, running):
        st, body, _ = s.request("POST", f"/v1/{j['name']}:cancel", {}, headers=BEARER)
        assert st == 200 and body == {}
    for j, why in ((running, "cancelled at step"), (queued, "before it started")):
        done = wait_job(s, j["name"])
        assert done["state"] == "JOB_STATE_CANCELLED"
        assert done["error"]["code"] == 1 and why in done["error"]["message"]
        assert "tunedModel" not in done
    error_of(s.request("POST", f"/v1/{running['name']}:cancel", {}, headers=BEARER), 400,
             "FAILED_PRECONDITION")
    error_of(s.request("POST", f"/v1/{running['name']}:cancel", {"force": True},
                       headers=BEARER), 400, "INVALID_ARGUMENT")
    error_of(s.request("POST", f"/v1/{PARENT}/tuningJobs/123:cancel", {}, headers=BEARER),
             404, "NOT_FOUND")


def test_create_errors(server, dataset):
    error_of(create(server, job_body("gs://bkt/missing.jsonl")), 400, "FAILED_PRECONDITION")
    error_of(create(server, job_body("gs://nobucket/x.jsonl")), 400, "FAILED_PRECONDITION")
    error_of(create(server, job_body("/local/file")), 400, "INVALID_ARGUMENT")
    bad = [
        ({"epochCount": 0}, "epoch_count"),
        ({"learningRateMultiplier": -1}, "learning_rate_multiplier"),
        ({"adapterSize": "HUGE"}, "adapter_size"),
        ({"batchSize": 4}, "batchSize"),
        ({"learningRate": 0.1}, "learningRate"),
        ({"epochs": 3}, "epochs"),
    ]
    for hp, field in bad:
        body = job_body(dataset)
        body["supervisedTuningSpec"]["hyperParameters"] = hp
        assert field in error_of(create(server, body), 400, "INVALID_ARGUMENT")
    body = job_body(dataset)
    del body["baseModel"]
    assert "base_model" in error_of(create(server, body), 400, "INVALID_ARGUMENT")
    assert "labels" in error_of(create(server, job_body(dataset, labels={"Bad": "x"})), 400,
                                "INVALID_ARGUMENT")
    assert "colour" in error_of(create(server, job_body(dataset, colour=1)), 400,
                                "INVALID_ARGUMENT")
    error_of(server.request("POST", f"/v1/{PARENT}/tuningJobs", raw=b"{", headers=BEARER), 400,
             "INVALID_ARGUMENT")
    error_of(server.request("GET", f"/v2/{PARENT}/tuningJobs", headers=BEARER), 404,
             "NOT_FOUND")


def test_bad_dataset_fails_the_job(server):
    lines = contents_lines(number_examples()[:2]) + '{"contents": [{"role": "user"}]}\n'
    uri = put_object(server, "bad.jsonl", lines)
    st, job, _ = create(server, job_body(uri))
    assert st == 200, job
    done = wait_job(server, job["name"])
    assert done["state"] == "JOB_STATE_FAILED"
    assert "line 3" in done["error"]["message"] and uri in done["error"]["message"]
    assert done["error"]["code"] == 3
    uri = put_object(server, "notjson.jsonl", "not json\n")
    st, job, _ = create(server, job_body(uri))
    assert "line 1" in wait_job(server, job["name"])["error"]["message"]


def test_bearer_required(server_factory, tmp_path, dataset=None):
    s = server_factory()
    path = f"/v1/{PARENT}/tuningJobs"
    error_of(s.request("GET", path), 401, "UNAUTHENTICATED")
    error_of(s.request("GET", path, headers={"x-goog-api-key": "k"}), 401, "UNAUTHENTICATED")
    assert s.request("GET", path, headers={"Authorization": "Bearer whatever"})[0] == 200
    clients = tmp_path / "clients.json"
    clients.write_text("{}")
    locked = server_factory("--oauth-clients", str(clients), sub="locked")
    error_of(locked.request("GET", path, headers=BEARER), 401, "UNAUTHENTICATED")


@pytest.fixture
def tuned(server, dataset):
    st, job, _ = create(server, job_body(dataset, epochs=300, tunedModelDisplayName="ng"))
    assert st == 200, job
    return wait_job(server, job["name"])


def ask(text):
    return {"contents": [{"role": "user", "parts": [{"text": text}]}],
            "generationConfig": {"temperature": 0}}


def test_learns_the_tutorial(server, tuned):
    """The tutorial's 15 examples, epochCount 300, the default multiplier: the endpoint
    answers the training inputs exactly."""
    ep = tuned["tunedModel"]["endpoint"]
    exact = 0
    for e in number_examples():
        st, r, _ = server.request("POST", f"/v1/{ep}:generateContent", ask(e["text_input"]),
                                  headers=BEARER)
        assert st == 200, r
        exact += r["candidates"][0]["content"]["parts"][0]["text"] == e["output"]
    assert exact >= 14


def test_endpoint_routes(server, tuned):
    ep = tuned["tunedModel"]["endpoint"]
    model = tuned["tunedModel"]["model"]
    for version in ("v1", "v1beta1"):
        st, r, _ = server.request("POST", f"/{version}/{ep}:generateContent", ask("1"),
                                  headers=BEARER)
        assert st == 200 and r["candidates"][0]["finishReason"] == "STOP"
        assert r["usageMetadata"]["promptTokenCount"] == 1
    # streaming: several chunks, the last one finishing, the text the same as unstreamed
    long_prompt = ask("one two three four")
    long_prompt["generationConfig"]["maxOutputTokens"] = 40
    st, whole, _ = server.request("POST", f"/v1/{ep}:generateContent", long_prompt,
                                  headers=BEARER)
    import urllib.request
    req = urllib.request.Request(server.url + f"/v1beta1/{ep}:streamGenerateContent?alt=sse",
                                 data=json.dumps(long_prompt).encode(), method="POST",
                                 headers=dict(BEARER, **{"Content-Type": "application/json"}))
    with urllib.request.urlopen(req) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in resp.read().decode().splitlines()
                  if line.startswith("data: ")]
    text = "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in events)
    assert text == whole["candidates"][0]["content"]["parts"][0]["text"]
    if len(text.encode()) > 8:
        assert len(events) > 1
    assert all("finishReason" not in e["candidates"][0] for e in events[:-1])
    assert events[-1]["candidates"][0]["finishReason"]
    st, arr, _ = server.request("POST", f"/v1/{ep}:streamGenerateContent", long_prompt,
                                headers=BEARER)
    assert st == 200 and isinstance(arr, list) and arr[-1]["candidates"][0]["finishReason"]
    st, c, _ = server.request("POST", f"/v1/{ep}:countTokens", ask("hello"), headers=BEARER)
    assert st == 200 and c["totalTokens"] == 5
    st, c, _ = server.request(
        "POST", f"/v1/{PARENT}/publishers/google/models/gemini-2.5-flash:countTokens",
        ask("hi there"), headers=BEARER)
    assert st == 200 and c["totalTokens"] == 8
    error_of(server.request("POST", f"/v1/{ep}:generateContent", {"contents": []},
                            headers=BEARER), 400, "INVALID_ARGUMENT")
    error_of(server.request("POST", f"/v1/{PARENT}/endpoints/999:generateContent", ask("1"),
                            headers=BEARER), 404, "NOT_FOUND")
    st, e, _ = server.request("GET", f"/v1/{ep}", headers=BEARER)
    assert st == 200 and e["name"] == ep and len(e["deployedModels"]) == 1
    st, m, _ = server.request("GET", f"/v1/{model}", headers=BEARER)
    assert st == 200 and m["name"] == model.split("@")[0] and m["deployedModels"]


def test_remove_endpoint_and_model(server, dataset):
    st, job, _ = create(server, job_body(dataset))
    done = wait_job(server, job["name"])
    ep, model = done["tunedModel"]["endpoint"], done["tunedModel"]["model"].split("@")[0]
    error_of(server.request("DELETE", f"/v1/{model}", headers=BEARER), 400,
             "FAILED_PRECONDITION")
    error_of(server.request("DELETE", f"/v1/{ep}", headers=BEARER), 400, "FAILED_PRECONDITION")
    st, e, _ = server.request("GET", f"/v1/{ep}", headers=BEARER)
    dm = e["deployedModels"][0]["id"]
    error_of(server.request("POST", f"/v1/{ep}:undeployModel", {"deployedModelId": "x"},
                            headers=BEARER), 400, "INVALID_ARGUMENT")
    st, op, _ = server.request("POST", f"/v1/{ep}:undeployModel", {"deployedModelId": dm},
                               headers=BEARER)
    assert st == 200 and op["done"] is True and op["name"].startswith(PARENT + "/operations/")
    st, again, _ = server.request("GET", f"/v1/{op['name']}", headers=BEARER)
    assert st == 200 and again["done"] is True
    error_of(server.request("POST", f"/v1/{ep}:generateContent", ask("1"), headers=BEARER),
             400, "FAILED_PRECONDITION")
    st, op, _ = server.request("DELETE", f"/v1/{ep}", headers=BEARER)
    assert st == 200 and op["done"] is True
    error_of(server.request("GET", f"/v1/{ep}", headers=BEARER), 404, "NOT_FOUND")
    st, op, _ = server.request("DELETE", f"/v1beta1/{model}", headers=BEARER)
    assert st == 200 and op["done"] is True
    error_of(server.request("GET", f"/v1/{model}", headers=BEARER), 404, "NOT_FOUND")
    # the job itself stays listed, as Vertex keeps it
    st, j, _ = server.request("GET", "/v1/" + job["name"], headers=BEARER)
    assert st == 200 and j["state"] == "JOB_STATE_SUCCEEDED"


def test_restart_keeps_jobs(server, dataset):
    st, job, _ = create(server, job_body(dataset, epochs=20, labels={"tunedfs-name": "kept"}))
    done = wait_job(server, job["name"])
    ep = done["tunedModel"]["endpoint"]
    st, before, _ = server.request("POST", f"/v1/{ep}:generateContent", ask("7"), headers=BEARER)
    server.restart()
    st, after_job, _ = server.request("GET", "/v1/" + job["name"], headers=BEARER)
    assert st == 200 and after_job == done
    st, after, _ = server.request("POST", f"/v1/{ep}:generateContent", ask("7"), headers=BEARER)
    assert after["candidates"][0]["content"] == before["candidates"][0]["content"]
