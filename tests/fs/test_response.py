"""prompt -> response: one generation per key, stable bytes, the cache, Ctrl-C,
O_NONBLOCK, a blocked prompt, and a mount that stays responsive meanwhile."""
import errno
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

# a generation request in the server log, streamed (as the mount asks) or not
GENERATION = re.compile(r":(stream)?[gG]enerateContent")


def slow_setup(tmp_path, server_factory, mount_factory, latency_ms=4000, drafts=()):
    """An ACTIVE model (and the drafts named) on a server that then answers everything
    after latency_ms."""
    s = server_factory(socket=str(tmp_path / "srv.sock"), sub="srv")
    m = mount_factory(server=s)
    m.make_active("slow")
    for d in drafts:
        os.mkdir(m.p(d))
    s.args += ["--latency", str(latency_ms)]
    s.restart()
    m.write("slow", "prompt", data="1\n")
    return s, m


def generations(log_path, at_least=1):
    """generateContent requests in the server's log. The server writes a line after its
    answer is out, so this waits (bounded) for at_least of them first."""
    for _ in range(30):
        with open(log_path) as f:
            n = sum(1 for line in f if GENERATION.search(line))
        if n >= at_least:
            return n
        time.sleep(0.05)
    return n


def test_response_is_stable_and_cached(tmp_path, server_factory, mount_factory):
    log = str(tmp_path / "requests.log")
    s = server_factory("--request-log", log)
    m = mount_factory(server=s)
    m.make_active("stable")
    m.write("stable", "prompt", data="3\n")
    whole = m.read("stable", "response")
    assert whole.endswith("\n")  # the text may be empty: a 3-example model is terse
    r = json.loads(m.read("stable", "response.json"))
    text = "".join(p["text"] for p in r["candidates"][0]["content"]["parts"])
    assert whole == text + "\n"
    # many small reads of one open file give the same bytes
    fd = os.open(m.p("stable", "response"), os.O_RDONLY)
    try:
        parts = []
        while True:
            b = os.read(fd, 1)
            if not b:
                break
            parts.append(b)
    finally:
        os.close(fd)
    assert b"".join(parts).decode() == whole
    assert generations(log) == 1
    assert m.read("stable", "response") == whole
    assert generations(log) == 1
    # the same prompt again is the same key: no new request
    m.write("stable", "prompt", data="3\n")
    assert m.read("stable", "response") == whole
    # a second request, had one gone out, would be logged by now
    assert generations(log, at_least=2) == 1
    # with the service gone, the answer still reads
    m.allow += [r"listing tuned models failed"]
    s.stop()
    assert m.read("stable", "response") == whole
    assert m.read("stable", "state") == "ACTIVE\n"
    assert "stable" in os.listdir(m.path)


