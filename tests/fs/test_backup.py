"""Backups and restores: a model or a draft copied out with cp -a, rsync -a or tar, and
back in under a new name, recreates the draft (config, examples, generation) with exit 0;
the files the service fills (state, progress, response...) take the copy and drop it."""
import os
import subprocess

from tests.fs.conftest import QUICK_CONFIG, QUICK_EXAMPLES
import json

EXAMPLES = "".join(json.dumps(e) + "\n" for e in QUICK_EXAMPLES)
GEN = "temperature = 0.5\n"


def sh(cmd):
    r = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (cmd, r.stderr)
    return r


def sources(m):
    os.mkdir(m.p("src-draft"))
    m.write("src-draft", "examples.jsonl", data=EXAMPLES)
    m.write("src-draft", "generation", data=GEN)
    m.make_active("src-active")
    m.write("src-active", "generation", data=GEN)


def check_restored(m, name, active):
    assert m.read(name, "examples.jsonl") == EXAMPLES
    assert m.read(name, "generation") == m.read("src-draft", "generation")
    if active:
        assert m.read(name, "config") == QUICK_CONFIG
        assert m.read(name, "wait") == "ACTIVE\n", m.read(name, "error")
    else:
        assert m.read(name, "state") == "DRAFT\n"
        assert not os.path.exists(m.p(name, "config"))


def test_cp_a_out_and_back_in(tmp_path, mount):
    sources(mount)
    bak = tmp_path / "bak"
    bak.mkdir()
    sh(f"cp -a {mount.p('src-draft')} {mount.p('src-active')} {bak}/")
    assert (bak / "src-active" / "config").read_text() == QUICK_CONFIG
    # cp -a into a name it makes itself opens every file O_EXCL, which the files a draft
    # always has refuse: make the directory first, then copy its content
    sh(f"mkdir {mount.p('new-draft')} && cp -a {bak}/src-draft/. {mount.p('new-draft')}/")
    sh(f"mkdir {mount.p('new-active')} && cp -a {bak}/src-active/. {mount.p('new-active')}/")
    check_restored(mount, "new-draft", False)
    check_restored(mount, "new-active", True)
    sh(f"mkdir {mount.p('new-cp-r')} && cp -r {bak}/src-draft/. {mount.p('new-cp-r')}/")
    check_restored(mount, "new-cp-r", False)


def test_rsync_a_out_and_back_in(tmp_path, mount):
    sources(mount)
    bak = tmp_path / "bak"
    sh(f"rsync -a {mount.p('src-active')}/ {bak}/")
    r = subprocess.run(["rsync", "-a", f"{bak}/", mount.p("new-rsync") + "/"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    check_restored(mount, "new-rsync", True)


def test_tar_out_and_back_in(tmp_path, mount):
    sources(mount)
    tar = tmp_path / "m.tar"
    sh(f"tar cf {tar} -C {mount.path} src-draft src-active")
    sh(f"tar xf {tar} -C {mount.path} --transform 's/^src-/tar-/'")
    check_restored(mount, "tar-draft", False)
    check_restored(mount, "tar-active", True)
