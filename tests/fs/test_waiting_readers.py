"""Readers that wait for answers hold no FUSE worker thread: hundreds of them blocked on
a slow service leave `ls` and `stat` of other models working, each gets its own answer,
Ctrl-C still ends one at once, and the mount does not grow a thread per reader."""
import os
import signal
import subprocess
import threading
import time

# More readers than the default max_threads (64) could hold, as threads of this process:
# before the mount parked waiting reads, the 65th froze every other operation.
READERS = 500
PROMPTS = ["1", "3", "5", "7", "9"]


def thread_count(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def slow_mount(tmp_path, server_factory, mount_factory, latency_ms):
    s = server_factory(socket=str(tmp_path / "srv.sock"), sub="srv")
    m = mount_factory(server=s)
    m.make_active("slow")
    m.make_active("other")
    s.args += ["--latency", str(latency_ms)]
    s.restart()
    return s, m


def test_hundreds_of_waiting_readers(tmp_path, server_factory, mount_factory):
    s, m = slow_mount(tmp_path, server_factory, mount_factory, latency_ms=5000)
    for i, p in enumerate(PROMPTS):
        m.write("slow", f"prompts/q{i}", data=p + "\n")
    got = [None] * READERS
    opened = threading.Semaphore(0)

    def reader(k):
        with open(m.p("slow", "responses", f"q{k % len(PROMPTS)}"), "rb") as f:
            opened.release()
            got[k] = f.read()

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(READERS)]
    for t in threads:
        t.start()
    # every open done well before the answers: none waits for a worker a reader holds
    until = time.monotonic() + 3.5
    for _ in threads:
        assert opened.acquire(timeout=max(0.0, until - time.monotonic())), \
            "opens waited for the answers: the waiting readers hold the worker threads"
    time.sleep(0.3)  # into their reads
    assert sum(1 for g in got if g is None) > READERS // 2, "answered before they waited"
    # not frozen: a generous bound, a check that these run at all, not a benchmark
    for _ in range(3):
        t0 = time.monotonic()
        os.stat(m.p("other", "state"))
        assert "other" in os.listdir(m.path)
        assert m.read("other", "state") == "ACTIVE\n"
        assert time.monotonic() - t0 < 1.0
    assert thread_count(m.proc.pid) < 64 + 20, "a thread per waiting reader"
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    answers = [m.read("slow", "responses", f"q{i}").encode() for i in range(len(PROMPTS))]
    for k, g in enumerate(got):
        assert g == answers[k % len(PROMPTS)], (k, g)
    assert all(a.endswith(b"\n") for a in answers)


def test_ctrl_c_ends_one_parked_reader_among_many(tmp_path, server_factory, mount_factory):
    s, m = slow_mount(tmp_path, server_factory, mount_factory, latency_ms=3000)
    m.write("slow", "prompts/a", data="1\n")
    others = [subprocess.Popen(["cat", m.p("slow", "responses", "a")], stdout=subprocess.PIPE)
              for _ in range(20)]
    cat = subprocess.Popen(["cat", m.p("slow", "responses", "a")], stdout=subprocess.PIPE,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(0.5)
    assert cat.poll() is None
    cat.send_signal(signal.SIGINT)
    rc = cat.wait(timeout=2.5)  # well before the answer
    cat.stdout.close()
    assert rc != 0
    outs = [p.communicate(timeout=30)[0] for p in others]
    assert all(p.returncode == 0 for p in others)
    assert len(set(outs)) == 1 and outs[0].endswith(b"\n")
    assert m.read("slow", "responses", "a").encode() == outs[0]


def test_nonblocking_reader_is_not_parked(tmp_path, server_factory, mount_factory):
    s, m = slow_mount(tmp_path, server_factory, mount_factory, latency_ms=2000)
    m.write("slow", "prompts/n", data="3\n")
    fd = os.open(m.p("slow", "responses", "n"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        try:
            os.read(fd, 100)
            assert False, "a non-blocking read of a pending answer returned"
        except BlockingIOError:
            pass
    finally:
        os.close(fd)
    assert m.read("slow", "responses", "n").endswith("\n")


def test_each_change_reaches_its_own_readers(tmp_path, server_factory, mount_factory):
    """A change is told to the readers it concerns only; none is missed: readers of two
    models, of several spool names (two of them with one prompt, whose answer names only
    one), of `response`, and of a prompt asked later all get their own answers."""
    s, m = slow_mount(tmp_path, server_factory, mount_factory, latency_ms=1000)
    m.write("slow", "prompts/a", data="1\n")
    m.write("slow", "prompts/b", data="1\n")  # the same prompt: one answer for both names
    m.write("slow", "prompts/c", data="3\n")
    m.write("other", "prompt", data="5\n")  # this process's: its threads read it
    files = [("slow", "responses", "a"), ("slow", "responses", "b"),
             ("slow", "responses", "c"), ("other", "response")]
    late = [("other", "responses", "d")]
    n = 100  # more than FEW: the slow sweep, not the tick's
    got = {}
    opened = threading.Semaphore(0)

    def reader(k, f):
        with open(m.p(*f), "rb") as fp:
            opened.release()
            got[k] = fp.read()

    threads = [threading.Thread(target=reader, args=(k, files[k % len(files)]))
               for k in range(n)]
    for t in threads:
        t.start()
    for _ in threads:
        assert opened.acquire(timeout=10)
    m.write("other", "prompts/d", data="7\n")  # asked after the others: answered later
    more = [threading.Thread(target=reader, args=(n + k, late[0])) for k in range(10)]
    for t in more:
        t.start()
    for t in threads + more:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads + more)
    want = {f: m.read(*f).encode() for f in files + late}
    # (the small model may answer several prompts alike: each file's own answer is the one
    # it reads now)
    assert want[files[0]] == want[files[1]]
    assert all(w.endswith(b"\n") for w in want.values())
    for k in range(n):
        assert got[k] == want[files[k % len(files)]], k
    for k in range(10):
        assert got[n + k] == want[late[0]], n + k
