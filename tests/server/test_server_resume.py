"""Training jobs outlive tunedfs-server: killed (-9) or stopped (SIGTERM) mid-training, at
its next start every job goes on from its latest checkpoint and ends as it would have
(Gemini ACTIVE, Vertex JOB_STATE_SUCCEEDED, OpenAI succeeded); progress never says more
than was done; a damaged checkpoint or kept-examples file is found out, never loaded."""
import glob
import json
import os
import random
import re
import signal
import time

from tests.conftest import sanitizer

from .conftest import number_examples, tuning_body
from .test_server_openai import AUTH, chat_lines, upload
from .test_server_vertex import BEARER, PARENT, contents_lines, put_object

# The tutorial's 15 examples: 4 epochs at batch 2 are 30 steps, a few ms each plain. A
# sanitizer build's trainer is 20 to 200 times slower: there the jobs train on 3 of them
# at batch 1 (the same code paths, a tenth of the work), and the kills below are timed
# by the pace measured.
SMALL = bool(sanitizer())
EXAMPLES = number_examples()[:3] if SMALL else number_examples()
BATCH = 1 if SMALL else 2
EPOCHS = 4
CHECKPOINT = ("--checkpoint-every", "40")


def submit(s, family, i, epochs=EPOCHS, seed=None, batch=BATCH):
    """Creates job i of a family; returns (family, the path to GET it)."""
    if family == "gemini":
        body = tuning_body(EXAMPLES, epochs=epochs, batch=batch)
        st, op, _ = s.request("POST", f"/v1beta/tunedModels?tunedModelId=g{i}", body)
        assert st == 200, op
        return family, "/v1beta/tunedModels/g%d" % i
    if family == "vertex":
        uri = put_object(s, f"train{i}.jsonl", contents_lines(EXAMPLES))
        body = {"baseModel": "gemini-2.5-flash",
                "supervisedTuningSpec": {"trainingDatasetUri": uri,
                                         "hyperParameters": {"epochCount": epochs}}}
        st, j, _ = s.request("POST", f"/v1/{PARENT}/tuningJobs", body, headers=BEARER)
        assert st == 200, j
        return family, "/v1/" + j["name"]
    st, f, _ = upload(s, chat_lines(EXAMPLES))
    assert st == 200, f
    body = {"model": "gpt-4o-mini-2024-07-18", "training_file": f["id"],
            "hyperparameters": {"n_epochs": epochs, "batch_size": batch}}
    if seed is not None:
        body["seed"] = seed
    st, j, _ = s.request("POST", "/v1/fine_tuning/jobs", body, headers=AUTH)
    assert st == 200, j
    return family, "/v1/fine_tuning/jobs/" + j["id"]


ENDED = {"gemini": ("state", {"ACTIVE", "FAILED"}),
         "vertex": ("state", {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED",
                              "JOB_STATE_CANCELLED"}),
         "openai": ("status", {"succeeded", "failed", "cancelled"})}
SUCCESS = {"gemini": "ACTIVE", "vertex": "JOB_STATE_SUCCEEDED", "openai": "succeeded"}


def status_of(s, job):
    family, path = job
    st, body, _ = s.request("GET", path, headers=AUTH if family == "openai" else BEARER)
    assert st == 200, body
    return body[ENDED[family][0]]


def wait_all(s, jobs, timeout=300):
    deadline = time.time() + timeout
    while True:
        states = [status_of(s, j) for j in jobs]
        if all(st in ENDED[j[0]][1] for st, j in zip(states, jobs)):
            return states
        assert time.time() < deadline, list(zip(jobs, states))
        time.sleep(0.05)


def until(what, timeout=300):
    deadline = time.time() + timeout
    while not what():
        assert time.time() < deadline
        time.sleep(0.02)


def records(s):
    """Every job.json of the data directory, by id."""
    out = {}
    for path in glob.glob(os.path.join(s.data_dir, "jobs", "*", "job.json")):
        with open(path) as f:
            j = json.load(f)
        out[j["id"]] = j
    return out


def steps_of(record):
    return [snap["step"] for snap in record["progress"].get("snapshots", [])]


