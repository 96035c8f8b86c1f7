#!/usr/bin/python3
"""R3 long form, by hand: ROUNDS times, complete a draft through the mount, kill -9
tunedfs-server after a random delay (during the create call, the training or the weight
write) and restart it on the same port and data directory. Then every model must settle
(none stays CREATING), every ACTIVE one must answer as the server itself answers, and the
mount must show the live states without a remount. Prints how the rounds ended and how
long the mount took to show the truth.
Usage: tests/stress/r3_server_kill.py [BUILDDIR] [--rounds 30] [--seed 1]"""
import random
import time

import harness

CONFIG = "base_model = models/gemini-1.0-pro-001\nepoch_count = {e}\nbatch_size = 1\n"
ASK = {"contents": [{"parts": [{"text": "1"}]}], "generationConfig": {"temperature": 0}}


def until(what, timeout):
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def main():
    args = harness.parse_args(__doc__, rounds=(30, "kill -9 rounds"), seed=(1, "random seed"))
    rng = random.Random(args.seed)
    bad = []
    with harness.Session(args.keep) as sess:
        s = sess.server("--port", str(harness.free_port()))
        m = sess.mount(s)
        m.allow += [r"training interrupted by a server restart"]
        settle = []
        for r in range(args.rounds):
            name = f"r{r}"
            m.make_draft(name, config=CONFIG.format(e=rng.choice([3, 30, 300])))
            time.sleep(rng.uniform(0, 0.5))
            s.kill9()
            s.start()
            t = time.monotonic()
            if not until(lambda: m.read(name, "state") != "CREATING\n", 120):
                bad.append(f"{name} stays CREATING")
            settle.append(time.monotonic() - t)
        status, page, _ = s.request("GET", "/v1beta/tunedModels?pageSize=1000")
        states = {x["name"].split("/")[1]: x.get("state") for x in page.get("tunedModels", [])}
        seen = {}
        for r in range(args.rounds):
            name = f"r{r}"
            state = m.read(name, "state").strip()
            seen[state] = seen.get(state, 0) + 1
            if state in ("ACTIVE", "FAILED") and states.get(name) != state:
                bad.append(f"{name}: mount says {state}, server {states.get(name)}")
            if state == "ACTIVE":
                m.write(name, "generation", data="temperature = 0\n")
                st, res, _ = s.request("POST", f"/v1beta/tunedModels/{name}:generateContent",
                                       ASK)
                text = "".join(p.get("text", "") for p in
                               res["candidates"][0]["content"]["parts"]) if st == 200 else None
                if st != 200 or m.ask(name, "1") != text + "\n":
                    bad.append(f"{name}: ACTIVE but answers {st} {res}")
            elif state in ("FAILED", "DRAFT") and not m.read(name, "error").strip():
                bad.append(f"{name}: {state} without a reason")
        if "CREATING" in states.values():
            bad.append(f"server still has CREATING models: {states}")
        pc = harness.percentiles(settle)
        print(f"rounds {args.rounds}: ended {seen}; mount showed the settled state "
              f"p50 {pc[50]:.0f} ms, max {max(settle) * 1000:.0f} ms after the restart")
        for b in bad[:20]:
            print("problem:", b)
    harness.finish(not bad and not sess.problems)


if __name__ == "__main__":
    main()
