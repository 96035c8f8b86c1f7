"""progress.svg (the loss curve drawn from progress's snapshots) and log.jsonl (one line per
answer of the mount: usage as the service said it, cached or not), on a real mount."""
import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET

import pytest

SVG = "{http://www.w3.org/2000/svg}"


def snapshots(mount, name):
    """progress's snapshot lines: (step, epoch, loss)."""
    lines = mount.read(name, "progress").splitlines()[1:]
    return [(int(f[0]), int(f[1]), float(f[2])) for f in (line.split() for line in lines)]


def err_of(fn, *a):
    try:
        fn(*a)
    except OSError as e:
        return e.errno
    return 0


def log_lines(mount, name):
    return [json.loads(line) for line in mount.read(name, "log.jsonl").splitlines()]


# --- progress.svg ---------------------------------------------------------------------


def test_progress_svg_draws_progress(tmp_path, mount):
    os.mkdir(mount.p("plain-draft"))
    assert "progress.svg" not in os.listdir(mount.p("plain-draft"))
    mount.make_active("curve")
    assert "progress.svg" in os.listdir(mount.p("curve"))
    snaps = snapshots(mount, "curve")
    assert len(snaps) >= 3
    text = mount.read("curve", "progress.svg")
    assert os.stat(mount.p("curve", "progress.svg")).st_size == len(text.encode())
    root = ET.fromstring(text.encode())
    assert root.tag == SVG + "svg"
    title = root.find(SVG + "title").text
    assert title.startswith("curve: ACTIVE, final loss ") and f"{snaps[-1][2]:.6f}" in title
    labels = [t.text for t in root.iter(SVG + "text")]
    assert "step" in labels and "mean loss" in labels
    assert sum(1 for t in labels if t and t.startswith("epoch ")) >= 1
    line = [p for p in root.iter(SVG + "polyline")]
    assert len(line) == 1
    points = [tuple(map(float, p.split(","))) for p in line[0].get("points").split()]
    assert len(points) == len(snaps)
    # each point's tooltip names its snapshot; x grows with the step; y is linear in loss
    tips = [c.find(SVG + "title").text for c in root.iter(SVG + "circle")]
    assert len(tips) == len(snaps)
    for tip, (step, epoch, loss) in zip(tips, snaps):
        m = re.fullmatch(r"step (\d+) epoch (\d+) loss (\S+)", tip)
        assert (int(m[1]), int(m[2])) == (step, epoch)
        assert abs(float(m[3]) - loss) < 1e-6
    lo, hi = min(range(len(snaps)), key=lambda i: snaps[i][2]), \
        max(range(len(snaps)), key=lambda i: snaps[i][2])
    if snaps[hi][2] - snaps[lo][2] > 1e-3:
        slope = (points[hi][1] - points[lo][1]) / (snaps[hi][2] - snaps[lo][2])
        assert slope < 0  # a larger loss is higher up the page
        for (x, y), (_, _, loss) in zip(points, snaps):
            assert abs(points[lo][1] + slope * (loss - snaps[lo][2]) - y) < 0.05
    assert [x for x, _ in points] == sorted(x for x, _ in points)
    rsvg = shutil.which("rsvg-convert")
    if rsvg is None:
        pytest.skip("rsvg-convert (librsvg2-bin) is not installed")
    png = tmp_path / "curve.png"
    r = subprocess.run([rsvg, "-o", str(png), mount.p("curve", "progress.svg")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_snapshots_no_progress_svg(mount_factory, server_factory):
    """One training slot, held by a long tuning: the next models wait with no snapshot."""
    srv = server_factory("--workers", "1")
    m = mount_factory(server=srv)
    m.make_draft("busy", config="base_model = models/gemini-1.0-pro-001\n"
                               "epoch_count = 10000\nbatch_size = 1\n")
    deadline = time.time() + 60
    while not snapshots(m, "busy") and time.time() < deadline:
        time.sleep(0.05)  # training: the one slot is taken
    # a model made elsewhere (through the service's API), queued behind it
    body = {"baseModel": "models/gemini-1.0-pro-001",
            "tuningTask": {"hyperparameters": {"epochCount": 3, "batchSize": 1},
                           "trainingData": {"examples": {"examples": [
                               {"textInput": "1", "output": "2"}]}}}}
    req = urllib.request.Request(srv.url + "/v1beta/tunedModels?tunedModelId=elsewhere",
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).read()
    m.make_draft("queued")
    deadline = time.time() + 30
    while m.read("queued", "state") == "DRAFT\n" and time.time() < deadline:
        time.sleep(0.02)  # submitted after the mount's submit_delay
    for name in ("elsewhere", "queued"):
        assert m.read(name, "state") == "CREATING\n"
        assert snapshots(m, name) == []
        assert "progress.svg" not in os.listdir(m.p(name))
    assert err_of(os.stat, m.p("elsewhere", "progress.svg")) == errno.ENOENT
    assert err_of(m.read, "elsewhere", "progress.svg") == errno.ENOENT
    # a draft of this mount keeps an empty one, unlisted, for a restore to copy onto
    assert m.read("queued", "progress.svg") == ""
    subprocess.run(["rm", "-rf", m.p("busy"), m.p("queued"), m.p("elsewhere")], check=True,
                   timeout=60)


# --- log.jsonl ------------------------------------------------------------------------


def usage_of(mount, name):
    u = json.loads(mount.read(name, "response.json"))["usageMetadata"]
    return {"prompt_tokens": u.get("promptTokenCount"),
            "output_tokens": u.get("candidatesTokenCount"),
            "total_tokens": u.get("totalTokenCount")}


def test_log_jsonl_lines_usage_cache_remount(tmp_path, mount_factory, server_factory):
    key = "sk-log-test-0123456789abcdef"
    keyfile = tmp_path / "key"
    keyfile.write_text(key + "\n")
    keyfile.chmod(0o600)
    m = mount_factory(server=server_factory("--api-key-file", str(keyfile)),
                      opts=["api_key_file=" + str(keyfile)])
    m.make_active("logged")
    assert "log.jsonl" in os.listdir(m.p("logged"))
    assert m.read("logged", "log.jsonl") == ""
    usages, answers = [], []
    f = open(m.p("logged", "log.jsonl"), "rb")  # tail -f: reads on from where it was
    for p in ("1", "3", "5"):
        answers.append(m.ask("logged", p))
        usages.append(usage_of(m, "logged"))
        new = f.read()
        assert new.count(b"\n") == 1 and json.loads(new)["prompt"] == p
    f.close()
    lines = log_lines(m, "logged")
    assert len(lines) == 3
    for line, p, u, a in zip(lines, ("1", "3", "5"), usages, answers):
        assert line["prompt"] == p and line["cached"] is False
        assert line["usage"] == u and u["total_tokens"] is not None
        assert line["finish_reason"] == "STOP"
        assert line["answer_length"] == len(a.encode()) - 1  # response ends in a newline
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", line["time"])
        assert isinstance(line["latency_ms"], int) and line["latency_ms"] >= 0
    m.ask("logged", "3")  # answered from what is kept
    lines = log_lines(m, "logged")
    assert len(lines) == 4 and lines[3]["prompt"] == "3" and lines[3]["cached"] is True
    assert lines[3]["usage"] == lines[1]["usage"]
    m.restart()
    assert len(log_lines(m, "logged")) == 4  # kept in the data directory
    m.ask("logged", "1")  # the response cache, after a remount
    lines = log_lines(m, "logged")
    assert len(lines) == 5 and lines[4]["cached"] is True and lines[4]["prompt"] == "1"
    # the key is in no log line and in no file of the data directory's logs
    assert key not in m.read("logged", "log.jsonl")
    for d, _, files in os.walk(m.data_dir):
        for name in files:
            if name.startswith("log.jsonl"):
                assert key.encode() not in open(os.path.join(d, name), "rb").read()


def test_log_jsonl_hashed_prompts_and_rotation(mount_factory):
    m = mount_factory(opts=["log_prompts=hash", "log_size=600"])
    m.make_active("hashed")
    for p in ("1", "3", "5", "7", "9"):
        m.ask("hashed", p)
    lines = log_lines(m, "hashed")
    assert lines and all("prompt" not in line for line in lines)
    assert lines[-1]["prompt_sha256"] == hashlib.sha256(b"9").hexdigest()
    assert os.stat(m.p("hashed", "log.jsonl")).st_size <= 600
    logs = [os.path.join(d, n) for d, _, files in os.walk(m.data_dir) for n in files
            if n.startswith("log.jsonl")]
    assert sorted(os.path.basename(p) for p in logs) == ["log.jsonl", "log.jsonl.1"]
    old = [json.loads(x) for x in open([p for p in logs if p.endswith(".1")][0])]
    # one old generation kept: the newest lines, in order, each once
    assert old and len(old) + len(lines) <= 5
    assert [x["prompt_sha256"] for x in old + lines] == \
        [hashlib.sha256(p.encode()).hexdigest() for p in ("1", "3", "5", "7", "9")][
            5 - len(old) - len(lines):]


@pytest.mark.parametrize("backend,base", [("openai", "gpt-4.1-mini-2025-04-14"),
                                          ("vertex", "gemini-2.5-flash")])
def test_log_jsonl_usage_on_other_backends(mount_factory, tmp_path, backend, base):
    home = tmp_path / "home"
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"))
    env.pop("OPENAI_API_KEY", None)
    m = mount_factory(local=True, opts=["backend=" + backend], env=env)
    m.make_active("other", config=f"base_model = {base}\nepoch_count = 2\n")
    m.ask("other", "1")
    answer = json.loads(m.read("other", "response.json"))
    if backend == "openai":
        u = answer["usage"]
        want = {"prompt_tokens": u["prompt_tokens"], "output_tokens": u["completion_tokens"],
                "total_tokens": u["total_tokens"]}
        finish = answer["choices"][0]["finish_reason"]
    else:
        u = answer["usageMetadata"]
        want = {"prompt_tokens": u["promptTokenCount"],
                "output_tokens": u.get("candidatesTokenCount"),
                "total_tokens": u["totalTokenCount"]}
        finish = answer["candidates"][0]["finishReason"]
    lines = log_lines(m, "other")
    assert len(lines) == 1 and lines[0]["usage"] == want and lines[0]["cached"] is False
    assert lines[0]["finish_reason"] == finish
    # the picture comes with snapshots (the Vertex backend reports none)
    if snapshots(m, "other"):
        assert "progress.svg" in os.listdir(m.p("other"))
        ET.fromstring(m.read("other", "progress.svg").encode())
    else:
        assert backend == "vertex"
        assert err_of(os.stat, m.p("other", "progress.svg")) == errno.ENOENT


@pytest.mark.skipif(shutil.which("tail") is None, reason="no tail")
def test_tail_f_follows_log_jsonl(mount):
    mount.make_active("tailed")
    mount.ask("tailed", "1")
    tail = subprocess.Popen(["tail", "-n", "+1", "-f", mount.p("tailed", "log.jsonl")],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert json.loads(tail.stdout.readline())["prompt"] == "1"
        mount.ask("tailed", "3")
        assert json.loads(tail.stdout.readline())["prompt"] == "3"  # came as it was written
    finally:
        tail.kill()
        tail.wait()
