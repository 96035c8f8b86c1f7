#!/usr/bin/python3
"""Where the mount's memory goes with N models: RSS of tunedfs when mounted, after its
first listing (the model table filled) and after `ls -l` (libfuse's node per name).
Prints figures, asserts nothing.

    tests/bench/memory.py [--build DIR] [--models 10000] [--heap]

--heap: also the allocator's own figures after the listing (glibc mallinfo2, read with
gdb attached to the mount): bytes in use, held free in the heap, and mapped."""
import argparse
import os
import subprocess
import sys
import shutil
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, Mount, Server, make_store  # noqa: E402


def heap(pid):
    """Prints glibc's mallinfo2 of the mount: in use, free in the heap, mapped (MiB)."""
    ex = []
    for f in ("uordblks", "fordblks", "hblkhd"):
        ex += ["-ex", f"p (long)mallinfo2().{f}"]
    out = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx"] + ex,
                         capture_output=True, text=True).stdout
    vals = [int(line.split("=")[1]) / 1048576 for line in out.splitlines()
            if line.startswith("$")]
    if len(vals) == 3:
        print(f"heap after the listing: in use {vals[0]:.1f} MiB, free in the heap "
              f"{vals[1]:.1f} MiB, mapped {vals[2]:.1f} MiB")
    else:
        print("heap: gdb could not read mallinfo2")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-perf"))
    ap.add_argument("--models", type=int, default=10000)
    ap.add_argument("--heap", action="store_true", help="the allocator's figures (gdb)")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tunedfs-memory-")
    data = os.path.join(work, "store")
    make_store(os.path.abspath(a.build), data, a.models, real=1)
    srv = Server(os.path.abspath(a.build), data)
    mnt = Mount(os.path.abspath(a.build), srv.url, os.path.join(work, "m"))
    try:
        def rss():
            return mnt.status()["VmRSS"] / 1024
        start = rss()
        n = len(os.listdir(mnt.path()))
        time.sleep(1)  # the background thread saves the listing copy meanwhile
        listed = rss()
        if a.heap:
            heap(mnt.pid)
        subprocess.run(["ls", "-l", mnt.path()], stdout=subprocess.DEVNULL, check=True)
        nodes = rss()
        one = os.path.join(data, "jobs", "r000", "job.json")
        print(f"memory with {n} models: mounted {start:.1f} MiB, listed {listed:.1f} MiB "
              f"({(listed - start) * 1024 / n:.2f} KiB a model), after ls -l {nodes:.1f} MiB "
              f"({(nodes - listed) * 1024 / n:.2f} KiB a model more); "
              f"one job.json: {os.path.getsize(one)} bytes")
    finally:
        mnt.stop()
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
