#!/usr/bin/python3
"""How fast a blocked `cat response` returns on Ctrl-C, and how fast the mount answers
meanwhile: tunes a one-example model on a fresh tunedfs-server, restarts the server with
--latency 5000, then for R rounds starts `cat response` for a new prompt, sends SIGINT
after 0.5 s and times the exit; also times `ls`/`stat` while a generation is pending.
Prints the figures; asserts nothing.

usage: tests/bench/fs_interrupt.py [ROUNDS] [BUILD_DIR]      (defaults: 5, build)
"""
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build"))


def server(tmp, *extra):
    p = subprocess.Popen([os.path.join(BUILD, "server", "tunedfs-server"), "--data-dir",
                          os.path.join(tmp, "srv"), "--socket", os.path.join(tmp, "s.sock"),
                          *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.stdout.readline()
    return p


def stop(p):
    p.terminate()
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def main():
    tmp = tempfile.mkdtemp(prefix="tunedfs-bench-")
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    srv = server(tmp)
    fs = subprocess.Popen([os.path.join(BUILD, "fs", "tunedfs"), "-f", mnt, "-o",
                           f"endpoint=unix:{tmp}/s.sock,data_dir={tmp}/data,"
                           f"cache_dir={tmp}/cache,poll_interval=0.2"],
                          stderr=subprocess.DEVNULL)
    try:
        while not os.path.ismount(mnt):
            time.sleep(0.05)
        d = os.path.join(mnt, "bench")
        os.mkdir(d)
        with open(os.path.join(d, "examples.jsonl"), "w") as f:
            f.write('{"text_input": "1", "output": "2"}\n')
        with open(os.path.join(d, "config"), "w") as f:
            f.write("base_model = models/gemini-1.0-pro-001\nepoch_count = 1\n")
        with open(os.path.join(d, "wait")) as f:
            print("model:", f.read().strip())
        stop(srv)
        srv = server(tmp, "--latency", "5000")
        exits, stats = [], []
        for i in range(ROUNDS):
            with open(os.path.join(d, "prompt"), "w") as f:
                f.write(f"prompt {i}\n")
            cat = subprocess.Popen(["cat", os.path.join(d, "response")],
                                   stdout=subprocess.DEVNULL)
            time.sleep(0.5)
            t = time.perf_counter()
            for _ in range(20):
                os.listdir(mnt)
                os.stat(os.path.join(d, "state"))
            stats.append((time.perf_counter() - t) / 20)
            t = time.perf_counter()
            cat.send_signal(signal.SIGINT)
            cat.wait()
            exits.append(time.perf_counter() - t)
        print(f"SIGINT to exit of a blocked cat response: median "
              f"{statistics.median(exits) * 1000:.1f} ms, max {max(exits) * 1000:.1f} ms "
              f"({ROUNDS} rounds, server latency 5000 ms)")
        print(f"listdir + stat while the answer is pending: median "
              f"{statistics.median(stats) * 1000:.2f} ms")
    finally:
        subprocess.run(["fusermount3", "-u", "-z", mnt])
        fs.wait(timeout=30)
        stop(srv)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
