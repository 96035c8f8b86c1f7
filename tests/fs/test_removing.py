"""Removing as on any filesystem: rmdir refuses a directory with content, so `rmdir *`
over a mount deletes nothing that was tuned or written; `rm -r` deletes a model or a
draft; a draft with nothing written may be removed by rmdir."""
import errno
import os
import subprocess
import time

from tests.fs.conftest import QUICK_CONFIG

LONG_CONFIG = QUICK_CONFIG.replace("epoch_count = 3", "epoch_count = 3000")


def remote(mount, name):
    return mount.server.request("GET", "/v1beta/tunedModels/" + name)[0]


def every_state(m):
    m.make_active("active")
    m.ask("active", "1")
    m.make_draft("training", config=LONG_CONFIG)
    for _ in range(100):  # submitted after the settle time
        if remote(m, "training") == 200:
            break
        time.sleep(0.05)
    m.make_draft("draft", config=None)
    os.mkdir(m.p("configured"))
    m.write("configured", "config", data=QUICK_CONFIG)
    os.mkdir(m.p("scratchy"))
    m.write("scratchy", "notes.txt", data="mine\n")


def test_rmdir_star_deletes_nothing_of_value(mount):
    every_state(mount)
    os.mkdir(mount.p("empty"))
    r = subprocess.run(f"cd {mount.path} && rmdir *", shell=True, capture_output=True,
                       text=True)
    assert r.returncode != 0
    assert r.stderr.count("Directory not empty") == 5, r.stderr
    # only the draft with nothing written went
    assert sorted(os.listdir(mount.path)) == ["active", "configured", "draft", "scratchy",
                                              "training"]
    assert remote(mount, "active") == 200 and remote(mount, "training") == 200
    assert mount.read("active", "state") == "ACTIVE\n"
    assert mount.read("configured", "config") == QUICK_CONFIG
    assert mount.read("scratchy", "notes.txt") == "mine\n"
    # find -empty -delete, the other everyday idiom, deletes nothing either
    subprocess.run(["find", mount.path, "-mindepth", "1", "-empty", "-delete"],
                   capture_output=True)
    assert len(os.listdir(mount.path)) == 5


def test_rm_r_deletes_models_and_drafts(mount):
    every_state(mount)
    for name in ("active", "training", "draft", "configured", "scratchy"):
        r = subprocess.run(["rm", "-r", mount.p(name)], capture_output=True, text=True)
        assert r.returncode == 0, (name, r.stderr)
        assert not os.path.exists(mount.p(name))
    assert os.listdir(mount.path) == []
    assert remote(mount, "active") == 404 and remote(mount, "training") == 404
    # nothing comes back after a remount
    mount.restart()
    assert os.listdir(mount.path) == []


def test_rm_of_one_file_keeps_the_model(mount):
    mount.make_active("kept")
    os.unlink(mount.p("kept", "state"))
    assert not os.path.exists(mount.p("kept", "state"))  # a second (tar replaces so)
    time.sleep(1.1)
    assert mount.read("kept", "state") == "ACTIVE\n"
    try:
        os.rmdir(mount.p("kept"))
        raise AssertionError("rmdir deleted a model")
    except OSError as e:
        assert e.errno == errno.ENOTEMPTY
    assert remote(mount, "kept") == 200
