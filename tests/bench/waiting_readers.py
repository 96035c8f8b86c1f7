#!/usr/bin/python3
"""P8: `stat` of other models while many readers wait on answers. A tunedfs-server that
answers generations 5 s late (and nothing else), one mount (default max_threads), then: p50/p99 of `stat` of
cold model directories with no reader waiting, and again while N readers (threads of this
process, `cat responses/qK` of one model, 10 prompts) wait; the ratio, the mount's
threads during the wait, whether every reader got its prompt's answer, and the mount's CPU
time (user + system, /proc/PID/stat) from the first reader's open to the last answer, and
that of its thread that tries the waiting reads (named tfs-notify): what it cost to hold
the readers and hand them their answers. Asserts nothing.

usage: tests/bench/waiting_readers.py [--build DIR] [--readers 1000] [--stats 200]
                                      [--prompts 10] [--latency 5000]
"""
import argparse
import os
import sys
import tempfile
import threading
import time
import uuid

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, Mount, Server, make_store, ms, pct  # noqa: E402


def stat_times(mnt, names):
    out = []
    for n in names:
        t = time.perf_counter()
        os.stat(mnt.path(n))
        out.append(time.perf_counter() - t)
    return out


def cpu_of(path):
    """User + system CPU seconds so far of the process or thread at path (/proc/...)."""
    with open(f"{path}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def notifier_cpu(pid):
    """CPU seconds of the mount's thread that tries the waiting reads (0 before it runs)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() == "tfs-notify":
                    return cpu_of(f"/proc/{pid}/task/{tid}")
        except FileNotFoundError:
            pass
    return 0.0


def threads_of(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-perf"))
    ap.add_argument("--readers", type=int, default=1000)
    ap.add_argument("--stats", type=int, default=200)
    ap.add_argument("--latency", type=int, default=5000)
    ap.add_argument("--prompts", type=int, default=10, help="responses/qK read, K < this")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    work = tempfile.mkdtemp(prefix="tunedfs-p8-")
    data = os.path.join(work, "store")
    make_store(build, data, 2 * a.stats + 2, real=1)
    names = sorted(n for n in os.listdir(os.path.join(data, "jobs")) if n != "r000")
    srv = Server(build, data, latency=a.latency,
                 routes="tunedModels.generateContent,tunedModels.streamGenerateContent")
    mnt = Mount(build, srv.url, os.path.join(work, "m"))
    nonce = uuid.uuid4().hex[:8]
    try:
        os.listdir(mnt.path())  # the listing, before anything waits
        with open(mnt.path("r000", "prompt"), "w") as f:  # weights loaded on the server
            f.write("warm-up\n")
        with open(mnt.path("r000", "response")) as f:
            f.read()
        idle = stat_times(mnt, names[: a.stats])
        idle_threads = threads_of(mnt.pid)
        for k in range(a.prompts):
            with open(mnt.path("r000", "prompts", f"q{k}"), "w") as f:
                f.write(f"p8 {nonce} {k}\n")
        got = [None] * a.readers
        opened = threading.Semaphore(0)

        def reader(i):
            with open(mnt.path("r000", "responses", f"q{i % a.prompts}"), "rb") as f:
                opened.release()
                got[i] = f.read()

        t0 = time.monotonic()
        cpu0, notify0 = cpu_of(f"/proc/{mnt.pid}"), notifier_cpu(mnt.pid)
        ts = [threading.Thread(target=reader, args=(i,)) for i in range(a.readers)]
        for t in ts:
            t.start()
        n_open = 0  # a mount that holds a thread per reader never opens them all: go on
        while n_open < a.readers and opened.acquire(timeout=max(0, t0 + 3 - time.monotonic())):
            n_open += 1
        t_open = time.monotonic() - t0
        time.sleep(0.2)
        waiting = sum(1 for g in got if g is None)
        busy = stat_times(mnt, names[a.stats: 2 * a.stats])
        busy_threads = threads_of(mnt.pid)
        still = sum(1 for g in got if g is None)
        for t in ts:
            t.join()
        t_all = time.monotonic() - t0
        cpu = cpu_of(f"/proc/{mnt.pid}") - cpu0
        notify = notifier_cpu(mnt.pid) - notify0
        answers = []
        for k in range(a.prompts):
            with open(mnt.path("r000", "responses", f"q{k}"), "rb") as f:
                answers.append(f.read())
        right = sum(1 for i, g in enumerate(got) if g == answers[i % a.prompts])
        print(f"P8  stat of cold model directories, server --latency {a.latency}, "
              f"{a.readers} readers of responses/q0..q{a.prompts - 1}")
        print(f"  no reader waiting:       p50 {ms(pct(idle, 50))}  p99 {ms(pct(idle, 99))}  "
              f"max {ms(max(idle))}  ({a.stats} stats; mount threads {idle_threads})")
        print(f"  {waiting:>4} readers waiting:  p50 {ms(pct(busy, 50))}  p99 {ms(pct(busy, 99))}"
              f"  max {ms(max(busy))}  ({a.stats} stats; {still} still waiting after them; "
              f"mount threads {busy_threads})")
        print(f"  ratio p99 {pct(busy, 99) / pct(idle, 99):.2f}  p50 "
              f"{pct(busy, 50) / pct(idle, 50):.2f}   target p99 <= 2")
        print(f"  {n_open} readers opened in {t_open:.2f} s; all answered {t_all:.2f} s after the "
              f"first; right answers {right}/{a.readers}")
        print(f"  mount CPU (user + system) from the first open to the last answer: "
              f"{cpu:.2f} s, of which the notifier thread {notify:.2f} s")
    finally:
        mnt.stop()
        srv.stop()


if __name__ == "__main__":
    main()
