#!/usr/bin/python3
"""A spool of new prompts answered four ways against one tunedfs-server (--latency 200 on
its online routes, 32 server workers): the spool online with -o max_requests=8 and 32,
the spool sent as one batch job (-o batch_min=100), and `xargs -P 32 curl` posting
generateContent. Each way gets prompts of its own (nothing cached); each mount is fresh.
Prints the time from the first prompt written to the last answer read, and the requests
the server counted; asserts nothing.

usage: tests/bench/batch.py [PROMPTS] [BUILD_DIR]      (defaults: 1000, build-perf)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, Mount, Server, delta, fmt_requests, gen_body, make_store  # noqa: E402

PROMPTS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
BUILD = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build-perf"))
NONCE = uuid.uuid4().hex[:8]
MODEL = "r000"


def stats(srv):
    """srv.stats() over a new connection: a long run outlives a kept-alive one."""
    _, st = srv.call("GET", "/debug/stats", conn=srv.connection())
    out = {k: v["requests"] for k, v in st.get("routes", {}).items()}
    out["total"] = st.get("total", 0)
    return out


def spool(srv, work, label, extra):
    """cp of PROMPTS prompt files into prompts/, then every answer read: seconds."""
    inputs = os.path.join(work, f"in-{label}")
    os.makedirs(inputs)
    for i in range(PROMPTS):
        with open(os.path.join(inputs, f"p{i:05d}"), "w") as f:
            f.write(f"batch bench {NONCE} {label} {i}\n")
    mnt = Mount(BUILD, srv.url, os.path.join(work, f"m-{label}"), extra=extra)
    try:
        before = stats(srv)
        t0 = time.perf_counter()
        subprocess.run(f"cp {inputs}/* {mnt.path(MODEL, 'prompts')}/", shell=True, check=True)
        for i in range(PROMPTS):
            with open(mnt.path(MODEL, "responses", f"p{i:05d}")) as f:
                f.read()
        t = time.perf_counter() - t0
        req = delta(stats(srv), before)
        status = ""
        if "batch_min" in extra:
            with open(mnt.path(MODEL, "responses", "batch")) as f:
                status = " | ".join(f.read().splitlines()[:5])
    finally:
        mnt.stop()
    return t, req, status


def curl_xargs(srv, work):
    bodies = os.path.join(work, "bodies")
    os.makedirs(bodies)
    for i in range(PROMPTS):
        with open(os.path.join(bodies, f"b{i:05d}.json"), "w") as f:
            json.dump(gen_body(f"batch bench {NONCE} curl {i}"), f)
    url = f"{srv.url}/v1beta/tunedModels/{MODEL}:generateContent"
    cmd = (f"ls {bodies} | xargs -P 32 -I{{}} curl -sS --fail-with-body -o /dev/null "
           f"-H 'Content-Type: application/json' --data-binary @{bodies}/{{}} {url}")
    before = stats(srv)
    t0 = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True)
    return time.perf_counter() - t0, delta(stats(srv), before)


def main():
    work = tempfile.mkdtemp(prefix="tunedfs-bench-")
    data = os.path.join(work, "store")
    try:
        make_store(BUILD, data, 1, real=1)
        srv = Server(BUILD, data, latency=200, workers=32)
        try:
            rows = [("spool online, max_requests=8",) + spool(srv, work, "o8", "max_requests=8"),
                    ("spool online, max_requests=32",) + spool(srv, work, "o32",
                                                                "max_requests=32"),
                    ("spool via one batch, batch_min=100",) + spool(srv, work, "batch",
                                                                    "batch_min=100"),
                    ("xargs -P 32 curl generateContent",) + curl_xargs(srv, work) + ("",)]
        finally:
            srv.stop()
        print(f"batch  {PROMPTS} new prompts, server --latency 200 (online routes), "
              f"32 server workers, build {BUILD}")
        for what, t, req, status in rows:
            print(f"  {what:<36} {t:8.2f} s   requests {fmt_requests(req)}")
            if status:
                print(f"  {'':<36} responses/batch: {status}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
