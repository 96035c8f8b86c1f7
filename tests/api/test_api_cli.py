"""The service client against the real tunedfs-server: the typed calls end to end, and
the HTTP layer's retries, delays and failure messages under the server's fault injection.
Drives the C client through tests/api/api_cli (built by tests/api/meson.build)."""
import os
import re
import subprocess
import time

import pytest

from tests.conftest import BUILD, DATA

API_CLI = os.path.join(BUILD, "tests", "api", "api_cli")
EXAMPLES = os.path.join(DATA, "examples.jsonl")

pytestmark = pytest.mark.skipif(not os.access(API_CLI, os.X_OK), reason="api_cli not built")


def cli(endpoint, *args, env=None, timeout=120, opts=()):
    """Runs api_cli; returns (exit code, stdout, stats dict)."""
    e = dict(os.environ)
    for k in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "TUNEDFS_HTTP_DEBUG"):
        e.pop(k, None)
    e.update(env or {})
    cmd = [API_CLI, *opts, endpoint, *args]
    p = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout)
    m = re.search(r"stats: requests=(\d+) retries=(\d+) failures=(\d+)", p.stdout)
    stats = dict(zip(("requests", "retries", "failures"), map(int, m.groups()))) if m else {}
    assert "sanitizer" not in p.stderr.lower(), p.stderr
    return p.returncode, p.stdout, stats, p.stderr


def create_and_wait(url, name="num", epochs="20"):
    rc, out, _, _ = cli(url, "create", name, "models/gemini-1.0-pro-001", EXAMPLES, epochs, "4")
    assert rc == 0, out
    assert f"model: tunedModels/{name}" in out
    assert re.search(rf"operation: tunedModels/{name}/operations/\S+", out), out
    rc, out, _, _ = cli(url, "wait", name)
    assert rc == 0 and "state: ACTIVE" in out, out


def test_tutorial_calls_end_to_end(server):
    create_and_wait(server.url)
    rc, out, _, _ = cli(server.url, "list")
    assert rc == 0 and "tunedModels/num ACTIVE" in out and "count: 1" in out
    rc, out, _, _ = cli(server.url, "get", "num")
    assert rc == 0 and '"name":' in out and "state: ACTIVE" in out
    rc, out, _, _ = cli(server.url, "find-operation", "num")
    assert rc == 0 and "done: 1" in out, out
    op = re.search(r"operation: (\S+)", out).group(1)
    rc, out, _, _ = cli(server.url, "operation", op)
    assert rc == 0 and "percent: 100.0" in out, out
    rc, out, _, _ = cli(server.url, "generate", "num", "1")
    assert rc == 0 and "finish: STOP" in out, out
    rc, out, _, _ = cli(server.url, "patch", "num", "displayName,temperature",
                        "displayName=renamed", "temperature=0.5")
    assert rc == 0 and '"renamed"' in out, out
    rc, out, _, _ = cli(server.url, "delete", "num")
    assert rc == 0, out
    rc, out, _, _ = cli(server.url, "get", "num")
    assert rc == 1 and "errno 2)" in out and "status=NOT_FOUND" in out, out


def test_create_taken_id_is_eexist(server):
    create_and_wait(server.url)
    rc, out, stats, _ = cli(server.url, "create", "num", "models/gemini-1.0-pro-001", EXAMPLES)
    assert rc == 1 and "(errno 17)" in out and "status=ALREADY_EXISTS" in out, out
    assert stats["requests"] == 1


def test_bad_requests_are_einval(server):
    rc, out, stats, _ = cli(server.url, "get", "Not_An_Id")
    assert rc == 1 and "(errno 22)" in out and stats["requests"] == 0, out
    rc, out, stats, _ = cli(server.url, "create", "x", "models/nope", EXAMPLES)
    assert rc == 1 and stats["retries"] == 0, out


