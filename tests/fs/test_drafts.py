"""Drafts are user data: they survive unmount and kill -9 of the daemon."""
import json
import os

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