def gemini_steps(s, ids):
    out = {}
    for i in ids:
        st, m, _ = s.request("GET", f"/v1beta/tunedModels/{i}")
        steps = [snap["step"] for snap in m.get("tuningTask", {}).get("snapshots", [])]
        # each step at most once, none skipped, none beyond what was done
        assert steps == list(range(1, len(steps) + 1)), (i, steps)
        assert len(steps) <= m["tuningTask"].get("totalSteps", len(steps)) or not steps
        out[i] = len(steps)
    return out


def assert_all_done(s, jobs):
    states = wait_all(s, jobs)
    assert states == [SUCCESS[j[0]] for j in jobs], list(zip(jobs, states))
    # the kept files go right after the record says ACTIVE
    until(lambda: all(r["state"] == "ACTIVE" and not os.path.exists(
        os.path.join(s.data_dir, "jobs", r["id"], "examples.bin")) for r in records(s).values()))
    recs = records(s)
    assert len(recs) == len(jobs)
    for r in recs.values():
        total = r["progress"]["totalSteps"]
        assert r["state"] == "ACTIVE" and "error" not in r, r["id"]
        assert r["progress"]["completedSteps"] == total
        assert steps_of(r) == list(range(1, total + 1)), r["id"]
        # nothing kept of a job that ended but its record and weights
        files = sorted(os.listdir(os.path.join(s.data_dir, "jobs", r["id"])))
        assert files == ["job.json", "weights.bin"], (r["id"], files)


