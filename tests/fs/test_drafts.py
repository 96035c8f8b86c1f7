"""Drafts are user data: they survive unmount and kill -9 of the daemon."""
import errno
import json
import os
import re
import time

from tests.fs.conftest import QUICK_EXAMPLES, fusermount_u

EXAMPLES = "".join(json.dumps(e) + "\n" for e in QUICK_EXAMPLES)


def test_draft_survives_unmount(mount):
    mount.make_draft("keep", config=None)
    mount.write("keep", "generation", data="temperature = 0\n")
    mount.restart()
    assert "keep" in os.listdir(mount.path)
    assert mount.read("keep", "state") == "DRAFT\n"
    assert mount.read("keep", "examples.jsonl") == EXAMPLES
    # and it can still be finished
    mount.write("keep", "config", data="base_model = models/gemini-1.0-pro-001\nepoch_count = 1\n")
    assert mount.read("keep", "wait") == "ACTIVE\n"


def test_draft_survives_kill9(mount):
    os.mkdir(mount.p("crash"))
    with open(mount.p("crash", "examples.jsonl"), "w") as f:
        f.write(EXAMPLES)
    mount.kill9()
    mount.start()
    assert mount.read("crash", "examples.jsonl") == EXAMPLES
    assert mount.read("crash", "state") == "DRAFT\n"


def test_submitted_model_keeps_its_examples_after_remount(mount):
    mount.make_active("kept")
    mount.restart()
    assert mount.read("kept", "state") == "ACTIVE\n"
    assert mount.read("kept", "examples.jsonl") == EXAMPLES


def test_drafts_are_made_offline(tmp_path, server_factory, mount_factory):
    s = server_factory()
    # retries give up within 2 s; a look re-lists at once
    m = mount_factory(server=s, opts=["timeout=2", "list_ttl=0.1"])
    m.allow += [r"listing tuned models failed"]
    s.stop()
    try:  # the listing that finds the service gone
        os.listdir(m.path)
    except OSError as e:  # nothing known and the service unreachable: said, not an empty root
        assert e.errno == errno.EIO
    for _ in range(100):
        if "listing tuned models failed" in m.stderr():
            break
        time.sleep(0.1)
    os.mkdir(m.p("offline-draft"))
    m.write("offline-draft", "examples.jsonl", data=EXAMPLES)
    assert m.read("offline-draft", "state") == "DRAFT\n"
    assert not os.path.exists(m.p("never-made"))


def test_handles_still_open_at_a_lazy_unmount_are_released(mount):
    """`fusermount3 -u -z` with files open: the last close ends the connection, and the
    kernel drops the releases it has not handed over yet. The mount releases those handles
    itself as it exits (under ASan, any one it forgot is a leak), exits 0, and what was
    written through them is kept. (Not a directory: libfuse's own part of a listing's
    handle cannot be freed from here.)"""
    mount.make_draft("open", config=None)
    fds = [os.open(mount.p("open", name), os.O_RDONLY)
           for name in ("state", "error", "examples.jsonl", "generation") * 25]
    writer = os.open(mount.p("open", "generation"), os.O_WRONLY | os.O_TRUNC)
    os.write(writer, b"temperature = 0\n")
    fusermount_u(mount.path)
    os.close(writer)  # its flush still reaches the mount: the content is committed
    for fd in fds:
        os.close(fd)
    rc = mount.unmount()
    assert rc == 0, (rc, mount.stderr())
    released = re.findall(r"(\d+) handle\(s\) released at the unmount", mount.stderr())
    print("released at the unmount:", released)
    mount.start()
    assert mount.read("open", "generation") == "temperature = 0\n"
    assert mount.read("open", "examples.jsonl") == EXAMPLES
