"""Spools sent as one batch job of the service (-o batch_min=N): N or more prompts waiting
at once go as one batch instead of N online calls, every answer equal to the online one
and cached like it; responses/batch says the job, its state, counts and cost in tokens; a
batch the service fails part-way leaves the rest to online calls (the reason in error); a
mount killed during a batch follows it again after a remount instead of sending it anew.
Small spools here (CI time); the 1,000-prompt form is tests/bench/batch.py and the
TUNEDFS_SLOW_TESTS=1 parameter below."""
import errno
import glob
import json
import os
import shutil
import subprocess
import urllib.parse

import pytest

from tests.conftest import DATA, binary, until, direct


def routes(server):
    st, body, _ = server.request("GET", "/debug/stats")
    assert st == 200, body
    return {k: v["requests"] for k, v in body.get("routes", {}).items()}


def count(server, word):
    return sum(v for k, v in routes(server).items() if word in k)


def online(server):
    """Online answers the server gave (streamed or not); batches are not counted."""
    return sum(v for k, v in routes(server).items()
               if k.endswith(("generateContent", "GenerateContent")) and "batch" not in k)



def batch_server(server_factory, *args):
    """A server for a batch test (its batch jobs are on by default)."""
    return server_factory(*args)



def fields(text):
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def spool_in(tmp_path, m, model, n):
    inputs = tmp_path / f"in-{model}"
    inputs.mkdir()
    for i in range(n):
        (inputs / f"p{i:04d}").write_text(f"{i}\n")
    r = subprocess.run(f"cp {inputs}/* {m.p(model, 'prompts')}/", shell=True)
    assert r.returncode == 0
    return [f"p{i:04d}" for i in range(n)]


def read_all(m, model, names):
    return {n: m.read(model, "responses", n) for n in names}


SLOW = pytest.mark.skipif(not os.environ.get("TUNEDFS_SLOW_TESTS"),
                          reason="the issue's full size: set TUNEDFS_SLOW_TESTS=1")


def test_a_batch_over_the_inline_bound_goes_as_an_uploaded_file(tmp_path, mount_factory,
                                                                server_factory):
    s = batch_server(server_factory)
    m = mount_factory(server=s, opts=["batch_min=30", "batch_inline_max=1000"])
    m.make_active("bf")
    before = online(s)
    names = spool_in(tmp_path, m, "bf", 60)
    got = read_all(m, "bf", names)
    assert count(s, "batchGenerateContent") == 1
    assert count(s, "media.upload") == 2  # the session, then one upload+finalize chunk
    assert online(s) == before
    wrong = [k for k in names if got[k] != direct(s, "bf", str(int(k[1:]))) + "\n"]
    assert wrong == []
    st = fields(m.read("bf", "responses", "batch"))
    assert st["state"] == "SUCCEEDED"
    assert (st["done"], st["failed"], st["total"]) == ("60", "0", "60")
    # the batch read the uploaded file, deleted once the results were read
    code, op, _ = s.request("GET", "/v1beta/" + st["job"])
    assert code == 200, op
    file = op["metadata"]["inputConfig"]["fileName"]
    assert file.startswith("files/")
    assert until(lambda: count(s, "gemini.files.delete") == 1, timeout=10)
    assert s.request("GET", "/v1beta/" + file)[0] == 404


