#!/usr/bin/python3
"""Lookups of unknown names side by side: a tunedfs-server that answers a model's GET 5 s
late (--latency 5000 --fault-routes tunedModels.get), a mount with -o lookup_timeout=1,
then N `stat`s of unknown names at once and an `ls` 0.2 s into them. Prints the time of
all N and of the ls; asserts nothing (tests/fs/test_lookup.py holds the bounds).

usage: tests/bench/fs_lookups.py [BUILD_DIR] [N ...]      (defaults: build, 1 3 8)
"""
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
os.environ["TUNEDFS_BUILD_DIR"] = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                                                  os.path.join(ROOT, "build"))
from tests.conftest import Server  # noqa: E402
from tests.fs.conftest import Mount  # noqa: E402

counts = [int(a) for a in sys.argv[2:]] or [1, 3, 8]
base = pathlib.Path(tempfile.mkdtemp(prefix="tunedfs-lookups-"))
server = Server(base, ["--latency", "5000", "--fault-routes", "tunedModels.get"])
(base / "m").mkdir()
mount = Mount(base / "m", server, opts=["lookup_timeout=1"])
try:
    os.listdir(mount.path)  # the first listing is not delayed
    for n in counts:
        t0 = time.monotonic()
        ps = [subprocess.Popen(["stat", mount.p(f"unknown-{n}-{i}")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) for i in range(n)]
        time.sleep(0.2)
        t1 = time.monotonic()
        os.listdir(mount.path)
        ls = time.monotonic() - t1
        for p in ps:
            p.wait()
        print(f"N={n}: {n} stats {time.monotonic() - t0:.2f} s, ls during them {ls:.2f} s")
finally:
    mount.unmount()
    server.stop()
