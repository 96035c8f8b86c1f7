"""The command line: --help, --version, validation, and mount options reaching the kernel."""
import json
import os
import shutil
import subprocess
import time

import pytest

from .conftest import binary

OPTIONS = ["local", "backend=", "location=", "bucket=", "endpoint=", "api_key_file=",
           "token_command=", "project=", "list_ttl=", "poll_interval=", "timeout=",
           "cache_dir=", "cache_size=", "data_dir=", "max_threads=", "log_size=",
           "log_prompts=", "allow_other"]


def run(*args, env=None):
    return subprocess.run([binary("tunedfs"), *args], capture_output=True, text=True,
                          env=env, timeout=30)


def test_help_lists_every_option_then_libfuse():
    r = run("--help")
    assert r.returncode == 0
    for o in OPTIONS:
        assert "-o " + o in r.stdout, o
    # libfuse's own options follow ours
    assert r.stdout.index("max_threads=") < r.stdout.index("-f ")


def test_version():
    r = run("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("tunedfs version ")
    assert "libfuse" in r.stdout


@pytest.mark.parametrize("opt,word", [("list_ttl=0", "list_ttl"),
                                      ("poll_interval=-1", "poll_interval"),
                                      ("timeout=0", "timeout"),
                                      ("timeout=inf", "at most 31536000"),
                                      ("lookup_timeout=1e300", "at most 31536000"),
                                      ("max_threads=0", "max_threads"),
                                      ("log_size=0", "log_size"),
                                      ("log_size=12X", "log_size"),
                                      ("log_prompts=sha1", "log_prompts"),
                                      ("local,endpoint=http://127.0.0.1:1", "local")])
def test_bad_options_point_to_help(tmp_path, opt, word):
    r = run(str(tmp_path), "-o", opt)
    assert r.returncode != 0
    assert r.stderr.startswith("tunedfs: error: ") and word in r.stderr
    assert "--help" in r.stderr


def test_remote_endpoint_without_credentials_refuses(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS")}
    env.update(HOME=str(tmp_path))
    r = run(str(tmp_path), "-f", "-o", "endpoint=https://generativelanguage.googleapis.com",
            env=env)
    assert r.returncode != 0
    assert "GEMINI_API_KEY" in r.stderr
    with open("/proc/self/mountinfo") as f:
        assert str(tmp_path) not in f.read()


def test_allow_other_turns_on_default_permissions(mount_factory):
    m = mount_factory(opts=["allow_other", "_netdev", "max_threads=8"])
    with open("/proc/self/mountinfo") as f:
        line = next(ln for ln in f if ln.split()[4] == m.path)
    assert "default_permissions" in line and "allow_other" in line
    os.mkdir(m.p("perm"))
    assert m.read("perm", "state") == "DRAFT\n"


def test_wait_is_bounded_by_timeout(mount_factory):
    m = mount_factory(opts=["timeout=0.5"])
    m.allow += [r"wait"]
    m.make_draft("long", config="base_model = models/gemini-1.0-pro-001\n"
                                "epoch_count = 2000\nbatch_size = 1\n")
    with pytest.raises(TimeoutError):
        m.read("long", "wait")
    assert m.read("long", "state") == "CREATING\n"
    head = m.read("long", "progress").splitlines()[0]
    assert "/6000 " in head, head
    shutil.rmtree(m.p("long"))


def test_deleted_elsewhere_disappears_at_the_next_listing(mount_factory):
    m = mount_factory(opts=["list_ttl=0.2"])
    m.make_active("doomed")
    status, _, _ = m.server.request("DELETE", "/v1beta/tunedModels/doomed")
    assert status == 200
    for _ in range(200):
        if "doomed" not in os.listdir(m.path):
            break
        time.sleep(0.05)
    assert "doomed" not in os.listdir(m.path)
    assert not os.path.exists(m.p("doomed"))
