"""Real tools on a real mount: shell redirection, cat, cp, tee, dd, rsync, sed -i, vim,
Python open(), ls -l, stat, mkdir -p, rmdir, find, and editors' scratch files.

Each test checks the effect the tool was run for: the bytes read back, the model's
state, and what the service holds (`GET /v1beta/tunedModels/NAME` on the server)."""
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import time

import pytest

from tests.conftest import DATA, read_examples
from tests.fs.conftest import QUICK_CONFIG, QUICK_EXAMPLES

BASE = "models/gemini-1.0-pro-001"
EXAMPLE_LINES = [json.dumps(e) + "\n" for e in QUICK_EXAMPLES]
EXAMPLES = "".join(EXAMPLE_LINES)
# listed; wait is opened by name and never listed, so tree walkers do not block on it;
# prompts/ and responses/ are the spool's directories, eval/ the held-out examples' one
# (progress.svg comes with a tuning's first snapshot, at a moment these tests do not pin
# down: settled() leaves it out; tests/fs/test_log_svg.py is about it)
MODEL_FILES = {"config", "examples.jsonl", "state", "progress", "prompt", "response",
               "response.json", "generation", "model.json", "error", "log.jsonl", "prompts",
               "responses", "eval"}
SPOOL_DIRS = {"prompts", "responses", "eval"}
# a draft shows config and examples.jsonl once they are written (or created)
FRESH_FILES = MODEL_FILES - {"config", "examples.jsonl"}
ONLY_EXAMPLES = MODEL_FILES - {"config"}
ONLY_CONFIG = MODEL_FILES - {"examples.jsonl"}

# a generation request in the server log, streamed (as the mount asks) or not
GENERATION = re.compile(r":(stream)?[gG]enerateContent")


def needs(*tools):
    missing = [t for t in tools if shutil.which(t) is None]
    return pytest.mark.skipif(bool(missing), reason=f"{', '.join(missing)} not installed")


def sh(cmd, check=True, **kw):
    """Runs a shell command line; returns the CompletedProcess (text mode)."""
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=300, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"`{cmd}` exited {r.returncode}\nstdout: {r.stdout}\n"
                             f"stderr: {r.stderr}")
    return r


def q(path):
    return shlex.quote(path)


def remote(mount, name):
    """The service's view of tunedModels/NAME: (HTTP status, resource)."""
    status, body, _ = mount.server.request("GET", "/v1beta/tunedModels/" + name)
    return status, body


def hyper(model):
    return model.get("tuningTask", {}).get("hyperparameters", {})


def answer_text(mount, name):
    r = json.loads(mount.read(name, "response.json"))
    return "".join(p.get("text", "") for p in r["candidates"][0]["content"]["parts"])


def local_file(tmp_path, name, text):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(p)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def settled(names):
    return set(names) - {"progress.svg"}


def listing(mount, name):
    return settled(os.listdir(mount.p(name)))


# --- shell redirection and cat --------------------------------------------------------


def test_echo_printf_append_and_cat(mount):
    d = mount.p("shell")
    sh(f"mkdir {q(d)}")
    # examples in several writes, each its own open/close; the config comes last
    sh(f"printf '%s\\n' {q(EXAMPLE_LINES[0].strip())} > {q(d)}/examples.jsonl")
    assert sh(f"cat {q(d)}/state").stdout == "DRAFT\n"
    for line in EXAMPLE_LINES[1:]:
        sh(f"printf '%s\\n' {q(line.strip())} >> {q(d)}/examples.jsonl")
        assert sh(f"cat {q(d)}/state").stdout == "DRAFT\n"
    assert sh(f"cat {q(d)}/examples.jsonl").stdout == EXAMPLES
    assert remote(mount, "shell")[0] == 404  # nothing sent before the config
    sh(f"printf 'base_model = {BASE}\\nepoch_count = 3\\nbatch_size = 1\\n' > {q(d)}/config")
    assert sh(f"cat {q(d)}/wait").stdout == "ACTIVE\n", mount.read("shell", "error")
    status, m = remote(mount, "shell")
    assert status == 200 and m["state"] == "ACTIVE" and m["baseModel"] == BASE
    assert hyper(m)["epochCount"] == 3 and hyper(m)["batchSize"] == 1
    # the examples the service trained on: 3 examples x 3 epochs at batch size 1
    assert len(m["tuningTask"]["snapshots"]) == 9
    assert sh(f"cat {q(d)}/examples.jsonl").stdout == EXAMPLES
    assert sh(f"cat {q(d)}/error").stdout == ""
    # echo's newline is not part of the prompt: echo and printf ask the same thing
    sh(f"echo 1 > {q(d)}/prompt")
    first = sh(f"cat {q(d)}/response").stdout
    assert first.endswith("\n") and first == answer_text(mount, "shell") + "\n"
    sh(f"printf 1 > {q(d)}/prompt")
    assert sh(f"cat {q(d)}/response").stdout == first
    model = json.loads(sh(f"cat {q(d)}/model.json").stdout)
    assert model["name"] == "tunedModels/shell" and model["state"] == "ACTIVE"
    assert model["updateTime"] == m["updateTime"]


def test_echo_prompt_is_sent_without_its_newline(tmp_path, server_factory, mount_factory):
    log = str(tmp_path / "requests.log")
    s = server_factory("--request-log", log)
    m = mount_factory(server=s)
    d = m.make_active("nl")
    sh(f"echo 3 > {q(d)}/prompt")
    a = sh(f"cat {q(d)}/response").stdout
    sh(f"printf '3' > {q(d)}/prompt")
    assert sh(f"cat {q(d)}/response").stdout == a
    with open(log) as f:
        gens = [line for line in f if GENERATION.search(line)]
    assert len(gens) == 1, gens  # one key: "3" both times


def test_shell_loop_over_prompts(tmp_path, mount):
    """The legacy batch job: one prompt a line in, one answer a line out."""
    d = mount.make_active("batch")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("1\n3\n5\n1\n")
    out = sh(f"while read -r p; do echo \"$p\" > {q(d)}/prompt && cat {q(d)}/response; "
             f"done < {q(str(prompts))}").stdout
    answers = []
    for p in ("1", "3", "5", "1"):
        mount.write("batch", "prompt", data=p + "\n")
        answers.append(mount.read("batch", "response"))
    assert out == "".join(answers)
    assert answers[0] == answers[3]  # the same prompt, the same answer
    assert all(a.endswith("\n") for a in answers), answers


