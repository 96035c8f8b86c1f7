#!/usr/bin/python3
"""R1 long form, by hand: PROMPTS prompts over MODELS models through a mount while
tunedfs-server answers 20% 503, 5% 429 (Retry-After) and drops 5% of connections.
Prints answered / failed (by errno) / wrong answers and the latency of `ls` meanwhile.
Usage: tests/stress/r1_faults.py [BUILDDIR] [--prompts 1000] [--models 20]"""
import errno
import os
import threading
import time

import harness

FAULTS = ["--fail-rate", "0.2", "--throttle-rate", "0.05", "--drop-rate", "0.05"]
GENERATION = {"temperature": 0, "maxOutputTokens": 16}


def reference(server, name, prompt):
    status, r, _ = server.request("POST", f"/v1beta/tunedModels/{name}:generateContent",
                                  {"contents": [{"role": "user", "parts": [{"text": prompt}]}],
                                   "generationConfig": GENERATION})
    assert status == 200, r
    return "".join(p.get("text", "") for p in r["candidates"][0]["content"]["parts"]) + "\n"


def main():
    args = harness.parse_args(__doc__, prompts=(1000, "prompts in all"),
                              models=(20, "models to spread them over"))
    with harness.Session(args.keep) as sess:
        ok = run(sess, args)
    harness.finish(ok and not sess.problems)


def run(sess, args):
    s = sess.server("--port", str(harness.free_port()), "--seed", "11")
    m = sess.mount(s)
    names = [f"model-{k}" for k in range(args.models)]
    config = "base_model = models/gemini-1.0-pro-001\nepoch_count = 10\nbatch_size = 1\n"
    t0 = time.monotonic()
    for k, name in enumerate(names):
        ex = [{"text_input": str(i), "output": f"{chr(97 + k % 26)}{i + k}"} for i in range(1, 4)]
        m.make_draft(name, examples=ex, config=config)
    for name in names:
        assert m.read(name, "wait") == "ACTIVE\n", m.read(name, "error")
        m.write(name, "generation", data="temperature = 0\nmax_output_tokens = 16\n")
    print(f"{args.models} models trained in {time.monotonic() - t0:.1f} s")
    per = -(-args.prompts // args.models)
    work = {n: [f"{n[-2:]}:{i}" for i in range(per)] for n in names}
    left = args.prompts
    for n in names:
        work[n] = work[n][:max(0, min(per, left))]
        left -= len(work[n])
    want = {(n, p): reference(s, n, p) for n in names for p in work[n]}

    s.args += FAULTS
    s.restart()
    lat, ls_errors, stop = [], [], threading.Event()

    def monitor():
        while not stop.is_set():
            t = time.monotonic()
            try:
                os.listdir(m.path)
            except OSError as e:
                ls_errors.append(e.errno)
            lat.append(time.monotonic() - t)
            stop.wait(0.05)

    results = []

    def ask(n, p):
        # os.read: Python's buffered read would turn an EAGAIN into None
        m.write(n, "prompt", data=p + "\n")
        fd = os.open(m.p(n, "response"), os.O_RDONLY)
        try:
            out = b""
            while True:
                b = os.read(fd, 1 << 16)
                if not b:
                    return out.decode()
                out += b
        finally:
            os.close(fd)

    def prompter(n):
        for p in work[n]:
            try:
                results.append((n, p, "ok", ask(n, p)))
            except OSError as e:
                results.append((n, p, e.errno, m.read(n, "error")))

    mon = threading.Thread(target=monitor)
    mon.start()
    t0 = time.monotonic()
    threads = [threading.Thread(target=prompter, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    stop.set()
    mon.join()
    answered = [r for r in results if r[2] == "ok"]
    failed = [r for r in results if r[2] != "ok"]
    wrong = [r for r in answered if r[3] != want[(r[0], r[1])]]
    by_errno = {}
    for r in failed:
        by_errno[errno.errorcode.get(r[2], r[2])] = by_errno.get(errno.errorcode.get(r[2], r[2]), 0) + 1
    unclear = [r for r in failed if r[2] not in (errno.EIO, errno.EAGAIN, errno.ETIMEDOUT)
               or not r[3].strip()]
    pc = harness.percentiles(lat)
    print(f"prompts: {len(results)} in {took:.1f} s; answered {len(answered)}, "
          f"failed {len(failed)} {by_errno}, wrong {len(wrong)}, unclear failures {len(unclear)}")
    print(f"ls during the run: {len(lat)} calls, p50 {pc[50]:.1f} ms, p95 {pc[95]:.1f} ms, "
          f"p99 {pc[99]:.1f} ms, max {max(lat) * 1000:.1f} ms, "
          f"over 100 ms {sum(x > 0.1 for x in lat)}, errors {len(ls_errors)}")
    for r in wrong[:5]:
        print("wrong:", r[0], repr(r[1]), repr(r[3]), "want", repr(want[(r[0], r[1])]))
    return not wrong and not unclear and not ls_errors and len(results) == args.prompts


if __name__ == "__main__":
    main()
