"""The mount on the OpenAI backend, against tunedfs-server's OpenAI routes: the tutorial end
to end (-o local,backend=openai), a bad key, a training file that fails validation, rm of a
running job (cancelled, its file deleted, gone after a remount too), a listing of 250 jobs
over pages, creates that meet a dropped connection or a lost answer leaving one job, and
validation_examples sent as the job's validation_file."""
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

from tests.conftest import DATA, read_examples, until

from .backends import OPENAI_KEY as KEY
from .backends import openai
from .conftest import binary

BEARER = {"Authorization": "Bearer " + KEY}
BASE = "gpt-4.1-mini-2025-04-14"
CONFIG = f"base_model = {BASE}\nepoch_count = 50\n"
QUICK = f"base_model = {BASE}\nepoch_count = 2\n"



def jobs(server):
    """Every fine-tuning job on the server, through its own list route, newest first."""
    out, after = [], None
    while True:
        q = "?limit=100" + (f"&after={after}" if after else "")
        st, page, _ = server.request("GET", f"/v1/fine_tuning/jobs{q}", headers=BEARER)
        assert st == 200, page
        out += page["data"]
        if not page["has_more"]:
            return out
        after = page["data"][-1]["id"]


def named(server, name):
    return [j for j in jobs(server) if (j.get("metadata") or {}).get("tunedfs-name") == name]


def upload(server, text, name="train.jsonl"):
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n"
            f"fine-tune\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/jsonl\r\n\r\n{text}\r\n"
            f"--{boundary}--\r\n").encode()
    hdr = dict(BEARER, **{"Content-Type": f"multipart/form-data; boundary={boundary}"})
    st, f, _ = server.request("POST", "/v1/files", raw=body, headers=hdr)
    assert st == 200, f
    return f["id"]


def draft(mount, name, config, examples=None):
    os.mkdir(mount.p(name))
    if examples is None:
        shutil.copyfile(os.path.join(DATA, "examples.jsonl"), mount.p(name, "examples.jsonl"))
    else:
        mount.write(name, "examples.jsonl", data=examples)
    mount.write(name, "config", data=config)


def model_json(mount, name):
    try:
        return mount.read(name, "model.json")
    except OSError:
        return ""


def remove(path):
    """rm -r where rmdir refuses a directory with content, else rmdir."""
    try:
        os.rmdir(path)
    except OSError:
        subprocess.run(["rm", "-r", path], check=True)


def test_tutorial_on_openai_local(mount_factory, tmp_path):
    home = tmp_path / "home"
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"))
    env.pop("OPENAI_API_KEY", None)
    m = mount_factory(local=True, opts=["backend=openai"], env=env)
    d = m.p("number-generator")
    os.mkdir(d)
    assert m.read("number-generator", "state") == "DRAFT\n"
    shutil.copyfile(os.path.join(DATA, "examples.jsonl"), os.path.join(d, "examples.jsonl"))
    with open(os.path.join(d, "config"), "w") as f:
        f.write(CONFIG)
    out = subprocess.run(["cat", os.path.join(d, "wait")], capture_output=True, text=True,
                         check=True).stdout
    assert out == "ACTIVE\n", m.read("number-generator", "error")
    subprocess.run(f"echo 1 > {d}/prompt", shell=True, check=True)
    out = subprocess.run(["cat", os.path.join(d, "response")], capture_output=True,
                         text=True, check=True).stdout
    assert out == "2\n"
    assert m.read("number-generator", "error") == ""
    job = json.loads(m.read("number-generator", "model.json"))
    assert job["object"] == "fine_tuning.job" and job["status"] == "succeeded"
    assert job["metadata"]["tunedfs-name"] == "number-generator"
    assert job["method"]["supervised"]["hyperparameters"]["n_epochs"] == 50
    assert job["fine_tuned_model"].startswith(f"ft:{BASE}:")
    answer = json.loads(m.read("number-generator", "response.json"))
    assert answer["choices"][0]["message"]["content"] == "2"
    first = m.read("number-generator", "progress").splitlines()[0]
    assert first.startswith("100.0% step ") and " epoch 50 " in first, first


