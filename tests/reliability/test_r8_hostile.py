"""The mount against a hostile service (tests/reliability/hostile.py): what tunedfs-server
never does. Listings that page in a circle or never end stop with an error and bounded
memory; a 200 that carries an error is an error, never cached; answers in flight keep to
-o max_inflight_mib; an unreachable first listing is EIO, not an empty root; an answer
about another model or a name with a NUL makes no directory; retries last as long as the
time budget; messages say what happened."""
import errno
import json
import os
import re
import threading
import time

import pytest

from tests.reliability.hostile import (Hostile, Reply, answer_json, generates, model_json,
                                       rpc_error, wait_for)


@pytest.fixture
def hostile():
    h = Hostile()
    yield h
    h.close()


def rss_mib(m, field="VmHWM"):
    with open(f"/proc/{m.proc.pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0


def read_errno(path):
    try:
        with open(path, "rb") as f:
            f.read()
    except OSError as e:
        return e.errno
    return 0


def listings(h):
    """(listings begun, pages asked) of the tuned-model list."""
    first = h.count("GET", "/v1beta/tunedModels", lambda q: "pageToken" not in q and
                    "pageSize" in q)
    pages = h.count("GET", "/v1beta/tunedModels", lambda q: "pageSize" in q)
    return first, pages


# --- listings ---------------------------------------------------------------------------

def test_page_tokens_in_a_circle_stop_the_listing(hostile, mount_factory):
    """Tokens A, B, A, B...: each listing stops at the repeated token (3 pages), says so in
    the log, and the mount's memory stays small."""
    nxt = {None: "A", "A": "B", "B": "A"}

    def hook(req):
        if req.path == "/v1beta/tunedModels":
            tok = req.query.get("pageToken")
            return Reply(body={"tunedModels": [model_json(f"m{tok or 'x'}".lower())],
                               "nextPageToken": nxt[tok]})
    hostile.hook = hook
    m = mount_factory(server=hostile)
    m.allow = [r"listing stopped: .*page token it had given before",
               r"listing tuned models failed"]
    _listdir(m.path)
    assert wait_for(lambda: "given before" in m.stderr(), 10), m.stderr()
    time.sleep(1)
    first, pages = listings(hostile)
    assert first >= 1 and pages <= 3 * first, (first, pages)
    assert rss_mib(m, "VmRSS") < 300


def test_an_endless_listing_stops_at_the_cap(hostile, mount_factory):
    """Pages of 1,000 new models and a new token, forever: the listing stops at its cap
    on models (200,000), with an error in the log, and the mount's memory stays bounded."""
    count = [0]

    def hook(req):
        if req.path == "/v1beta/tunedModels":
            count[0] += 1
            k = count[0]
            return Reply(body={"tunedModels": [model_json(f"p{k}-{i}") for i in range(1000)],
                               "nextPageToken": f"t{k}"})
    hostile.hook = hook
    m = mount_factory(server=hostile, opts=["list_ttl=3600"])
    m.allow = [r"listing stopped: the listing goes on past", r"listing tuned models failed"]
    _listdir(m.path)
    assert wait_for(lambda: "listing stopped" in m.stderr(), 120), m.stderr()
    first, pages = listings(hostile)
    assert pages <= 201 * first, (first, pages)
    assert rss_mib(m) < 1024


# --- a 200 that is no answer ------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    rpc_error(500, "INTERNAL", "the backend exploded"),
    {"candidates": "the backend exploded"},
    {"candidates": {"0": {"content": {"parts": [{"text": "x"}]}}}},
])
def test_a_200_error_body_is_an_error_and_not_cached(hostile, mount_factory, bad):
    hostile.add_model("alpha")
    broken = [True]
    hostile.hook = lambda req: (Reply(body=bad) if broken[0] and
                                generates(req.path) else None)
    m = mount_factory(server=hostile)
    m.allow = [r"alpha: response: the service's answer is unusable"]
    m.write("alpha", "prompt", data="hi\n")
    assert read_errno(m.p("alpha", "response")) == errno.EIO
    err = m.read("alpha", "error")
    assert "unusable answer" in err and "HTTP 200 :" not in err, err
    if "error" in bad:
        assert "the backend exploded" in err
    broken[0] = False
    # nothing was cached: the prompt written again asks again (a read never asks) and
    # gets the real answer
    m.write("alpha", "prompt", data="hi\n")
    assert m.read("alpha", "response") == "alpha says hi\n"
    assert m.read("alpha", "error") == ""
    m.unmount()
    m.start()
    assert m.read("alpha", "response") == "alpha says hi\n"


# --- in-flight budget ---------------------------------------------------------------------

