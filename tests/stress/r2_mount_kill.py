#!/usr/bin/python3
"""R2 long form, by hand: KILLS times, kill -9 the mount at a random moment while DRAFTS
drafts are being rewritten (configs and examples, some drafts completed and submitted),
remount, and check every close()-acknowledged write byte for byte and that no file
caught mid-write reads torn. The steps are those of tests/reliability/test_r2_mount_crash.py.
Usage: tests/stress/r2_mount_kill.py [BUILDDIR] [--kills 50] [--drafts 100] [--seed 1]"""
import os
import shutil
import random
import time

import harness


def main():
    args = harness.parse_args(__doc__, kills=(50, "kill -9 this many times"),
                              drafts=(100, "drafts being written"), seed=(1, "random seed"))
    r2 = harness.load("tunedfs_r2", os.path.join(harness.TESTS, "reliability",
                                                 "test_r2_mount_crash.py"))
    r2.N_DRAFTS = args.drafts
    rng = random.Random(args.seed)
    failures = 0
    with harness.Session(args.keep) as sess:
        s = sess.server()
        m = sess.mount(s)
        acked = {}
        for d in range(args.drafts):
            os.mkdir(m.p(f"d{d:02d}"))
            acked[(f"d{d:02d}", None)] = True
        t_remount, caught, steps = [], 0, 0
        for kill in range(args.kills):
            w = r2.Writer(m, r2.make_plan(rng, kill), acked)
            w.start()
            time.sleep(rng.uniform(0.05, 1.0))
            m.kill9()
            w.join(timeout=30)
            if w.is_alive():
                print(f"kill {kill}: a writer hung on the dead mount")
                failures += 1
                break
            t = time.monotonic()
            m.start()
            t_remount.append(time.monotonic() - t)
            steps += w.pos
            caught += w.inflight is not None
            try:
                r2.check(m, s, acked, w.inflight)
            except AssertionError as e:
                failures += 1
                print(f"kill {kill}: {e}")
            # Keep the server from training every submitted draft to the end.
            for name in os.listdir(m.path):
                if name.startswith("full") and m.read(name, "state") != "DRAFT\n":
                    shutil.rmtree(m.p(name))
                    acked = {k: v for k, v in acked.items() if k[0] != name}
        pc = harness.percentiles(t_remount)
        print(f"kills {args.kills}, drafts {args.drafts}: {steps} acknowledged steps, "
              f"{caught} kills caught a write in flight, {failures} check failures; "
              f"remount p50 {pc[50]:.0f} ms, max {max(t_remount) * 1000:.0f} ms")
    harness.finish(failures == 0 and not sess.problems)


if __name__ == "__main__":
    main()