def test_retries_ride_out_faults(server_factory):
    s = server_factory("--fail-rate", "0.25", "--throttle-rate", "0.15", "--retry-delay", "0",
                       "--drop-rate", "0.1", "--seed", "7")
    opts = ("--attempts", "20", "--backoff-initial", "5", "--backoff-max", "40")
    rc, out, _, _ = cli(s.url, "list", opts=opts)
    assert rc == 0, out
    rc, out, stats, _ = cli(s.url, "base-models", opts=opts + ("--repeat", "1"))
    assert rc == 0, out
    total = {"requests": 0, "retries": 0, "failures": 0}
    for _ in range(20):
        rc, out, stats, _ = cli(s.url, "get", "missing", opts=opts)
        assert rc == 1 and "(errno 2)" in out, out  # only a real 404 ends it
        for k in total:
            total[k] += stats[k]
    assert total["retries"] > 0
    assert total["requests"] == total["retries"] + 20


def test_service_failing_forever_gives_eio(server_factory):
    s = server_factory("--fail-rate", "1")
    rc, out, stats, _ = cli(s.url, "list", opts=("--attempts", "3", "--backoff-max", "10"))
    assert rc == 1 and "(errno 5)" in out and "http=503" in out and "UNAVAILABLE" in out, out
    assert stats == {"requests": 3, "retries": 2, "failures": 1}


def test_throttle_waits_the_delay_asked(server_factory):
    s = server_factory("--throttle-rate", "1", "--retry-delay", "1")
    opts = ("--attempts", "3", "--backoff-max", "10")
    t0 = time.monotonic()
    rc, out, stats, _ = cli(s.url, "list", opts=opts)
    elapsed = time.monotonic() - t0
    assert rc == 1 and "(errno 11)" in out and "RESOURCE_EXHAUSTED" in out, out
    assert stats["requests"] == 3
    assert elapsed >= 2.0  # two waits of the 1 s asked for; backoff alone is 10 ms


def test_total_retry_budget_caps_waiting(server_factory):
    s = server_factory("--throttle-rate", "1", "--retry-delay", "30")
    opts = ("--attempts", "10", "--max-retry", "3000")
    rc, out, stats, _ = cli(s.url, "list", opts=opts, timeout=25)
    assert rc == 1 and "(errno 11)" in out, out
    assert stats["requests"] == 2  # the 30 s asked for is cut to the budget, then it stops


def test_server_down_message(server_factory):
    s = server_factory()
    url = s.url
    assert s.stop() == 0
    rc, out, stats, _ = cli(url, "list", opts=("--attempts", "2", "--backoff-max", "10"))
    assert rc == 1 and f"cannot reach {url}: Connection refused" in out, out
    assert "(errno 5)" in out and stats["requests"] == 2


def test_unix_socket_endpoint(server_factory, tmp_path):
    sock = str(tmp_path / "api.sock")
    s = server_factory(socket=sock)
    assert s.url == "unix:" + sock
    rc, out, _, _ = cli(s.url, "base-models")
    assert rc == 0 and "tunable" in out, out


def test_plain_http_refused_off_loopback():
    rc, out, stats, _ = cli("http://192.0.2.1:80", "list")
    assert rc == 1 and "plain http" in out and not stats, out


def test_api_key_sent_and_never_shown(server_factory, tmp_path):
    key = "tunedfs-test-key-0123456789"
    kf = tmp_path / "server.key"
    kf.write_text(key + "\n")
    s = server_factory("--api-key-file", str(kf))
    rc, out, _, err = cli(s.url, "list", env={"GEMINI_API_KEY": key, "TUNEDFS_HTTP_DEBUG": "1"})
    assert rc == 0, out
    assert "GET /v1beta/tunedModels?pageSize=1000 -> 200" in err, err
    assert key not in out and key not in err
    rc, out, stats, err = cli(s.url, "list", env={"GOOGLE_API_KEY": "wrong-key-abcdef"})
    assert rc == 1 and ("(errno 13)" in out), out
    assert "wrong-key-abcdef" not in out and "wrong-key-abcdef" not in err
    assert stats["retries"] <= 1  # at most the one retry a 401 earns


def test_concurrent_generation_shares_the_client(server):
    create_and_wait(server.url, "par", epochs="5")
    rc, out, stats, _ = cli(server.url, "generate", "par", "1", opts=("--threads", "8", "--repeat", "5"))
    assert rc == 0, out
    assert "calls: 40 failures: 0" in out, out
    assert stats["requests"] == 40 and stats["failures"] == 0
