"""eval/: held-out examples in MODEL/eval/NAME.jsonl are answered at close (through the
answer queue and the response cache) and scored in NAME.result and NAME.out.jsonl; bad
lines fail the close with EINVAL and the line in `error`; a model still training makes a
reader wait (or EAGAIN); the scores survive a remount without a request, and a tree walker
starts none. On the OpenAI and Vertex AI backends too: the scores are those of the answers
that prompts/ and prompt give, asked once each on the backend's own route."""
import errno
import json
import os
import shutil
import subprocess
import time
import urllib.parse

import pytest

from tests.conftest import DATA, read_examples
from tests.fs.backends import OPENAI_KEY, VERTEX, openai
from tests.fs.backends import VERTEX_PARENT as PARENT
from tests.fs.test_openai import CONFIG as OPENAI_CONFIG
from tests.fs.test_openai import top_k_model
from tests.fs.test_tutorial import tutorial_config
from tests.fs.test_vertex import CONFIG as VERTEX_CONFIG


# Where each backend's answers come from, as the server names its routes.
ANSWER_ROUTES = ("tunedModels.generateContent", "tunedModels.streamGenerateContent",
                 "models.generateContent", "tunedModels.batchGenerateContent",
                 "models.batchGenerateContent", "endpoints.generateContent",
                 "endpoints.streamGenerateContent", "batchPredictionJobs.create",
                 "chat.completions", "openai.batches.create")


def answer_requests(server):
    """The requests server took on each route that answers prompts, those with any."""
    st, body, _ = server.request("GET", "/debug/stats")
    assert st == 200
    routes = body.get("routes", {})
    return {r: routes[r]["requests"] for r in ANSWER_ROUTES if routes.get(r, {}).get("requests")}


def new_requests(server, before):
    now = answer_requests(server)
    return {r: n - before.get(r, 0) for r, n in now.items() if n != before.get(r, 0)}


def generations(server):
    return sum(answer_requests(server).values())


def tutorial_model(m, name="number-generator", config=None):
    d = m.p(name)
    os.mkdir(d)
    shutil.copyfile(os.path.join(DATA, "examples.jsonl"), os.path.join(d, "examples.jsonl"))
    m.write(name, "config", data=config or tutorial_config())
    assert m.read(name, "wait") == "ACTIVE\n", m.read(name, "error")
    return d


def result_fields(text):
    head, _, _ = text.partition("worst:")
    out = {}
    for line in head.splitlines():
        k, _, v = line.partition(": ")
        out[k] = float(v) if "." in v else int(v)
    out["worst"] = int(text.split("worst: ")[1].split("\n")[0])
    return out


def check_consistent(result, lines, examples):
    """The two files agree with each other and with the examples they score."""
    f = result_fields(result)
    rows = [json.loads(x) for x in lines.splitlines()]
    assert f["examples"] == len(rows) == len(examples)
    assert [r["input"] for r in rows] == [e["text_input"] for e in examples]
    assert [r["expected"] for r in rows] == [e["output"] for e in examples]
    assert f["exact_match"] == sum(r["match"] for r in rows)
    assert f["normalised_match"] == sum(r["normalised_match"] for r in rows)
    assert f["exact_match"] <= f["normalised_match"] <= f["examples"]
    assert abs(f["exact_match_rate"] - f["exact_match"] / len(rows)) < 1e-4
    assert abs(f["normalised_match_rate"] - f["normalised_match"] / len(rows)) < 1e-4
    mean = sum(r["similarity"] for r in rows) / len(rows)
    assert abs(f["mean_similarity"] - mean) < 1e-3
    for r in rows:
        assert r["match"] == (r["got"] == r["expected"])
        assert 0 <= r["similarity"] <= 1
        assert (r["similarity"] == 1) == r["match"]
    assert f["worst"] == min(10, len(rows) - f["exact_match"])
    return f, rows


