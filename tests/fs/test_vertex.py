"""The mount on the Vertex AI backend, against tunedfs-server's Vertex and Cloud Storage
routes: the tutorial end to end (-o local,backend=vertex), bad input (no bucket, an API
key, a config key Vertex lacks), an example over the Gemini API's character limits taken,
a native line of another service named by its file and line, a job that fails, rm -r of a running job and of a tuned model (each still gone after a
remount, while a model not removed stays), a listing of 2,500 jobs over pages, and a
create whose answer was lost leaving one job."""
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse

from tests.conftest import DATA, read_examples, until

from .backends import VERTEX, route_requests
from .backends import VERTEX_PARENT as PARENT
from .conftest import binary

BEARER = {"Authorization": "Bearer test-token"}
CONFIG = "base_model = gemini-2.5-flash\nepoch_count = 300\n"
QUICK = "base_model = gemini-2.5-flash\nepoch_count = 2\n"



def jobs(server):
    """Every job on the server, through its own list route."""
    out, token = [], None
    while True:
        q = "?pageSize=1000" + (f"&pageToken={token}" if token else "")
        st, page, _ = server.request("GET", f"/v1/{PARENT}/tuningJobs{q}", headers=BEARER)
        assert st == 200, page
        out += page.get("tuningJobs", [])
        token = page.get("nextPageToken")
        if not token:
            return out


def labelled(server, name):
    return [j for j in jobs(server) if j.get("labels", {}).get("tunedfs-name") == name]


def put_object(server, name, text):
    q = urllib.parse.urlencode({"uploadType": "media", "name": name})
    st, o, _ = server.request("POST", f"/upload/storage/v1/b/bkt/o?{q}", raw=text.encode(),
                              headers=BEARER)
    assert st == 200, o
    return f"gs://bkt/{name}"


def create_job(server, uri, label):
    body = {"baseModel": "gemini-2.5-flash", "tunedModelDisplayName": label,
            "labels": {"tunedfs-name": label},
            "supervisedTuningSpec": {"trainingDatasetUri": uri,
                                     "hyperParameters": {"epochCount": 1}}}
    st, job, _ = server.request("POST", f"/v1/{PARENT}/tuningJobs", body, headers=BEARER)
    assert st == 200, job
    return job


def status(server, path):
    return server.request("GET", path, headers=BEARER)[0]


def data_object(job):
    """The Cloud Storage path of a job's training data, as the JSON API names it."""
    bucket, _, name = job["supervisedTuningSpec"]["trainingDatasetUri"][5:].partition("/")
    return f"/storage/v1/b/{bucket}/o/" + urllib.parse.quote(name, safe="")


def draft(mount, name, config):
    os.mkdir(mount.p(name))
    shutil.copyfile(os.path.join(DATA, "examples.jsonl"), mount.p(name, "examples.jsonl"))
    mount.write(name, "config", data=config)


def test_tutorial_on_vertex_local(mount_factory, tmp_path):
    home = tmp_path / "home"
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"))
    m = mount_factory(local=True, opts=["backend=vertex"], env=env)
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
    assert job["state"] == "JOB_STATE_SUCCEEDED"
    assert job["labels"]["tunedfs-name"] == "number-generator"
    assert job["tunedModelDisplayName"] == "number-generator"
    uri = job["supervisedTuningSpec"]["trainingDatasetUri"]
    assert uri.startswith("gs://tunedfs-local/tunedfs/number-generator/train-")
    assert uri.endswith(".jsonl")


def test_missing_bucket_names_the_option(mount_factory):
    m = mount_factory(opts=[o for o in VERTEX if not o.startswith("bucket=")])
    m.allow += [r"-o bucket=B is needed"]
    draft(m, "nobucket", QUICK)
    assert m.read("nobucket", "wait") == "DRAFT\n"
    assert "-o bucket=B is needed to tune on Vertex AI" in m.read("nobucket", "error")
    assert labelled(m.server, "nobucket") == []


