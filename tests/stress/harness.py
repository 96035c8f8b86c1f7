"""What the stress scripts share: the pytest harness's Server (tests/conftest.py) and
Mount (tests/fs/conftest.py) used outside pytest, a session that owns a temporary
directory and cleans up every process it started, and small figure helpers. Not a test
file: pytest does not collect this folder's scripts (none is named test_*)."""
import argparse
import importlib.util
import os
import pathlib
import shutil
import statistics
import sys
import tempfile

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(description, **extra):
    """BUILDDIR plus the script's own options; sets TUNEDFS_BUILD_DIR for the harness."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("builddir", nargs="?", default=os.path.join(os.path.dirname(TESTS), "build"))
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    for name, (default, help_text) in extra.items():
        p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default,
                       help=help_text)
    args = p.parse_args()
    os.environ["TUNEDFS_BUILD_DIR"] = os.path.abspath(args.builddir)
    return args


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def harness():
    """(Server, Mount, fs harness module), imported after TUNEDFS_BUILD_DIR is set; the
    tests folders are packages, so the repository root goes on the path."""
    root = os.path.dirname(TESTS)
    if root not in sys.path:
        sys.path.insert(0, root)
    top = importlib.import_module("tests.conftest")
    fs = importlib.import_module("tests.fs.conftest")
    return top.Server, fs.Mount, fs


class Session:
    """Servers and mounts under one temporary directory, all stopped on exit."""

    def __init__(self, keep=False):
        self.Server, self.Mount, self.fs = harness()
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="tdfs-stress-", dir="/tmp"))
        self.keep = keep
        self.servers, self.mounts = [], []

    def server(self, *args, sub=None):
        base = self.dir / (sub or f"s{len(self.servers)}")
        base.mkdir(parents=True, exist_ok=True)
        s = self.Server(base, args)
        self.servers.append(s)
        return s

    def mount(self, server, opts=(), sub=None):
        base = self.dir / (sub or f"m{len(self.mounts)}")
        base.mkdir(parents=True, exist_ok=True)
        m = self.Mount(base, server, opts=opts)
        self.mounts.append(m)
        return m

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        problems = []
        for m in self.mounts:
            if m.proc is not None:
                rc = m.unmount()
                if rc != 0:
                    problems.append(f"tunedfs exited {rc}")
            else:
                self.fs.fusermount_u(m.path)
            problems += [f"tunedfs: {line}" for line in m.unexpected_lines()]
        for s in self.servers:
            if s.proc is not None:
                rc = s.stop()
                if rc != 0:
                    problems.append(f"tunedfs-server exited {rc}")
            problems += [f"tunedfs-server: {line}" for line in s.unexpected_lines()]
        for p in problems[:40]:
            print("problem:", p)
        self.problems = problems
        if self.keep:
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(values, ps=(50, 95, 99)):
    """{p: value} in milliseconds for latencies given in seconds."""
    if not values:
        return {p: 0.0 for p in ps}
    v = sorted(values)
    return {p: v[min(len(v) - 1, int(len(v) * p / 100))] * 1000 for p in ps}


def proc_figures(pid):
    """(RSS in KiB, open file descriptors) of a live process."""
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def mean(values):
    return statistics.fmean(values) if values else 0.0


def finish(ok):
    print("result:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)
