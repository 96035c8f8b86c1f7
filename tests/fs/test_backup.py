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
    # into a directory made first: cp opens the files a draft shows without O_EXCL
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


def spool_source(m, name):
    m.make_active(name)
    m.write(name, "generation", data=GEN)
    for i in range(3):
        m.write(name, "prompts", f"q{i}", data=f"{i}\n")
    for i in range(3):  # answered, so responses/ holds them too
        m.read(name, "responses", f"q{i}")


def test_cp_a_into_a_name_it_makes(tmp_path, mount):
    """cp -a makes the new directory itself and opens every file O_EXCL|O_CREAT: the files
    a fresh draft shows but that were never written take the create."""
    sources(mount)
    spool_source(mount, "src-spool")
    bak = tmp_path / "bak"
    bak.mkdir()
    sh(f"cp -a {mount.p('src-draft')} {mount.p('src-active')} {mount.p('src-spool')} {bak}/")
    assert sorted(os.listdir(bak / "src-spool" / "prompts")) == ["q0", "q1", "q2"]
    sh(f"cp -a {bak}/src-draft {mount.p('cpa-draft')}")
    sh(f"cp -a {bak}/src-active {mount.p('cpa-active')}")
    sh(f"cp -a {bak}/src-spool {mount.p('cpa-spool')}")
    check_restored(mount, "cpa-draft", False)
    check_restored(mount, "cpa-active", True)
    # the spool's prompts come back
    assert mount.read("cpa-spool", "wait") == "ACTIVE\n", mount.read("cpa-spool", "error")
    assert sorted(os.listdir(mount.p("cpa-spool", "prompts"))) == ["q0", "q1", "q2"]
    assert mount.read("cpa-spool", "prompts", "q1") == "1\n"


def test_tar_x_of_a_model_with_a_spool(tmp_path, mount):
    spool_source(mount, "tsrc")
    tar = tmp_path / "m.tar"
    sh(f"tar cf {tar} -C {mount.path} tsrc")
    r = subprocess.run(["tar", "xf", str(tar), "-C", mount.path, "--transform", "s/^tsrc/tnew/"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert mount.read("tnew", "wait") == "ACTIVE\n", mount.read("tnew", "error")
    assert sorted(os.listdir(mount.p("tnew", "prompts"))) == ["q0", "q1", "q2"]


def test_a_private_mkdir_is_empty_to_its_maker_only(mount):
    os.mkdir(mount.p("priv"), 0o700)
    # to this process (its maker) the draft is empty; to any other it is a draft
    assert not os.path.exists(mount.p("priv", "state"))
    assert sh(f"cat {mount.p('priv', 'state')}").stdout == "DRAFT\n"
    fd = os.open(mount.p("priv", "generation"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, GEN.encode())
    os.close(fd)
    assert os.path.exists(mount.p("priv", "generation"))
    assert not os.path.exists(mount.p("priv", "progress"))
    os.chmod(mount.p("priv"), 0o755)  # as cp -a does last: the draft as usual again
    assert mount.read("priv", "state") == "DRAFT\n"
    assert mount.read("priv", "generation") == mount.read("priv", "generation") != ""
    # any other mode: an ordinary draft at once
    os.mkdir(mount.p("open"), 0o755)
    assert mount.read("open", "state") == "DRAFT\n"