def test_api_key_is_refused_with_the_reason(server, tmp_path):
    key = tmp_path / "key"
    key.write_text("not-a-secret-key\n")
    key.chmod(0o600)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run([binary("tunedfs"), "-f", str(mnt), "-o",
                        ",".join(["backend=vertex", "project=test-proj", "bucket=bkt",
                                  "endpoint=" + server.url, "api_key_file=" + str(key),
                                  "data_dir=" + str(tmp_path / "d"),
                                  "cache_dir=" + str(tmp_path / "c")])],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "api_key_file" in r.stderr and "OAuth" in r.stderr and "express mode" in r.stderr
    assert "not-a-secret-key" not in r.stderr


def test_config_key_vertex_lacks(mount_factory):
    m = mount_factory(opts=VERTEX)
    m.allow += [r"batch_size: Vertex AI supervised tuning has no batch size"]
    draft(m, "batched", QUICK + "batch_size = 4\n")
    assert m.read("batched", "wait") == "DRAFT\n"
    err = m.read("batched", "error")
    assert "config: batch_size: Vertex AI supervised tuning has no batch size" in err, err
    assert labelled(m.server, "batched") == []


def test_a_native_line_refused_here_names_its_file_and_line(mount_factory):
    """An OpenAI line in a Vertex AI set is named by its line, blank lines counted: in
    examples.jsonl, and in the validation set's own file."""
    m = mount_factory(opts=VERTEX)
    m.allow += [r"native line"]
    pairs = "".join(json.dumps(e) + "\n" for e in read_examples()[:2])
    bad = json.dumps({"messages": [{"role": "user", "content": "1"},
                                   {"role": "assistant", "content": "2"}]}) + "\n"
    os.mkdir(m.p("nl"))
    m.write("nl", "examples.jsonl", data=pairs + "\n\n" + bad)
    m.write("nl", "config", data=QUICK)
    assert m.read("nl", "wait") == "DRAFT\n"
    err = m.read("nl", "error")
    assert "examples.jsonl: line 5: a native line needs a \"contents\" array" in err, err
    os.mkdir(m.p("vl"))
    m.write("vl", "eval", "held.jsonl", data=pairs + bad)
    m.write("vl", "examples.jsonl", data=pairs)
    m.write("vl", "config", data=QUICK + "validation_examples = held\n")
    assert m.read("vl", "wait") == "DRAFT\n"
    err = m.read("vl", "error")
    assert "eval/held.jsonl: line 3: a native line needs a \"contents\" array" in err, err
    assert labelled(m.server, "nl") == [] and labelled(m.server, "vl") == []


def test_an_input_over_the_gemini_apis_character_limit_is_taken(mount_factory):
    """Vertex AI limits an example in tokens, not in the Gemini API's 40,000 characters."""
    m = mount_factory(opts=VERTEX)
    os.mkdir(m.p("long"))
    line = json.dumps({"text_input": "i" * 40001, "output": "o" * 5001}) + "\n"
    with open(os.path.join(DATA, "examples.jsonl")) as f:
        data = f.read() + line
    with open(m.p("long", "examples.jsonl"), "w") as f:
        f.write(data)  # close() would fail with EINVAL if the line were refused
    assert m.read("long", "error") == ""
    assert m.read("long", "state") == "DRAFT\n"
    assert m.read("long", "examples.jsonl") == data


def test_adapter_size_reaches_the_job_and_a_bad_one_is_named(mount_factory):
    m = mount_factory(opts=VERTEX)
    m.allow += [r"adapter_size: Vertex AI supervised tuning takes an adapter size"]
    draft(m, "odd", QUICK + "adapter_size = 3\n")
    assert m.read("odd", "wait") == "DRAFT\n"
    assert "config: adapter_size: Vertex AI supervised tuning takes an adapter size" in \
        m.read("odd", "error")
    draft(m, "four", QUICK + "adapter_size = 4\n")
    assert until(lambda: labelled(m.server, "four")), m.read("four", "error")
    [job] = labelled(m.server, "four")
    assert job["supervisedTuningSpec"]["hyperParameters"]["adapterSize"] == "ADAPTER_SIZE_FOUR"
    assert labelled(m.server, "odd") == []


def test_a_failed_job_shows_failed_with_its_reason(mount_factory):
    m = mount_factory(opts=VERTEX)
    lines = "".join(json.dumps({"contents": [{"role": "user", "parts": [{"text": e["text_input"]}]},
                                             {"role": "model", "parts": [{"text": e["output"]}]}]})
                    + "\n" for e in read_examples()[:2]) + '{"contents": [{"role": "user"}]}\n'
    create_job(m.server, put_object(m.server, "bad.jsonl", lines), "broken")
    assert until(lambda: "broken" in os.listdir(m.path) and
                 m.read("broken", "state") == "FAILED\n", timeout=60), os.listdir(m.path)
    assert "line 3" in m.read("broken", "error")


def test_a_failed_job_seen_first_in_a_listing_says_why_at_once(mount_factory, server_factory):
    """A job that failed elsewhere comes with its reason in the listing: `error` says it
    as soon as `state` reads FAILED, with no GET of the job (here every GET fails)."""
    s = server_factory("--fail-rate", "1", "--fault-routes", "tuningJobs.get")
    bad = '{"contents": [{"role": "user"}]}\n'
    create_job(s, put_object(s, "bad.jsonl", bad), "broken")
    assert until(lambda: labelled(s, "broken")[0]["state"] == "JOB_STATE_FAILED", timeout=60)
    m = mount_factory(server=s, opts=VERTEX)
    m.allow += [r"tuningJobs", r"503", r"UNAVAILABLE"]
    assert until(lambda: "broken" in os.listdir(m.path) and
                 m.read("broken", "state") == "FAILED\n", timeout=60), os.listdir(m.path)
    assert "line 1" in m.read("broken", "error")


def test_rm_r_cancels_a_running_job(mount_factory):
    m = mount_factory(opts=VERTEX)
    m.allow += [r"rm: ", r"tuning failed"]
    draft(m, "long", "base_model = gemini-2.5-flash\nepoch_count = 10000\n")
    assert until(lambda: m.read("long", "state") == "CREATING\n"), m.read("long", "error")
    # submitted after the settle time (-o submit_delay): the job is on the service then
    assert until(lambda: labelled(m.server, "long")), m.read("long", "error")
    shutil.rmtree(m.p("long"))  # rm -r: rmdir alone refuses a directory with content
    assert "long" not in os.listdir(m.path)
    [job] = labelled(m.server, "long")
    assert until(lambda: labelled(m.server, "long")[0]["state"] == "JOB_STATE_CANCELLED",
                 timeout=30), labelled(m.server, "long")
    assert status(m.server, data_object(job)) == 404  # its training data went with it
    # the service keeps the job listed; the mount does not bring the directory back,
    # nor does the next mount
    time.sleep(0.5)
    assert "long" not in os.listdir(m.path)
    m.restart()
    assert "long" not in os.listdir(m.path)
    assert [j["state"] for j in labelled(m.server, "long")] == ["JOB_STATE_CANCELLED"]


def test_rm_r_of_a_tuned_model_holds_after_a_remount(mount_factory):
    """rm -r deletes the endpoint, model and training data; Vertex AI keeps listing the
    job, and the next mount hides it by its endpoint's 404, asked once per job, while a
    model not removed stays."""
    m = mount_factory(opts=VERTEX + ["list_ttl=0.2"])
    draft(m, "gone", QUICK)
    draft(m, "kept", QUICK)
    assert m.read("gone", "wait") == "ACTIVE\n", m.read("gone", "error")
    assert m.read("kept", "wait") == "ACTIVE\n", m.read("kept", "error")
    [job] = labelled(m.server, "gone")
    endpoint, model = job["tunedModel"]["endpoint"], job["tunedModel"]["model"].split("@")[0]
    shutil.rmtree(m.p("gone"))
    assert "gone" not in os.listdir(m.path)
    assert m.read("kept", "state") == "ACTIVE\n"
    for path in (f"/v1/{endpoint}", f"/v1/{model}", data_object(job)):
        assert status(m.server, path) == 404, path
    assert [j["state"] for j in labelled(m.server, "gone")] == ["JOB_STATE_SUCCEEDED"]
    m.restart()
    asked = route_requests(m.server, "endpoints.get")
    assert sorted(os.listdir(m.path)) == ["kept"]
    assert m.read("kept", "state") == "ACTIVE\n"
    m.ask("kept", "1")  # its endpoint answers (2 epochs teach nothing exact)
    assert m.read("kept", "error") == ""
    # each finished job's endpoint looked at once by this mount, not at every listing
    lists = route_requests(m.server, "tuningJobs.list")
    assert until(lambda: os.listdir(m.path) and
                 route_requests(m.server, "tuningJobs.list") >= lists + 3, timeout=30)
    assert sorted(os.listdir(m.path)) == ["kept"]
    assert route_requests(m.server, "endpoints.get") - asked <= 2


def test_listing_of_2500_jobs_over_pages(mount_factory, server_factory):
    s = server_factory("--workers", "4")
    uri = put_object(s, "bad.jsonl", "not json\n")  # every job fails at once: no training
    for i in range(2500):
        create_job(s, uri, f"j{i:04d}")
    m = mount_factory(server=s, opts=VERTEX + ["list_ttl=600"])
    # the first listing is waited for within a bound: a slow (sanitizer) build looks again
    names = until(lambda: len(os.listdir(m.path)) == 2500 and os.listdir(m.path), timeout=300)
    assert names and len(names) == 2500, len(os.listdir(m.path))
    assert sorted(names) == [f"j{i:04d}" for i in range(2500)]
    # their data is not tunedfs's upload: nothing of theirs for rm to have removed, no look
    assert route_requests(s, "objects.get") == 0 and route_requests(s, "endpoints.get") == 0


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def test_retried_create_after_a_lost_answer_leaves_one_job(mount_factory, server_factory):
    """The server makes the job, then dies before its answer leaves (creates are answered
    1.5 s late here) and stays down past the client's tries: after the restart the mount's
    next try finds the job by its label instead of making a second one."""
    s = server_factory("--port", str(free_port()), "--latency", "1500", "--fault-routes",
                       "tuningJobs.create")
    # retries last half of -o timeout: 10 s here, so "stays down past" them is quick
    m = mount_factory(server=s, opts=VERTEX + ["timeout=20"])
    m.allow += [r"submitting the tuning failed", r"listing tuned models failed",
                r"tuning failed: training interrupted by a server restart"]
    t = threading.Thread(target=draft, args=(m, "lost", QUICK))
    t.start()
    assert until(lambda: labelled(s, "lost"), timeout=30), "the create never reached the server"
    s.kill9()
    t.join(timeout=60)
    assert until(lambda: "submitting the tuning failed" in m.stderr(), timeout=90), m.stderr()
    s.args = s.args[:2]
    s.start()
    assert until(lambda: m.read("lost", "state") not in ("CREATING\n", "DRAFT\n"),
                 timeout=90), (m.read("lost", "state"), m.read("lost", "error"))
    [job] = labelled(s, "lost")  # one job, whatever became of it
    want = {"JOB_STATE_SUCCEEDED": "ACTIVE\n", "JOB_STATE_FAILED": "FAILED\n"}
    assert until(lambda: m.read("lost", "state") == want.get(labelled(s, "lost")[0]["state"]),
                 timeout=90), (m.read("lost", "state"), labelled(s, "lost"))