def test_tutorial_eval_training_and_held_out(tmp_path, mount_factory, server_factory):
    s = server_factory()
    m = mount_factory(server=s, sub="a")
    d = tutorial_model(m)
    assert "eval" in os.listdir(d)
    train = [json.loads(x) for x in open(os.path.join(DATA, "examples.jsonl")) if x.strip()]
    assert len(train) == 15
    shutil.copyfile(os.path.join(DATA, "examples.jsonl"), os.path.join(d, "eval", "train.jsonl"))
    held = [{"text_input": str(n), "output": str(n + 1)}
            for n in (21, 37, 48, 56, 63, 75, 88, 94, 250, -7)]
    with open(os.path.join(d, "eval", "held.jsonl"), "w") as f:
        f.write("".join(json.dumps(e) + "\n" for e in held))
    result = m.read("number-generator", "eval", "train.result")
    f, rows = check_consistent(result, m.read("number-generator", "eval", "train.out.jsonl"),
                               train)
    assert f["exact_match"] == 15 and f["exact_match_rate"] == 1.0, result
    assert [r["line"] for r in rows] == list(range(1, 16))
    f, rows = check_consistent(m.read("number-generator", "eval", "held.result"),
                               m.read("number-generator", "eval", "held.out.jsonl"), held)
    assert f["examples"] == 10
    assert sorted(os.listdir(os.path.join(d, "eval"))) == [
        "held.jsonl", "held.out.jsonl", "held.result",
        "train.jsonl", "train.out.jsonl", "train.result"]
    assert m.read("number-generator", "error") == ""

    # a tree walker over the mount reads what is kept and asks nothing, and does not wait
    # for a file whose answers cannot come yet (a draft's)
    os.mkdir(m.p("later"))
    m.write("later", "eval", "q.jsonl", data='{"text_input": "1000", "output": "1001"}\n')
    before = generations(s)
    r = subprocess.run(["grep", "-r", "-c", "xyzzy", m.path], capture_output=True, timeout=60)
    assert r.returncode == 1, r.stderr
    found = subprocess.run(["find", m.path], capture_output=True, text=True, check=True,
                           timeout=60).stdout.split()
    assert os.path.join(d, "eval", "held.result") in found
    assert m.p("later", "eval", "q.jsonl") in found
    assert m.p("later", "eval", "q.result") not in found
    assert generations(s) == before

    # the scores survive a remount and are served without a request
    kept = {n: m.read("number-generator", "eval", n)
            for n in ("train.result", "train.out.jsonl", "held.result")}
    m.restart()
    before = generations(s)
    for n, text in kept.items():
        assert m.read("number-generator", "eval", n) == text
    assert generations(s) == before

    # a backup copied out and back in under a new name: the examples come back, the
    # scores are the service's to make again
    backup = tmp_path / "backup"
    subprocess.run(["cp", "-a", d, str(backup)], check=True)
    assert sorted(os.listdir(backup / "eval")) == [
        "held.jsonl", "held.out.jsonl", "held.result",
        "train.jsonl", "train.out.jsonl", "train.result"]
    r = subprocess.run(["cp", "-a", str(backup), m.p("restored")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(m.p("restored", "eval"))) == ["held.jsonl", "train.jsonl"]
    assert m.read("restored", "eval", "held.jsonl") == m.read("number-generator", "eval",
                                                              "held.jsonl")
    tar = tmp_path / "backup.tar"
    subprocess.run(["tar", "-C", d, "-cf", str(tar), "."], check=True)
    os.mkdir(m.p("untarred"))
    r = subprocess.run(["tar", "-C", m.p("untarred"), "-xf", str(tar)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(m.p("untarred", "eval"))) == ["held.jsonl", "train.jsonl"]

    # rm of the file takes its scores; its answers stay in the response cache
    os.unlink(os.path.join(d, "eval", "held.jsonl"))
    assert "held.result" not in os.listdir(os.path.join(d, "eval"))
    with pytest.raises(FileNotFoundError):
        open(os.path.join(d, "eval", "held.result")).read()
    # rm of everything in eval/ (the shell's order: a file before its scores)
    subprocess.run(["cp", os.path.join(d, "eval", "train.jsonl"), str(tmp_path / "t.jsonl")],
                   check=True)
    r = subprocess.run(f"rm {d}/eval/*", shell=True, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.listdir(os.path.join(d, "eval")) == []
    shutil.copyfile(tmp_path / "t.jsonl", os.path.join(d, "eval", "train.jsonl"))
    assert result_fields(m.read("number-generator", "eval", "train.result"))["exact_match"] == 15
    # rm -r of the model passes through eval/ and removes it all
    r = subprocess.run(["rm", "-r", d], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "number-generator" not in os.listdir(m.path)


def test_eval_bad_line_fails_the_close(mount):
    d = mount.make_active("bad")
    text = '{"text_input": "1", "output": "2"}\n{"text_input": "3"\n'
    fd = os.open(os.path.join(d, "eval", "broken.jsonl"), os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, text.encode())
    with pytest.raises(OSError) as e:
        os.close(fd)
    assert e.value.errno == errno.EINVAL
    err = mount.read("bad", "error")
    assert "eval/broken.jsonl: line 2:" in err, err
    assert mount.read("bad", "eval", "broken.jsonl") == text  # kept byte for byte
    with pytest.raises(OSError) as e:
        mount.read("bad", "eval", "broken.result")
    assert e.value.errno == errno.EINVAL
    mount.allow.append("eval/broken.jsonl")


def test_eval_waits_for_a_model_in_training(mount):
    mount.allow.append("eval/q.jsonl: slow is a draft")
    os.mkdir(mount.p("slow"))
    ev = mount.p("slow", "eval", "q.jsonl")
    with open(ev, "w") as f:
        f.write('{"text_input": "1", "output": "2"}\n{"text_input": "3", "output": "4"}\n')
    # a draft: nothing to answer with yet, and it says so
    fd = os.open(mount.p("slow", "eval", "q.result"), os.O_RDONLY)
    try:
        with pytest.raises(OSError) as e:
            os.read(fd, 4096)
    finally:
        os.close(fd)
    assert e.value.errno == errno.EAGAIN
    assert "draft" in mount.read("slow", "error")
    mount.write("slow", "examples.jsonl",
                data='{"text_input": "1", "output": "2"}\n{"text_input": "3", "output": "4"}\n')
    mount.write("slow", "config", data="base_model = models/gemini-1.0-pro-001\n"
                "epoch_count = 40\nbatch_size = 1\n")
    fd = os.open(mount.p("slow", "eval", "q.result"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(BlockingIOError):
            os.read(fd, 4096)
    finally:
        os.close(fd)
    assert mount.read("slow", "state") in ("DRAFT\n", "CREATING\n")
    # a blocking read waits for ACTIVE, then for the answers
    text = mount.read("slow", "eval", "q.result")
    assert mount.read("slow", "state") == "ACTIVE\n"
    assert text.startswith("examples: 2\n"), text


def eval_against_answers(m, config, native, route, direct):
    """The tutorial's model on m's backend scores its 15 examples and 10 held-out ones,
    every other line in the backend's native format, with one request on route per
    input; the scores agree with the answers read through prompts/ and prompt, which
    come from the response cache, and with the service's own answers (direct)."""
    name = "number-generator"
    tutorial_model(m, config=config)
    examples = read_examples() + [{"text_input": str(n), "output": str(n + 1)}
                                  for n in (21, 37, 48, 56, 63, 75, 88, 94, 250, -7)]
    text = "".join(json.dumps(native(e) if i % 2 else e) + "\n" for i, e in enumerate(examples))
    before = answer_requests(m.server)
    m.write(name, "eval", "mixed.jsonl", data=text)
    result = m.read(name, "eval", "mixed.result")
    f, rows = check_consistent(result, m.read(name, "eval", "mixed.out.jsonl"), examples)
    assert [r["line"] for r in rows] == list(range(1, len(examples) + 1))
    assert sorted(os.listdir(m.p(name, "eval"))) == ["mixed.jsonl", "mixed.out.jsonl",
                                                     "mixed.result"]
    inputs = {e["text_input"] for e in examples}
    assert new_requests(m.server, before) == {route: len(inputs)}
    assert m.read(name, "error") == ""

    # the same answers through the spool and through prompt/response, from the cache
    before = answer_requests(m.server)
    for i, e in enumerate(examples):
        m.write(name, "prompts", f"q{i}", data=e["text_input"] + "\n")
    answers = [m.read(name, "responses", f"q{i}") for i in range(len(examples))]
    assert answers == [r["got"] + "\n" for r in rows]
    assert m.ask(name, examples[-1]["text_input"]) == rows[-1]["got"] + "\n"
    assert new_requests(m.server, before) == {}
    exact = sum(a == e["output"] + "\n" for a, e in zip(answers, examples))
    assert f["exact_match"] == exact and 0 < exact < len(examples), result
    # and the service's own answer to each input, asked on its route
    for e, r in zip(examples, rows):
        assert direct(e["text_input"]) == r["got"], (e, r)

    # the scores survive a remount and are served without a request
    m.restart()
    before = answer_requests(m.server)
    assert m.read(name, "eval", "mixed.result") == result
    assert new_requests(m.server, before) == {}


def test_eval_on_openai(mount_factory, server):
    opts, env = openai(server)
    m = mount_factory(server=server, opts=opts, env=env)

    def native(e):
        return {"messages": [{"role": "user", "content": e["text_input"]},
                             {"role": "assistant", "content": e["output"]}]}

    def direct(prompt):
        model = json.loads(m.read("number-generator", "model.json"))["fine_tuned_model"]
        assert model.startswith("ft:"), model
        body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
        st, out, _ = server.request("POST", "/v1/chat/completions", body,
                                    headers={"Authorization": "Bearer " + OPENAI_KEY})
        assert st == 200, out
        return out["choices"][0]["message"]["content"]

    eval_against_answers(m, OPENAI_CONFIG, native, "chat.completions", direct)


def test_eval_on_vertex(mount_factory):
    m = mount_factory(opts=VERTEX)

    def native(e):
        return {"contents": [{"role": "user", "parts": [{"text": e["text_input"]}]},
                             {"role": "model", "parts": [{"text": e["output"]}]}]}

    def direct(prompt):
        endpoint = json.loads(m.read("number-generator", "model.json"))["tunedModel"]["endpoint"]
        body = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
        st, out, _ = m.server.request("POST", f"/v1/{endpoint}:generateContent", body,
                                      headers={"Authorization": "Bearer test-token"})
        assert st == 200, out
        return "".join(p.get("text", "") for p in out["candidates"][0]["content"]["parts"])

    eval_against_answers(m, VERTEX_CONFIG, native, "endpoints.streamGenerateContent", direct)


def test_vertex_validation_examples_reach_the_job_and_its_loss_shows(mount_factory):
    m = mount_factory(opts=VERTEX)
    os.mkdir(m.p("val"))
    held = [{"text_input": str(n), "output": str(n + 1)} for n in (21, 37, 48)]
    m.write("val", "eval", "held.jsonl", data="".join(json.dumps(e) + "\n" for e in held))
    shutil.copyfile(os.path.join(DATA, "examples.jsonl"), m.p("val", "examples.jsonl"))
    m.write("val", "config", data="base_model = gemini-2.5-flash\nepoch_count = 3\n"
            "validation_examples = eval/held.jsonl\n")
    assert m.read("val", "wait") == "ACTIVE\n", m.read("val", "error")
    st, page, _ = m.server.request("GET", f"/v1/{PARENT}/tuningJobs",
                                   headers={"Authorization": "Bearer test-token"})
    [job] = [j for j in page["tuningJobs"] if j["labels"].get("tunedfs-name") == "val"]
    uri = job["supervisedTuningSpec"]["validationDatasetUri"]
    assert uri.startswith("gs://bkt/tunedfs/val/validation-"), uri
    runs = job["evaluateDatasetRuns"]
    assert [r["checkpointId"] for r in runs] == ["1", "2", "3"]
    losses = [r["evaluateDatasetResponse"]["aggregationOutput"]["aggregationResults"][0]
              ["pointwiseMetricResult"]["score"] for r in runs]
    progress = m.read("val", "progress").splitlines()
    shown = [line for line in progress if line.startswith("evaluation checkpoint ")]
    assert len(shown) == 3, progress
    for i, line in enumerate(shown):
        _, _, ckpt, metric, value = line.split()
        assert (ckpt, metric) == (str(i + 1), "validation_loss")
        assert abs(float(value) - losses[i]) < 1e-4
    # the set is in the bucket until the model goes, and goes with it
    obj = "/storage/v1/b/bkt/o/" + urllib.parse.quote(uri[len("gs://bkt/"):], safe="")
    bearer = {"Authorization": "Bearer test-token"}
    assert m.server.request("GET", obj, headers=bearer)[0] == 200
    subprocess.run(["rm", "-r", m.p("val")], check=True)
    assert m.server.request("GET", obj, headers=bearer)[0] == 404


def test_validation_examples_elsewhere_is_a_config_error(mount_factory):
    m = mount_factory()
    m.allow.append("validation_examples")
    os.mkdir(m.p("nov"))
    m.write("nov", "eval", "held.jsonl", data='{"text_input": "1", "output": "2"}\n')
    shutil.copyfile(os.path.join(DATA, "examples.jsonl"), m.p("nov", "examples.jsonl"))
    m.write("nov", "config", data="base_model = models/gemini-1.0-pro-001\nepoch_count = 1\n"
            "validation_examples = held.jsonl\n")
    assert m.read("nov", "wait") == "DRAFT\n"
    err = m.read("nov", "error")
    assert "config: validation_examples: the gemini backend takes no validation set" in err, err


def test_eval_on_a_failed_model_names_the_failure(mount_factory):
    m = mount_factory(opts=VERTEX)
    m.allow.append("eval/q.jsonl: broken failed")
    lines = json.dumps({"contents": [{"role": "user", "parts": [{"text": "1"}]},
                                     {"role": "model", "parts": [{"text": "2"}]}]}) + \
        '\n{"contents": [{"role": "user"}]}\n'
    q = urllib.parse.urlencode({"uploadType": "media", "name": "bad.jsonl"})
    bearer = {"Authorization": "Bearer test-token"}
    st, _, _ = m.server.request("POST", f"/upload/storage/v1/b/bkt/o?{q}", raw=lines.encode(),
                                headers=bearer)
    assert st == 200
    body = {"baseModel": "gemini-2.5-flash", "labels": {"tunedfs-name": "broken"},
            "supervisedTuningSpec": {"trainingDatasetUri": "gs://bkt/bad.jsonl"}}
    st, job, _ = m.server.request("POST", f"/v1/{PARENT}/tuningJobs", body, headers=bearer)
    assert st == 200, job
    deadline = time.time() + 60
    while not ("broken" in os.listdir(m.path) and m.read("broken", "state") == "FAILED\n"):
        assert time.time() < deadline
        time.sleep(0.1)
    m.write("broken", "eval", "q.jsonl", data='{"text_input": "1", "output": "2"}\n')
    with pytest.raises(OSError) as e:
        m.read("broken", "eval", "q.result")
    assert e.value.errno == errno.EINVAL
    err = m.read("broken", "error")
    assert "eval/q.jsonl: broken failed" in err and "line 2" in err, err


def test_an_answer_that_fails_names_the_eval_file_and_line(mount_factory, server):
    """An item whose answer cannot be asked (top_k, which OpenAI has not): reading the
    result fails with EINVAL, and `error` says which eval file and line, and why."""
    m = top_k_model(mount_factory, server)
    m.write("gen", "eval", "q.jsonl", data='\n{"text_input": "1", "output": "2"}\n'
            '{"text_input": "2", "output": "3"}\n')
    with pytest.raises(OSError) as e:
        m.read("gen", "eval", "q.result")
    err = m.read("gen", "error")
    assert e.value.errno == errno.EINVAL, (e.value, err)
    assert err.startswith("eval/q.jsonl: line 2: ") and "top_k" in err, err


def test_vertex_validation_examples_must_be_there(mount_factory):
    m = mount_factory(opts=VERTEX)
    m.allow.append("validation_examples")
    os.mkdir(m.p("miss"))
    shutil.copyfile(os.path.join(DATA, "examples.jsonl"), m.p("miss", "examples.jsonl"))
    m.write("miss", "config", data="base_model = gemini-2.5-flash\nepoch_count = 1\n"
            "validation_examples = nothere\n")
    assert m.read("miss", "wait") == "DRAFT\n"
    assert "validation_examples: eval/nothere.jsonl is not there" in m.read("miss", "error")
