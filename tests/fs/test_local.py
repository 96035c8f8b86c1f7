"""`tunedfs -o local MOUNT`: a private tunedfs-server started and stopped with the mount,
everything under the user's XDG directories (here in tmp)."""
import json
import os
import re
import time

from .conftest import DATA


def servers_under(path):
    """pids of tunedfs-server processes whose command line mentions path."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"tunedfs-server") and any(path.encode() in c for c in cmd):
            pids.append(int(pid))
    return pids


def test_local_mount(tmp_path, mount_factory):
    home = tmp_path / "home"
    run = tmp_path / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"), XDG_RUNTIME_DIR=str(run))
    m = mount_factory(local=True, env=env)
    m.make_active("offline")
    assert servers_under(str(home)), "no private server running"
    m.write("offline", "prompt", data="1\n")
    assert m.read("offline", "response").endswith("\n")
    assert os.path.isdir(home / "data" / "tunedfs" / "local")
    assert m.unmount() == 0
    assert servers_under(str(home)) == []
    assert os.listdir(run) == []
    # the models are still there at the next mount
    m.start()
    assert m.read("offline", "state") == "ACTIVE\n"


def test_local_mount_ignores_the_users_credentials(tmp_path, mount_factory):
    """A private server needs no credentials: the user's ADC file must not be used (its
    refresh would reach for a token endpoint, here a closed port) and no key is sent."""
    home = tmp_path / "home"
    home.mkdir()
    adc = home / "adc.json"
    adc.write_text(json.dumps({"type": "authorized_user", "client_id": "c",
                               "client_secret": "s", "refresh_token": "1//r",
                               "token_uri": "http://127.0.0.1:9/token"}))
    adc.chmod(0o600)
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"), GOOGLE_APPLICATION_CREDENTIALS=str(adc))
    m = mount_factory(local=True, env=env)
    m.make_active("nocreds")
    m.write("nocreds", "prompt", data="1\n")
    assert m.read("nocreds", "response").endswith("\n")
    assert m.read("nocreds", "error") == ""
    assert "credentials:" not in m.stderr()
    assert m.unmount() == 0


def local_env(tmp_path):
    home = tmp_path / "home"
    run = tmp_path / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    return home, dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
                      XDG_CACHE_HOME=str(home / "cache"), XDG_RUNTIME_DIR=str(run))


def steps_done(m, name):
    """(done, total) from the progress file, (0, 0) before the first step."""
    try:
        found = re.search(r"step (\d+)/(\d+)", m.read(name, "progress"))
    except OSError:
        return 0, 0
    return (int(found[1]), int(found[2])) if found else (0, 0)


def until(what, timeout=60):
    deadline = time.time() + timeout
    while not what():
        assert time.time() < deadline
        time.sleep(0.02)


def test_local_training_outlives_the_mount(tmp_path, mount_factory):
    """A model training under `-o local` is not lost when the mount goes away, by unmount
    or by kill -9: its private server stops with a checkpoint, and the next mount of the
    same data directory goes on with it to ACTIVE."""
    home, env = local_env(tmp_path)
    m = mount_factory(local=True, env=env)
    examples = [json.loads(line) for line in open(os.path.join(DATA, "examples.jsonl"))]
    # 1,500 steps: the tutorial's 15 examples, 400 epochs at batch 4, long enough (5 s
    # plain, more under the sanitizers) that the unmounts below come mid-training
    m.make_draft("kept", examples=examples,
                 config="base_model = models/gemini-1.0-pro-001\n"
                        "epoch_count = 400\nbatch_size = 4\n")
    until(lambda: steps_done(m, "kept")[0] > 0)
    assert m.unmount() == 0
    assert servers_under(str(home)) == []
    record = os.path.join(home, "data", "tunedfs", "local", "jobs", "kept", "job.json")
    with open(record) as f:
        job = json.load(f)
    done = job["progress"]["completedSteps"]
    assert job["state"] == "CREATING" and 0 < done < job["progress"]["totalSteps"], job
    m.start()
    assert m.read("kept", "state") == "CREATING\n"
    until(lambda: steps_done(m, "kept")[0] > done)
    m.kill9()  # the mount dies; its server gets SIGTERM and checkpoints
    until(lambda: servers_under(str(home)) == [])
    m.start()
    assert m.read("kept", "wait") == "ACTIVE\n", m.read("kept", "error")
    done, total = steps_done(m, "kept")
    assert done == total == 1500
    assert m.read("kept", "error") == ""


def test_kill9_leaves_no_run_directory_behind(tmp_path, mount_factory):
    """A tunedfs killed with -9 cleans up nothing: the next start removes the run
    directory it left (its owner is gone), and leaves those of live mounts alone."""
    home = tmp_path / "home"
    run = tmp_path / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"), XDG_RUNTIME_DIR=str(run))
    m = mount_factory(local=True, env=env)
    os.mkdir(m.p("d"))
    first = os.listdir(run)
    assert len(first) == 1 and first[0].startswith("tunedfs."), first
    m.kill9()
    # another mount's, alive (this test's pid), and an empty one an hour old
    (run / "tunedfs.live00").mkdir(mode=0o700)
    (run / "tunedfs.live00" / "owner").write_text(f"{os.getpid()}\n")
    (run / "tunedfs.old000").mkdir(mode=0o700)
    os.utime(run / "tunedfs.old000", (time.time() - 3600, time.time() - 3600))
    m.start()
    assert m.read("d", "state") == "DRAFT\n"
    left = sorted(os.listdir(run))
    assert first[0] not in left and "tunedfs.old000" not in left, left
    assert "tunedfs.live00" in left and len(left) == 2, left
    assert m.unmount() == 0
    assert os.listdir(run) == ["tunedfs.live00"]
