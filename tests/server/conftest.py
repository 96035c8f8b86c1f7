"""Helpers for the tunedfs-server suites: request bodies, creating and training small
models, curl through bash. The server fixtures themselves are in tests/conftest.py."""
import json
import os
import subprocess

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "number-generator",
                        "examples.jsonl")


def number_examples():
    with open(EXAMPLES) as f:
        return [json.loads(line) for line in f if line.strip()]


def tuning_body(examples=None, epochs=1, batch=None, lr=None, display=None,
                base="models/tunedfs-local-1", **extra):
    """A create body in camelCase; examples as {text_input, output} dicts."""
    if examples is None:
        examples = [{"text_input": "1", "output": "2"}]
    hp = {"epochCount": epochs}
    if batch is not None:
        hp["batchSize"] = batch
    if lr is not None:
        hp["learningRate"] = lr
    body = {
        "baseModel": base,
        "tuningTask": {
            "hyperparameters": hp,
            "trainingData": {"examples": {"examples": [
                {"textInput": e["text_input"], "output": e["output"]} for e in examples]}},
        },
    }
    if display is not None:
        body["displayName"] = display
    body.update(extra)
    return body


@pytest.fixture
def make_model():
    """make_model(server, id, **tuning_body args) -> (operation, model after training)."""
    def make(server, model_id=None, wait=True, timeout=600, **kw):
        path = "/v1beta/tunedModels" + (f"?tunedModelId={model_id}" if model_id else "")
        status, op, _ = server.request("POST", path, tuning_body(**kw))
        assert status == 200, op
        name = op["metadata"]["tunedModel"]
        model = server.wait_model(name, timeout=timeout) if wait else None
        return op, model
    return make


@pytest.fixture
def curl():
    """Runs a shell command line (the tutorial's curl commands) and returns stdout."""
    def run(script, env=None):
        full = dict(os.environ)
        full.update(env or {})
        p = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                           env=full, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout
    return run


@pytest.fixture
def tuning():
    """tuning(**kw) -> a create body (see tuning_body)."""
    return tuning_body


@pytest.fixture
def server_binary():
    build = os.path.abspath(os.environ.get(
        "TUNEDFS_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build")))
    for sub in ("server", ""):
        p = os.path.join(build, sub, "tunedfs-server")
        if os.path.isfile(p):
            return p
    raise FileNotFoundError("tunedfs-server not built under " + build)
