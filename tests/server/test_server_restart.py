"""Restarts: everything comes back from --data-dir, and a job cut off mid-training
resumes from its checkpoint at the next start."""
import json
import os
import signal
import time

LONG = dict(epochs=10000, batch=1, examples=[{"text_input": "a" * 100, "output": "b" * 100}] * 4)


def wait_steps(server, op_name, steps=2, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, op, _ = server.request("GET", "/v1beta/" + op_name)
        if op["metadata"].get("completedSteps", 0) >= steps:
            return op
        time.sleep(0.05)
    raise AssertionError("training made no progress")


def test_restart_keeps_everything(server, make_model):
    _, done = make_model(server, "kept", display="kept model", epochs=2,
                         examples=[{"text_input": "ab", "output": "cd"}])
    prompt = {"contents": [{"parts": [{"text": "ab"}]}]}
    st, before, _ = server.request("POST", "/v1beta/tunedModels/kept:generateContent", prompt)
    assert st == 200
    server.restart()
    st, after_model, _ = server.request("GET", "/v1beta/tunedModels/kept")
    assert st == 200 and after_model == done
    st, after, _ = server.request("POST", "/v1beta/tunedModels/kept:generateContent", prompt)
    assert st == 200
    assert after["candidates"][0]["content"] == before["candidates"][0]["content"]
    st, ops, _ = server.request("GET", "/v1beta/tunedModels/kept/operations")
    assert ops["operations"][0]["done"] is True
    files = os.listdir(os.path.join(server.data_dir, "jobs", "kept"))
    assert sorted(files) == ["job.json", "weights.bin"]


def test_kill_during_training(server, make_model):
    """A job cut by kill -9 resumes at the next start and goes on training."""
    op, _ = make_model(server, "cut", wait=False, **LONG)
    wait_steps(server, op["name"])
    server.kill9()
    server.start()
    st, m, _ = server.request("GET", "/v1beta/tunedModels/cut")
    assert st == 200 and m["state"] == "CREATING", m
    before = len(m["tuningTask"].get("snapshots", []))
    # the snapshots it shows are steps 1..N, N no further than its checkpoint
    assert [s["step"] for s in m["tuningTask"].get("snapshots", [])] == \
        list(range(1, before + 1))
    wait_steps(server, op["name"], steps=before + 2)
    assert "resum" in server.stderr()
    server.request("DELETE", "/v1beta/tunedModels/cut")


def test_sigterm_during_training(server, make_model):
    op, _ = make_model(server, "stopped", wait=False, **LONG)
    make_model(server, "queued1", wait=False, **LONG)
    make_model(server, "queued2", wait=False, **LONG)  # waits behind the 2 workers
    wait_steps(server, op["name"])
    assert server.stop(signal.SIGTERM) == 0
    # the shutdown wrote a checkpoint at the step it stopped, and job.json agrees with it
    with open(os.path.join(server.data_dir, "jobs", "stopped", "job.json")) as f:
        job = json.load(f)
    assert job["state"] == "CREATING"
    done = job["progress"]["completedSteps"]
    assert done >= 2 and len(job["progress"]["snapshots"]) == done
    for name in ("stopped", "queued1", "queued2"):
        files = os.listdir(os.path.join(server.data_dir, "jobs", name))
        assert "examples.bin" in files, (name, files)
    assert "checkpoint.bin" in os.listdir(os.path.join(server.data_dir, "jobs", "stopped"))
    server.start()
    for name in ("stopped", "queued1", "queued2"):
        st, m, _ = server.request("GET", "/v1beta/tunedModels/" + name)
        assert m["state"] == "CREATING", (name, m)
    st, o, _ = server.request("GET", "/v1beta/" + op["name"])
    assert "error" not in o and not o.get("done")
    assert len(o["metadata"]["snapshots"]) >= done  # resumed where it stopped
    wait_steps(server, op["name"], steps=done + 2)
    for name in ("stopped", "queued1", "queued2"):
        server.request("DELETE", "/v1beta/tunedModels/" + name)


def test_corrupt_weights_are_an_error_not_a_crash(server, make_model):
    make_model(server, "bad", epochs=1)
    server.stop()
    path = os.path.join(server.data_dir, "jobs", "bad", "weights.bin")
    with open(path, "r+b") as f:
        f.seek(100)
        f.write(b"\xff" * 64)
    server.start()
    st, r, _ = server.request("POST", "/v1beta/tunedModels/bad:generateContent",
                              {"contents": [{"parts": [{"text": "1"}]}]})
    assert st == 500 and r["error"]["status"] == "INTERNAL"
    assert "weights" in r["error"]["message"]
    st, _, _ = server.request("GET", "/v1beta/tunedModels/bad")
    assert st == 200


def test_workers_bound_the_jobs(server_factory, make_model):
    s = server_factory("--workers", "1")
    first, _ = make_model(s, "first", wait=False, **LONG)
    second, _ = make_model(s, "second", wait=False, **LONG)
    wait_steps(s, first["name"])
    st, op2, _ = s.request("GET", "/v1beta/" + second["name"])
    assert "completedSteps" not in op2["metadata"]  # still queued behind the one worker
    st, stats, _ = s.request("GET", "/debug/stats")
    assert stats["jobs"]["running"] == 1 and stats["jobs"]["queued"] == 1
    s.request("DELETE", "/v1beta/tunedModels/first")
    wait_steps(s, second["name"])  # the queue moves on once the worker is free
    s.request("DELETE", "/v1beta/tunedModels/second")


def test_cancel_operation(server_factory, make_model):
    s = server_factory("--workers", "1")
    running, _ = make_model(s, "running", wait=False, **LONG)
    queued, _ = make_model(s, "queued", wait=False, **LONG)
    wait_steps(s, running["name"])
    for op in (queued, running):
        st, body, _ = s.request("POST", "/v1/" + op["name"] + ":cancel", {})
        assert st == 200 and body == {}
    for op, why in ((running, "cancelled at step"), (queued, "before it started")):
        m = s.wait_model(op["metadata"]["tunedModel"], timeout=30)
        assert m["state"] == "FAILED"
        st, o, _ = s.request("GET", "/v1beta/" + op["name"])
        assert o["done"] and o["error"]["code"] == 1 and why in o["error"]["message"]
    st, body, _ = s.request("POST", "/v1/" + running["name"] + ":cancel", {})
    assert st == 200  # a finished operation: nothing to do
    st, body, _ = s.request("POST", "/v1/tunedModels/running/operations/nope:cancel", {})
    assert st == 404


def test_loaded_weights_are_bounded(server_factory, make_model):
    s = server_factory("--max-loaded", "2")
    names = []
    for i in range(4):
        make_model(s, f"w{i}", epochs=3, examples=[{"text_input": f"in{i}", "output": f"o{i}"}])
        names.append(f"w{i}")
    prompt = {"contents": [{"parts": [{"text": "in1"}]}]}
    first = {}
    for n in names:
        st, r, _ = s.request("POST", f"/v1beta/tunedModels/{n}:generateContent", prompt)
        assert st == 200
        first[n] = r["candidates"][0]["content"]
        st, stats, _ = s.request("GET", "/debug/stats")
        assert stats["loadedModels"] <= 2
    # Evicted weights come back from weights.bin and answer the same.
    for n in names:
        st, r, _ = s.request("POST", f"/v1beta/tunedModels/{n}:generateContent", prompt)
        assert r["candidates"][0]["content"] == first[n]