def test_ctrl_c_on_a_blocked_reader(tmp_path, server_factory, mount_factory):
    s, m = slow_setup(tmp_path, server_factory, mount_factory)
    # SIGINT at its default even when the suite was started in the background (where the
    # shell hands its children SIGINT ignored)
    cat = subprocess.Popen(["cat", m.p("slow", "response")], stdout=subprocess.PIPE,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(0.5)
    assert cat.poll() is None  # waiting for the answer
    cat.send_signal(signal.SIGINT)
    # back well before the 4 s the server takes to answer
    rc = cat.wait(timeout=3)
    cat.stdout.close()
    assert rc != 0
    # the mount is still responsive, and a later read gets the answer
    assert "slow" in os.listdir(m.path)
    assert m.read("slow", "state") == "ACTIVE\n"
    assert m.read("slow", "error") == ""
    assert m.read("slow", "response") == "2\n" or m.read("slow", "response")


def test_nonblocking_reader_gets_eagain(tmp_path, server_factory, mount_factory):
    s, m = slow_setup(tmp_path, server_factory, mount_factory, latency_ms=2000)
    fd = os.open(m.p("slow", "response"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(BlockingIOError) as e:
            os.read(fd, 100)
        assert e.value.errno == errno.EAGAIN
    finally:
        os.close(fd)
    # the request started by the non-blocking reader completes for a blocking one
    assert m.read("slow", "response").endswith("\n")


def test_ls_and_stat_while_a_generation_is_pending(tmp_path, server_factory, mount_factory):
    # the draft is made before the server slows down: its mkdir's lookup of an unknown
    # name would take the server's latency, the time the answer takes too
    s, m = slow_setup(tmp_path, server_factory, mount_factory, drafts=("other",))
    cat = subprocess.Popen(["cat", m.p("slow", "response")], stdout=subprocess.PIPE)
    time.sleep(0.3)
    assert cat.poll() is None
    # all of this is served from the table while the answer is still pending
    assert {"slow", "other"} <= set(os.listdir(m.path))
    os.stat(m.p("slow", "state"))
    assert m.read("slow", "state") == "ACTIVE\n"
    assert m.read("other", "state") == "DRAFT\n"
    assert sorted(os.listdir(m.p("slow")))
    assert cat.poll() is None, "the listing waited for the generation"
    out, _ = cat.communicate(timeout=30)
    assert out.endswith(b"\n")


def test_blocked_prompt(mount):
    mount.allow += [r"blocked by the safety filter"]
    mount.make_active("safe")
    mount.write("safe", "prompt", data="TUNEDFS-BLOCK this\n")
    with pytest.raises(PermissionError):
        mount.read("safe", "response")
    assert mount.read("safe", "error") == \
        "prompt blocked by the safety filter (blockReason SAFETY)\n"
    r = json.loads(mount.read("safe", "response.json"))
    assert r["promptFeedback"]["blockReason"] == "SAFETY"
    assert "candidates" not in r


def test_no_prompt_reads_empty(mount):
    mount.make_active("quiet")
    assert mount.read("quiet", "response") == ""


def test_offline_remount_shows_the_last_listing_and_cached_answers(tmp_path, server_factory,
                                                                  mount_factory):
    s = server_factory(socket=str(tmp_path / "srv.sock"), sub="srv")
    m = mount_factory(server=s)
    m.make_active("known")
    m.write("known", "prompt", data="5\n")
    answer = m.read("known", "response")
    assert m.unmount() == 0
    s.stop()
    # the service is unreachable now: a new mount still shows what it knew
    m.allow += [r"listing tuned models failed", r"known"]
    m.start()
    assert "known" in os.listdir(m.path)
    assert m.read("known", "state") == "ACTIVE\n"
    m.write("known", "prompt", data="5\n")
    assert m.read("known", "response") == answer


def test_prompt_and_generation_outlive_the_mount(tmp_path, server_factory, mount_factory):
    """What a user wrote into prompt and generation is there after a remount, and the
    answer to it reads from the cache without a request; rmdir takes it along."""
    log = str(tmp_path / "requests.log")
    s = server_factory("--request-log", log)
    m = mount_factory(server=s)
    m.make_active("kept")
    m.make_active("other")
    m.write("kept", "generation", data="temperature = 0\nmax_output_tokens = 8\n")
    generation = m.read("kept", "generation")
    m.write("kept", "prompt", data="7\n")
    answer = m.read("kept", "response")
    m.write("other", "prompt", data="9\n")  # writing a prompt asks for its answer
    assert generations(log, at_least=2) == 2
    m.restart()
    assert m.read("kept", "prompt") == "7\n"
    assert m.read("kept", "generation") == generation
    assert m.read("kept", "response") == answer
    assert m.read("other", "prompt") == "9\n"
    assert m.read("other", "response").endswith("\n")
    assert generations(log, at_least=3) == 2  # the answers came from the cache
    # an empty prompt is refused and the previous one kept; a new model of an old name
    # starts with nothing
    m.allow += [r"empty prompt"]
    with pytest.raises(OSError):
        m.write("other", "prompt", data="")
    assert m.read("other", "prompt") == "9\n"
    shutil.rmtree(m.p("kept"))
    os.mkdir(m.p("kept"))
    assert m.read("kept", "prompt") == ""
    m.write("kept", "examples.jsonl", data='{"text_input": "1", "output": "2"}\n')
    m.restart()
    assert m.read("other", "prompt") == "9\n"
    assert m.read("kept", "prompt") == "" and m.read("kept", "generation") == ""
    # the draft is the user's: the listing kept from before the rmdir does not take it
    assert m.read("kept", "state") == "DRAFT\n"
    assert m.read("kept", "examples.jsonl") == '{"text_input": "1", "output": "2"}\n'
    assert "kept" in os.listdir(m.path)


def test_prompt_is_written_down_without_an_unmount(mount):
    """The background thread writes a prompt to disk soon after its close, so a killed
    mount still has it. Waits (bounded) for the file to appear; no timing asserted."""
    mount.make_active("crashy")
    mount.write("crashy", "prompt", data="what is 12?\n")
    stored = None
    for _ in range(300):
        found = glob.glob(os.path.join(mount.data_dir, "*.prompts", "crashy", "prompt"))
        if found:
            stored = found[0]
            break
        time.sleep(0.05)
    assert stored, "the prompt never reached the disk"
    with open(stored) as f:
        assert f.read() == "what is 12?"
    assert oct(os.stat(stored).st_mode & 0o777) == "0o600"
    mount.kill9()
    mount.start()
    assert mount.read("crashy", "prompt") == "what is 12?\n"