# --- cp, tee, dd ------------------------------------------------------------------


def test_cp_in_and_out(tmp_path, mount):
    ex = local_file(tmp_path, "examples.jsonl", EXAMPLES)
    cfg = local_file(tmp_path, "config", QUICK_CONFIG)
    d = mount.p("copied")
    os.mkdir(d)
    # cp copies in argument order: the examples first, the config last
    sh(f"cp {q(ex)} {q(cfg)} {q(d)}/")
    assert mount.read("copied", "wait") == "ACTIVE\n", mount.read("copied", "error")
    assert mount.read("copied", "examples.jsonl") == EXAMPLES
    status, m = remote(mount, "copied")
    assert status == 200 and hyper(m)["epochCount"] == 3
    out = tmp_path / "out"
    out.mkdir()
    sh(f"cp {q(d)}/examples.jsonl {q(d)}/model.json {q(d)}/state {q(str(out))}/")
    assert (out / "examples.jsonl").read_text() == EXAMPLES
    assert (out / "state").read_text() == "ACTIVE\n"
    assert json.loads((out / "model.json").read_text())["name"] == "tunedModels/copied"
    # cp onto a submitted file is refused and changes nothing
    r = sh(f"cp {q(cfg)} {q(d)}/examples.jsonl", check=False)
    assert r.returncode != 0 and "Permission denied" in r.stderr
    assert mount.read("copied", "examples.jsonl") == EXAMPLES


def test_cp_preserving_attributes(tmp_path, mount):
    ex = local_file(tmp_path, "examples.jsonl", EXAMPLES)
    cfg = local_file(tmp_path, "config", QUICK_CONFIG)
    d = mount.p("copied-p")
    os.mkdir(d)
    sh(f"cp -p {q(ex)} {q(d)}/examples.jsonl")
    assert mount.read("copied-p", "examples.jsonl") == EXAMPLES
    sh(f"cp -p {q(cfg)} {q(d)}/config")
    assert mount.read("copied-p", "config") == QUICK_CONFIG
    assert mount.read("copied-p", "wait") == "ACTIVE\n", mount.read("copied-p", "error")
    assert hyper(remote(mount, "copied-p")[1])["epochCount"] == 3


def model_folder(tmp_path, name="folder"):
    src = tmp_path / name
    src.mkdir()
    (src / "examples.jsonl").write_text(EXAMPLES)
    (src / "config").write_text(QUICK_CONFIG)
    return src


def test_cp_r_a_model_folder(tmp_path, mount):
    """cp -r FOLDER MOUNT/NAME: cp makes the directory, then copies the two files in."""
    src = model_folder(tmp_path)
    sh(f"cp -r {q(str(src))} {q(mount.p('from-cp-r'))}")
    assert mount.read("from-cp-r", "wait") == "ACTIVE\n", mount.read("from-cp-r", "error")
    assert mount.read("from-cp-r", "examples.jsonl") == EXAMPLES
    assert hyper(remote(mount, "from-cp-r")[1])["epochCount"] == 3


@needs("tar")
def test_tar_x_a_model_folder(tmp_path, mount):
    model_folder(tmp_path, "from-tar")
    tar = str(tmp_path / "model.tar")
    sh(f"tar -cf {q(tar)} -C {q(str(tmp_path))} from-tar")
    sh(f"tar -xf {q(tar)} -C {q(mount.path)}")
    assert mount.read("from-tar", "wait") == "ACTIVE\n", mount.read("from-tar", "error")
    assert mount.read("from-tar", "config") == QUICK_CONFIG


