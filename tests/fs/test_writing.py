"""Writes as on a local disk: parallel `>>` appenders keep every line (the handles of a
file share its content, and the last one still writing commits at its close), `>>` to prompt appends to the
prompt as written, and a write through one handle is seen by the next open."""
import json
import os
import subprocess

import pytest
import time


def lines(n, tag="x"):
    return [json.dumps({"text_input": f"{tag}{i}", "output": f"y{i}"}) for i in range(n)]


def test_16_parallel_appenders_keep_every_line(mount):
    os.mkdir(mount.p("app"))
    f = mount.p("app", "examples.jsonl")
    want = lines(100)
    todo = "\n".join(want) + "\n"
    # 16 shells, each appending its share of the lines one `>>` at a time
    r = subprocess.run(
        ["sh", "-c", f"xargs -P 16 -d '\\n' -I{{}} sh -c 'printf \"%s\\n\" \"$1\" >> {f}' "
                     f"_ {{}}"], input=todo, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    got = mount.read("app", "examples.jsonl").splitlines()
    assert sorted(got) == sorted(want), (len(got), len(want))
    assert mount.read("app", "error") == ""


def test_parallel_appenders_to_a_prompt(mount):
    """16 parallel `>>` appenders of 100 lines keep every line, round after round (a lost
    line shows up in about one round in a few)."""
    mount.make_active("papp")
    d = mount.p("papp")
    for rnd in range(3):
        subprocess.run(["sh", "-c", f"printf 'start{rnd}\\n' > {d}/prompt"], check=True)
        r = subprocess.run(
            ["sh", "-c", f"seq 1 100 | xargs -P 16 -I{{}} sh -c 'echo l{{}} >> {d}/prompt'"],
            capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        # read by a process of no relation to the writers (setsid forks it off to init)
        got = subprocess.run(["setsid", "cat", f"{d}/prompt"], capture_output=True, text=True,
                             start_new_session=True).stdout.splitlines()
        assert got[0] == f"start{rnd}", got
        assert sorted(got[1:]) == sorted(f"l{i}" for i in range(1, 101)), (rnd, len(got), got)


def test_append_adds_to_the_prompt_as_written(mount):
    mount.make_active("pa")
    d = mount.p("pa")
    out = subprocess.run(["sh", "-c", f"printf q1 > {d}/prompt; printf 6 >> {d}/prompt; "
                                      f"cat {d}/prompt"], capture_output=True, text=True)
    assert out.stdout == "q16\n", out
    out = subprocess.run(["sh", "-c", f"echo a > {d}/prompt; echo b >> {d}/prompt; "
                                      f"cat {d}/prompt"], capture_output=True, text=True)
    assert out.stdout == "a\nb\n", out
    # CRLF: one newline, dropped
    with open(os.path.join(d, "prompt"), "wb") as f:
        f.write(b"1\r\n")
    assert mount.read("pa", "prompt") == "1\n"


def test_a_write_is_seen_by_the_next_open(mount):
    os.mkdir(mount.p("seen"))
    fd = os.open(mount.p("seen", "examples.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, (lines(1)[0] + "\n").encode())
        assert mount.read("seen", "examples.jsonl") == lines(1)[0] + "\n"
        # a second writer appends to what the first wrote, not to what was committed
        with open(mount.p("seen", "examples.jsonl"), "a") as f:
            f.write(lines(2, "z")[1] + "\n")
    finally:
        os.close(fd)
    assert mount.read("seen", "examples.jsonl") == lines(1)[0] + "\n" + lines(2, "z")[1] + "\n"


def test_config_first_then_appended_examples_tune_on_every_line(mount_factory):
    """Submission waits until both files are valid, closed and unwritten for submit_delay:
    examples appended one line at a time after the config make one tuning on all lines."""
    m = mount_factory(opts=["submit_delay=1"])
    os.mkdir(m.p("cfg-first"))
    m.write("cfg-first", "config",
            data="base_model = models/gemini-1.0-pro-001\nepoch_count = 1\nbatch_size = 1\n")
    for line in lines(10):
        with open(m.p("cfg-first", "examples.jsonl"), "a") as f:
            f.write(line + "\n")
        time.sleep(0.2)
    # settling: still writable, and nothing was sent yet
    assert m.server.request("GET", "/v1beta/tunedModels/cfg-first")[0] == 404
    assert m.read("cfg-first", "wait") == "ACTIVE\n", m.read("cfg-first", "error")
    head = m.read("cfg-first", "progress").splitlines()[0]
    assert " step 10/10 " in head, head  # one step per example: all 10 lines were tuned on
    with open(m.p("cfg-first", "examples.jsonl")) as f:
        assert f.read().count("\n") == 10
