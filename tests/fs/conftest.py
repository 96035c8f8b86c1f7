"""Harness of the filesystem tests: a real tunedfs mount in the foreground against the
`server` of tests/conftest.py (its own data and cache dirs, poll_interval 0.2), the
sshfs/libfuse way: wait for the mount, fail early if the daemon died, lazy-unmount in
every cleanup path, fail if the daemon does not exit 0 after unmount or printed
unexpected error/warning/sanitizer lines (a test lists the ones it expects in
`mount.allow`). On failure the command line that reproduces the mount is printed.

Fixtures: `mount` (one mount on a fresh server), `mount_factory(server=..., opts=...,
local=..., env=...)`, and `Mount.make_active(name)` for an ACTIVE model in seconds.
"""
import json
import os
import re
import shlex
import subprocess
import time

import pytest

from tests.conftest import BAD_LINE, BUILD, DATA, ROOT, binary  # noqa: F401

# A few examples and epochs: enough for the local trainer to finish in seconds.
QUICK_EXAMPLES = [
    {"text_input": "1", "output": "2"},
    {"text_input": "3", "output": "4"},
    {"text_input": "5", "output": "6"},
]
QUICK_CONFIG = "base_model = models/gemini-1.0-pro-001\nepoch_count = 3\nbatch_size = 1\n"


def is_mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def fusermount_u(path):
    subprocess.run(["fusermount3", "-u", "-z", path], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


class Mount:
    """One tunedfs process mounted at .path."""

    def __init__(self, base, server=None, opts=(), local=False, env=None):
        self.base = base
        self.server = server
        self.local = local
        self.opts = list(opts)
        self.allow = []  # regexes of stderr lines the test expects
        self.path = str(base / "mnt")
        self.data_dir = str(base / "data")
        self.cache_dir = str(base / "cache")
        self.log_path = str(base / "tunedfs.stderr")
        self.env = dict(os.environ if env is None else env)
        for k in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "TUNEDFS_ENDPOINT"):
            self.env.pop(k, None)
        self.env.setdefault("TUNEDFS_SERVER", binary("tunedfs-server"))
        os.makedirs(self.path, exist_ok=True)
        self.proc = None
        self.start()

    def command(self):
        # a short settle before a draft is submitted: tests that are not about it need not
        # wait the default 2 s (an option given in opts comes later and wins)
        o = ["poll_interval=0.2", "submit_delay=0.05"]
        if self.local:
            o.append("local")
        else:
            o += ["endpoint=" + self.server.url, "data_dir=" + self.data_dir,
                  "cache_dir=" + self.cache_dir]
        o += self.opts
        return [binary("tunedfs"), "-f", self.path, "-o", ",".join(o)]

    def repro(self):
        return " ".join(shlex.quote(c) for c in self.command())

    def start(self, timeout=20):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=self.log,
                                     env=self.env)
        deadline = time.time() + timeout
        while not is_mounted(self.path):
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                self.log.close()
                raise AssertionError(f"tunedfs exited {rc} before mounting:\n"
                                     f"{self.stderr()}\nreproduce: {self.repro()}")
            if time.time() > deadline:
                self.kill9()
                raise AssertionError(f"tunedfs did not mount in {timeout}s:\n{self.stderr()}")
            time.sleep(0.05)

    def unmount(self, timeout=20):
        """Unmounts; returns the daemon's exit code."""
        if self.proc is None:
            return 0
        fusermount_u(self.path)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "hung after unmount"
        self.proc = None
        self.log.close()
        return rc

    def kill9(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.log.close()
        fusermount_u(self.path)

    def restart(self):
        assert self.unmount() == 0, self.stderr()
        self.start()

    def stderr(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def unexpected_lines(self):
        return [line for line in self.stderr().splitlines()
                if BAD_LINE.search(line) and not any(re.search(a, line) for a in self.allow)]

    # --- helpers -----------------------------------------------------------
    def p(self, *parts):
        return os.path.join(self.path, *parts)

    def read(self, *parts):
        with open(self.p(*parts), "rb") as f:
            return f.read().decode()

    def write(self, *parts, data):
        with open(self.p(*parts), "w") as f:
            f.write(data)

    def wait_state(self, name, timeout=None):
        return self.read(name, "wait")

    def make_draft(self, name, examples=QUICK_EXAMPLES, config=QUICK_CONFIG):
        os.mkdir(self.p(name))
        self.write(name, "examples.jsonl",
                   data="".join(json.dumps(e) + "\n" for e in examples))
        if config is not None:
            self.write(name, "config", data=config)

    def make_active(self, name, examples=QUICK_EXAMPLES, config=QUICK_CONFIG):
        """mkdir + examples + config, then `cat wait`; asserts ACTIVE."""
        self.make_draft(name, examples, config)
        state = self.read(name, "wait")
        assert state == "ACTIVE\n", (state, self.read(name, "error"))
        return self.p(name)

    def ask(self, name, prompt):
        self.write(name, "prompt", data=prompt + "\n")
        return self.read(name, "response")


@pytest.fixture
def mount_factory(tmp_path, server_factory, request):
    mounts = []

    def make(server=None, opts=(), local=False, env=None, sub=None):
        base = tmp_path / (sub or f"m{len(mounts)}")
        base.mkdir(parents=True, exist_ok=True)
        if server is None and not local:
            server = server_factory()
        m = Mount(base, server, opts=opts, local=local, env=env)
        mounts.append(m)
        return m

    yield make
    problems = []
    for m in mounts:
        if m.proc is not None:
            rc = m.unmount()
            if rc != 0:
                problems.append(f"tunedfs exited {rc} after unmount")
        else:
            fusermount_u(m.path)
        bad = m.unexpected_lines()
        if bad:
            problems.append("unexpected tunedfs stderr:\n" + "\n".join(bad))
        if problems:
            problems.append("reproduce: " + m.repro())
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def mount(mount_factory):
    return mount_factory()