def test_an_answer_larger_than_the_inflight_budget_fails_clearly(hostile, mount_factory):
    hostile.add_model("alpha")
    big = json.dumps(answer_json("x" * (40 << 20))).encode()
    hostile.hook = lambda req: Reply(body=big) if generates(req.path) else None
    m = mount_factory(server=hostile, opts=["max_inflight_mib=16", "timeout=20"])
    m.allow = [r"alpha: response: "]
    m.write("alpha", "prompt", data="hi\n")
    t = time.monotonic()
    assert read_errno(m.p("alpha", "response")) == errno.EIO
    assert time.monotonic() - t < 10  # it could never fit: no retries
    err = m.read("alpha", "error")
    assert "max_inflight_mib=16" in err and "cannot reach" not in err, err


def test_concurrent_large_answers_keep_to_the_inflight_budget(hostile, mount_factory):
    """8 answers of 40 MB at once with a budget of 64 MiB: they wait their turn (each is
    then found unusable), and the mount's peak memory stays far below 8 x 40 MB."""
    names = [f"m{i}" for i in range(8)]
    for n in names:
        hostile.add_model(n)
    junk = b"#" * (40 << 20)
    hostile.hook = lambda req: (Reply(body=junk) if generates(req.path)
                                else None)
    m = mount_factory(server=hostile, opts=["max_inflight_mib=64", "timeout=180",
                                            "max_threads=16"])
    m.allow = [r": response: "]
    for n in names:
        m.write(n, "prompt", data="hi\n")
    errs = {}

    def ask(n):
        errs[n] = read_errno(m.p(n, "response"))
    threads = [threading.Thread(target=ask, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(200)
    assert errs == {n: errno.EIO for n in names}, errs
    for n in names:
        err = m.read(n, "error")
        assert "cannot reach" not in err, err
        assert "unusable answer" in err or "max_inflight_mib=64" in err, err
    print("peak RSS MiB", rss_mib(m))
    # without the budget: over 8 x 64 MiB of buffers; ASan's quarantine keeps freed memory,
    # and TSan's shadow of the heap multiplies what is live (455 MiB measured here)
    with open(f"/proc/{m.proc.pid}/maps") as f:
        maps = f.read()
    limit = 700 if "libtsan" in maps else 450 if "libasan" in maps else 250
    assert rss_mib(m) < limit, rss_mib(m)


def test_a_waiting_read_of_a_long_answer_gets_full_reads(hostile, mount_factory):
    """A reader waiting for an answer of 300 KB: each 128 KiB read, as cat asks, comes back
    whole (the first try of a waiting read uses a smaller buffer, then asks again), and the
    text is all there."""
    hostile.add_model("alpha")
    hostile.answer = lambda mid, prompt: "x" * 300000

    def slow(req):
        if generates(req.path):
            time.sleep(0.5)  # the reader is waiting when the answer comes
        return None
    hostile.hook = slow
    m = mount_factory(server=hostile)
    m.write("alpha", "prompt", data="hi\n")
    fd = os.open(m.p("alpha", "response"), os.O_RDONLY)
    try:
        sizes, out = [], b""
        while True:
            b = os.read(fd, 128 << 10)
            if not b:
                break
            sizes.append(len(b))
            out += b
    finally:
        os.close(fd)
    assert out == b"x" * 300000 + b"\n"
    # the last newline comes with the answer's end, so the tail may come in two reads
    assert sizes[:2] == [128 << 10, 128 << 10], sizes


# --- an unreachable first listing ---------------------------------------------------------

def test_a_failed_first_listing_is_eio_not_an_empty_root(hostile, mount_factory):
    hostile.hook = lambda req: (Reply(403, rpc_error(403, "PERMISSION_DENIED", "no access"))
                                if req.path == "/v1beta/tunedModels" else None)
    m = mount_factory(server=hostile)
    m.allow = [r"listing tuned models failed"]
    with pytest.raises(OSError) as e:
        os.listdir(m.path)
    assert e.value.errno == errno.EIO
    assert os.path.isdir(m.path)
    hostile.hook = None
    hostile.add_model("alpha")
    # a failed listing is asked again at the first look 1 s later (then 2, 4... up to
    # list_ttl): the wait leaves room for a slow sanitizer build
    assert wait_for(lambda: _listdir(m.path) == ["alpha"], 30)


def test_a_failed_listing_is_asked_again_soon_then_less_often(hostile, mount_factory):
    """A failed listing is asked again 1 s later, doubling while it keeps failing, not
    only after list_ttl (here a minute); a look meanwhile is still EIO."""
    hostile.hook = lambda req: (Reply(403, rpc_error(403, "PERMISSION_DENIED", "no access"))
                                if req.path == "/v1beta/tunedModels" else None)
    m = mount_factory(server=hostile, opts=["list_ttl=60"])
    m.allow = [r"listing tuned models failed"]
    t0 = time.monotonic()
    assert _listdir(m.path) is None
    # looked at all the time for 2.5 s: asked again at 1 s, the next not before 3 s (a
    # plain retry every second would have asked at 2 s too)
    while time.monotonic() - t0 < 2.5:
        _listdir(m.path)
        time.sleep(0.05)
    first, _ = listings(hostile)
    assert first <= 2, first
    hostile.hook = None
    hostile.add_model("alpha")
    assert wait_for(lambda: _listdir(m.path) == ["alpha"], 15)


def _listdir(p):
    try:
        return os.listdir(p)
    except OSError:
        return None


# --- names ---------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["other", "error"])
def test_a_get_answered_about_another_model_makes_no_directory(hostile, mount_factory, answer):
    hostile.add_model("alpha")

    def hook(req):
        if req.method == "GET" and req.path == "/v1beta/tunedModels/ghost":
            if answer == "other":
                return Reply(body=model_json("alpha"))
            return Reply(body=rpc_error(404, "NOT_FOUND", "no ghost"))
    hostile.hook = hook
    m = mount_factory(server=hostile)
    m.allow = [r"asked the service for model ghost", r"ghost"]
    assert os.listdir(m.path) == ["alpha"]
    for _ in range(3):
        assert not os.path.exists(m.p("ghost"))
        time.sleep(0.3)
    assert "ghost" not in os.listdir(m.path)
    if answer == "other":
        assert wait_for(lambda: "asked the service for model ghost" in m.stderr(), 5)


def test_listed_names_with_a_nul_or_against_the_id_rule_are_refused(hostile, mount_factory):
    hostile.add_model("alpha")
    bad = [model_json("x"), model_json("x")]
    bad[0]["name"] = "tunedModels/ab\u0000cd"
    bad[1]["name"] = "tunedModels/Bad_Name"
    hostile.hook = lambda req: (Reply(body={"tunedModels": list(hostile.models.values()) + bad})
                                if req.path == "/v1beta/tunedModels" else None)
    m = mount_factory(server=hostile)
    m.allow = [r"listed model .* refused"]
    assert sorted(os.listdir(m.path)) == ["alpha"]
    log = m.stderr()
    assert re.search(r'listed model "ab" refused: its JSON holds a NUL', log), log
    assert re.search(r'listed model "Bad_Name" refused', log), log


# --- retries --------------------------------------------------------------------------------

def test_retries_last_as_long_as_the_time_budget(hostile, mount_factory):
    """12 answers 503 in a row (each asking 20 ms), then the answer: more than the 5
    attempts there used to be, well within the budget."""
    hostile.add_model("alpha")
    left = [12]

    def hook(req):
        if generates(req.path) and left[0] > 0:
            left[0] -= 1
            return Reply(503, rpc_error(503, "UNAVAILABLE", "busy", retry_delay="0.02s"))
    hostile.hook = hook
    m = mount_factory(server=hostile)
    m.write("alpha", "prompt", data="hi\n")
    assert m.read("alpha", "response") == "alpha says hi\n"
    assert hostile.count("POST", "/v1beta/tunedModels/alpha:streamGenerateContent") == 13


# --- messages ---------------------------------------------------------------------------------

def test_an_answer_cut_short_is_not_called_unreachable(hostile, mount_factory):
    hostile.add_model("alpha")

    def cut(handler):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            b"Content-Length: 1000\r\n\r\n{\"candidates\": [")
        handler.wfile.flush()
    hostile.hook = lambda req: Reply(raw=cut) if generates(req.path) else None
    m = mount_factory(server=hostile, opts=["timeout=2"])
    m.allow = [r"alpha: response: "]
    m.write("alpha", "prompt", data="hi\n")
    assert read_errno(m.p("alpha", "response")) == errno.EIO
    err = m.read("alpha", "error")
    assert "cut short" in err and "cannot reach" not in err, err


# --- the private server's environment -------------------------------------------------------

SECRETS = {"GEMINI_API_KEY": "AIzaSECRETgemini", "GOOGLE_API_KEY": "AIzaSECRETgoogle",
           "OPENAI_API_KEY": "sk-SECRETopenai", "GOOGLE_APPLICATION_CREDENTIALS": "/x/adc.json",
           "AWS_SECRET_ACCESS_KEY": "SECRETaws", "TUNEDFS_TEST_TOKEN": "SECRETtoken"}


def test_the_local_server_gets_no_credentials(tmp_path, mount_factory):
    from tests.fs.test_local import servers_under
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"), **SECRETS)
    m = mount_factory(local=True, env=env)
    m.unmount()
    m.env.update(SECRETS)  # the harness drops the Gemini keys: put them back
    m.start()
    assert os.listdir(m.path) == []
    pids = servers_under(str(home))
    assert pids, "no private server running"
    with open(f"/proc/{pids[0]}/environ", "rb") as f:
        environ = f.read().decode(errors="replace")
    for k, v in SECRETS.items():
        assert k not in environ and v not in environ, k
    assert "PATH=" in environ
    with open(f"/proc/{m.proc.pid}/environ", "rb") as f:
        assert b"SECRETgemini" in f.read()  # the mount had it: the child was cleaned


# --- the response cache and the data directory ------------------------------------------------

def cache_entries(m):
    out = []
    for root, _dirs, files in os.walk(m.cache_dir):
        out += [os.path.join(root, f) for f in files if re.fullmatch(r"[0-9a-f]{64}", f)]
    return out


def test_a_cache_entry_edited_on_disk_is_dropped_not_served(hostile, mount_factory):
    hostile.add_model("alpha")
    m = mount_factory(server=hostile)
    m.write("alpha", "prompt", data="hi\n")
    assert m.read("alpha", "response") == "alpha says hi\n"
    assert m.unmount() == 0
    [entry] = cache_entries(m)
    with open(entry, "rb") as f:
        data = f.read()
    assert b"alpha says hi" in data
    with open(entry, "wb") as f:
        f.write(data.replace(b"alpha says hi", b"alpha says NO"))
    hostile.answer = lambda mid, prompt: f"{mid} answers {prompt.strip()} afresh"
    m.start()
    # the edited entry is not served: the prompt kept reads no answer until written again
    assert m.read("alpha", "response") == ""
    m.write("alpha", "prompt", data="hi\n")
    assert m.read("alpha", "response") == "alpha answers hi afresh\n"


def test_no_symlink_is_followed_inside_the_cache_or_data_dir(hostile, mount_factory, tmp_path):
    hostile.add_model("alpha")
    outside = tmp_path / "outside"
    outside.mkdir()
    m = mount_factory(server=hostile)
    m.write("alpha", "prompt", data="first\n")
    assert m.read("alpha", "response") == "alpha says first\n"
    m.make_draft("draft1", config=None)
    assert m.unmount() == 0
    [entry] = cache_entries(m)
    cache = os.path.dirname(os.path.dirname(entry))
    for i in range(256):
        sub = os.path.join(cache, f"{i:02x}")
        if os.path.isdir(sub):
            for f in os.listdir(sub):
                os.unlink(os.path.join(sub, f))
            os.rmdir(sub)
        os.symlink(outside, sub)
    drafts = [r for r, d, f in os.walk(m.data_dir) if os.path.basename(r) == "draft1"]
    assert drafts, list(os.walk(m.data_dir))
    for f in os.listdir(drafts[0]):
        os.unlink(os.path.join(drafts[0], f))
    os.rmdir(drafts[0])
    os.symlink(outside, drafts[0])
    m.start()
    for p in ("second", "third", "fourth"):
        m.write("alpha", "prompt", data=p + "\n")
        assert m.read("alpha", "response") == f"alpha says {p}\n"
    try:
        m.write("draft1", "config", data="epoch_count = 1\n")
    except OSError:
        pass
    assert os.listdir(outside) == []


def test_an_adopted_earlier_create_is_logged_plainly(hostile, mount_factory):
    """The create's first answer is lost (503 after doing it), the retry meets 409 and the
    model turns out to be ours: the log says so, not `tuning submitted ()`."""
    posts = [0]

    def hook(req):
        if req.method == "POST" and req.path == "/v1beta/tunedModels":
            posts[0] += 1
            # the request's settings (QUICK_CONFIG): the model is the request's own
            hostile.add_model("d1", state="ACTIVE", tuningTask={"hyperparameters": {
                "epochCount": 3, "batchSize": 1}})
            if posts[0] == 1:
                return Reply(503, rpc_error(503, "UNAVAILABLE", "lost", retry_delay="0.01s"))
            return Reply(409, rpc_error(409, "ALREADY_EXISTS", "tunedModels/d1 exists"))
    hostile.hook = hook
    m = mount_factory(server=hostile)
    m.make_draft("d1")
    assert m.read("d1", "wait") == "ACTIVE\n", m.read("d1", "error")
    log = m.stderr()
    assert "d1: tuning submitted (an earlier request's model)" in log, log
    assert "tuning submitted ()" not in log
    assert posts[0] == 2
