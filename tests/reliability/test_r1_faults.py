"""R1, short form: 100 prompts over 5 models through the mount while tunedfs-server
answers 20% 503, 5% 429 with Retry-After and drops 5% of connections. Every prompt is
answered with exactly the answer that model gives without faults (no wrong or mixed-up
answer), or fails with a clear errno and message; listing the mount never fails."""
import errno
import os
import re
import socket
import threading
import time

N_MODELS = 5
N_PROMPTS = 20  # per model
GENERATION = {"temperature": 0, "maxOutputTokens": 16}
FAULTS = ["--fail-rate", "0.2", "--throttle-rate", "0.05", "--drop-rate", "0.05"]
CLEAR_ERRNOS = (errno.EIO, errno.EAGAIN, errno.ETIMEDOUT)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def model_examples(k):
    # Each model learns its own answers, so a mix-up shows.
    return [{"text_input": str(i), "output": f"{'abcde'[k]}{i + k}"} for i in range(1, 4)]


def reference(server, name, prompt):
    status, r, _ = server.request("POST", f"/v1beta/tunedModels/{name}:generateContent",
                                  {"contents": [{"role": "user", "parts": [{"text": prompt}]}],
                                   "generationConfig": GENERATION})
    assert status == 200, r
    return "".join(p.get("text", "") for p in r["candidates"][0]["content"]["parts"]) + "\n"


class Monitor(threading.Thread):
    """Lists the mount and stats a file every 100 ms; keeps the slowest and any error."""

    def __init__(self, m):
        super().__init__(daemon=True)
        self.m, self.stop, self.errors, self.slowest, self.n = m, threading.Event(), [], 0.0, 0

    def run(self):
        while not self.stop.is_set():
            t = time.monotonic()
            try:
                names = os.listdir(self.m.path)
                os.stat(self.m.p(names[0], "state"))
            except (OSError, IndexError) as e:
                self.errors.append(repr(e))
            self.slowest = max(self.slowest, time.monotonic() - t)
            self.n += 1
            self.stop.wait(0.1)


def ask(m, name, prompt):
    """Mount.ask, but an EAGAIN raises: Python's buffered read would return None."""
    m.write(name, "prompt", data=prompt + "\n")
    fd = os.open(m.p(name, "response"), os.O_RDONLY)
    try:
        chunks = []
        while True:
            b = os.read(fd, 1 << 16)
            if not b:
                return b"".join(chunks).decode()
            chunks.append(b)
    finally:
        os.close(fd)


def prompt_all(m, name, prompts, out):
    for p in prompts:
        try:
            out.append((name, p, "ok", ask(m, name, p)))
        except OSError as e:
            out.append((name, p, e.errno, m.read(name, "error")))


def test_prompts_under_faults(server_factory, mount_factory):
    s = server_factory("--port", str(free_port()), "--seed", "11")
    m = mount_factory(server=s)
    names = [f"model-{k}" for k in range(N_MODELS)]
    config = "base_model = models/gemini-1.0-pro-001\nepoch_count = 10\nbatch_size = 1\n"
    for k, name in enumerate(names):
        m.make_draft(name, examples=model_examples(k), config=config)
    for name in names:
        assert m.read(name, "wait") == "ACTIVE\n", m.read(name, "error")
        m.write(name, "generation", data="temperature = 0\nmax_output_tokens = 16\n")
    prompts = [str(i) for i in range(N_PROMPTS)]
    want = {(n, p): reference(s, n, p) for n in names for p in prompts}
    # The mount asks what the reference asked: checked once per model without faults.
    for n in names:
        assert m.ask(n, "warm-up") == reference(s, n, "warm-up")
    distinct = sum(len({want[(n, p)] for n in names}) > 1 for p in prompts)

    s.args += FAULTS
    s.restart()
    mon = Monitor(m)
    mon.start()
    results = []
    threads = [threading.Thread(target=prompt_all, args=(m, n, prompts, results)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    mon.stop.set()
    mon.join()
    assert not any(t.is_alive() for t in threads), "a prompt hung"

    answered = [r for r in results if r[2] == "ok"]
    failed = [r for r in results if r[2] != "ok"]
    print(f"R1 short: {len(answered)} answered, {len(failed)} failed of {len(results)}; "
          f"{distinct}/{len(prompts)} prompts tell the models apart; "
          f"ls x{mon.n}, slowest {mon.slowest * 1000:.0f} ms")
    assert len(results) == N_MODELS * N_PROMPTS
    wrong = [(n, p, got, want[(n, p)]) for n, p, _, got in answered if got != want[(n, p)]]
    assert not wrong, wrong[:5]
    for n, p, err, msg in failed:
        assert err in CLEAR_ERRNOS, (n, p, errno.errorcode.get(err, err))
        assert msg.strip(), f"{n}: prompt {p!r} failed with no message in error"
    assert answered, "nothing got through"
    assert not mon.errors, mon.errors[:5]


def test_prompts_when_the_retry_budget_runs_out(server_factory, mount_factory):
    """A service that answers only 503 or only 429: each prompt ends, after the retry
    budget, with a clear errno and a message naming the service's answer, never with an
    answer; the mount keeps listing meanwhile."""
    s = server_factory("--port", str(free_port()), "--seed", "3")
    m = mount_factory(server=s, opts=["timeout=20"])  # a retry budget of 10 s
    m.allow += [r"gone: response: the service answered HTTP (503|429)"]
    m.make_active("gone")
    m.write("gone", "generation", data="temperature = 0\n")
    expect = {"--fail-rate": (errno.EIO, r"503|UNAVAILABLE|overloaded"),
              "--throttle-rate": (errno.EAGAIN, r"429|RESOURCE_EXHAUSTED|exhausted")}
    for flag, (want_errno, want_msg) in expect.items():
        s.args = [a for a in s.args if a not in expect and a != "1"] + [flag, "1"]
        s.restart()
        mon = Monitor(m)
        mon.start()
        try:
            got = ask(m, "gone", f"after {flag}")
        except OSError as e:
            got = e
        mon.stop.set()
        mon.join()
        assert isinstance(got, OSError), f"{flag}: answered {got!r}"
        assert got.errno == want_errno, (flag, errno.errorcode.get(got.errno))
        msg = m.read("gone", "error")
        assert re.search(want_msg, msg), (flag, msg)
        assert not mon.errors, mon.errors[:3]
