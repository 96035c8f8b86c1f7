#!/usr/bin/python3
"""What checkpointing costs a training: the tutorial's model (15 examples, 300 epochs,
batch 4: 1,125 steps) trained by tunedfs-server from create to ACTIVE with checkpoints
every 3 s (the default), every 0.5 s, and never (--checkpoint-every a day), the three
alternating over ROUNDS rounds; prints each run, the medians and the checkpoint's size.
Prints figures, asserts nothing.

    tests/bench/checkpoint.py [--build DIR] [--rounds N]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "examples", "number-generator", "examples.jsonl")
SETTINGS = [("every 3 s (default)", "3000"), ("every 0.5 s", "500"), ("never", "86400000")]


def request(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def one_run(build, every, work):
    data = os.path.join(work, "data")
    shutil.rmtree(data, ignore_errors=True)
    proc = subprocess.Popen([os.path.join(build, "server", "tunedfs-server"), "--port", "0",
                             "--data-dir", data, "--seed", "1", "--checkpoint-every", every],
                            stdout=subprocess.PIPE)
    try:
        url = proc.stdout.readline().decode().strip()
        with open(DATA) as f:
            examples = [json.loads(line) for line in f if line.strip()]
        body = {"baseModel": "models/gemini-1.0-pro-001",
                "tuningTask": {"hyperparameters": {"epochCount": 300, "batchSize": 4,
                                                   "learningRate": 0.001},
                               "trainingData": {"examples": {"examples": [
                                   {"textInput": e["text_input"], "output": e["output"]}
                                   for e in examples]}}}}
        t0 = time.monotonic()
        request(url + "/v1beta/tunedModels?tunedModelId=bench", "POST", body)
        size = 0
        ckpt = os.path.join(data, "jobs", "bench", "checkpoint.bin")
        while request(url + "/v1beta/tunedModels/bench")["state"] == "CREATING":
            if os.path.exists(ckpt):
                size = max(size, os.path.getsize(ckpt))
            time.sleep(0.01)
        return time.monotonic() - t0, size
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tunedfs-bench-ckpt.")
    times = {name: [] for name, _ in SETTINGS}
    sizes = []
    try:
        for r in range(args.rounds):
            for name, every in SETTINGS:
                t, size = one_run(args.build, every, work)
                times[name].append(t)
                if size:
                    sizes.append(size)
                print(f"round {r + 1} {name:20} {t:.2f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(times["never"])
    for name, _ in SETTINGS:
        med = statistics.median(times[name])
        print(f"{name:20} median {med:.2f} s ({(med / base - 1) * 100:+.1f} % vs never)")
    if sizes:
        print(f"checkpoint.bin: {max(sizes):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
