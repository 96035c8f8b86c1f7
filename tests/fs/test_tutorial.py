"""The Gemini API tuning tutorial, done with files on a real mount."""
import os
import shutil
import subprocess

from tests.conftest import DATA

# The local trainer needs more epochs than the tutorial's 5 to learn the numbers:
# 100 epochs (375 steps at batch size 4) reproduce the answers in seconds.
EPOCHS = 100


def tutorial_config():
    with open(os.path.join(DATA, "config")) as f:
        text = f.read()
    return text + ("" if text.endswith("\n") else "\n") + f"epoch_count = {EPOCHS}\n"


def test_tutorial_end_to_end(mount):
    d = mount.p("number-generator")
    os.mkdir(d)
    assert mount.read("number-generator", "state") == "DRAFT\n"
    shutil.copyfile(os.path.join(DATA, "examples.jsonl"),
                    os.path.join(d, "examples.jsonl"))
    with open(os.path.join(d, "config"), "w") as f:
        f.write(tutorial_config())
    out = subprocess.run(["cat", os.path.join(d, "wait")], capture_output=True, text=True,
                         check=True).stdout
    assert out == "ACTIVE\n", mount.read("number-generator", "error")
    subprocess.run(f"echo 1 > {d}/prompt", shell=True, check=True)
    assert mount.read("number-generator", "prompt") == "1\n"
    out = subprocess.run(["cat", os.path.join(d, "response")], capture_output=True,
                         text=True, check=True).stdout
    assert out == "2\n"
    assert mount.read("number-generator", "error") == ""


def test_shell_redirect_of_a_group_is_one_config(mount):
    """`(cat file; echo line) > config` closes the descriptor in cat first: the tuning
    must still get the whole config (the create waits for the last writer)."""
    d = mount.p("grouped")
    os.mkdir(d)
    shutil.copyfile(os.path.join(DATA, "examples.jsonl"),
                    os.path.join(d, "examples.jsonl"))
    cfg = os.path.join(DATA, "config")
    subprocess.run(f"(cat {cfg}; echo 'epoch_count = 7') > {d}/config", shell=True, check=True)
    assert mount.read("grouped", "wait") == "ACTIVE\n"
    assert "epoch_count = 7" in mount.read("grouped", "config")
    last = mount.read("grouped", "progress").splitlines()[0]
    assert " epoch 7 " in last, last