@pytest.mark.parametrize("value", ["20971521", "-1"])
def test_batch_inline_max_over_the_service_bound_is_refused(tmp_path, value):
    r = subprocess.run([binary("tunedfs"), "-f", "-o", "batch_min=30,batch_inline_max=" + value,
                        str(tmp_path)], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "batch_inline_max must be from 1 to 20971520" in r.stderr


@pytest.mark.parametrize("n,batch_min", [(200, 100), pytest.param(1000, 100, marks=SLOW)])
def test_a_spool_goes_as_one_batch(tmp_path, mount_factory, server_factory, n, batch_min):
    s = batch_server(server_factory)
    m = mount_factory(server=s, opts=[f"batch_min={batch_min}"])
    m.make_active("bt")
    before = online(s)
    names = spool_in(tmp_path, m, "bt", n)
    got = read_all(m, "bt", names)
    assert count(s, "batchGenerateContent") == 1
    # no prompt of the spool went online
    assert online(s) == before
    wrong = [k for k in names if got[k] != direct(s, "bt", str(int(k[1:]))) + "\n"]
    assert wrong == []
    st = fields(m.read("bt", "responses", "batch"))
    assert st["job"].startswith("batches/")
    assert st["state"] == "SUCCEEDED"
    assert (st["done"], st["failed"], st["total"]) == (str(n), "0", str(n))
    assert int(st["tokens"]) > 0
    assert st["cost online"] == f"{st['tokens']} tokens"
    assert "batch" in os.listdir(m.p("bt", "responses"))
    # answers are cached: a remount reads them without a request
    m.unmount()
    m.start()
    before = count(s, "enerateContent")
    assert read_all(m, "bt", names[:20]) == {k: got[k] for k in names[:20]}
    assert count(s, "enerateContent") == before


def test_fewer_than_batch_min_go_online(tmp_path, mount_factory, server_factory):
    s = batch_server(server_factory)
    m = mount_factory(server=s, opts=["batch_min=50"])
    m.make_active("few")
    names = spool_in(tmp_path, m, "few", 10)
    got = read_all(m, "few", names)
    assert count(s, "batchGenerateContent") == 0
    assert got["p0003"] == direct(s, "few", "3") + "\n"
    assert not os.path.exists(m.p("few", "responses", "batch"))


def test_a_prompt_named_batch_keeps_its_answer(tmp_path, mount_factory, server_factory):
    s = batch_server(server_factory)
    m = mount_factory(server=s, opts=["batch_min=4"])
    m.make_active("nm")
    names = spool_in(tmp_path, m, "nm", 6)
    m.write("nm", "prompts", "batch", data="7\n")
    read_all(m, "nm", names)
    assert m.read("nm", "responses", "batch") == direct(s, "nm", "7") + "\n"
    assert fields(m.read("nm", "responses", ".batch"))["state"] == "SUCCEEDED"


def test_a_batch_failed_part_way_ends_online(tmp_path, mount_factory, server_factory):
    s = batch_server(server_factory, "--fail-batch-after", "10")
    m = mount_factory(server=s, opts=["batch_min=20"])
    m.allow.append(r"batch: .* FAILED")
    m.make_active("fl")
    names = spool_in(tmp_path, m, "fl", 40)
    got = read_all(m, "fl", names)
    assert count(s, "batchGenerateContent") == 1
    wrong = [k for k in names if got[k] != direct(s, "fl", str(int(k[1:]))) + "\n"]
    assert wrong == []
    st = fields(m.read("fl", "responses", "batch"))
    assert st["state"] == "FAILED"
    assert 0 < int(st["online"].split()[0]) <= 40
    assert "FAILED" in m.read("fl", "error") and "online" in m.read("fl", "error")


def test_kill9_during_a_batch_follows_it_again(tmp_path, mount_factory, server_factory):
    s = batch_server(server_factory, "--batch-workers", "1", "--latency", "30")
    m = mount_factory(server=s, opts=["batch_min=10"])
    m.make_active("k9")
    names = spool_in(tmp_path, m, "k9", 30)
    assert until(lambda: count(s, "batchGenerateContent") == 1, timeout=20)
    m.kill9()
    m.start()
    got = read_all(m, "k9", names)
    assert count(s, "batchGenerateContent") == 1  # followed again, not sent anew
    assert "of the last mount followed again" in m.stderr()
    assert got["p0017"] == direct(s, "k9", "17") + "\n"
    assert fields(m.read("k9", "responses", "batch"))["state"] == "SUCCEEDED"


def test_batch_min_1_is_refused(tmp_path):
    r = subprocess.run([binary("tunedfs"), "-f", "-o", "batch_min=1", str(tmp_path)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "batch_min must be from 2" in r.stderr


OPENAI_KEY = "sk-tunedfs-test-key"


def openai_direct(server, model, prompt):
    st, out, _ = server.request(
        "POST", "/v1/chat/completions", headers={"Authorization": "Bearer " + OPENAI_KEY},
        body={"model": model, "messages": [{"role": "user", "content": prompt}]})
    assert st == 200, out
    return out["choices"][0]["message"]["content"]


def test_an_openai_spool_goes_as_one_batch(tmp_path, mount_factory, server_factory):
    s = batch_server(server_factory)
    env = dict(os.environ, OPENAI_API_KEY=OPENAI_KEY)
    m = mount_factory(server=s, env=env,
                      opts=["backend=openai", "endpoint=" + s.url + "/v1", "batch_min=30"])
    os.mkdir(m.p("oa"))
    shutil.copyfile(os.path.join(DATA, "examples.jsonl"), m.p("oa", "examples.jsonl"))
    m.write("oa", "config", data="base_model = gpt-4.1-mini-2025-04-14\nepoch_count = 2\n")
    assert m.read("oa", "wait") == "ACTIVE\n", m.read("oa", "error")
    model = json.loads(m.read("oa", "model.json"))["fine_tuned_model"]
    chats = count(s, "chat")
    names = spool_in(tmp_path, m, "oa", 60)
    got = read_all(m, "oa", names)
    assert count(s, "batches.create") == 1
    assert count(s, "chat") == chats  # none went online
    wrong = [k for k in names if got[k] != openai_direct(s, model, str(int(k[1:]))) + "\n"]
    assert wrong == []
    st = fields(m.read("oa", "responses", "batch"))
    assert st["state"] == "SUCCEEDED"
    assert (st["done"], st["failed"], st["total"]) == ("60", "0", "60")
    assert int(st["tokens"]) > 0
    # its input and output files are deleted once the answers are in
    auth = {"Authorization": "Bearer " + OPENAI_KEY}
    code, job, _ = s.request("GET", "/v1/batches/" + st["job"], headers=auth)
    assert code == 200, job
    for f in ("input_file_id", "output_file_id"):
        assert until(lambda: s.request("GET", "/v1/files/" + job[f], headers=auth)[0] == 404,
                     timeout=10), f


VERTEX = ["backend=vertex", "project=test-proj", "bucket=bkt", "token_command=echo test-token"]


def vertex_direct(server, endpoint, prompt):
    st, out, _ = server.request(
        "POST", f"/v1/{endpoint}:generateContent", headers={"Authorization": "Bearer test-token"},
        body={"contents": [{"role": "user", "parts": [{"text": prompt}]}]})
    assert st == 200, out
    return "".join(p.get("text", "") for p in out["candidates"][0]["content"]["parts"])


def bucket_objects(server, prefix):
    """The names under prefix in the server's bucket, asked through its Cloud Storage list."""
    st, body, _ = server.request(
        "GET", "/storage/v1/b/bkt/o?prefix=" + urllib.parse.quote(prefix, safe=""),
        headers={"Authorization": "Bearer test-token"})
    assert st == 200, body
    return [o["name"] for o in body.get("items", [])]


def test_a_vertex_spool_goes_as_one_batch(tmp_path, mount_factory, server_factory):
    s = batch_server(server_factory)
    m = mount_factory(server=s, opts=VERTEX + ["batch_min=30"])
    os.mkdir(m.p("vx"))
    shutil.copyfile(os.path.join(DATA, "examples.jsonl"), m.p("vx", "examples.jsonl"))
    m.write("vx", "config", data="base_model = gemini-2.5-flash\nepoch_count = 2\n")
    assert m.read("vx", "wait") == "ACTIVE\n", m.read("vx", "error")
    endpoint = json.loads(m.read("vx", "model.json"))["tunedModel"]["endpoint"]
    before = online(s)
    names = spool_in(tmp_path, m, "vx", 60)
    got = read_all(m, "vx", names)
    assert count(s, "batchPredictionJobs.create") == 1
    assert online(s) == before  # none went online
    wrong = [k for k in names if got[k] != vertex_direct(s, endpoint, str(int(k[1:]))) + "\n"]
    assert wrong == []
    st = fields(m.read("vx", "responses", "batch"))
    assert st["job"].startswith("projects/test-proj/locations/us-central1/batchPredictionJobs/")
    assert st["state"] == "SUCCEEDED"
    assert (st["done"], st["failed"], st["total"]) == ("60", "0", "60")
    assert int(st["tokens"]) > 0
    # its input and output objects are deleted once the answers are in
    assert until(lambda: bucket_objects(s, "tunedfs/vx/batch-") == [], timeout=10)
    assert count(s, "objects.delete") >= 2


def active_on(m, backend, name):
    """An ACTIVE model on backend: the function giving a prompt's online answer, and the
    server route that creates a batch."""
    s = m.server
    if backend == "gemini":
        m.make_active(name)
        return (lambda p: direct(s, name, p)), "batchGenerateContent"
    os.mkdir(m.p(name))
    shutil.copyfile(os.path.join(DATA, "examples.jsonl"), m.p(name, "examples.jsonl"))
    base = "gpt-4.1-mini-2025-04-14" if backend == "openai" else "gemini-2.5-flash"
    m.write(name, "config", data=f"base_model = {base}\nepoch_count = 2\n")
    assert m.read(name, "wait") == "ACTIVE\n", m.read(name, "error")
    job = json.loads(m.read(name, "model.json"))
    if backend == "openai":
        return (lambda p: openai_direct(s, job["fine_tuned_model"], p)), "batches.create"
    return ((lambda p: vertex_direct(s, job["tunedModel"]["endpoint"], p)),
            "batchPredictionJobs.create")


def mount_on(mount_factory, s, backend, opts):
    if backend == "openai":
        return mount_factory(server=s, env=dict(os.environ, OPENAI_API_KEY=OPENAI_KEY),
                             opts=["backend=openai", "endpoint=" + s.url + "/v1"] + opts)
    return mount_factory(server=s, opts=(VERTEX if backend == "vertex" else []) + opts)


@pytest.mark.parametrize("backend", ["openai", "vertex"])
def test_a_failed_batch_ends_online_on(tmp_path, mount_factory, server_factory, backend):
    s = batch_server(server_factory, "--fail-batch-after", "5")
    m = mount_on(mount_factory, s, backend, ["batch_min=10"])
    m.allow.append(r"batch: .* FAILED")
    answer, _ = active_on(m, backend, "fb")
    names = spool_in(tmp_path, m, "fb", 20)
    got = read_all(m, "fb", names)
    assert [k for k in names if got[k] != answer(str(int(k[1:]))) + "\n"] == []
    assert fields(m.read("fb", "responses", "batch"))["state"] == "FAILED"
    assert "online" in m.read("fb", "error")


@pytest.mark.parametrize("backend", ["openai", "vertex"])
def test_kill9_during_a_batch_on(tmp_path, mount_factory, server_factory, backend):
    s = batch_server(server_factory, "--batch-workers", "1", "--latency", "50")
    m = mount_on(mount_factory, s, backend, ["batch_min=10"])
    answer, route = active_on(m, backend, "kb")
    names = spool_in(tmp_path, m, "kb", 20)
    assert until(lambda: count(s, route) == 1, timeout=20)
    m.kill9()
    m.start()
    got = read_all(m, "kb", names)
    assert count(s, route) == 1  # followed again, not sent anew
    assert "of the last mount followed again" in m.stderr()
    assert got["p0013"] == answer("13") + "\n"


def batch_job(s, backend, name):
    """The server's batch job name as the mount's responses/batch says it, and its state."""
    if backend == "gemini":
        st, op, _ = s.request("GET", "/v1beta/" + name)
        assert st == 200, op
        return op["metadata"]["state"]
    auth = {"Authorization": "Bearer " + (OPENAI_KEY if backend == "openai" else "test-token")}
    st, job, _ = s.request("GET", ("/v1/batches/" if backend == "openai" else "/v1/") + name,
                           headers=auth)
    assert st == 200, job
    return job["status" if backend == "openai" else "state"]


CANCEL = {"gemini": ("batches.cancel", "BATCH_STATE_CANCELLED"),
          "vertex": ("batchPredictionJobs.cancel", "JOB_STATE_CANCELLED"),
          "openai": ("batches.cancel", "cancelled")}


def slow_batch(server_factory, mount_factory, backend, name, ms=200, online_fails=True):
    """A mount whose model name has a batch of 20 prompts running (ms milliseconds an item,
    one at a time; online answers failing unless told): the mount, the server and the
    batch's name."""
    faults = ["--fault-routes",
              "tunedModels.generateContent,endpoints.generateContent,chat.completions"]
    s = batch_server(server_factory, "--batch-workers", "1", "--latency", str(ms),
                     *(faults if online_fails else []))
    m = mount_on(mount_factory, s, backend, ["batch_min=10"])
    _, route = active_on(m, backend, name)
    names = [f"p{i:04d}" for i in range(20)]
    for k in names:
        with open(os.path.join(m.base, k), "w") as f:
            f.write(f"{k}\n")
    assert subprocess.run(f"cp {m.base}/p0* {m.p(name, 'prompts')}/", shell=True).returncode == 0
    assert until(lambda: count(s, route) == 1, timeout=20)
    job = until(lambda: [j for j in [fields(m.read(name, "responses", "batch"))["job"]]
                         if not j.startswith("tunedfs-")], timeout=10)
    assert job
    assert batch_job(s, backend, job[0]) not in CANCEL[backend][1:]
    return m, s, job[0]


def notes(m):
    return glob.glob(os.path.join(m.data_dir, "**", "n-*"), recursive=True)


@pytest.mark.parametrize("backend", ["gemini", "vertex"])
def test_rm_r_of_a_model_cancels_its_running_batch(mount_factory, server_factory, backend):
    m, s, job = slow_batch(server_factory, mount_factory, backend, "rr")
    assert notes(m)
    asked = online(s) + count(s, "chat.completions")
    r = subprocess.run(["rm", "-r", m.p("rr")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(m.p("rr"))
    route, state = CANCEL[backend]
    assert count(s, route) == 1
    assert until(lambda: batch_job(s, backend, job) == state, timeout=10)  # the item under way ends
    assert f"batch {job} cancelled: its prompts were removed" in m.stderr()
    assert notes(m) == []
    assert online(s) + count(s, "chat.completions") == asked  # nothing went online instead
    if backend == "vertex":  # what the batch stored is deleted once it has stopped
        assert until(lambda: bucket_objects(s, "tunedfs/rr/batch-") == [], timeout=10)


def test_rm_of_the_prompts_cancels_the_batch_and_keeps_the_model(mount_factory,
                                                                server_factory):
    m, s, job = slow_batch(server_factory, mount_factory, "openai", "rp")
    asked = count(s, "chat.completions")
    r = subprocess.run(f"rm {m.p('rp', 'prompts')}/*", shell=True, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert until(lambda: count(s, "batches.cancel") == 1, timeout=10)
    assert until(lambda: batch_job(s, "openai", job) == "cancelled", timeout=10)
    assert until(lambda: notes(m) == [], timeout=10)
    assert m.read("rp", "state") == "ACTIVE\n"
    assert fields(m.read("rp", "responses", "batch"))["state"] == "CANCELLED"
    assert os.listdir(m.p("rp", "prompts")) == []
    assert count(s, "chat.completions") == asked
    # the files the batch stored are deleted once it has stopped (before the unmount,
    # which would cut the deletes short and log them as not done)
    auth = {"Authorization": "Bearer " + OPENAI_KEY}
    code, b, _ = s.request("GET", "/v1/batches/" + job, headers=auth)
    assert code == 200 and b["input_file_id"], b
    for f in [b.get(k) for k in ("input_file_id", "output_file_id", "error_file_id")]:
        assert not f or until(lambda: s.request("GET", "/v1/files/" + f, headers=auth)[0]
                              == 404, timeout=10), f


def test_a_renamed_prompt_keeps_its_batch(mount_factory, server_factory):
    m, s, job = slow_batch(server_factory, mount_factory, "gemini", "mv", ms=80)
    for k in sorted(os.listdir(m.p("mv", "prompts")))[:-1]:
        os.unlink(m.p("mv", "prompts", k))
    os.rename(m.p("mv", "prompts", "p0019"), m.p("mv", "prompts", "last"))
    assert m.read("mv", "responses", "last") == direct(s, "mv", "p0019") + "\n"
    assert count(s, "batches.cancel") == 0
    assert fields(m.read("mv", "responses", "batch"))["state"] == "SUCCEEDED"


def test_prompts_removed_while_they_gather_are_not_sent(tmp_path, mount_factory, server_factory):
    s = batch_server(server_factory)
    m = mount_factory(server=s, opts=["batch_min=10"])
    m.make_active("rg")
    before = online(s)
    spool_in(tmp_path, m, "rg", 20)
    # well within the second the prompts wait for others to join them
    assert subprocess.run(f"rm {m.p('rg', 'prompts')}/*", shell=True).returncode == 0
    assert until(lambda: os.path.exists(m.p("rg", "responses", "batch")) and
                 fields(m.read("rg", "responses", "batch"))["state"] == "CANCELLED", timeout=10)
    assert count(s, "batchGenerateContent") == 0 and count(s, "batches") == 0
    assert online(s) == before
    assert notes(m) == []


def prompt_reader(m, name, text):
    """A shell that writes text to name's `prompt` and reads `response`, waiting on the
    running batch that has the same text; its prompt is in when this returns."""
    reader = subprocess.Popen(["sh", "-c", f"echo {text} > {m.p(name, 'prompt')} && "
                               f"cat {m.p(name, 'response')}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert until(lambda: m.read(name, "prompt") == text + "\n", timeout=10)
    return reader


def test_a_prompt_waiting_on_a_cancelled_batch_is_answered_online(mount_factory,
                                                                  server_factory):
    """`prompt` asked the text of one of a running batch's prompts, so it waits on the
    batch's answer; when the prompts are removed the batch is cancelled and that one text
    alone is asked online."""
    m, s, _ = slow_batch(server_factory, mount_factory, "gemini", "pw", online_fails=False)
    asked = online(s)
    reader = prompt_reader(m, "pw", "p0017")
    r = subprocess.run(f"rm {m.p('pw', 'prompts')}/*", shell=True, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    out, err = reader.communicate(timeout=30)
    assert reader.returncode == 0, err
    assert out == direct(s, "pw", "p0017") + "\n"
    assert count(s, "batches.cancel") == 1
    assert online(s) == asked + 2  # the reader's, and the one this test asked to compare
    assert fields(m.read("pw", "responses", "batch"))["state"] == "CANCELLED"


def test_a_prompt_waiting_when_its_model_is_removed_is_told(mount_factory, server_factory):
    """rm -r of the model a `prompt` reader waits on: its read fails with ECANCELED rather
    than giving an empty answer as if it were complete."""
    m, s, _ = slow_batch(server_factory, mount_factory, "gemini", "pr", online_fails=False)
    reader = prompt_reader(m, "pr", "p0017")
    r = subprocess.run(["rm", "-r", m.p("pr")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    out, err = reader.communicate(timeout=30)
    assert reader.returncode != 0 and out == "", (out, err)
    assert os.strerror(errno.ECANCELED) in err, err
