"""A draft's `estimate` on a real mount against tunedfs-server: the tutorial's figures
match the server's own countTokens (asked directly, counted in its stats), every warning,
the Vertex and OpenAI backends, one count however often the file is read, none from
`find`/`grep -r` over the mount, and the cost line."""
import errno
import json
import os
import shutil
import subprocess

from tests.conftest import read_examples
from tests.fs.conftest import DATA

# a submit far away: the drafts stay drafts, nothing trains
HOLD = "submit_delay=600"
CONFIG = "base_model = models/tunedfs-local-1\nepoch_count = 3\n"


def counts(server, route):
    st, body, _ = server.request("GET", "/debug/stats")
    assert st == 200, body
    return body["routes"].get(route, {}).get("requests", 0)


def fields(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("- "):
            continue
        k, _, v = line.partition(": ")
        out[k] = v
    return out


def warnings(text):
    return [line[2:] for line in text.splitlines() if line.startswith("- ")]


def lines(examples):
    return "".join(json.dumps(e) + "\n" for e in examples)


def server_count(server, e):
    body = {"contents": [{"role": "user", "parts": [{"text": e["text_input"]}]},
                         {"role": "model", "parts": [{"text": e["output"]}]}]}
    st, c, _ = server.request("POST", "/v1beta/models/tunedfs-local-1:countTokens", body)
    assert st == 200, c
    return c["totalTokens"]


def test_tutorial_counts_match_the_servers(mount_factory, server):
    m = mount_factory(server=server, opts=[HOLD])
    d = m.p("numbers")
    os.mkdir(d)
    assert not os.path.exists(os.path.join(d, "estimate"))  # no examples yet
    shutil.copyfile(os.path.join(DATA, "examples.jsonl"), os.path.join(d, "examples.jsonl"))
    m.write("numbers", "config", data=CONFIG)
    assert "estimate" not in os.listdir(d)  # opened by name, never listed
    text = m.read("numbers", "estimate")
    f = fields(text)
    assert counts(server, "models.countTokens") == 1, text
    ex = read_examples()
    per = sorted(server_count(server, e) for e in ex)
    assert f["backend"] == "gemini"
    assert f["examples"] == "15"
    assert int(f["characters"]) == sum(len(e["text_input"]) + len(e["output"]) for e in ex)
    assert int(f["tokens"]) == sum(per)
    assert f["tokens_counted_by"] == "service (countTokens on models/tunedfs-local-1)"
    assert int(f["tokens_per_example_min"]) == per[0]
    assert int(f["tokens_per_example_median"]) == per[7]
    assert int(f["tokens_per_example_max"]) == per[-1]
    assert f["epochs"] == "3" and f["epochs_from"] == "config"
    assert int(f["billable_tokens"]) == 3 * sum(per)
    assert "cost" not in f
    # fewer than the Gemini API's 20; and "four" starts "fourteen", "two" "two hundred one"
    prefixes = sorted(f"output of line {i + 1} is a prefix of the output of line {j + 1}"
                      for i, a in enumerate(ex) for j, b in enumerate(ex)
                      if b["output"].startswith(a["output"]) and a["output"] != b["output"])
    w = warnings(text)
    assert w[0] == "only 15 examples: the gemini backend needs at least 20 (Gemini API " \
        "tuning guide)", text
    assert sorted(w[1:]) == prefixes and len(prefixes) == 3, text
    # read again, and by another process: the count is kept
    assert m.read("numbers", "estimate") == text
    out = subprocess.run(["cat", os.path.join(d, "estimate")], capture_output=True, text=True,
                         check=True).stdout
    assert out == text
    assert counts(server, "models.countTokens") == 1 + 15  # the 15 this test asked itself


def test_tree_walkers_start_no_count(mount_factory, server):
    m = mount_factory(server=server, opts=[HOLD])
    m.make_draft("walked", config=CONFIG)
    subprocess.run(["find", m.path], capture_output=True, check=True)
    subprocess.run(["grep", "-r", "-e", "anything", m.path], capture_output=True)
    subprocess.run(["ls", "-lR", m.path], capture_output=True, check=True)
    subprocess.run(["du", "-a", m.path], capture_output=True, check=True)
    assert counts(server, "models.countTokens") == 0
    st = os.stat(m.p("walked", "estimate"))  # a stat by name counts nothing either
    assert st.st_mode & 0o222 == 0
    assert counts(server, "models.countTokens") == 0
    assert fields(m.read("walked", "estimate"))["examples"] == "3"
    assert counts(server, "models.countTokens") == 1


def test_every_warning(mount_factory, server):
    m = mount_factory(server=server, opts=[HOLD])
    ex = [{"text_input": f"in {i}", "output": f"out {i}"} for i in range(20)]
    ex[3] = dict(ex[2])  # line 4 repeats line 3
    ex[6] = {"text_input": "in 5", "output": "other"}  # line 7: the input of line 6
    ex[9] = {"text_input": "in 9", "output": "out 1"}  # "out 1" prefixes "out 10".."out 19"
    m.make_draft("warned", examples=ex, config=CONFIG)
    w = warnings(m.read("warned", "estimate"))
    assert "duplicate: line 4 repeats line 3" in w, w
    assert "same input, different outputs: lines 6, 7" in w, w
    assert "output of line 2 is a prefix of the output of line 11" in w, w
    assert not any(x.startswith("only ") for x in w), w  # 20 is enough
    # examples.jsonl that does not parse: no estimate
    m.allow.append(r"examples\.jsonl: line 1")
    try:
        with open(m.p("warned", "examples.jsonl"), "w") as f:
            f.write("not json\n")
        raise AssertionError("bad examples taken")
    except OSError as e:
        assert e.errno == errno.EINVAL
    assert not os.path.exists(m.p("warned", "estimate"))


def test_vertex_counts_on_the_base_model_and_warns_of_long_examples(mount_factory, server):
    opts = ["backend=vertex", "project=test-proj", "bucket=bkt",
            "token_command=echo test-token", HOLD]
    m = mount_factory(server=server, opts=opts)
    long = "x" * 131073  # one byte a token on tunedfs-server: over Vertex's 131,072

    def native(i, o):
        return {"contents": [{"role": "user", "parts": [{"text": i}]},
                             {"role": "model", "parts": [{"text": o}]}]}
    os.mkdir(m.p("vx"))
    m.write("vx", "examples.jsonl", data=lines([native("a", "b"), {"text_input": "a",
                                                                    "output": "b"},
                                                native(long, "c")]))
    m.write("vx", "config", data="base_model = gemini-2.5-flash\n")
    text = m.read("vx", "estimate")
    f = fields(text)
    assert counts(server, "publishers.countTokens") == 1, text
    assert f["backend"] == "vertex" and f["examples"] == "3"
    assert f["tokens_counted_by"] == "service (countTokens on models/gemini-2.5-flash)"
    assert int(f["tokens"]) == 2 + 2 + len(long) + 1
    assert f["epochs"] == "5" and f["epochs_from"].startswith("assumed default of the vertex")
    w = warnings(text)
    assert any(x.startswith("line 3: 131074 tokens, over the limit of 131072") for x in w), w
    assert any(x.startswith("only 3 examples: the vertex backend needs at least 16") for x in w)
    assert "duplicate: line 2 repeats line 1" not in w  # a native line and a pair differ


def test_openai_estimates_locally_with_its_own_epochs(mount_factory, server):
    env = dict(os.environ, OPENAI_API_KEY="sk-test-estimate")
    opts = ["backend=openai", "endpoint=" + server.url + "/v1", HOLD]
    m = mount_factory(server=server, opts=opts, env=env)
    ex = read_examples()
    m.make_draft("oa", examples=ex, config="base_model = gpt-4.1-mini\n")
    f = fields(m.read("oa", "estimate"))
    local = sorted((len(e["text_input"]) + len(e["output"]) + 3) // 4 for e in ex)
    assert f["tokens_counted_by"].startswith("local estimate (bytes/4 rounded up, per example; "
                                             "the openai backend has no countTokens")
    assert int(f["tokens"]) == sum(local)
    assert int(f["tokens_per_example_max"]) == local[-1]
    assert f["epochs"] == "7"  # OpenAI's auto: raised so 15 examples x epochs reach 100
    assert int(f["billable_tokens"]) == 7 * sum(local)


def test_price_line_from_the_mount_and_from_config(mount_factory, server):
    m = mount_factory(server=server, opts=[HOLD, "price_per_mtok=2.5"])
    m.make_draft("priced", config=CONFIG)
    f = fields(m.read("priced", "estimate"))
    billable = int(f["billable_tokens"])
    assert f["price_per_mtok"] == "2.5"
    assert abs(float(f["cost"]) - billable * 2.5 / 1e6) < 1e-6
    m.write("priced", "config", data=CONFIG + "price_per_mtok = 8\n")
    f = fields(m.read("priced", "estimate"))
    assert f["price_per_mtok"] == "8" and abs(float(f["cost"]) - billable * 8 / 1e6) < 1e-6
    assert counts(server, "models.countTokens") == 1  # same examples: counted once
