#!/usr/bin/python3
"""R7, by hand: a soak of MINUTES minutes at a steady rate of mixed work on one mount:
`ls`, `stat` of every file of a model, a new prompt answered, and every 30 s a new model
tuned (older ones removed so the count stays flat). Every 10 s it samples the resident
memory and open file descriptors of tunedfs and tunedfs-server; at the end it prints the
table and whether memory and descriptors stayed flat, with the error count (must be 0).
Usage: tests/stress/r7_soak.py [BUILDDIR] [--minutes 10] [--rate 10]"""
import os
import shutil
import random
import time

import harness

CONFIG = "base_model = models/gemini-1.0-pro-001\nepoch_count = 5\nbatch_size = 1\n"


def main():
    args = harness.parse_args(__doc__, minutes=(10.0, "how long"),
                              rate=(10.0, "operations per second"))
    rng = random.Random(7)
    errors, ops, samples = [], {}, []
    with harness.Session(args.keep) as sess:
        s = sess.server("--workers", "2")
        m = sess.mount(s)
        models = []
        for k in range(4):
            m.make_draft(f"base{k}", examples=[{"text_input": str(i), "output": f"{k}{i}"}
                                               for i in range(3)], config=CONFIG)
            models.append(f"base{k}")
        for name in models:
            assert m.read(name, "wait") == "ACTIVE\n", m.read(name, "error")
            m.write(name, "generation", data="temperature = 0\nmax_output_tokens = 8\n")
        tuned, n_tuned, n_prompt = [], 0, 0
        start = time.monotonic()
        end = start + args.minutes * 60
        next_sample = next_tune = start
        tick = 1.0 / args.rate
        kinds = ["ls", "stat", "prompt", "ls", "stat"]
        i = 0
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_sample:
                samples.append((now - start, harness.proc_figures(m.proc.pid),
                                harness.proc_figures(s.proc.pid)))
                next_sample += 10
            kind = kinds[i % len(kinds)]
            if now >= next_tune:
                kind, next_tune = "tune", next_tune + 30
            i += 1
            try:
                if kind == "ls":
                    os.listdir(m.path)
                elif kind == "stat":
                    name = rng.choice(models)
                    for f in os.listdir(m.p(name)):
                        os.stat(m.p(name, f))
                elif kind == "prompt":
                    n_prompt += 1
                    name = rng.choice(models)
                    if not m.ask(name, f"soak {n_prompt}"):
                        errors.append(f"{name}: empty answer")
                else:
                    name = f"t{n_tuned}"
                    n_tuned += 1
                    m.make_draft(name, config=CONFIG)
                    tuned.append(name)
                    while len(tuned) > 3:
                        old = tuned.pop(0)
                        state = m.read(old, "wait")
                        if state != "ACTIVE\n":
                            errors.append(f"{old} ended {state.strip()}: {m.read(old, 'error')}")
                        shutil.rmtree(m.p(old))
            except OSError as e:
                errors.append(f"{kind}: {e}")
            ops[kind] = ops.get(kind, 0) + 1
            time.sleep(max(0.0, tick - (time.monotonic() - now)))
        samples.append((time.monotonic() - start, harness.proc_figures(m.proc.pid),
                        harness.proc_figures(s.proc.pid)))
    print("   t(s)  tunedfs RSS KiB  fds   server RSS KiB  fds")
    for t, (mr, mf), (sr, sf) in samples:
        print(f"{t:7.0f}  {mr:15d}  {mf:3d}  {sr:15d}  {sf:3d}")
    # Flat: compared from the first minute on (caches and pools fill during the first).
    base = next((x for x in samples if x[0] >= 60), samples[0])
    last = samples[-1]
    grow = {"tunedfs RSS": last[1][0] - base[1][0], "tunedfs fds": last[1][1] - base[1][1],
            "server RSS": last[2][0] - base[2][0], "server fds": last[2][1] - base[2][1]}
    print(f"ops {ops} in {args.minutes:g} min; errors {len(errors)}")
    print("growth after the first minute: " + ", ".join(f"{k} {v:+d}" for k, v in grow.items()))
    for e in errors[:20]:
        print("error:", e)
    flat = grow["tunedfs fds"] <= 2 and grow["server fds"] <= 2 and \
        grow["tunedfs RSS"] < max(8192, base[1][0] // 5) and \
        grow["server RSS"] < max(16384, base[2][0] // 5)
    print("memory and descriptors flat:", "yes" if flat else "NO")
    harness.finish(not errors and flat and not sess.problems)


if __name__ == "__main__":
    main()
