"""Several models at once: two tuned together, eight prompted by eight processes."""
import json
import os
import subprocess


def test_two_models_tuned_at_once(mount):
    mount.make_draft("first", config=None)
    mount.make_draft("second", config=None)
    cfg = "base_model = models/gemini-1.0-pro-001\nepoch_count = 20\nbatch_size = 1\n"
    mount.write("first", "config", data=cfg)
    mount.write("second", "config", data=cfg)
    assert mount.read("first", "state") == "CREATING\n"
    assert mount.read("second", "state") == "CREATING\n"
    assert mount.read("first", "wait") == "ACTIVE\n"
    assert mount.read("second", "wait") == "ACTIVE\n"
    for name in ("first", "second"):
        head = mount.read(name, "progress").splitlines()[0]
        assert head.startswith("100.0% step 60/60 epoch 20 "), head


def test_eight_processes_prompt_eight_models(mount):
    names = [f"model-{i}" for i in range(8)]
    for n in names:
        mount.make_draft(n)
    for n in names:
        assert mount.read(n, "wait") == "ACTIVE\n", mount.read(n, "error")
    procs = []
    for i, n in enumerate(names):
        d = mount.p(n)
        procs.append(subprocess.Popen(
            ["sh", "-c", f"echo {i} > {d}/prompt && cat {d}/response {d}/response.json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for n, p in zip(names, procs):
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        text, _, rest = out.decode().partition("\n")
        r = json.loads(rest)
        assert text == "".join(x["text"] for x in r["candidates"][0]["content"]["parts"])
        assert r["modelVersion"] == "tunedModels/" + n
