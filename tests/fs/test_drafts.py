"""Drafts are user data: they survive unmount and kill -9 of the daemon."""
import errno
import json
import os
import time

from tests.fs.conftest import QUICK_EXAMPLES

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
