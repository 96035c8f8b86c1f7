"""The files of a model directory: their formats, modes and errors."""
import errno
import json
import os
import re
import shutil
import stat
import time

import pytest

from tests.fs.conftest import QUICK_CONFIG


def err_of(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except OSError as e:
        return e.errno
    return 0


def test_draft_directory(mount):
    os.mkdir(mount.p("fresh"))
    names = sorted(os.listdir(mount.p("fresh")))
    # config and examples.jsonl come into being when written, as files in a new folder do
    # wait is opened by name, not listed (tools walking the tree would block on it)
    assert names == sorted(["state", "progress", "prompt", "prompts", "responses",
                            "response", "response.json", "generation", "model.json", "error",
                            "log.jsonl", "eval"])
    assert "fresh" in os.listdir(mount.path)
    assert mount.read("fresh", "state") == "DRAFT\n"
    assert mount.read("fresh", "wait") == "DRAFT\n"
    assert mount.read("fresh", "error") == ""
    assert mount.read("fresh", "progress") == ""
    assert err_of(os.stat, mount.p("fresh", "config")) == errno.ENOENT
    assert err_of(mount.read, "fresh", "examples.jsonl") == errno.ENOENT
    os.close(os.open(mount.p("fresh", "config"), os.O_WRONLY | os.O_CREAT, 0o644))  # touch
    st = os.stat(mount.p("fresh", "config"))
    assert stat.S_IMODE(st.st_mode) == 0o644 and st.st_size == 0
    assert mount.read("fresh", "config") == ""
    assert "config" in os.listdir(mount.p("fresh"))
    assert stat.S_IMODE(os.stat(mount.p("fresh", "state")).st_mode) == 0o444
    assert os.stat(mount.p("fresh", "state")).st_size == len("DRAFT\n")
    assert stat.S_ISDIR(os.stat(mount.p("fresh")).st_mode)


def test_root_has_the_mount_time(mount):
    st = os.stat(mount.path)
    assert stat.S_ISDIR(st.st_mode)
    assert abs(st.st_mtime - time.time()) < 600, "the root's times should be the mount's"


def test_mkdir_rules(mount):
    mount.allow.append(r"not a valid tunedModelId")
    for bad in ("Upper", "under_score", "9starts-with-digit", "ends-", "a" * 41, "dot.ted"):
        assert err_of(os.mkdir, mount.p(bad)) == errno.EINVAL, bad
        assert not os.path.exists(mount.p(bad))
    os.mkdir(mount.p("taken"))
    assert err_of(os.mkdir, mount.p("taken")) == errno.EEXIST
    assert err_of(os.mkdir, mount.p("taken", "sub")) == errno.EPERM


def test_active_model_files(mount):
    mount.make_active("fmt")
    assert mount.read("fmt", "state") == "ACTIVE\n"
    assert mount.read("fmt", "error") == ""
    lines = mount.read("fmt", "progress").splitlines()
    # the first line is padded to 63 columns: the file only grows (tail -f)
    assert len(lines[0]) == 63, lines[0]
    assert re.fullmatch(r"100\.0% step (\d+)/\1 epoch 3 loss \d+\.\d{3} *", lines[0]), lines[0]
    snaps = lines[1:]
    assert len(snaps) == 9  # 3 examples x 3 epochs / batch 1
    for i, line in enumerate(snaps, 1):
        step, epoch, loss, when = line.split()
        assert int(step) == i and 1 <= int(epoch) <= 3 and float(loss) > 0
        assert re.match(r"\d{4}-\d\d-\d\dT", when)
    m = json.loads(mount.read("fmt", "model.json"))
    assert m["name"] == "tunedModels/fmt" and m["state"] == "ACTIVE"
    # submitted: config and examples are read-only now
    for f in ("config", "examples.jsonl"):
        assert stat.S_IMODE(os.stat(mount.p("fmt", f)).st_mode) == 0o444
        assert err_of(open, mount.p("fmt", f), "w") == errno.EACCES
        assert err_of(open, mount.p("fmt", f), "a") == errno.EACCES
    assert "epoch_count = 3" in mount.read("fmt", "config")
    assert json.loads(mount.read("fmt", "examples.jsonl").splitlines()[0])["output"] == "2"
    for f in ("state", "progress", "model.json", "error", "response"):
        assert err_of(open, mount.p("fmt", f), "w") == errno.EACCES


def test_bad_config_is_kept_and_reported(mount):
    mount.allow += [r"config: line 2"]
    os.mkdir(mount.p("badcfg"))
    with pytest.raises(OSError) as e:
        with open(mount.p("badcfg", "config"), "w") as f:
            f.write("base_model = models/gemini-1.0-pro-001\nbatch_size = 0\n")
    assert e.value.errno == errno.EINVAL
    assert mount.read("badcfg", "config").endswith("batch_size = 0\n")
    assert "line 2" in mount.read("badcfg", "error")
    assert mount.read("badcfg", "state") == "DRAFT\n"


def test_prompt_to_a_draft_is_einval(mount):
    mount.allow += [r"prompt: "]
    os.mkdir(mount.p("early"))
    with pytest.raises(OSError) as e:
        with open(mount.p("early", "prompt"), "w") as f:
            f.write("hello\n")
    assert e.value.errno == errno.EINVAL
    assert "DRAFT" in mount.read("early", "error")
    assert mount.read("early", "prompt") == ""  # refused: the previous (none) stays


def test_empty_prompt_is_einval(mount):
    mount.allow += [r"prompt: empty"]
    mount.make_active("emptyp")
    with pytest.raises(OSError) as e:
        with open(mount.p("emptyp", "prompt"), "w") as f:
            f.write("\n")
    assert e.value.errno == errno.EINVAL
    assert "empty" in mount.read("emptyp", "error")


def test_generation_reads_back_canonical(mount):
    mount.allow += [r"generation"]
    os.mkdir(mount.p("gen"))
    mount.write("gen", "generation", data="temperature = 0.5\ntop_k=3\n")
    text = mount.read("gen", "generation")
    assert "temperature" in text and "top_k" in text
    with pytest.raises(OSError) as e:
        with open(mount.p("gen", "generation"), "w") as f:
            f.write("temperature = hot\n")
    assert e.value.errno == errno.EINVAL
    assert "generation" in mount.read("gen", "error")
    # kept as written, to be fixed; the next valid write clears the error
    assert mount.read("gen", "generation") == "temperature = hot\n"
    with pytest.raises(OSError) as e:  # still not valid: the bad line stays in it
        with open(mount.p("gen", "generation"), "a") as f:
            f.write("top_k = 4\n")
    assert e.value.errno == errno.EINVAL
    assert mount.read("gen", "generation") == "temperature = hot\ntop_k = 4\n"
    mount.write("gen", "generation", data="temperature = 0.25\n")
    assert mount.read("gen", "error") == ""
    assert "0.25" in mount.read("gen", "generation")


def test_rm_r_draft_and_model(mount):
    """rmdir refuses a directory with content, as on any filesystem; rm -r deletes."""
    os.mkdir(mount.p("gone-draft"))
    mount.write("gone-draft", "examples.jsonl", data='{"text_input": "a", "output": "b"}\n')
    open(mount.p("gone-draft", ".scratch.swp"), "w").close()
    assert err_of(os.rmdir, mount.p("gone-draft")) == errno.ENOTEMPTY
    shutil.rmtree(mount.p("gone-draft"))
    assert "gone-draft" not in os.listdir(mount.path)
    assert not os.path.exists(mount.p("gone-draft"))
    mount.make_active("gone-model")
    assert err_of(os.rmdir, mount.p("gone-model")) == errno.ENOTEMPTY
    assert mount.read("gone-model", "state") == "ACTIVE\n"
    shutil.rmtree(mount.p("gone-model"))
    assert not os.path.exists(mount.p("gone-model"))
    status, _, _ = mount.server.request("GET", "/v1beta/tunedModels/gone-model")
    assert status == 404
    # the name is free again
    os.mkdir(mount.p("gone-model"))
    assert mount.read("gone-model", "state") == "DRAFT\n"


def test_scratch_files_and_rename_onto_config(mount):
    os.mkdir(mount.p("edit"))
    mount.write("edit", "examples.jsonl", data='{"text_input": "a", "output": "b"}\n')
    tmp = mount.p("edit", ".config.tmp")
    with open(tmp, "w") as f:
        f.write("base_model = models/gemini-1.0-pro-001\nepoch_count = 1\n")
    assert ".config.tmp" in os.listdir(mount.p("edit"))
    os.rename(tmp, mount.p("edit", "config"))
    assert ".config.tmp" not in os.listdir(mount.p("edit"))
    assert "epoch_count = 1" in mount.read("edit", "config")
    assert mount.read("edit", "wait") == "ACTIVE\n"


def test_models_made_elsewhere_appear(mount):
    body = {"baseModel": "models/gemini-1.0-pro-001",
            "tuningTask": {"hyperparameters": {"epochCount": 1, "batchSize": 1},
                           "trainingData": {"examples": {"examples": [
                               {"textInput": "x", "output": "y"}]}}}}
    status, op, _ = mount.server.request("POST", "/v1beta/tunedModels?tunedModelId=elsewhere",
                                         body=body)
    assert status == 200, op
    # a lookup of an unknown name asks the service directly
    assert mount.read("elsewhere", "wait") == "ACTIVE\n"
    assert "examples.jsonl" not in os.listdir(mount.p("elsewhere"))
    assert "base_model = models/gemini-1.0-pro-001" in mount.read("elsewhere", "config")
    assert err_of(open, mount.p("elsewhere", "config"), "w") == errno.EACCES
    # deleted elsewhere: gone after the next listing
    mount.server.request("DELETE", "/v1beta/tunedModels/elsewhere")


def test_failed_elsewhere_shows_the_reason(server_factory, mount_factory):
    s = server_factory()
    body = {"baseModel": "models/gemini-1.0-pro-001",
            "tuningTask": {"hyperparameters": {"epochCount": 3000, "batchSize": 1},
                           "trainingData": {"examples": {"examples": [
                               {"textInput": "a", "output": "b"},
                               {"textInput": "c", "output": "d"}]}}}}
    status, op, _ = s.request("POST", "/v1beta/tunedModels?tunedModelId=cut-short", body=body)
    assert status == 200, op
    s.kill9()  # the training is cut off and, its kept examples lost, cannot resume:
    os.unlink(os.path.join(s.data_dir, "jobs", "cut-short", "examples.bin"))
    s.start()  # the restarted server marks it FAILED (on another port: the mount is
    # made afterwards)
    _, model, _ = s.request("GET", "/v1beta/tunedModels/cut-short")
    assert model["state"] == "FAILED", model
    m = mount_factory(server=s)
    assert m.read("cut-short", "state") == "FAILED\n"
    for _ in range(100):  # the reason is fetched in the background
        if m.read("cut-short", "error"):
            break
        time.sleep(0.05)
    assert m.read("cut-short", "error").strip()


def test_mv_config_away_moves_it_or_is_refused(mount):
    """mv of a draft's own file moves it (the draft file is unwritten after, as on any
    disk); a file that can only go with the model is refused with EPERM, never a 0 that
    leaves it."""
    os.mkdir(mount.p("mv-away"))
    mount.write("mv-away", "config", data=QUICK_CONFIG)
    os.rename(mount.p("mv-away", "config"), mount.p("mv-away", "config.orig"))
    assert not os.path.exists(mount.p("mv-away", "config"))
    assert mount.read("mv-away", "config.orig") == QUICK_CONFIG
    assert "config" not in os.listdir(mount.p("mv-away"))
    os.rename(mount.p("mv-away", "config.orig"), mount.p("mv-away", "config"))
    assert mount.read("mv-away", "config") == QUICK_CONFIG
    assert not os.path.exists(mount.p("mv-away", "config.orig"))
    for name in ("state", "error"):
        assert err_of(os.rename, mount.p("mv-away", name),
                      mount.p("mv-away", name + ".orig")) == errno.EPERM
        assert not os.path.exists(mount.p("mv-away", name + ".orig"))
    mount.make_active("mv-done")
    assert err_of(os.rename, mount.p("mv-done", "config"),
                  mount.p("mv-done", "config.orig")) == errno.EPERM
    assert mount.read("mv-done", "config") == QUICK_CONFIG
    assert not os.path.exists(mount.p("mv-done", "config.orig"))
