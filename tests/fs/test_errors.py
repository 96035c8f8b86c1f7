"""Every kind of bad input and every service failure, each its own test.

Each test asserts three things: the errno the call fails with, the message in the
model's `error` file (naming the file, the line and the problem), and that what the user
wrote is still there byte for byte. Where the input can be fixed, fixing it starts the
tuning."""
import errno
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from tests.conftest import read_examples
from tests.fs.conftest import QUICK_CONFIG, QUICK_EXAMPLES

EXAMPLES = "".join(json.dumps(e) + "\n" for e in QUICK_EXAMPLES)
# A tuning that runs for minutes on the local trainer (15 examples x 10000 epochs).
LONG_EXAMPLES = "".join(json.dumps(e) + "\n" for e in read_examples())
LONG_CONFIG = "base_model = models/gemini-1.0-pro-001\nepoch_count = 10000\nbatch_size = 1\n"
# -o timeout bounds the wait for an answer and the budget of retries (the fs's one knob;
# retries stop at half of it, so a service failing for good is given up in 10 s).
SHORT_RETRIES = ["timeout=20"]

# a generation request in the server log, streamed (as the mount asks) or not
GENERATION = re.compile(r":(stream)?[gG]enerateContent")


def write_and_close(path, data):
    """open/write/close with the raw calls; returns the errno of the first that failed
    (0 when none) and which call it was."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    except OSError as e:
        os.close(fd)
        return e.errno, "write"
    try:
        os.close(fd)
    except OSError as e:
        return e.errno, "close"
    return 0, None


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def errno_of(fn, *a):
    try:
        fn(*a)
    except OSError as e:
        return e.errno
    return 0


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.unix_path)


def call(server, method, path, body=None):
    """A request to the server, over TCP or its unix socket: (status, parsed JSON)."""
    if not server.url.startswith("unix:"):
        status, parsed, _ = server.request(method, path, body=body)
        return status, parsed
    conn = UnixHTTPConnection(server.url[len("unix:"):])
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data,
                     headers={"Content-Type": "application/json"} if data else {})
        r = conn.getresponse()
        text = r.read()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, None
    finally:
        conn.close()


def get(server, path):
    return call(server, "GET", path)


def remote_status(mount, name):
    return get(mount.server, "/v1beta/tunedModels/" + name)[0]


def until_training(mount, name):
    """Tuning is submitted in the background after the close; waits until the service
    has the model and trains it (its first snapshot), bounded, no timing asserted."""
    for _ in range(600):
        status, model = get(mount.server, "/v1beta/tunedModels/" + name)
        if status == 200 and model.get("tuningTask", {}).get("snapshots"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never started training: {mount.read(name, 'error')}")


def socket_server(tmp_path, server_factory, *args):
    """A server on a unix socket: its address survives a restart with other flags."""
    return server_factory(*args, socket=str(tmp_path / "srv.sock"), sub="srv")


# --- directory names ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Upper", "under_score", "a" * 41, "9lives"],
                         ids=["uppercase", "underscore", "too-long", "leading-digit"])
def test_invalid_directory_name(mount, name):
    mount.allow += [r"not a valid tunedModelId"]
    assert errno_of(os.mkdir, mount.p(name)) == errno.EINVAL
    assert name not in os.listdir(mount.path)
    assert not os.path.exists(mount.p(name))
    r = subprocess.run(["mkdir", mount.p(name)], capture_output=True, text=True)
    assert r.returncode != 0 and "Invalid argument" in r.stderr
    # no model directory to hold an error file: the message names the id in the log
    assert f"mkdir {name}: not a valid tunedModelId" in mount.stderr()
    status, listed, _ = mount.server.request("GET", "/v1beta/tunedModels")
    assert status == 200 and not listed.get("tunedModels")


def test_valid_edge_names_are_accepted(mount):
    for name in ("a", "a" * 40, "x-1-y"):
        os.mkdir(mount.p(name))
        assert mount.read(name, "state") == "DRAFT\n"


# --- examples.jsonl -------------------------------------------------------------------


def bad_examples(mount, name, data, line, problem):
    """config first (valid), then examples with a bad line: close() fails with EINVAL,
    error names file, line and problem, the text stays; fixing it starts the tuning."""
    mount.allow += [r"examples\.jsonl: "]
    os.mkdir(mount.p(name))
    mount.write(name, "config", data=QUICK_CONFIG)
    assert write_and_close(mount.p(name, "examples.jsonl"), data) == (errno.EINVAL, "close")
    err = mount.read(name, "error")
    where = f"examples.jsonl: line {line}: " if line else "examples.jsonl: "
    assert err.startswith(where) and problem in err, err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert read_bytes(mount.p(name, "examples.jsonl")) == data
    assert mount.read(name, "state") == "DRAFT\n"
    assert remote_status(mount, name) == 404
    # nothing lost across a remount either
    mount.restart()
    assert read_bytes(mount.p(name, "examples.jsonl")) == data
    assert mount.read(name, "state") == "DRAFT\n"
    # fixed: the config is there already, so this close submits
    mount.write(name, "examples.jsonl", data=EXAMPLES)
    assert mount.read(name, "wait") == "ACTIVE\n", mount.read(name, "error")
    assert mount.read(name, "error") == ""
    assert remote_status(mount, name) == 200


def test_examples_line_not_json(mount):
    data = (EXAMPLES.splitlines(keepends=True)[0] + '{"text_input": "3", "output": 4\n'
            + EXAMPLES.splitlines(keepends=True)[2]).encode()
    bad_examples(mount, "notjson", data, 2, "not valid JSON")


def test_examples_line_without_output(mount):
    data = (EXAMPLES + '{"text_input": "7"}\n').encode()
    bad_examples(mount, "nooutput", data, 4, 'missing "output"')


def test_examples_line_not_utf8(mount):
    data = EXAMPLES.encode() + b'{"text_input": "\xff\xfe", "output": "8"}\n'
    bad_examples(mount, "notutf8", data, 4, "not valid UTF-8")


def test_examples_output_too_long(mount):
    data = (EXAMPLES + json.dumps({"text_input": "9", "output": "x" * 5001}) + "\n").encode()
    bad_examples(mount, "longout", data, 4, "characters long")


def test_examples_bad_line_deep_in_a_big_file(tmp_path, mount):
    """cp writes 20,000 lines in large pieces; the one bad line is found and named, and
    the whole file is kept."""
    mount.allow += [r"examples\.jsonl: line 12345: "]
    lines = [json.dumps({"text_input": str(i), "output": str(i + 1)}) + "\n"
             for i in range(20000)]
    lines[12344] = '{"text_input": "oops"' + "\n"
    src = tmp_path / "big.jsonl"
    src.write_text("".join(lines))
    os.mkdir(mount.p("big"))
    r = subprocess.run(["cp", str(src), mount.p("big", "examples.jsonl")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Invalid argument" in r.stderr, r
    err = mount.read("big", "error")
    assert err.startswith("examples.jsonl: line 12345: not valid JSON"), err
    assert read_bytes(mount.p("big", "examples.jsonl")) == src.read_bytes()
    assert mount.read("big", "state") == "DRAFT\n"


def test_examples_native_line_of_another_service(mount):
    """A Vertex AI line is refused by the Gemini API's backend, named by its line (the
    blank line before it counted)."""
    line = json.dumps({"contents": [{"role": "user", "parts": [{"text": "7"}]},
                                    {"role": "model", "parts": [{"text": "8"}]}]})
    mount.allow += [r"Gemini API tunes from"]
    os.mkdir(mount.p("native"))
    mount.write("native", "examples.jsonl", data=EXAMPLES + "\n" + line + "\n")
    mount.write("native", "config", data=QUICK_CONFIG)
    assert mount.read("native", "wait") == "DRAFT\n"
    err = mount.read("native", "error")
    assert "examples.jsonl: line 5: the Gemini API tunes from" in err, err
    assert remote_status(mount, "native") == 404


def test_examples_blank_lines_only(mount):
    bad_examples(mount, "blanks", b"\n\n", 0, "no examples")


def test_examples_file_emptied(mount):
    """`: > examples.jsonl` after good examples: the empty file is refused too (the
    truncation is the write), and the previous examples are not sent."""
    mount.allow += [r"examples\.jsonl: "]
    os.mkdir(mount.p("emptied"))
    mount.write("emptied", "examples.jsonl", data=EXAMPLES)
    fd = os.open(mount.p("emptied", "examples.jsonl"), os.O_WRONLY | os.O_TRUNC)
    with pytest.raises(OSError) as e:
        os.close(fd)
    assert e.value.errno == errno.EINVAL
    assert "examples.jsonl: no examples" in mount.read("emptied", "error")
    assert read_bytes(mount.p("emptied", "examples.jsonl")) == b""
    # cp of an empty file: the same, and cp says so
    mount.write("emptied", "examples.jsonl", data=EXAMPLES)
    r = subprocess.run(["cp", "/dev/null", mount.p("emptied", "examples.jsonl")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Invalid argument" in r.stderr, r
    assert "examples.jsonl: no examples" in mount.read("emptied", "error")
    assert read_bytes(mount.p("emptied", "examples.jsonl")) == b""
    # a config now does not submit: there are no examples
    assert write_and_close(mount.p("emptied", "config"), QUICK_CONFIG.encode())[0] in (
        0, errno.EINVAL)
    assert mount.read("emptied", "state") == "DRAFT\n"
    assert remote_status(mount, "emptied") == 404


def test_examples_emptied_while_the_last_writer_is_still_open(mount):
    """The release of a closed handle reaches the mount after close() returns, so `: > f`
    can come while the last writer is still open on the file. A writer that has been
    flushed and wrote nothing since is not waited for: the empty file is refused at its own
    close. A dup of the writer's descriptor holds the flushed handle open here."""
    mount.allow += [r"examples\.jsonl: "]
    os.mkdir(mount.p("lingers"))
    fd = os.open(mount.p("lingers", "examples.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.write(fd, EXAMPLES.encode())
    held = os.dup(fd)
    os.close(fd)  # flushed and committed; its handle stays open through `held`
    try:
        assert read_bytes(mount.p("lingers", "examples.jsonl")) == EXAMPLES.encode()
        trunc = os.open(mount.p("lingers", "examples.jsonl"), os.O_WRONLY | os.O_TRUNC)
        with pytest.raises(OSError) as e:
            os.close(trunc)
        assert e.value.errno == errno.EINVAL
        assert "examples.jsonl: no examples" in mount.read("lingers", "error")
    finally:
        os.close(held)
    assert read_bytes(mount.p("lingers", "examples.jsonl")) == b""
    assert mount.read("lingers", "state") == "DRAFT\n"


def test_an_empty_examples_file_is_refused_the_same_every_way(tmp_path, mount):
    """An empty examples.jsonl comes the same whichever way it is written: `: > f` (an
    O_TRUNC open closed unwritten), `cp /dev/null f`, `cp empty f`. Over examples it is
    refused with EINVAL and "no examples" (the file then reads empty); in a fresh draft it
    replaces nothing and is a create, as `touch` is: 0, an empty file, no error."""
    mount.allow += [r"examples\.jsonl: "]
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    ways = {
        "truncate": lambda f: write_and_close(f, b"")[0],
        "cp /dev/null": lambda f: subprocess.run(["cp", "/dev/null", f]).returncode,
        "cp empty": lambda f: subprocess.run(["cp", str(empty), f]).returncode,
    }
    for i, (how, do) in enumerate(ways.items()):
        for before in (None, EXAMPLES):
            name = f"empty{i}{'g' if before else 'f'}"
            os.mkdir(mount.p(name))
            if before:
                mount.write(name, "examples.jsonl", data=before)
            got = do(mount.p(name, "examples.jsonl"))
            if before:
                assert got in (errno.EINVAL, 1), (how, got)
                assert "examples.jsonl: no examples" in mount.read(name, "error"), how
            else:
                assert got == 0, (how, got)
                assert mount.read(name, "error") == "", how
            assert read_bytes(mount.p(name, "examples.jsonl")) == b"", (how, before)
            assert mount.read(name, "state") == "DRAFT\n"


def test_bad_examples_renamed_into_place(mount):
    """A rename onto examples.jsonl is its write: EINVAL from rename(), the text kept."""
    mount.allow += [r"examples\.jsonl: line 2: "]
    os.mkdir(mount.p("renamed"))
    mount.write("renamed", "config", data=QUICK_CONFIG)
    data = (EXAMPLES.splitlines(keepends=True)[0] + '{"text_input": "3"}\n').encode()
    tmp = mount.p("renamed", ".examples.jsonl.XXXXXX")
    with open(tmp, "wb") as f:
        f.write(data)
    assert errno_of(os.rename, tmp, mount.p("renamed", "examples.jsonl")) == errno.EINVAL
    err = mount.read("renamed", "error")
    assert err.startswith("examples.jsonl: line 2: ") and 'missing "output"' in err, err
    assert read_bytes(mount.p("renamed", "examples.jsonl")) == data
    assert ".examples.jsonl.XXXXXX" not in os.listdir(mount.p("renamed"))
    assert mount.read("renamed", "state") == "DRAFT\n"
    mount.write("renamed", "examples.jsonl", data=EXAMPLES)
    assert mount.read("renamed", "wait") == "ACTIVE\n", mount.read("renamed", "error")


def test_sed_in_place_making_a_bad_line(mount):
    mount.allow += [r"examples\.jsonl: line 1: "]
    os.mkdir(mount.p("sedbad"))
    mount.write("sedbad", "examples.jsonl", data=EXAMPLES)
    r = subprocess.run(["sed", "-i", "s/\"output\"/\"outptu\"/",
                        mount.p("sedbad", "examples.jsonl")], capture_output=True, text=True)
    assert r.returncode != 0 and "Invalid argument" in r.stderr, r
    err = mount.read("sedbad", "error")
    assert err.startswith("examples.jsonl: line 1: ") and "outptu" in err, err
    assert mount.read("sedbad", "examples.jsonl") == EXAMPLES.replace('"output"', '"outptu"')
    assert set(os.listdir(mount.p("sedbad"))) == {  # no config: it was never written
        "examples.jsonl", "state", "progress", "prompt", "response", "prompts", "responses",
        "response.json", "generation", "model.json", "error", "log.jsonl", "eval"}


# --- config ---------------------------------------------------------------------------


def bad_config(mount, name, text, line, problem):
    """examples first, then a bad config: EINVAL on close, error names config, the line
    and the problem, the text stays byte for byte; fixing the line starts the tuning."""
    mount.allow += [r"config: "]
    os.mkdir(mount.p(name))
    mount.write(name, "examples.jsonl", data=EXAMPLES)
    assert write_and_close(mount.p(name, "config"), text.encode()) == (errno.EINVAL, "close")
    err = mount.read(name, "error")
    assert err.startswith(f"config: line {line}: ") and problem in err, err
    assert mount.read(name, "config") == text
    assert mount.read(name, "state") == "DRAFT\n"
    assert remote_status(mount, name) == 404
    mount.restart()
    assert mount.read(name, "config") == text
    mount.write(name, "config", data=QUICK_CONFIG)
    assert mount.read(name, "wait") == "ACTIVE\n", mount.read(name, "error")
    assert mount.read(name, "error") == ""
    assert remote_status(mount, name) == 200


def test_config_unknown_key(mount):
    text = "base_model = models/gemini-1.0-pro-001\nepochs = 3\n"
    bad_config(mount, "unknownkey", text, 2, 'unknown key "epochs"')


def test_config_not_a_number(mount):
    text = "base_model = models/gemini-1.0-pro-001\nbatch_size = 1\nepoch_count = three\n"
    bad_config(mount, "nonnumber", text, 3, "epoch_count")
    # the problem itself is named, not only the key (checked on a second model)


def test_config_not_a_number_names_the_value(mount):
    mount.allow += [r"config: "]
    os.mkdir(mount.p("nan-msg"))
    text = "learning_rate = fast\n"
    assert write_and_close(mount.p("nan-msg", "config"), text.encode()) == (errno.EINVAL,
                                                                            "close")
    err = mount.read("nan-msg", "error")
    assert err.startswith("config: line 1: learning_rate") and "fast" in err, err
    assert "number" in err, err
    assert mount.read("nan-msg", "config") == text


def test_config_batch_size_zero(mount):
    text = "base_model = models/gemini-1.0-pro-001\nepoch_count = 3\nbatch_size = 0\n"
    bad_config(mount, "batchzero", text, 3, "batch_size must be")


def test_config_json_unknown_field(mount):
    """The JSON form has no lines to name: the field is named instead."""
    mount.allow += [r"config: "]
    os.mkdir(mount.p("jsoncfg"))
    mount.write("jsoncfg", "examples.jsonl", data=EXAMPLES)
    text = '{"baseModel": "models/gemini-1.0-pro-001", "epochz": 3}\n'
    assert write_and_close(mount.p("jsoncfg", "config"), text.encode()) == (errno.EINVAL,
                                                                            "close")
    err = mount.read("jsoncfg", "error")
    assert err.startswith("config: ") and "epochz" in err, err
    assert mount.read("jsoncfg", "config") == text
    assert mount.read("jsoncfg", "state") == "DRAFT\n"


def test_message_refers_to_the_latest_problem(mount):
    mount.allow += [r"config: ", r"examples\.jsonl: "]
    os.mkdir(mount.p("latest"))
    write_and_close(mount.p("latest", "examples.jsonl"), b"oops\n")
    assert mount.read("latest", "error").startswith("examples.jsonl: line 1: ")
    write_and_close(mount.p("latest", "config"), b"batch_size = 0\n")
    assert mount.read("latest", "error").startswith("config: line 1: ")
    # both files still hold what was written
    assert mount.read("latest", "examples.jsonl") == "oops\n"
    assert mount.read("latest", "config") == "batch_size = 0\n"


# --- prompts --------------------------------------------------------------------------


def bad_prompt(mount, name, text, problem, eno=errno.EINVAL):
    before = mount.read(name, "prompt")
    assert write_and_close(mount.p(name, "prompt"), text.encode()) == (eno, "close")
    err = mount.read(name, "error")
    assert err.startswith("prompt: ") and problem in err, err
    # refused: the previous prompt stays current
    assert mount.read(name, "prompt") == before, mount.read(name, "prompt")
    return err


def test_prompt_to_a_draft(mount):
    mount.allow += [r"prompt: "]
    os.mkdir(mount.p("draftp"))
    err = bad_prompt(mount, "draftp", "hello\n", "DRAFT")
    assert "draftp" in err and "ACTIVE" in err
    assert mount.read("draftp", "state") == "DRAFT\n"


def test_prompt_to_a_creating_model(mount):
    mount.allow += [r"prompt: "]
    os.mkdir(mount.p("busy"))
    mount.write("busy", "examples.jsonl", data=LONG_EXAMPLES)
    mount.write("busy", "config", data=LONG_CONFIG)
    assert mount.read("busy", "state") == "CREATING\n"
    err = bad_prompt(mount, "busy", "1\n", "CREATING")
    assert "busy" in err and "wait" in err
    assert mount.read("busy", "state") == "CREATING\n"
    # O_NONBLOCK on wait says "not yet" rather than blocking
    fd = os.open(mount.p("busy", "wait"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert errno_of(os.read, fd, 100) == errno.EAGAIN
    finally:
        os.close(fd)
    shutil.rmtree(mount.p("busy"))  # stops the training
    assert not os.path.exists(mount.p("busy"))
    assert remote_status(mount, "busy") == 404


def test_prompt_to_a_failed_model(tmp_path, server_factory, mount_factory):
    s = socket_server(tmp_path, server_factory)
    m = mount_factory(server=s, opts=SHORT_RETRIES)
    m.allow += [r"doomed: prompt: doomed is FAILED", r"listing tuned models failed",
                r"doomed: tuning failed: training interrupted"]
    os.mkdir(m.p("doomed"))
    m.write("doomed", "examples.jsonl", data=LONG_EXAMPLES)
    m.write("doomed", "config", data=LONG_CONFIG)
    assert m.read("doomed", "state") == "CREATING\n"
    until_training(m, "doomed")
    s.kill9()  # the server dies in the middle of the training
    # and its kept examples are lost with it: nothing to resume from
    os.unlink(os.path.join(s.data_dir, "jobs", "doomed", "examples.bin"))
    s.restart()  # so it marks the interrupted job FAILED
    status, model = get(s, "/v1beta/tunedModels/doomed")
    assert status == 200 and model["state"] == "FAILED", model
    assert m.read("doomed", "wait") == "FAILED\n"
    assert "interrupted" in m.read("doomed", "error")
    # progress says how far it got: the step of its last snapshot kept by the server
    # (whether one was written before the kill is the server's timing), never behind it
    head, *snaps = m.read("doomed", "progress").splitlines()
    last_step = int(snaps[-1].split()[0]) if snaps else 0
    assert f" step {last_step}/" in head, (head, snaps[-1:])
    err = bad_prompt(m, "doomed", "1\n", "FAILED")
    assert "doomed" in err
    # the settings the user wrote are still readable
    assert m.read("doomed", "config") == LONG_CONFIG
    assert m.read("doomed", "examples.jsonl") == LONG_EXAMPLES


def test_rm_r_right_after_submitting(mount):
    """The create is still on its way when rm -r comes: its rmdir waits for it, then
    deletes."""
    os.mkdir(mount.p("quick-rm"))
    mount.write("quick-rm", "examples.jsonl", data=LONG_EXAMPLES)
    mount.write("quick-rm", "config", data=LONG_CONFIG)
    assert mount.read("quick-rm", "state") == "CREATING\n"
    shutil.rmtree(mount.p("quick-rm"))
    assert not os.path.exists(mount.p("quick-rm"))
    assert remote_status(mount, "quick-rm") == 404


def test_empty_prompt(mount):
    mount.allow += [r"prompt: "]
    mount.make_active("emptyq")
    mount.ask("emptyq", "1")
    err = bad_prompt(mount, "emptyq", "\n", "empty")
    assert err == "prompt: empty prompt; write the text to send\n"
    # a real prompt afterwards works and clears the error
    mount.write("emptyq", "prompt", data="3\n")
    assert mount.read("emptyq", "response").endswith("\n")
    assert mount.read("emptyq", "error") == ""


def nul_prompt(mount, name):
    mount.allow += [r"prompt: contains a NUL byte"]
    mount.make_active(name)
    answer = mount.ask(name, "1")
    assert write_and_close(mount.p(name, "prompt"), b"a\0b\n") == (errno.EINVAL, "close")
    assert mount.read(name, "error") == "prompt: contains a NUL byte\n"
    return answer


def test_prompt_with_a_nul_byte_is_refused_and_the_old_one_kept(mount):
    nul_prompt(mount, "nulkept")
    assert read_bytes(mount.p("nulkept", "prompt")) == b"1\n"


def test_refused_prompt_is_not_answered(tmp_path, server_factory, mount_factory):
    log = str(tmp_path / "requests.log")
    m = mount_factory(server=server_factory("--request-log", log))
    answer = nul_prompt(m, "nulans")
    with open(log) as f:
        before = sum(1 for line in f if GENERATION.search(line))
    fd = os.open(m.p("nulans", "response"), os.O_RDONLY)
    try:
        got = os.read(fd, 1 << 16)
    except OSError as e:
        got = e.errno
    finally:
        os.close(fd)
    assert got == answer.encode(), got  # the answer to the prompt kept, "1"
    with open(log) as f:
        assert sum(1 for line in f if GENERATION.search(line)) == before


def test_prompt_not_utf8_is_refused_at_close(mount):
    mount.allow += [r"badutf: prompt: not valid UTF-8"]
    mount.make_active("badutf")
    answer = mount.ask("badutf", "1")
    assert write_and_close(mount.p("badutf", "prompt"), b"\xff\xfe\n") == (errno.EINVAL,
                                                                          "close")
    err = mount.read("badutf", "error")
    assert err == "prompt: not valid UTF-8 at byte 1; write UTF-8 text\n", err
    assert read_bytes(mount.p("badutf", "prompt")) == b"1\n"
    assert mount.read("badutf", "response") == answer


def test_service_refuses_the_tuning(mount):
    """A base model the service does not have: the draft stays a draft, error carries
    the service's reason, and a fixed config is submitted."""
    mount.allow += [r"nobase: the service refused the tuning"]
    os.mkdir(mount.p("nobase"))
    mount.write("nobase", "examples.jsonl", data=EXAMPLES)
    cfg = "base_model = models/no-such-model-1\nepoch_count = 3\n"
    write_and_close(mount.p("nobase", "config"), cfg.encode())
    assert mount.read("nobase", "wait") == "DRAFT\n"
    err = mount.read("nobase", "error")
    assert "refused" in err and "404" in err and "models/no-such-model-1" in err, err
    assert mount.read("nobase", "config") == cfg
    assert mount.read("nobase", "examples.jsonl") == EXAMPLES
    assert remote_status(mount, "nobase") == 404
    mount.write("nobase", "config", data=QUICK_CONFIG)
    assert mount.read("nobase", "wait") == "ACTIVE\n", mount.read("nobase", "error")
    assert mount.read("nobase", "error") == ""


def create_elsewhere(server, name):
    body = {"baseModel": "models/gemini-1.0-pro-001",
            "tuningTask": {"hyperparameters": {"epochCount": 1, "batchSize": 1},
                           "trainingData": {"examples": {"examples": [
                               {"textInput": "x", "output": "y"}]}}}}
    status, op = call(server, "POST", f"/v1beta/tunedModels?tunedModelId={name}", body)
    assert status == 200, op


def test_mkdir_of_a_name_taken_on_the_service(mount):
    create_elsewhere(mount.server, "theirs")
    assert errno_of(os.mkdir, mount.p("theirs")) == errno.EEXIST
    assert mount.read("theirs", "wait") == "ACTIVE\n"  # it is the service's model
    assert "examples.jsonl" not in os.listdir(mount.p("theirs"))


def test_name_taken_elsewhere_before_the_submit(mount):
    """The draft's name was taken on the service meanwhile: 409 is not mistaken for the
    draft's own create; the draft stays, with the reason in error."""
    mount.allow += [r"taken: the service refused the tuning \(HTTP 409"]
    os.mkdir(mount.p("taken"))
    mount.write("taken", "examples.jsonl", data=EXAMPLES)
    create_elsewhere(mount.server, "taken")
    write_and_close(mount.p("taken", "config"), QUICK_CONFIG.encode())
    assert mount.read("taken", "wait") == "DRAFT\n"
    err = mount.read("taken", "error")
    assert "409" in err and "ALREADY_EXISTS" in err, err
    assert mount.read("taken", "config") == QUICK_CONFIG
    assert mount.read("taken", "examples.jsonl") == EXAMPLES
    model = get(mount.server, "/v1beta/tunedModels/taken")[1]
    assert model["tuningTask"]["hyperparameters"]["epochCount"] == 1  # still the other one


def test_prompt_to_a_model_deleted_elsewhere(mount_factory):
    m = mount_factory(opts=["list_ttl=60"])  # the listing still shows it
    m.allow += [r"gone: response: the service answered HTTP 404"]
    m.make_active("gone")
    assert call(m.server, "DELETE", "/v1beta/tunedModels/gone")[0] == 200
    m.write("gone", "prompt", data="1\n")
    assert errno_of(m.read, "gone", "response") == errno.ENOENT
    err = m.read("gone", "error")
    assert err.startswith("response: ") and "404" in err and "NOT_FOUND" in err, err
    assert m.read("gone", "prompt") == "1\n"


# --- the service failing --------------------------------------------------------------


def failing_service(tmp_path, server_factory, mount_factory, name, allow, *faults):
    """An ACTIVE model NAME, then its server restarted with the fault flags, and a mount
    that retries briefly; allow: the log line the failure is expected to write."""
    s = socket_server(tmp_path, server_factory)
    m = mount_factory(server=s, opts=SHORT_RETRIES)
    m.allow += [allow, r"listing tuned models failed"]
    m.make_active(name)
    s.args += list(faults)
    s.restart()
    return s, m


def test_service_answers_503_forever(tmp_path, server_factory, mount_factory):
    s, m = failing_service(tmp_path, server_factory, mount_factory, "flaky",
                           r"flaky: response: the service answered HTTP 503", "--fail-rate", "1")
    assert get(s, "/v1beta/tunedModels/flaky")[0] == 503
    m.write("flaky", "prompt", data="1\n")
    assert errno_of(m.read, "flaky", "response") == errno.EIO
    err = m.read("flaky", "error")
    assert err.startswith("response: ") and "503" in err and "UNAVAILABLE" in err, err
    assert "Input/output error" in cat_fails(m.p("flaky", "response"))
    assert m.read("flaky", "prompt") == "1\n"
    # the model is still there to see, and the next try after recovery works
    assert "flaky" in os.listdir(m.path)
    assert m.read("flaky", "state") == "ACTIVE\n"
    s.args.remove("--fail-rate")
    s.args.remove("1")
    s.restart()
    m.write("flaky", "prompt", data="1\n")
    assert m.read("flaky", "response").endswith("\n")
    assert m.read("flaky", "error") == ""


def cat_fails(path):
    """`cat path` from a shell: its exit status and message."""
    r = subprocess.run(["cat", path], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and r.stdout == "", r
    return r.stderr


def raw_read_errno(path):
    """errno of one os.read of the whole file (Python's buffered read hides EAGAIN)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.read(fd, 1 << 20)
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)
    return 0


def test_service_out_of_quota(tmp_path, server_factory, mount_factory):
    """429 RESOURCE_EXHAUSTED on every try: after the retries, EAGAIN (quota)."""
    s, m = failing_service(tmp_path, server_factory, mount_factory, "quota",
                           r"quota: response: the service answered HTTP 429",
                           "--throttle-rate", "1", "--retry-delay", "1")
    m.write("quota", "prompt", data="1\n")
    assert raw_read_errno(m.p("quota", "response")) == errno.EAGAIN
    err = m.read("quota", "error")
    assert err.startswith("response: ") and "429" in err and "RESOURCE_EXHAUSTED" in err, err
    assert "Resource temporarily unavailable" in cat_fails(m.p("quota", "response"))
    assert m.read("quota", "prompt") == "1\n"


def test_service_drops_every_connection(tmp_path, server_factory, mount_factory):
    s, m = failing_service(tmp_path, server_factory, mount_factory, "dropped",
                           r"dropped: response: no answer from the service", "--drop-rate", "1")
    m.write("dropped", "prompt", data="1\n")
    assert raw_read_errno(m.p("dropped", "response")) == errno.EIO
    err = m.read("dropped", "error")
    assert err.startswith("response: no answer from the service"), err
    assert m.read("dropped", "prompt") == "1\n"


def test_service_down(tmp_path, server_factory, mount_factory):
    s = socket_server(tmp_path, server_factory)
    # a listing older than 0.2 s is refreshed: with the service down, the last one is kept
    m = mount_factory(server=s, opts=SHORT_RETRIES + ["list_ttl=0.2"])
    m.allow += [r"listing tuned models failed", r": response: no answer from the service"]
    m.make_active("offline")
    answer = m.ask("offline", "1")
    os.mkdir(m.p("offline-draft"))
    m.write("offline-draft", "examples.jsonl", data=EXAMPLES)
    s.stop()
    # what is known is still served: the listing, the files, the cached answer
    assert {"offline", "offline-draft"} <= set(os.listdir(m.path))
    r = subprocess.run(["ls", "-l", m.p("offline")], capture_output=True, text=True)
    assert r.returncode == 0 and "response" in r.stdout
    assert m.read("offline", "state") == "ACTIVE\n"
    assert m.read("offline", "response") == answer
    assert m.read("offline-draft", "examples.jsonl") == EXAMPLES
    # a new prompt cannot be answered: EIO, and error says the service is unreachable
    m.write("offline", "prompt", data="5\n")
    assert errno_of(m.read, "offline", "response") == errno.EIO
    err = m.read("offline", "error")
    assert err.startswith("response: ") and "srv.sock" in err, err  # names the service
    assert "Input/output error" in cat_fails(m.p("offline", "response"))
    assert {"offline", "offline-draft"} <= set(os.listdir(m.path))
    assert m.read("offline", "prompt") == "5\n"
    # back up: asked again, the same file answers
    s.start()
    m.write("offline", "prompt", data="5\n")
    assert m.read("offline", "response").endswith("\n")
    assert m.read("offline", "error") == ""


def test_message_clears_when_the_answer_arrives(tmp_path, server_factory, mount_factory):
    s = socket_server(tmp_path, server_factory)
    m = mount_factory(server=s, opts=SHORT_RETRIES)
    m.allow += [r"listing tuned models failed", r": response: no answer from the service"]
    m.make_active("later")
    s.stop()
    m.write("later", "prompt", data="1\n")
    assert errno_of(m.read, "later", "response") == errno.EIO
    assert m.read("later", "error").startswith("response: ")
    s.start()
    # reading again does not ask again (a read never starts a request): it says the
    # failure again; writing the prompt again asks
    assert errno_of(m.read, "later", "response") == errno.EIO
    m.write("later", "prompt", data="1\n")
    assert m.read("later", "response").endswith("\n")
    assert m.read("later", "error") == ""


def test_timeout_leaves_a_message(tmp_path, server_factory, mount_factory):
    """Every answer takes 2.5 s and is a 503: the first try is still waiting for its
    answer when the 2 s bound of -o timeout=2 ends the read (retries, bounded by half of
    it, would end in a 503 of their own before it)."""
    s = socket_server(tmp_path, server_factory)
    m = mount_factory(server=s)
    m.make_active("slowpoke")
    m.opts += ["timeout=2"]
    m.restart()
    m.allow += [r"slowpoke: response: ", r"listing tuned models failed"]
    s.args += ["--latency", "2500", "--fail-rate", "1"]
    s.restart()
    for i in range(2):
        m.write("slowpoke", "prompt", data=f"{i}\n")
        assert errno_of(m.read, "slowpoke", "response") == errno.ETIMEDOUT
        err = ""
        for _ in range(40):  # the message may follow the failed read by a moment
            err = m.read("slowpoke", "error")
            if err:
                break
            time.sleep(0.1)
        assert err.startswith("response: ") and len(err) > 20, (i, err)
        assert m.read("slowpoke", "prompt") == f"{i}\n"


def test_tuning_prepared_while_the_service_is_down(tmp_path, server_factory, mount_factory):
    """mkdir, examples and config with the service gone: nothing is refused or lost, and
    the tuning goes through once the service is back, without writing anything again."""
    s = socket_server(tmp_path, server_factory)
    m = mount_factory(server=s)
    m.allow += [r"listing tuned models failed", r"offline-new: "]
    m.make_active("known")
    s.stop()
    os.mkdir(m.p("offline-new"))
    m.write("offline-new", "examples.jsonl", data=EXAMPLES)
    m.write("offline-new", "config", data=QUICK_CONFIG)
    assert m.read("offline-new", "state") in ("DRAFT\n", "CREATING\n")
    assert m.read("offline-new", "examples.jsonl") == EXAMPLES
    assert m.read("offline-new", "config") == QUICK_CONFIG
    s.start()
    assert m.read("offline-new", "wait") == "ACTIVE\n", m.read("offline-new", "error")
    status, model = get(s, "/v1beta/tunedModels/offline-new")
    assert status == 200 and model["tuningTask"]["hyperparameters"]["epochCount"] == 3
    assert m.read("offline-new", "error") == ""


def test_answer_blocked_by_safety(mount):
    mount.allow += [r"blocked by the safety filter"]
    mount.make_active("guarded")
    mount.write("guarded", "prompt", data="TUNEDFS-BLOCK please\n")
    assert errno_of(mount.read, "guarded", "response") == errno.EACCES
    err = mount.read("guarded", "error")
    assert "blocked" in err and "SAFETY" in err, err
    assert "Permission denied" in cat_fails(mount.p("guarded", "response"))
    assert mount.read("guarded", "prompt") == "TUNEDFS-BLOCK please\n"
    # the blocked answer is stable: the same errno again, and the JSON tells why
    assert errno_of(mount.read, "guarded", "response") == errno.EACCES
    r = json.loads(mount.read("guarded", "response.json"))
    assert r["promptFeedback"]["blockReason"] == "SAFETY"
    # another prompt is answered
    mount.write("guarded", "prompt", data="1\n")
    assert mount.read("guarded", "response").endswith("\n")
    assert mount.read("guarded", "error") == ""
