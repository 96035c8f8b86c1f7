"""Shared pytest harness: where the build is, and a tunedfs-server of one's own.

Each test gets its own temporary data directory and its own server on port 0.
The server's stderr is captured; unexpected error/warning/sanitizer lines fail the
test (tests that expect some list them in `server.allow`).
"""
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.environ.get("TUNEDFS_BUILD_DIR", os.path.join(ROOT, "build")))
# The tutorial's 15 "next number" examples and its config, as README shows them.
DATA = os.path.join(ROOT, "examples", "number-generator")

BAD_LINE = re.compile(r"error|warning|sanitizer|leak|runtime error", re.IGNORECASE)


def sanitizer():
    """The build's b_sanitize ("address,undefined", "thread", ...), "" for a plain build."""
    try:
        with open(os.path.join(BUILD, "meson-info", "intro-buildoptions.json")) as f:
            opts = json.load(f)
    except OSError:
        return ""
    return next((o["value"] for o in opts if o["name"] == "b_sanitize"), "none").replace(
        "none", "")


def binary(name):
    for sub in ("server", "fs", ""):
        p = os.path.join(BUILD, sub, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise FileNotFoundError(f"{name} not built under {BUILD}")


class Server:
    """A tunedfs-server process on 127.0.0.1:0 (or a unix socket)."""

    def __init__(self, tmp_path, args=(), socket=None, env=None):
        self.data_dir = str(tmp_path / "server-data")
        self.args = list(args)
        self.socket = socket
        self.env = env
        self.allow = []  # regexes of stderr lines a test expects
        self.log_path = str(tmp_path / "server.stderr")
        self.proc = None
        self.url = None
        self.start()

    def command(self):
        cmd = [binary("tunedfs-server"), "--data-dir", self.data_dir]
        cmd += ["--socket", self.socket] if self.socket else ["--port", "0"]
        return cmd + self.args

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=self.log,
                                     env=self.env)
        line = self.proc.stdout.readline().decode().strip()
        if not line:
            self.proc.wait(timeout=5)
            raise RuntimeError("tunedfs-server died at start:\n" + self.stderr())
        self.url = line

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("tunedfs-server did not stop on SIGTERM")
        finally:
            self.proc.stdout.close()
            self.log.close()
            self.proc = None
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        self.start()

    def stderr(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def unexpected_lines(self):
        out = []
        for line in self.stderr().splitlines():
            if BAD_LINE.search(line) and not any(re.search(a, line) for a in self.allow):
                out.append(line)
        return out

    # --- HTTP helpers -------------------------------------------------------
    def request(self, method, path, body=None, headers=None, raw=None, timeout=30):
        """Returns (status, parsed JSON or None, headers). body is JSON-encoded,
        raw is sent as bytes unchanged."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                text = r.read()
                return r.status, (json.loads(text) if text else None), dict(r.headers)
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            return e.code, parsed, dict(e.headers)

    def wait_model(self, name, timeout=120):
        """Polls GET name until it is no longer CREATING; returns the model."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, m, _ = self.request("GET", "/v1beta/" + name)
            assert status == 200, m
            if m.get("state") != "CREATING":
                return m
            time.sleep(0.2)
        raise AssertionError(f"{name} still CREATING after {timeout}s")


@pytest.fixture
def server_factory(tmp_path):
    servers = []

    def make(*args, socket=None, env=None, sub=None):
        base = tmp_path / sub if sub else tmp_path / f"s{len(servers)}"
        base.mkdir(parents=True, exist_ok=True)
        s = Server(base, args, socket=socket, env=env)
        servers.append(s)
        return s

    yield make
    problems = []
    for s in servers:
        if s.proc is not None:
            rc = s.stop()
            if rc != 0:
                problems.append(f"tunedfs-server exited {rc}: {' '.join(s.command())}")
        bad = s.unexpected_lines()
        if bad:
            problems.append("unexpected server stderr:\n" + "\n".join(bad))
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def server(server_factory):
    return server_factory()


def until(what, timeout=60, step=0.1):
    """what() polled every step seconds until it is true or timeout passes: its last value."""
    deadline = time.time() + timeout
    while True:
        v = what()
        if v or time.time() > deadline:
            return v
        time.sleep(step)


def direct(server, model, prompt):
    """The tuned model's answer to prompt, asked of the server straight over HTTP."""
    st, out, _ = server.request(
        "POST", f"/v1beta/tunedModels/{model}:generateContent",
        body={"contents": [{"role": "user", "parts": [{"text": prompt}]}]})
    assert st == 200, out
    return "".join(p.get("text", "") for p in out["candidates"][0]["content"]["parts"])


def read_examples(path=os.path.join(DATA, "examples.jsonl")):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
