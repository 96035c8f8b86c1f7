#!/usr/bin/python3
"""Listing speed of a tunedfs mount with many models: creates N tiny models on a fresh
tunedfs-server (one example, one step each), mounts tunedfs on it, then times the first
`ls` (the mount's first listing), warm listings (from the model table, no network) and a
warm `ls -l` (a stat of every directory). Prints the figures; asserts nothing.

usage: tests/bench/fs_list.py [N] [BUILD_DIR]      (defaults: 10000, build)
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build"))

BODY = json.dumps({"baseModel": "models/gemini-1.0-pro-001",
                   "tuningTask": {"hyperparameters": {"epochCount": 1, "batchSize": 1},
                                  "trainingData": {"examples": {"examples": [
                                      {"textInput": "a", "output": "b"}]}}}}).encode()


def create(url, i):
    req = urllib.request.Request(f"{url}/v1beta/tunedModels?tunedModelId=m{i:05d}", data=BODY,
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main():
    tmp = tempfile.mkdtemp(prefix="tunedfs-bench-")
    srv = subprocess.Popen([os.path.join(BUILD, "server", "tunedfs-server"), "--data-dir",
                            os.path.join(tmp, "srv"), "--port", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    url = srv.stdout.readline().decode().strip()
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    fs = None
    try:
        t, _ = timed(lambda: list(concurrent.futures.ThreadPoolExecutor(8).map(
            lambda i: create(url, i), range(N))))
        print(f"created {N} models on the server in {t:.1f} s")
        fs = subprocess.Popen([os.path.join(BUILD, "fs", "tunedfs"), "-f", mnt, "-o",
                               f"endpoint={url},data_dir={tmp}/data,cache_dir={tmp}/cache,"
                               "list_ttl=3600"], stderr=subprocess.DEVNULL)
        while not os.path.ismount(mnt):
            time.sleep(0.05)
        t, names = timed(lambda: os.listdir(mnt))
        print(f"first listing (pages from the service): {len(names)} entries in {t * 1000:.0f} ms")
        best = min(timed(lambda: os.listdir(mnt))[0] for _ in range(5))
        print(f"warm listing (model table): {best * 1000:.1f} ms")
        t, _ = timed(lambda: subprocess.run(["ls", "-l", mnt], stdout=subprocess.DEVNULL,
                                            check=True))
        print(f"warm ls -l (a stat per model): {t * 1000:.0f} ms")
        t, _ = timed(lambda: [os.stat(os.path.join(mnt, n, "state")) for n in names])
        print(f"stat of every model's state file: {t * 1000:.0f} ms")
    finally:
        if fs:
            subprocess.run(["fusermount3", "-u", "-z", mnt])
            fs.wait(timeout=30)
        srv.terminate()
        try:
            srv.wait(timeout=30)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