def test_kill9_at_random_points(server_factory):
    """20 trainings of the three families, the server killed at random points of them
    over six rounds: after the last restart every one ends in its success state."""
    seed = int(os.environ.get("TUNEDFS_TEST_SEED", "12"))
    print("TUNEDFS_TEST_SEED", seed)
    rng = random.Random(seed)
    s = server_factory(*CHECKPOINT)
    families = ["gemini", "vertex", "openai"]
    jobs, gemini_ids = [], []
    # g3 trains ten times as long, and round 1 is cut once it has a checkpoint: however
    # the random kills fall on a loaded machine, one job is certain to go on from one.
    long_id = "g3"
    round_s = None  # how long a round's trainings take on this build, once measured
    for rnd in range(6):
        for _ in range(4 if rnd < 5 else 0):
            i = len(jobs)
            epochs = EPOCHS * 10 if f"g{i}" == long_id else EPOCHS
            jobs.append(submit(s, families[i % 3], i, epochs=epochs))
            if i % 3 == 0:
                gemini_ids.append(f"g{i}")
        if round_s is None:  # g0 trains first: its pace times the kills
            steps = -(-len(EXAMPLES) * EPOCHS // BATCH)
            until(lambda: gemini_steps(s, ["g0"])["g0"] >= 2)
            t0 = time.time()
            until(lambda: gemini_steps(s, ["g0"])["g0"] >= min(12, steps))
            per_step = (time.time() - t0) / (min(12, steps) - 2)
            round_s = max(per_step * steps * 2, 0.05)  # 4 jobs on 2 workers
            print(f"a round's trainings take about {round_s:.2f} s")
        seen = gemini_steps(s, gemini_ids)
        pause = rng.uniform(0.02, 1.0) * round_s
        if rnd == 1:
            until(lambda: os.path.exists(os.path.join(s.data_dir, "jobs", long_id,
                                                      "checkpoint.bin")))
        else:
            time.sleep(pause)
        later = gemini_steps(s, gemini_ids)
        assert all(later[i] >= seen[i] for i in seen), (seen, later)  # monotone in a run
        s.kill9()
        s.start()
        gemini_steps(s, gemini_ids)
    assert len(jobs) == 20
    assert_all_done(s, jobs)
    resumed_from = [int(n) for n in re.findall(r"resumes at step (\d+) of", s.stderr())]
    print("resumed at steps", resumed_from)
    assert any(n > 0 for n in resumed_from), s.stderr()  # some went on from a checkpoint
    assert re.search(rf"job {long_id} resumes at step [1-9]", s.stderr()), s.stderr()
    assert "FAILED" not in s.stderr()


def test_sigterm_checkpoints_and_resumes(server_factory):
    """SIGTERM stops promptly with a checkpoint at the step reached; the job goes on from
    there and ends with the very weights an uninterrupted run of the same seed makes."""
    plain = server_factory()
    ref = submit(plain, "openai", 0, epochs=12, seed=7)
    assert_all_done(plain, [ref])  # waits for the record on disk too, not only the answer
    ref_rec = list(records(plain).values())[0]

    s = server_factory(*CHECKPOINT)
    job = submit(s, "openai", 0, epochs=12, seed=7)
    rec = None
    deadline = time.time() + 60
    while time.time() < deadline:
        st, events, _ = s.request("GET", job[1] + "/events?limit=1", headers=AUTH)
        if events["data"] and "Step" in events["data"][0]["message"]:
            break
        time.sleep(0.02)
    t0 = time.time()
    assert s.stop(signal.SIGTERM) == 0
    assert time.time() - t0 < 5
    rec = list(records(s).values())[0]
    done = rec["progress"]["completedSteps"]
    assert rec["state"] == "CREATING" and 0 < done < rec["progress"]["totalSteps"], rec
    assert steps_of(rec) == list(range(1, done + 1))
    files = os.listdir(os.path.join(s.data_dir, "jobs", rec["id"]))
    assert "checkpoint.bin" in files and "examples.bin" in files
    s.start()
    until(lambda: f"job {rec['id']} resumes at step {done} of" in s.stderr())
    assert_all_done(s, [job])
    rec = list(records(s).values())[0]
    # the same losses step by step, and the same weights, as the run never cut
    assert [x["meanLoss"] for x in rec["progress"]["snapshots"]] == \
        [x["meanLoss"] for x in ref_rec["progress"]["snapshots"]]

    def weights(server, r):
        with open(os.path.join(server.data_dir, "jobs", r["id"], "weights.bin"), "rb") as f:
            return f.read()
    assert weights(s, rec) == weights(plain, ref_rec)


def damage(path, how):
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        if how == "flip":
            for k in range(len(data) // 2, len(data) // 2 + 8):
                data[k] ^= 0x41
        else:
            data = data[: len(data) * 2 // 3]
        f.seek(0)
        f.truncate()
        f.write(bytes(data))


def stopped_mid_training(server_factory, epochs=8):
    s = server_factory(*CHECKPOINT)
    job = submit(s, "gemini", 1, epochs=epochs)
    deadline = time.time() + 60
    while not gemini_steps(s, ["g1"])["g1"]:
        assert time.time() < deadline, "training never started"
        time.sleep(0.02)
    assert s.stop(signal.SIGTERM) == 0
    return s, job, os.path.join(s.data_dir, "jobs", "g1")


def test_damaged_checkpoint_starts_again(server_factory):
    for how in ("flip", "truncate"):
        s, job, d = stopped_mid_training(server_factory)
        assert records(s)["g1"]["progress"]["completedSteps"] > 0
        damage(os.path.join(d, "checkpoint.bin"), how)
        s.start()
        until(lambda: "job g1 resumes at step 0 of" in s.stderr())
        assert "checkpoint.bin is unusable" in s.stderr()
        assert_all_done(s, [job])
        s.stop()


def test_damaged_examples_fail_the_job(server_factory):
    for how in ("flip", "truncate"):
        s, job, d = stopped_mid_training(server_factory)
        damage(os.path.join(d, "examples.bin"), how)
        s.start()
        assert wait_all(s, [job]) == ["FAILED"]
        st, m, _ = s.request("GET", job[1])
        st, op, _ = s.request("GET", "/v1beta/tunedModels/g1/operations")
        msg = op["operations"][0]["error"]["message"]
        assert "interrupted by a server restart" in msg and "cannot be read back" in msg
        until(lambda: "examples.bin" in s.stderr())
        until(lambda: sorted(os.listdir(d)) == ["job.json"])
        assert s.request("GET", "/v1beta/models")[0] == 200  # and the server lives on
        s.stop()