def test_exclusive_create_in_a_fresh_draft(mount):
    os.mkdir(mount.p("excl"))
    fd = os.open(mount.p("excl", "examples.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, EXAMPLES.encode())
    finally:
        os.close(fd)
    assert mount.read("excl", "examples.jsonl") == EXAMPLES
    # once written, the file exists for O_EXCL like any other
    with pytest.raises(FileExistsError):
        os.open(mount.p("excl", "examples.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)


@needs("tar")
def test_tar_x_over_a_draft_replaces_its_files(tmp_path, mount):
    """tar -x finds the files there, unlinks them and creates them anew."""
    model_folder(tmp_path, "re-tar")
    tar = str(tmp_path / "model.tar")
    sh(f"tar -cf {q(tar)} -C {q(str(tmp_path))} re-tar")
    os.mkdir(mount.p("re-tar"))
    mount.write("re-tar", "examples.jsonl", data=EXAMPLE_LINES[0])
    sh(f"tar -xf {q(tar)} -C {q(mount.path)}")
    assert mount.read("re-tar", "wait") == "ACTIVE\n", mount.read("re-tar", "error")
    assert mount.read("re-tar", "examples.jsonl") == EXAMPLES


def test_rm_of_a_drafts_files(mount):
    """A draft's config and examples.jsonl can be removed until tuning starts; the other
    files go only with the model (rm succeeds so that rm -r can empty the directory, and
    the file stays), and the draft itself stays until rm -r."""
    mount.allow += [r"config: line 1"]
    os.mkdir(mount.p("rm-files"))
    mount.write("rm-files", "examples.jsonl", data=EXAMPLES)
    with pytest.raises(OSError):
        mount.write("rm-files", "config", data="no_such_key = 1\n")
    assert mount.read("rm-files", "error").startswith("config: line 1")
    sh(f"rm {q(mount.p('rm-files', 'config'))}")
    assert listing(mount, "rm-files") == ONLY_EXAMPLES
    assert mount.read("rm-files", "error") == ""  # the complaint went with the file
    r = sh(f"rm {q(mount.p('rm-files', 'config'))}", check=False)
    assert r.returncode != 0 and "No such file" in r.stderr
    sh(f"rm {q(mount.p('rm-files', 'state'))}")
    time.sleep(1.1)  # absent for a second (tar's unlink-then-create), then back
    assert mount.read("rm-files", "state") == "DRAFT\n"
    mount.write("rm-files", "config", data=QUICK_CONFIG)
    assert mount.read("rm-files", "wait") == "ACTIVE\n", mount.read("rm-files", "error")
    sh(f"rm {q(mount.p('rm-files', 'examples.jsonl'))}")
    time.sleep(1.1)
    assert mount.read("rm-files", "examples.jsonl") == EXAMPLES
    assert mount.read("rm-files", "state") == "ACTIVE\n"
    # removed drafts files stay removed across a remount (the draft store lost them)
    os.mkdir(mount.p("rm-kept"))
    mount.write("rm-kept", "config", data=QUICK_CONFIG)
    os.unlink(mount.p("rm-kept", "config"))
    mount.restart()
    assert listing(mount, "rm-kept") == FRESH_FILES


@needs("rsync")
def test_cp_r_and_rsync_a_into_model_directories(tmp_path, mount):
    src = model_folder(tmp_path)
    # into a draft made first: cp -r FOLDER/. copies over the existing (empty) files
    os.mkdir(mount.p("cp-dot"))
    sh(f"cp -r {q(str(src))}/. {q(mount.p('cp-dot'))}/")
    assert mount.read("cp-dot", "wait") == "ACTIVE\n", mount.read("cp-dot", "error")
    # rsync -a makes the directory itself, then writes temporaries and renames them
    sh(f"rsync -a {q(str(src))}/ {q(mount.p('rsync-new'))}/")
    assert mount.read("rsync-new", "wait") == "ACTIVE\n", mount.read("rsync-new", "error")
    assert listing(mount, "rsync-new") == MODEL_FILES
    for name in ("cp-dot", "rsync-new"):
        assert mount.read(name, "examples.jsonl") == EXAMPLES
        assert hyper(remote(mount, name)[1])["batchSize"] == 1


def test_copy_a_model_within_the_mount(mount):
    """cp from one model to another, and Python's shutil.copyfile (sendfile in the kernel):
    a new model tuned from the files of an existing one."""
    mount.make_active("original")
    os.mkdir(mount.p("clone"))
    sh(f"cp {q(mount.p('original', 'examples.jsonl'))} {q(mount.p('clone', 'examples.jsonl'))}")
    shutil.copyfile(mount.p("original", "config"), mount.p("clone", "config"))
    assert mount.read("clone", "wait") == "ACTIVE\n", mount.read("clone", "error")
    assert mount.read("clone", "examples.jsonl") == EXAMPLES
    assert mount.read("clone", "config") == QUICK_CONFIG
    a, b = remote(mount, "original")[1], remote(mount, "clone")[1]
    assert hyper(a) == hyper(b) and len(b["tuningTask"]["snapshots"]) == 9


def test_mv_of_a_model_directory_is_refused(mount):
    """The service has no rename: mv fails (EPERM today) and loses nothing."""
    os.mkdir(mount.p("stay"))
    mount.write("stay", "examples.jsonl", data=EXAMPLES)
    r = sh(f"mv {q(mount.p('stay'))} {q(mount.p('moved'))}", check=False)
    assert r.returncode != 0, r
    assert sorted(os.listdir(mount.path)) == ["stay"]
    assert mount.read("stay", "examples.jsonl") == EXAMPLES


def test_cp_tutorial_files(mount):
    d = mount.p("tutorial-copy")
    os.mkdir(d)
    sh(f"cp {q(os.path.join(DATA, 'examples.jsonl'))} {q(d)}/examples.jsonl")
    with open(os.path.join(DATA, "examples.jsonl")) as f:
        assert mount.read("tutorial-copy", "examples.jsonl") == f.read()
    assert mount.read("tutorial-copy", "state") == "DRAFT\n"
    sh(f"(cat {q(os.path.join(DATA, 'config'))}; echo 'epoch_count = 1')"
       f" | cp /dev/stdin {q(d)}/config")
    assert mount.read("tutorial-copy", "wait") == "ACTIVE\n", mount.read("tutorial-copy", "error")
    status, m = remote(mount, "tutorial-copy")
    assert status == 200 and m["displayName"] == "number generator"
    assert hyper(m)["batchSize"] == 4 and hyper(m)["epochCount"] == 1


def test_tee_and_tee_append(mount):
    d = mount.p("teed")
    os.mkdir(d)
    sh(f"printf '%s' {q(EXAMPLE_LINES[0])} | tee {q(d)}/examples.jsonl > /dev/null")
    sh(f"printf '%s' {q(''.join(EXAMPLE_LINES[1:]))} | tee -a {q(d)}/examples.jsonl >/dev/null")
    assert mount.read("teed", "examples.jsonl") == EXAMPLES
    out = sh(f"printf '%s' {q(QUICK_CONFIG)} | tee {q(d)}/config").stdout
    assert out == QUICK_CONFIG  # tee's own copy on stdout
    assert mount.read("teed", "wait") == "ACTIVE\n", mount.read("teed", "error")
    assert remote(mount, "teed")[1]["state"] == "ACTIVE"
    sh(f"echo 5 | tee {q(d)}/prompt > /dev/null")
    assert mount.read("teed", "prompt") == "5\n"
    resp = sh(f"tee < {q(d)}/response").stdout
    assert resp == answer_text(mount, "teed") + "\n"


def test_dd_small_blocks_in_and_bs1_out(tmp_path, mount):
    ex = local_file(tmp_path, "ex", EXAMPLES)
    cfg = local_file(tmp_path, "cfg", QUICK_CONFIG)
    d = mount.p("dd-model")
    os.mkdir(d)
    # 7- and 5-byte writes: every line arrives in pieces across write() calls
    sh(f"dd if={q(ex)} of={q(d)}/examples.jsonl bs=7 status=none")
    assert mount.read("dd-model", "examples.jsonl") == EXAMPLES
    assert mount.read("dd-model", "state") == "DRAFT\n"
    sh(f"dd if={q(cfg)} of={q(d)}/config bs=5 conv=fsync status=none")
    assert mount.read("dd-model", "wait") == "ACTIVE\n", mount.read("dd-model", "error")
    assert hyper(remote(mount, "dd-model")[1])["epochCount"] == 3
    sh(f"printf '1\\n' | dd of={q(d)}/prompt bs=1 status=none")
    whole = sh(f"cat {q(d)}/response").stdout
    by_byte = sh(f"dd if={q(d)}/response bs=1 status=none").stdout
    assert by_byte == whole and whole == answer_text(mount, "dd-model") + "\n"
    # and a fresh response read one byte at a time from the start
    sh(f"printf '3\\n' | dd of={q(d)}/prompt bs=1 status=none")
    by_byte = sh(f"dd if={q(d)}/response bs=1 status=none").stdout
    assert by_byte == sh(f"cat {q(d)}/response").stdout
    assert by_byte == answer_text(mount, "dd-model") + "\n"


def test_dd_notrunc_over_a_draft_config(tmp_path, mount):
    """dd conv=notrunc writes into the middle of the existing text."""
    d = mount.p("dd-patch")
    os.mkdir(d)
    mount.write("dd-patch", "config", data=QUICK_CONFIG.replace("epoch_count = 3",
                                                                 "epoch_count = 7"))
    off = mount.read("dd-patch", "config").index("epoch_count = 7") + len("epoch_count = ")
    sh(f"printf 2 | dd of={q(d)}/config bs=1 seek={off} conv=notrunc status=none")
    assert mount.read("dd-patch", "config") == QUICK_CONFIG.replace("epoch_count = 3",
                                                                    "epoch_count = 2")
    mount.write("dd-patch", "examples.jsonl", data=EXAMPLES)
    assert mount.read("dd-patch", "wait") == "ACTIVE\n"
    assert hyper(remote(mount, "dd-patch")[1])["epochCount"] == 2


# --- tools writing through temporary names -------------------------------------------


@needs("rsync")
def test_rsync_onto_examples(tmp_path, mount):
    d = mount.p("synced")
    os.mkdir(d)
    first = local_file(tmp_path, "first.jsonl", EXAMPLE_LINES[0])
    sh(f"rsync {q(first)} {q(d)}/examples.jsonl")
    assert mount.read("synced", "examples.jsonl") == EXAMPLE_LINES[0]
    # a second rsync replaces the whole file through a new temporary name
    ex = local_file(tmp_path, "examples.jsonl", EXAMPLES)
    sh(f"rsync {q(ex)} {q(d)}/examples.jsonl")
    assert mount.read("synced", "examples.jsonl") == EXAMPLES
    assert listing(mount, "synced") == ONLY_EXAMPLES, "rsync's .examples.jsonl.XXXXXX left"
    assert mount.read("synced", "state") == "DRAFT\n"
    cfg = local_file(tmp_path, "config", QUICK_CONFIG)
    sh(f"rsync {q(cfg)} {q(d)}/config")
    assert mount.read("synced", "wait") == "ACTIVE\n", mount.read("synced", "error")
    status, m = remote(mount, "synced")
    assert status == 200 and len(m["tuningTask"]["snapshots"]) == 9
    assert mount.read("synced", "examples.jsonl") == EXAMPLES
    assert listing(mount, "synced") == MODEL_FILES
    # submitted: rsync's final rename is refused, and it cleans up its temporary file
    r = sh(f"rsync {q(first)} {q(d)}/examples.jsonl", check=False)
    assert r.returncode != 0
    assert mount.read("synced", "examples.jsonl") == EXAMPLES
    assert listing(mount, "synced") == MODEL_FILES


@needs("rsync")
def test_rsync_with_times_and_a_directory_source(tmp_path, mount):
    """rsync -rt of a whole local model folder: temporaries, then utimens on each file."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "examples.jsonl").write_text(EXAMPLES)
    os.mkdir(mount.p("rsynced-dir"))
    sh(f"rsync -rt {q(str(src))}/ {q(mount.p('rsynced-dir'))}/")
    assert mount.read("rsynced-dir", "examples.jsonl") == EXAMPLES
    assert listing(mount, "rsynced-dir") == ONLY_EXAMPLES
    (src / "config").write_text(QUICK_CONFIG)
    sh(f"rsync -rt {q(str(src))}/ {q(mount.p('rsynced-dir'))}/")
    assert mount.read("rsynced-dir", "wait") == "ACTIVE\n", mount.read("rsynced-dir", "error")
    assert hyper(remote(mount, "rsynced-dir")[1])["batchSize"] == 1


def test_sed_in_place_on_config(mount):
    d = mount.p("sedded")
    os.mkdir(d)
    # the config first this time: alone it is a valid draft, nothing is submitted
    mount.write("sedded", "config", data=QUICK_CONFIG)
    sh(f"sed -i 's/epoch_count = 3/epoch_count = 2/' {q(d)}/config")
    assert mount.read("sedded", "config") == QUICK_CONFIG.replace("epoch_count = 3",
                                                                  "epoch_count = 2")
    assert listing(mount, "sedded") == ONLY_CONFIG, "sed's temporary file left behind"
    assert mount.read("sedded", "state") == "DRAFT\n"
    assert remote(mount, "sedded")[0] == 404
    mount.write("sedded", "examples.jsonl", data=EXAMPLES)
    assert mount.read("sedded", "wait") == "ACTIVE\n", mount.read("sedded", "error")
    assert hyper(remote(mount, "sedded")[1])["epochCount"] == 2
    # submitted: sed -i can no longer replace it
    r = sh(f"sed -i 's/epoch_count = 2/epoch_count = 9/' {q(d)}/config", check=False)
    assert r.returncode != 0
    assert "epoch_count = 2" in mount.read("sedded", "config")
    assert listing(mount, "sedded") == MODEL_FILES


def test_sed_in_place_starts_tuning(mount):
    """The rename sed -i ends with is a write of config: when examples are there, it submits."""
    mount.allow += [r"config: line 3"]
    d = mount.p("sed-go")
    os.mkdir(d)
    mount.write("sed-go", "examples.jsonl", data=EXAMPLES)
    with pytest.raises(OSError):
        mount.write("sed-go", "config", data=QUICK_CONFIG.replace("batch_size = 1",
                                                                  "batch_size = 0"))
    assert mount.read("sed-go", "state") == "DRAFT\n"
    sh(f"sed -i 's/batch_size = 0/batch_size = 1/' {q(d)}/config")
    assert mount.read("sed-go", "wait") == "ACTIVE\n", mount.read("sed-go", "error")
    assert mount.read("sed-go", "config") == QUICK_CONFIG
    assert mount.read("sed-go", "error") == ""


# How vim writes a file over the old one: in place (backupcopy=yes), or by renaming
# the old file to config~ and creating a new one (backupcopy=no), or its own choice.
VIM_WRITES = {"in-place": "backupcopy=yes", "rename": "backupcopy=no", "auto": "backupcopy=auto"}


def vim_edit(path, *cmds, settings="", check=True):
    """vim in batch mode with a swap file and fsync, as an interactive edit would write.
    backupskip is cleared: vim skips backups under /tmp, where the test mounts live."""
    first = f"set swapfile fsync backupskip= {settings}".strip()
    args = " ".join(f"-c {q(c)}" for c in (first,) + cmds + ("wq",))
    return sh(f"HOME=/nonexistent vim -E -s -u NONE -N {args} {q(path)} < /dev/null",
              check=check)


@needs("vim")
@pytest.mark.parametrize("how", sorted(VIM_WRITES))
def test_vim_edits_config(mount, how):
    d = mount.p("vimmed")
    os.mkdir(d)
    cfg = QUICK_CONFIG.replace("batch_size = 1", "batch_size = 4")
    mount.write("vimmed", "config", data=cfg)
    vim_edit(mount.p("vimmed", "config"), "%s/batch_size = 4/batch_size = 2/",
             settings=VIM_WRITES[how])
    assert mount.read("vimmed", "config") == cfg.replace("batch_size = 4", "batch_size = 2")
    # the swap file, the write backup and vim's 4913 probe are gone
    assert listing(mount, "vimmed") == ONLY_CONFIG
    assert mount.read("vimmed", "state") == "DRAFT\n"
    mount.write("vimmed", "examples.jsonl", data=EXAMPLES * 2)
    assert mount.read("vimmed", "wait") == "ACTIVE\n", mount.read("vimmed", "error")
    m = remote(mount, "vimmed")[1]
    assert hyper(m)["batchSize"] == 2 and len(m["tuningTask"]["snapshots"]) == 9


@needs("vim")
@pytest.mark.parametrize("how", ["in-place", "rename"])
def test_vim_keeps_a_backup_beside_config(mount, how):
    os.mkdir(mount.p("vim-bak"))
    old = QUICK_CONFIG.replace("epoch_count = 3", "epoch_count = 30")
    mount.write("vim-bak", "config", data=old)
    vim_edit(mount.p("vim-bak", "config"), "%s/epoch_count = 30/epoch_count = 3/",
             settings=VIM_WRITES[how] + " backup")
    assert mount.read("vim-bak", "config") == QUICK_CONFIG
    assert mount.read("vim-bak", "config~") == old  # a local scratch file
    assert listing(mount, "vim-bak") == ONLY_CONFIG | {"config~"}
    assert mount.read("vim-bak", "state") == "DRAFT\n"
    mount.write("vim-bak", "examples.jsonl", data=EXAMPLES)
    assert mount.read("vim-bak", "wait") == "ACTIVE\n", mount.read("vim-bak", "error")
    assert hyper(remote(mount, "vim-bak")[1])["epochCount"] == 3
    assert mount.read("vim-bak", "config~") == old


@needs("vim")
@pytest.mark.parametrize("how", ["in-place", "rename"])
def test_vim_fixes_a_bad_config_and_tuning_starts(mount, how):
    mount.allow += [r"config: line 3"]
    os.mkdir(mount.p("vim-fix"))
    mount.write("vim-fix", "examples.jsonl", data=EXAMPLES)
    bad = QUICK_CONFIG.replace("batch_size = 1", "batch_size = 0")
    with pytest.raises(OSError):
        mount.write("vim-fix", "config", data=bad)
    assert mount.read("vim-fix", "config") == bad
    vim_edit(mount.p("vim-fix", "config"), "%s/batch_size = 0/batch_size = 1/",
             settings=VIM_WRITES[how])
    assert mount.read("vim-fix", "wait") == "ACTIVE\n", mount.read("vim-fix", "error")
    assert mount.read("vim-fix", "config") == QUICK_CONFIG
    assert mount.read("vim-fix", "error") == ""
    assert listing(mount, "vim-fix") == MODEL_FILES


@needs("vim")
@pytest.mark.parametrize("how", ["in-place", "rename"])
def test_vim_saving_a_bad_line_fails(mount, how):
    """The close that ends vim's write fails with EINVAL; vim reports the failed write
    (exit status 1) and puts its backup back, so the file is the good one it was."""
    mount.allow += [r"examples\.jsonl: line 4: not valid JSON"]
    os.mkdir(mount.p("vim-bad"))
    mount.write("vim-bad", "examples.jsonl", data=EXAMPLES)
    r = vim_edit(mount.p("vim-bad", "examples.jsonl"), "$put ='{broken'",
                 settings=VIM_WRITES[how], check=False)
    assert r.returncode != 0
    assert mount.read("vim-bad", "examples.jsonl") == EXAMPLES
    assert mount.read("vim-bad", "state") == "DRAFT\n"
    assert "vim-bad: examples.jsonl: line 4: not valid JSON" in mount.stderr()
    assert not listing(mount, "vim-bad") - MODEL_FILES - {"examples.jsonl~"}
    assert remote(mount, "vim-bad")[0] == 404


@needs("vim")
def test_vim_writes_a_new_config(mount):
    d = mount.p("vim-go")
    os.mkdir(d)
    mount.write("vim-go", "examples.jsonl", data=EXAMPLES)
    # vim creates the file: the whole config typed in one session
    lines = QUICK_CONFIG.strip().split("\n")
    vim_edit(mount.p("vim-go", "config"), *[f"call append(line('$') - 1, {json.dumps(s)})"
                                            for s in lines], "$delete")
    assert mount.read("vim-go", "config") == QUICK_CONFIG
    assert mount.read("vim-go", "wait") == "ACTIVE\n", mount.read("vim-go", "error")
    assert listing(mount, "vim-go") == MODEL_FILES
    assert hyper(remote(mount, "vim-go")[1])["epochCount"] == 3


@needs("vim")
def test_vim_cannot_write_a_submitted_config(mount):
    mount.make_active("vim-ro")
    r = vim_edit(mount.p("vim-ro", "config"), "%s/epoch_count = 3/epoch_count = 1/",
                 check=False)
    assert r.returncode != 0
    assert mount.read("vim-ro", "config") == QUICK_CONFIG
    assert listing(mount, "vim-ro") == MODEL_FILES  # no swap file left either
    assert hyper(remote(mount, "vim-ro")[1])["epochCount"] == 3


def test_fchmod_while_writing_keeps_the_text(mount):
    """What vim does on :w: open O_WRONLY|O_CREAT, write, fchmod, close."""
    os.mkdir(mount.p("chmodded"))
    fd = os.open(mount.p("chmodded", "config"), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, QUICK_CONFIG.encode())
        os.fchmod(fd, 0o644)
        assert os.fstat(fd).st_size == len(QUICK_CONFIG)
    finally:
        os.close(fd)
    assert os.stat(mount.p("chmodded", "config")).st_size == len(QUICK_CONFIG)
    assert mount.read("chmodded", "config") == QUICK_CONFIG


# --- Python's own file API -----------------------------------------------------------


def test_python_open_read_write_append(mount):
    os.mkdir(mount.p("py"))
    with open(mount.p("py", "examples.jsonl"), "w") as f:
        f.write(EXAMPLE_LINES[0])
        f.flush()
        os.fsync(f.fileno())  # fsync succeeds on a draft file
    with open(mount.p("py", "examples.jsonl"), "a") as f:
        for line in EXAMPLE_LINES[1:]:
            f.write(line)
    with open(mount.p("py", "examples.jsonl")) as f:
        assert f.read() == EXAMPLES
    with open(mount.p("py", "examples.jsonl"), "rb") as f:
        f.seek(len(EXAMPLE_LINES[0]))
        assert f.read(len(EXAMPLE_LINES[1])) == EXAMPLE_LINES[1].encode()
    with open(mount.p("py", "config"), "wb") as f:
        for i in range(0, len(QUICK_CONFIG), 4):
            f.write(QUICK_CONFIG[i:i + 4].encode())
            f.flush()
    with open(mount.p("py", "wait")) as f:
        assert f.read() == "ACTIVE\n", mount.read("py", "error")
    assert remote(mount, "py")[1]["state"] == "ACTIVE"
    with open(mount.p("py", "generation"), "w") as f:
        f.write("temperature = 0\n")
    with open(mount.p("py", "prompt"), "w") as f:
        f.write("5\n")
    with open(mount.p("py", "response"), "rb") as f:
        data = f.read()
    assert data.decode() == answer_text(mount, "py") + "\n"
    with open(mount.p("py", "response"), "rb") as f:
        chunks = iter(lambda: f.read(3), b"")
        assert b"".join(chunks) == data


def test_python_open_modes_on_a_submitted_model(mount):
    mount.make_active("py-ro")
    for mode in ("w", "a", "r+"):
        with pytest.raises(PermissionError):
            open(mount.p("py-ro", "config"), mode)
    with open(mount.p("py-ro", "config")) as f:
        assert f.read() == QUICK_CONFIG


# --- ls, stat, find, mkdir -p, rmdir --------------------------------------------------


def ls_l(path):
    """name -> (mode string, size) from `ls -l`."""
    out = sh(f"ls -l {q(path)}").stdout.splitlines()
    assert out[0].startswith("total ")
    rows = {}
    for line in out[1:]:
        f = line.split(None, 8)
        rows[f[8]] = (f[0], int(f[4]))
    return rows


def test_ls_l_draft_and_submitted(mount):
    os.mkdir(mount.p("listed"))
    mount.write("listed", "examples.jsonl", data=EXAMPLES)
    rows = ls_l(mount.p("listed"))
    assert settled(rows) == ONLY_EXAMPLES
    for name in ("examples.jsonl", "prompt", "generation"):
        assert rows[name][0].startswith("-rw-r--r--"), (name, rows[name])
    for name in ("state", "progress", "response", "response.json", "model.json",
                 "error"):
        assert rows[name][0].startswith("-r--r--r--"), (name, rows[name])
    assert stat.S_IMODE(os.stat(mount.p("listed", "wait")).st_mode) == 0o444
    assert rows["examples.jsonl"][1] == len(EXAMPLES)
    assert rows["state"][1] == len("DRAFT\n")
    top = ls_l(mount.path)
    assert top["listed"][0].startswith("d")
    mount.make_active("listed-active")
    rows = ls_l(mount.p("listed-active"))
    assert settled(rows) == MODEL_FILES
    for name in ("config", "examples.jsonl"):
        assert rows[name][0].startswith("-r--r--r--"), (name, rows[name])
    for name in ("prompt", "generation"):
        assert rows[name][0].startswith("-rw-r--r--"), (name, rows[name])
    assert rows["config"][1] == len(QUICK_CONFIG)
    assert rows["examples.jsonl"][1] == len(EXAMPLES)
    assert rows["state"][1] == len("ACTIVE\n")
    for name, (mode, size) in rows.items():
        assert 0 <= size < 1 << 20, (name, size)
    # the sizes ls shows are the bytes a reader gets for the static files
    for name in ("config", "examples.jsonl", "model.json", "generation", "prompt"):
        assert rows[name][1] == len(mount.read("listed-active", name).encode()), name


def test_submitted_files_read_only_once_submitted(mount):
    """ls -l; write config; ls -l: once the settle time (-o submit_delay) has passed and the
    tuning is submitted, a listing shows both files read-only."""
    os.mkdir(mount.p("ro-now"))
    mount.write("ro-now", "examples.jsonl", data=EXAMPLES)
    rows = ls_l(mount.p("ro-now"))
    assert rows["examples.jsonl"][0].startswith("-rw-r--r--")
    mount.write("ro-now", "config", data=QUICK_CONFIG)
    time.sleep(0.3)  # the tests' submit_delay is 0.05 s
    rows = ls_l(mount.p("ro-now"))
    assert rows["config"][0].startswith("-r--r--r--"), rows["config"]
    assert rows["examples.jsonl"][0].startswith("-r--r--r--"), rows["examples.jsonl"]


def test_stat_command(mount):
    os.mkdir(mount.p("statted"))
    out = sh(f"stat -c '%F|%a' {q(mount.p('statted'))}").stdout
    assert out == "directory|700\n" or out.startswith("directory|")
    mount.write("statted", "examples.jsonl", data=EXAMPLES)
    r = sh(f"stat {q(mount.p('statted', 'config'))}", check=False)
    assert r.returncode != 0 and "No such file" in r.stderr  # never written
    sh(f"touch {q(mount.p('statted', 'config'))}")
    out = sh(f"stat -c '%F|%a|%s|%U' {q(mount.p('statted', 'config'))}").stdout
    kind, mode, size, owner = out.strip().split("|")
    assert kind == "regular empty file" and mode == "644" and int(size) == 0
    assert owner == sh("id -un").stdout.strip()
    out = sh(f"stat -c '%a %s' {q(mount.p('statted', 'state'))}").stdout
    assert out == f"444 {len('DRAFT')+1}\n"
    mount.write("statted", "config", data=QUICK_CONFIG)
    assert mount.read("statted", "wait") == "ACTIVE\n"
    out = sh(f"stat -c '%a %s' {q(mount.p('statted', 'config'))} "
             f"{q(mount.p('statted', 'examples.jsonl'))}").stdout
    assert out == f"444 {len(QUICK_CONFIG)}\n444 {len(EXAMPLES)}\n"
    # modification time of a submitted file does not run ahead of now
    r = sh(f"stat -c %Y {q(mount.p('statted', 'config'))}; date +%s").stdout.split()
    assert int(r[0]) <= int(r[1]) + 1
    r = sh(f"stat {q(mount.p('statted', 'nope'))}", check=False)
    assert r.returncode != 0 and "No such file" in r.stderr


def test_mkdir_p(mount):
    mount.allow += [r"not a valid tunedModelId"]
    sh(f"mkdir -p {q(mount.p('deep-draft'))}")
    assert mount.read("deep-draft", "state") == "DRAFT\n"
    # an existing model is fine for -p, and its content is untouched
    mount.write("deep-draft", "examples.jsonl", data=EXAMPLES)
    sh(f"mkdir -p {q(mount.p('deep-draft'))}")
    assert mount.read("deep-draft", "examples.jsonl") == EXAMPLES
    sh(f"mkdir -p {q(mount.path)}")
    r = sh(f"mkdir -p {q(mount.p('No_Good'))}", check=False)
    assert r.returncode != 0 and "Invalid argument" in r.stderr
    assert "No_Good" not in os.listdir(mount.path)
    # model directories hold no subdirectories
    r = sh(f"mkdir -p {q(mount.p('deep-draft', 'sub'))}", check=False)
    assert r.returncode != 0
    assert listing(mount, "deep-draft") == ONLY_EXAMPLES


def test_rm_r_draft_and_active_with_files_inside(mount):
    os.mkdir(mount.p("rm-draft"))
    mount.write("rm-draft", "examples.jsonl", data=EXAMPLES)
    mount.write("rm-draft", "generation", data="temperature = 0\n")
    r = sh(f"rmdir {q(mount.p('rm-draft'))}", check=False)
    assert r.returncode != 0 and "Directory not empty" in r.stderr
    sh(f"rm -r {q(mount.p('rm-draft'))}")
    assert "rm-draft" not in os.listdir(mount.path)
    r = sh(f"cat {q(mount.p('rm-draft', 'examples.jsonl'))}", check=False)
    assert r.returncode != 0
    d = mount.make_active("rm-active")
    sh(f"echo 1 > {q(d)}/prompt && cat {q(d)}/response > /dev/null")
    sh(f"echo notes > {q(d)}/.prompt.swp")  # a scratch file does not keep it either
    assert remote(mount, "rm-active")[0] == 200
    r = sh(f"rmdir {q(d)}", check=False)
    assert r.returncode != 0 and "Directory not empty" in r.stderr
    assert remote(mount, "rm-active")[0] == 200
    sh(f"rm -r {q(d)}")
    assert "rm-active" not in os.listdir(mount.path)
    assert remote(mount, "rm-active")[0] == 404
    # not even a fresh listing brings it back
    assert "rm-active" not in sh(f"ls {q(mount.path)}").stdout.split()
    # the name is free for a new draft, with nothing left over from the old model
    os.mkdir(d)
    assert listing(mount, "rm-active") == FRESH_FILES
    assert mount.read("rm-active", "state") == "DRAFT\n"
    r = sh(f"rmdir {q(mount.p('nothing-here'))}", check=False)
    assert r.returncode != 0 and "No such file" in r.stderr


def test_find_lists_the_files(mount):
    os.mkdir(mount.p("found-draft"))
    mount.make_active("found-model")
    out = sh(f"find {q(mount.path)} -type f").stdout.split()
    files = {os.path.relpath(p, mount.path) for p in out}
    assert files == ({f"found-draft/{f}" for f in FRESH_FILES - SPOOL_DIRS}
                     | {f"found-model/{f}" for f in MODEL_FILES - SPOOL_DIRS | {"progress.svg"}})
    dirs = sh(f"find {q(mount.path)} -mindepth 1 -type d").stdout.split()
    assert sorted(os.path.relpath(p, mount.path) for p in dirs) == [
        "found-draft", "found-draft/eval", "found-draft/prompts", "found-draft/responses",
        "found-model", "found-model/eval", "found-model/prompts", "found-model/responses"]
    # find -newer/-size read the attributes: submitted files carry their sizes
    big = sh(f"find {q(mount.path)} -name examples.jsonl -size +0c").stdout.split()
    assert big == [mount.p("found-model", "examples.jsonl")]
    ro = sh(f"find {q(mount.p('found-model'))} -type f -perm -u+w").stdout.split()
    assert sorted(os.path.basename(p) for p in ro) == ["generation", "prompt"]


@needs("rsync", "tar")
def test_tar_and_rsync_copy_a_model_out(tmp_path, mount):
    """tar trusts st_size; rsync -a compares sizes and times: both must get every byte."""
    d = mount.make_active("archived")
    mount.ask("archived", "1")
    os.mkdir(mount.p("archived-draft"))
    mount.write("archived-draft", "examples.jsonl", data=EXAMPLES)
    out = tmp_path / "untar"
    out.mkdir()
    tar = str(tmp_path / "models.tar")
    sh(f"tar -cf {q(tar)} -C {q(mount.path)} archived archived-draft")
    sh(f"tar -xf {q(tar)} -C {q(str(out))}")
    for model in ("archived", "archived-draft"):
        files = MODEL_FILES if model == "archived" else ONLY_EXAMPLES
        assert settled(os.listdir(out / model)) == files
        for f in files - SPOOL_DIRS:
            assert (out / model / f).read_bytes() == read_bytes(mount.p(model, f)), (model, f)
    assert (out / "archived" / "response").read_text() == answer_text(mount, "archived") + "\n"
    backup = tmp_path / "rsynced"
    sh(f"rsync -a {q(d)}/ {q(str(backup))}/")
    sh(f"diff -r {q(d)} {q(str(backup))}")
    # a second rsync -a finds nothing to copy (sizes and times agree) and changes nothing
    r = sh(f"rsync -a --itemize-changes {q(d)}/ {q(str(backup))}/")
    assert [line for line in r.stdout.splitlines() if not line.startswith(".d")] == [], r.stdout


def test_touch(mount):
    os.mkdir(mount.p("touched"))
    mount.write("touched", "config", data=QUICK_CONFIG)
    sh(f"touch {q(mount.p('touched', 'config'))} {q(mount.p('touched', 'examples.jsonl'))}")
    # touching is not writing: nothing validated, nothing submitted, text unchanged
    assert mount.read("touched", "config") == QUICK_CONFIG
    assert mount.read("touched", "examples.jsonl") == ""
    assert mount.read("touched", "error") == ""
    assert mount.read("touched", "state") == "DRAFT\n"
    # a new name becomes a scratch file
    sh(f"touch {q(mount.p('touched', 'NOTES'))}")
    assert listing(mount, "touched") == MODEL_FILES | {"NOTES"}
    assert os.stat(mount.p("touched", "NOTES")).st_size == 0


def test_ls_and_stat_of_a_model_in_training(mount):
    """While it trains, listing and stat answer from the table (no wait on wait)."""
    os.mkdir(mount.p("training"))
    mount.write("training", "examples.jsonl", data="".join(
        json.dumps(e) + "\n" for e in read_examples()))
    mount.write("training", "config",
                data="base_model = models/gemini-1.0-pro-001\nepoch_count = 10000\n"
                     "batch_size = 1\n")
    time.sleep(0.3)  # submitted after the tests' submit_delay of 0.05 s: read-only then
    rows = ls_l(mount.p("training"))
    assert settled(rows) == MODEL_FILES
    assert rows["config"][0].startswith("-r--r--r--")
    out = sh(f"stat -c '%n %s' {q(mount.p('training', 'wait'))} "
             f"{q(mount.p('training', 'state'))}").stdout
    assert out.endswith(f"state {len('CREATING') + 1}\n"), out
    assert sh(f"cat {q(mount.p('training', 'state'))}").stdout == "CREATING\n"
    found = sh(f"find {q(mount.p('training'))} -type f").stdout.split()
    assert settled(os.path.basename(p) for p in found) == MODEL_FILES - SPOOL_DIRS
    sh(f"rm -rf {q(mount.p('training'))}")
    assert remote(mount, "training")[0] == 404


# --- editors' scratch files ------------------------------------------------------------


def test_scratch_files_are_local_only(mount):
    os.mkdir(mount.p("scratchy"))
    mount.write("scratchy", "examples.jsonl", data=EXAMPLES)
    swp = b"b0VIM 9.0\x00" + bytes(range(256)) * 4
    with open(mount.p("scratchy", ".config.swp"), "wb") as f:
        f.write(swp)
        f.flush()
        os.fsync(f.fileno())
    sh(f"echo 'old text' > {q(mount.p('scratchy', 'config~'))}")
    assert listing(mount, "scratchy") == ONLY_EXAMPLES | {".config.swp", "config~"}
    with open(mount.p("scratchy", ".config.swp"), "rb") as f:
        assert f.read() == swp
    assert mount.read("scratchy", "config~") == "old text\n"
    st = os.stat(mount.p("scratchy", ".config.swp"))
    assert stat.S_ISREG(st.st_mode) and st.st_size == len(swp)
    # a scratch file is neither config nor examples: nothing is validated or sent
    assert mount.read("scratchy", "state") == "DRAFT\n"
    assert not os.path.exists(mount.p("scratchy", "config"))
    assert mount.read("scratchy", "error") == ""
    assert remote(mount, "scratchy")[0] == 404
    os.unlink(mount.p("scratchy", ".config.swp"))
    os.unlink(mount.p("scratchy", "config~"))
    assert listing(mount, "scratchy") == ONLY_EXAMPLES
    # the model files themselves go only with the model (rm -r): an unlink leaves them
    os.unlink(mount.p("scratchy", "state"))
    time.sleep(1.1)  # absent for a second, then back
    assert mount.read("scratchy", "state") == "DRAFT\n"
    assert mount.read("scratchy", "examples.jsonl") == EXAMPLES


def test_scratch_files_in_an_active_model(mount):
    d = mount.make_active("scratch-live")
    before = remote(mount, "scratch-live")[1]
    sh(f"printf 'notes\\n' > {q(d)}/.prompt.swp && cp {q(d)}/config {q(d)}/config~")
    assert mount.read("scratch-live", ".prompt.swp") == "notes\n"
    assert mount.read("scratch-live", "config~") == QUICK_CONFIG
    assert remote(mount, "scratch-live")[1] == before
    assert mount.read("scratch-live", "state") == "ACTIVE\n"
    sh(f"rm {q(d)}/.prompt.swp {q(d)}/config~")
    assert listing(mount, "scratch-live") == MODEL_FILES
