"""Unknown names never stall the mount: a lookup asks the service in the background and
answers from what is known after -o lookup_timeout (2 s by default), so with a service
that never answers `stat`, `mkdir` and `ls` return within the bound; and lookups of one
directory run side by side (parallel directory operations), with `ls` beside them."""
import os
import socket
import subprocess
import threading
import time

import pytest


class Silent:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.held = []
        self.stop = False
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.held.append(c)
            except OSError:
                pass

    def close(self):
        self.stop = True
        for c in self.held:
            c.close()
        self.sock.close()


@pytest.fixture
def silent():
    s = Silent()
    yield s
    s.close()


def timed(fn):
    t0 = time.monotonic()
    try:
        fn()
        err = None
    except OSError as e:
        err = e.errno
    return time.monotonic() - t0, err


def test_unknown_names_against_a_server_that_never_answers(mount_factory, silent):
    bound = 1.0  # -o lookup_timeout (2 s by default)
    m = mount_factory(server=silent, opts=["timeout=600", f"lookup_timeout={bound:g}"])
    m.allow += [r"listing tuned models failed", r"cannot reach", r"timed out"]
    # the first ls of the mount waits for the first listing, within the bound; later ones
    # show what is known at once
    took, err = timed(lambda: os.listdir(m.path))
    assert err is None and took < bound + 1.5, (took, err)
    took, err = timed(lambda: os.listdir(m.path))
    assert err is None and took < 0.5, (took, err)
    # stat of an unknown name: ENOENT within the bound
    took, err = timed(lambda: os.stat(m.p("unknown")))
    assert err == 2 and took < bound + 1.5, (took, err)
    # three unknown names at once: each bounded (the kernel may still take them one at
    # a time when the connection has no parallel directory operations)
    t0 = time.monotonic()
    ps = [subprocess.Popen(["stat", m.p(f"other{i}")], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL) for i in range(3)]
    for p in ps:
        p.wait(timeout=30)
    assert time.monotonic() - t0 < 3 * bound + 1.5
    # ls while a lookup is pending waits at most for that bound
    slow = subprocess.Popen(["stat", m.p("pending")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(0.2)
    took, err = timed(lambda: os.listdir(m.path))
    assert err is None and took < bound + 0.5, (took, err)
    slow.wait(timeout=30)
    # a name asked for again within the bound of a pending lookup does not start another
    # request, and once the bound has passed the answer is still ENOENT
    took, err = timed(lambda: os.stat(m.p("pending")))
    assert err == 2 and took < bound + 1.5, (took, err)
    # mkdir of a new name waits on the network no longer than the bound
    took, err = timed(lambda: os.mkdir(m.p("fresh")))
    assert err is None and took < bound + 1.5, (took, err)
    assert m.read("fresh", "state") == "DRAFT\n"
    assert "fresh" in os.listdir(m.path)


@pytest.mark.parametrize("n", [3, 8])
def test_parallel_lookups_take_one_bound_not_n(mount_factory, server_factory, n):
    """With a service that answers a model's GET 5 s late, n `stat`s of unknown names at
    once end in about one lookup bound, not n of them, and `ls` meanwhile at once: the
    kernel holds no directory lock across a lookup."""
    bound = 1.0
    s = server_factory("--latency", "5000", "--fault-routes", "tunedModels.get")
    m = mount_factory(server=s, opts=[f"lookup_timeout={bound:g}"])
    os.listdir(m.path)  # the first listing (not delayed) is in
    t0 = time.monotonic()
    ps = [subprocess.Popen(["stat", m.p(f"unknown{i}")], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL) for i in range(n)]
    time.sleep(0.2)
    took, err = timed(lambda: os.listdir(m.path))
    assert err is None and took < 0.5, (took, err)
    for p in ps:
        assert p.wait(timeout=60) == 1  # ENOENT
    took = time.monotonic() - t0
    assert took < bound + 1.0, (n, took)