def test_examples_as_messages_with_a_system_instruction(mount_factory, server):
    opts, env = openai(server)
    m = mount_factory(server=server, opts=opts, env=env)
    ex = read_examples()
    lines = "".join(json.dumps({"text_input": e["text_input"], "output": e["output"]}) + "\n"
                    for e in ex[:8])
    lines += "".join(json.dumps({"messages": [{"role": "user", "content": e["text_input"]},
                                              {"role": "assistant", "content": e["output"]}]})
                     + "\n" for e in ex[8:])
    draft(m, "chat", QUICK + "system_instruction = \"Answer with the next number.\"\n", lines)
    assert m.read("chat", "wait") == "ACTIVE\n", m.read("chat", "error")
    [job] = named(server, "chat")
    st, text, _ = server.request("GET", f"/v1/files/{job['training_file']}", headers=BEARER)
    assert st == 200, text
    assert job["user_provided_suffix"] == "chat"


def test_bad_key_is_refused_and_never_shown(mount_factory, server_factory, tmp_path):
    keyfile = tmp_path / "server.key"
    keyfile.write_text(KEY + "\n")
    s = server_factory("--api-key-file", str(keyfile))
    wrong = tmp_path / "wrong.key"
    wrong.write_text("sk-wrong-secret-123\n")
    wrong.chmod(0o600)
    m = mount_factory(server=s, opts=["backend=openai", "endpoint=" + s.url,
                                      "api_key_file=" + str(wrong)])
    m.allow += [r"listing tuned models failed", r"Incorrect API key", r"refused the tuning"]
    draft(m, "nokey", QUICK)
    assert m.read("nokey", "wait") == "DRAFT\n"
    err = m.read("nokey", "error")
    assert "HTTP 401" in err and "Incorrect API key" in err, err
    assert "sk-wrong-secret-123" not in err + m.stderr()
    assert jobs(s) == []


