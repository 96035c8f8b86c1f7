"""Google's own @google/genai (with google-auth-library), unmodified, against
tunedfs-server's Vertex AI routes, with the API version v1 and with the SDK's default
(v1beta1): tunings.tune with a gs:// dataset, tunings.get until JOB_STATE_SUCCEEDED,
tunings.list in pages, tunings.cancel, models.generateContent and generateContentStream on
the tuned endpoint."""
import json
import urllib.parse

import pytest

from ..server.conftest import number_examples
from .conftest import run_node

BEARER = {"Authorization": "Bearer sdk-test-token"}


def contents_lines(examples):
    return "".join(json.dumps({"contents": [
        {"role": "user", "parts": [{"text": e["text_input"]}]},
        {"role": "model", "parts": [{"text": e["output"]}]}]}) + "\n" for e in examples)


def put(server, name, text):
    q = urllib.parse.urlencode({"uploadType": "media", "name": name})
    st, o, _ = server.request("POST", f"/upload/storage/v1/b/sdk-bucket/o?{q}",
                              raw=text.encode(), headers=BEARER)
    assert st == 200, o
    return f"gs://sdk-bucket/{name}"


@pytest.mark.parametrize("version", ["v1", None])
def test_genai_sdk_tunes_and_prompts(server_factory, tmp_path, node, version):
    log = tmp_path / "requests.log"
    server = server_factory("--request-log", str(log))
    examples = number_examples()
    train = put(server, "tunedfs/ng/train.jsonl", contents_lines(examples))
    long = put(server, "tunedfs/long/train.jsonl",
               contents_lines([{"text_input": "a" * 100, "output": "b" * 100}] * 4))
    args = [server.url, train, long] + ([version] if version else [])
    out = json.loads(run_node(node, "vertex_sdk.mjs", *args))
    prefix = "projects/sdk-proj/locations/us-central1/"
    assert out["created"]["name"].startswith(prefix + "tuningJobs/")
    assert out["created"]["state"] in ("JOB_STATE_PENDING", "JOB_STATE_RUNNING")
    assert out["cancelled"] == {"state": "JOB_STATE_CANCELLED", "code": 1}
    assert out["done"]["state"] == "JOB_STATE_SUCCEEDED"
    assert out["done"]["endpoint"].startswith(prefix + "endpoints/")
    assert out["done"]["displayName"] == "number generator"
    # listed one job a page: both jobs, each once
    assert sorted(out["listed"]) == sorted(set(out["listed"]))
    assert out["created"]["name"] in out["listed"] and len(out["listed"]) == 2
    want = {e["text_input"]: e["output"] for e in examples}
    for prompt, text in out["answers"].items():
        assert text == want[prompt], (prompt, text)
    assert out["streamed"]["text"] == want["ninety nine"]
    assert out["streamed"]["chunks"] >= 2  # "one hundred": two chunks of 8 bytes
    assert out["countTokens"] == 5
    # the SDK spoke the version it was given (or its own default), to these routes
    st, stats, _ = server.request("GET", "/debug/stats")
    assert stats["routes"]["tuningJobs.create"]["requests"] == 2
    for route in ("tuningJobs.get", "tuningJobs.list", "tuningJobs.cancel",
                  "endpoints.generateContent", "endpoints.streamGenerateContent"):
        assert stats["routes"][route]["requests"] >= 1, route
    paths = [line.split()[1] for line in log.read_text().splitlines() if "/projects/" in line]
    assert paths and all(p.startswith(f"/{version or 'v1beta1'}/projects/sdk-proj/") for p in paths)
