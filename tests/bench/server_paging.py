#!/usr/bin/env python3
"""Measures tunedfs-server with many tuned models: start-up (reloading them from the data
directory), list pages of 10 and 1000 in creation order, a page deep in the list, GET of
one model, and N concurrent slow generateContent calls. Prints figures, asserts nothing.

    tests/bench/server_paging.py [BUILD_DIR] [--models 50000] [--concurrent 32]

The models are one real model (created and trained over HTTP) copied N times in the
server's own file format, weights hard-linked, so that the bench takes seconds to set up.
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start(exe, data, *args):
    p = subprocess.Popen([exe, "--data-dir", data, "--port", "0", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    url = p.stdout.readline().decode().strip()
    if not url:
        sys.exit("tunedfs-server did not start")
    return p, url


def call(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def stop(p):
    p.terminate()
    p.wait(timeout=30)


def seed_model(exe, data):
    p, url = start(exe, data)
    body = {"baseModel": "models/tunedfs-local-1", "displayName": "bench",
            "tuningTask": {"hyperparameters": {"epochCount": 20},
                           "trainingData": {"examples": {"examples": [
                               {"textInput": "ab", "output": "cd"}]}}}}
    call(url + "/v1beta/tunedModels?tunedModelId=seed", "POST", body)
    while call(url + "/v1beta/tunedModels/seed")["state"] == "CREATING":
        time.sleep(0.05)
    stop(p)


def clone(data, n):
    src = os.path.join(data, "jobs", "seed")
    job = json.load(open(os.path.join(src, "job.json")))
    for i in range(n):
        mid = f"bench-{i:06d}"
        d = os.path.join(data, "jobs", mid)
        os.makedirs(d)
        job["id"] = mid
        job["seq"] = str(i + 2)
        with open(os.path.join(d, "job.json"), "w") as f:
            json.dump(job, f)
        os.link(os.path.join(src, "weights.bin"), os.path.join(d, "weights.bin"))


def timed(fn, repeat=1):
    t0 = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    return (time.perf_counter() - t0) / repeat, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--models", type=int, default=50000)
    ap.add_argument("--concurrent", type=int, default=32)
    a = ap.parse_args()
    exe = os.path.join(a.build, "server", "tunedfs-server")
    tmp = tempfile.mkdtemp(prefix="tunedfs-bench-")
    data = os.path.join(tmp, "data")
    try:
        seed_model(exe, data)
        t, _ = timed(lambda: clone(data, a.models))
        print(f"set-up: {a.models} model directories written in {t:.1f} s")
        t0 = time.perf_counter()
        p, url = start(exe, data)
        print(f"start-up with {a.models + 1} models: {time.perf_counter() - t0:.2f} s")
        try:
            base = url + "/v1beta/tunedModels"
            t, _ = timed(lambda: call(base + "?pageSize=10"), 50)
            print(f"list, pageSize 10:   {t * 1000:.2f} ms a page")
            t, page = timed(lambda: call(base + "?pageSize=1000"), 5)
            print(f"list, pageSize 1000: {t * 1000:.1f} ms a page")
            t0 = time.perf_counter()
            tok, pages, seen = None, 0, 0
            while True:
                body = call(base + "?pageSize=1000" + (f"&pageToken={tok}" if tok else ""))
                seen += len(body.get("tunedModels", []))
                pages += 1
                tok = body.get("nextPageToken")
                if not tok:
                    break
            print(f"walk of all {seen} models in {pages} pages: "
                  f"{time.perf_counter() - t0:.2f} s")
            mid = f"/bench-{a.models // 2:06d}"
            t, _ = timed(lambda: call(base + mid), 50)
            print(f"get one model: {t * 1000:.2f} ms")
        finally:
            stop(p)

        p, url = start(exe, data, "--latency", "500")
        try:
            gen = url + "/v1beta/tunedModels/seed:generateContent"
            body = {"contents": [{"parts": [{"text": "ab"}]}]}
            call(gen, "POST", body)  # loads the weights once
            t0 = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(a.concurrent) as ex:
                list(ex.map(lambda _: call(gen, "POST", body), range(a.concurrent)))
            print(f"{a.concurrent} concurrent generateContent with --latency 500: "
                  f"{time.perf_counter() - t0:.2f} s in all (serialised would be "
                  f"{a.concurrent * 0.5:.0f} s)")
        finally:
            stop(p)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