def test_no_key_stops_the_mount_with_the_places_looked(server, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = dict(os.environ)
    env.pop("OPENAI_API_KEY", None)
    r = subprocess.run([binary("tunedfs"), "-f", str(mnt), "-o",
                        ",".join(["backend=openai", "endpoint=" + server.url,
                                  "data_dir=" + str(tmp_path / "d"),
                                  "cache_dir=" + str(tmp_path / "c")])],
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode != 0
    assert "api_key_file" in r.stderr and "OPENAI_API_KEY" in r.stderr, r.stderr


def test_learning_rate_is_refused_naming_the_multiplier(mount_factory, server):
    opts, env = openai(server)
    m = mount_factory(server=server, opts=opts, env=env)
    m.allow += [r"learning_rate: OpenAI fine-tuning takes no absolute learning rate"]
    draft(m, "lr", QUICK + "learning_rate = 0.001\n")
    assert m.read("lr", "wait") == "DRAFT\n"
    err = m.read("lr", "error")
    assert "config: learning_rate" in err and "learning_rate_multiplier" in err, err
    assert named(server, "lr") == []


def test_a_training_file_that_fails_validation(mount_factory, server):
    opts, env = openai(server)
    m = mount_factory(server=server, opts=opts, env=env)
    m.allow += [r"tuning failed"]
    bad = {"messages": [{"role": "assistant", "content": "2"}, {"role": "user", "content": "1"}]}
    lines = "".join(json.dumps(e) + "\n" for e in read_examples()[:2]) + json.dumps(bad) + "\n"
    draft(m, "broken", QUICK, lines)
    assert m.read("broken", "wait") == "FAILED\n"
    err = m.read("broken", "error")
    assert "line 3" in err, err
    [job] = named(server, "broken")
    assert job["status"] == "failed"


def test_a_native_line_refused_here_names_its_file_and_line(mount_factory, server):
    """A line in OpenAI's own format that cannot be sent is named by its line (blank lines
    count), in examples.jsonl and in the validation set's own file; nothing is created."""
    opts, env = openai(server)
    m = mount_factory(server=server, opts=opts, env=env)
    m.allow += [r"native line"]
    pairs = "".join(json.dumps(e) + "\n" for e in read_examples()[:2])
    bad = json.dumps({"contents": [{"role": "user", "parts": [{"text": "1"}]},  # Vertex's
                                   {"role": "model", "parts": [{"text": "2"}]}]}) + "\n"
    draft(m, "nl", QUICK, pairs + "\n" + bad)
    assert m.read("nl", "wait") == "DRAFT\n"
    err = m.read("nl", "error")
    assert "examples.jsonl: line 4: a native line needs a \"messages\" array" in err, err
    os.mkdir(m.p("vl"))
    m.write("vl", "eval", "held.jsonl", data="\n" + bad)
    m.write("vl", "examples.jsonl", data=pairs)
    m.write("vl", "config", data=QUICK + "validation_examples = held\n")
    assert m.read("vl", "wait") == "DRAFT\n"
    err = m.read("vl", "error")
    assert "eval/held.jsonl: line 2: a native line needs a \"messages\" array" in err, err
    assert named(server, "nl") == [] and named(server, "vl") == []


def top_k_model(mount_factory, server):
    """An OpenAI mount whose ACTIVE model "gen" has top_k set, which OpenAI has not."""
    opts, env = openai(server)
    m = mount_factory(server=server, opts=opts, env=env)
    m.allow += [r"top_k"]
    draft(m, "gen", QUICK)
    assert m.read("gen", "wait") == "ACTIVE\n", m.read("gen", "error")
    m.write("gen", "generation", data="top_k = 3\n")
    return m


def test_top_k_is_an_error_naming_it(mount_factory, server):
    m = top_k_model(mount_factory, server)
    m.write("gen", "prompt", data="1\n")
    try:
        m.read("gen", "response")
    except OSError:
        pass
    assert "top_k" in m.read("gen", "error")


def test_rm_cancels_a_running_job(mount_factory, server):
    opts, env = openai(server)
    m = mount_factory(server=server, opts=opts, env=env)
    m.allow += [r"rm: ", r"tuning failed"]
    many = "".join(json.dumps({"text_input": str(i), "output": str(i + 1)}) + "\n"
                   for i in range(400))
    draft(m, "long", f"base_model = {BASE}\nepoch_count = 50\nbatch_size = 1\n", many)
    assert until(lambda: m.read("long", "state") == "CREATING\n" and named(server, "long")
                 and "ftjob-" in model_json(m, "long")), m.read("long", "error")
    remove(m.p("long"))
    assert "long" not in os.listdir(m.path)
    [job] = named(server, "long")
    assert until(lambda: named(server, "long")[0]["status"] == "cancelled", timeout=30)
    st, _, _ = server.request("GET", f"/v1/files/{job['training_file']}", headers=BEARER)
    assert st == 404
    # the service keeps the job listed; the mount does not bring the directory back,
    # nor does the next mount
    time.sleep(0.5)
    assert "long" not in os.listdir(m.path)
    m.restart()
    assert "long" not in os.listdir(m.path)


def test_rm_of_an_active_model_deletes_it(mount_factory, server):
    opts, env = openai(server)
    m = mount_factory(server=server, opts=opts, env=env)
    draft(m, "done", QUICK)
    assert m.read("done", "wait") == "ACTIVE\n", m.read("done", "error")
    model = json.loads(m.read("done", "model.json"))["fine_tuned_model"]
    remove(m.p("done"))
    assert "done" not in os.listdir(m.path)
    st, _, _ = server.request("GET", f"/v1/models/{model}", headers=BEARER)
    assert st == 404
    m.restart()
    assert "done" not in os.listdir(m.path)


def test_listing_of_250_jobs_over_pages(mount_factory, server_factory):
    s = server_factory("--workers", "4")
    bad = upload(s, "not json\n")  # every job fails at once: no training
    for i in range(250):
        st, job, _ = s.request("POST", "/v1/fine_tuning/jobs",
                               {"model": BASE, "training_file": bad, "suffix": f"j{i:03d}"},
                               headers=BEARER)
        assert st == 200, job
    opts, env = openai(s)
    m = mount_factory(server=s, opts=opts + ["list_ttl=600"], env=env)
    names = os.listdir(m.path)
    assert sorted(names) == [f"j{i:03d}" for i in range(250)]
    assert m.read("j123", "state") == "FAILED\n"


def test_retried_create_after_a_dropped_connection_leaves_one_job(mount_factory,
                                                                   server_factory):
    s = server_factory("--drop-rate", "0.6", "--seed", "7", "--fault-routes",
                       "fine_tuning.jobs.create")
    opts, env = openai(s)
    m = mount_factory(server=s, opts=opts, env=env)
    m.allow += [r"submitting the tuning failed"]
    draft(m, "dropped", QUICK)
    assert m.read("dropped", "wait") == "ACTIVE\n", m.read("dropped", "error")
    assert len(named(s, "dropped")) == 1, named(s, "dropped")
    st, stats, _ = s.request("GET", "/debug/stats")
    assert st == 200 and stats["faults"]["dropped"] >= 1, stats["faults"]


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def test_retried_create_after_a_lost_answer_leaves_one_job(mount_factory, server_factory):
    """The server makes the job, then dies before its answer leaves (creates are answered
    1.5 s late here) and stays down past the client's tries: after the restart the mount's
    next try finds the job by its metadata instead of making a second one."""
    s = server_factory("--port", str(free_port()), "--latency", "1500", "--fault-routes",
                       "fine_tuning.jobs.create")
    opts, env = openai(s)
    # timeout bounds the retries of each call: the try meeting the dead server ends soon
    m = mount_factory(server=s, opts=opts + ["timeout=15"], env=env)
    m.allow += [r"submitting the tuning failed", r"listing tuned models failed",
                r"tuning failed: training interrupted by a server restart"]
    t = threading.Thread(target=draft, args=(m, "lost", QUICK))
    t.start()
    assert until(lambda: named(s, "lost"), timeout=30), "the create never reached the server"
    s.kill9()
    t.join(timeout=60)
    assert until(lambda: "submitting the tuning failed" in m.stderr(), timeout=90), m.stderr()
    s.args = s.args[:2]
    s.start()
    assert until(lambda: m.read("lost", "state") not in ("CREATING\n", "DRAFT\n"),
                 timeout=90), (m.read("lost", "state"), m.read("lost", "error"))
    [job] = named(s, "lost")  # one job, whatever became of it
    want = {"succeeded": "ACTIVE\n", "failed": "FAILED\n"}
    assert until(lambda: m.read("lost", "state") == want.get(named(s, "lost")[0]["status"]),
                 timeout=90), (m.read("lost", "state"), named(s, "lost"))


def test_help_lists_openai_options():
    r = subprocess.run([binary("tunedfs"), "-o", "backend=openai", "--help"],
                       capture_output=True, text=True, timeout=30)
    assert "backend=openai" in r.stdout
    assert "organization=ID" in r.stdout and "OPENAI_API_KEY" in r.stdout


def test_validation_examples_reach_the_job_and_go_with_it(mount_factory, server):
    opts, env = openai(server)
    m = mount_factory(server=server, opts=opts, env=env)
    os.mkdir(m.p("val"))
    held = [{"text_input": str(n), "output": str(n + 1)} for n in (21, 37, 48)]
    m.write("val", "eval", "held.jsonl", data="".join(json.dumps(e) + "\n" for e in held))
    shutil.copyfile(os.path.join(DATA, "examples.jsonl"), m.p("val", "examples.jsonl"))
    m.write("val", "config", data=QUICK + "validation_examples = held\n")
    assert m.read("val", "wait") == "ACTIVE\n", m.read("val", "error")
    [job] = named(server, "val")
    vid = job["validation_file"]
    assert vid and vid != job["training_file"], job
    st, f, _ = server.request("GET", f"/v1/files/{vid}", headers=BEARER)
    assert st == 200 and f["purpose"] == "fine-tune", f
    req = urllib.request.Request(f"{server.url}/v1/files/{vid}/content", headers=BEARER)
    with urllib.request.urlopen(req, timeout=30) as r:
        lines = [json.loads(line) for line in r.read().decode().splitlines()]
    assert [[x["content"] for x in e["messages"][-2:]] for e in lines] == \
        [[e["text_input"], e["output"]] for e in held], lines
    shown = [line.split() for line in m.read("val", "progress").splitlines()
             if line.startswith("evaluation step ")]
    assert len(shown) == 2 and all(w[3] == "valid_loss" and float(w[4]) > 0 for w in shown), \
        m.read("val", "progress")
    remove(m.p("val"))
    for fid in (vid, job["training_file"]):
        assert server.request("GET", f"/v1/files/{fid}", headers=BEARER)[0] == 404


def test_validation_examples_that_are_not_there(mount_factory, server):
    opts, env = openai(server)
    m = mount_factory(server=server, opts=opts, env=env)
    m.allow.append("validation_examples")
    draft(m, "miss", QUICK + "validation_examples = nothere\n")
    assert m.read("miss", "wait") == "DRAFT\n"
    assert "validation_examples: eval/nothere.jsonl is not there" in m.read("miss", "error")
    assert named(server, "miss") == []
