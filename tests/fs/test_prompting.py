"""Prompts in parallel and tools that walk the tree: each process (or shell and the
commands it runs) reads the answer to its own prompt; answers are generated when a prompt
is written, never when a file is read, so grep -r, cp -a, tar, find, du and head */*
send no request to the service."""
import json
import os
import shlex
import subprocess
import time
import urllib.request

import pytest

# 32 prompts with 32 different answers once trained
PAIRS = [(f"q{i}", f"a{i * 7 % 100}") for i in range(10, 42)]
PAIR_CONFIG = "base_model = models/gemini-1.0-pro-001\nepoch_count = 40\nbatch_size = 4\n"


def sh(cmd, **kw):
    return subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=300, **kw)


def direct(server, model, prompt):
    """The server's own answer to prompt (greedy: the same every time), not via tunedfs."""
    body = json.dumps({"contents": [{"role": "user", "parts": [{"text": prompt}]}]}).encode()
    req = urllib.request.Request(f"{server.url}/v1beta/tunedModels/{model}:generateContent",
                                 data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        out = json.loads(r.read())
    return "".join(p.get("text", "") for p in out["candidates"][0]["content"]["parts"])


def requests(server):
    """{route: count} of what the server was asked, the stats route left out."""
    st, body, _ = server.request("GET", "/debug/stats")
    assert st == 200
    out = {k: v["requests"] for k, v in body.get("routes", {}).items()}
    out.pop("debug.stats", None)
    return out


def generations(server):
    return sum(v for k, v in requests(server).items() if "gen" in k.lower())


@pytest.fixture
def kv(mount):
    """An ACTIVE model that maps each of PAIRS' prompts to its own answer."""
    examples = [{"text_input": q, "output": a} for q, a in PAIRS]
    mount.make_active("kv", examples=examples, config=PAIR_CONFIG)
    truth = {q: direct(mount.server, "kv", q) for q, _ in PAIRS}
    # the check below can only tell answers apart if they differ
    assert len(set(truth.values())) >= 24, truth
    return mount, truth


def wrong_lines(out, truth):
    got = dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)
    assert len(got) == len(truth), out
    return [(q, got[q], truth[q]) for q in truth if got[q] != truth[q]]


def test_xargs_p32_each_shell_reads_its_own_answer(kv):
    m, truth = kv
    d = shlex.quote(m.p("kv"))
    before = generations(m.server)
    cmd = (f"printf '%s\\n' {' '.join(truth)} | xargs -P 32 -I{{}} sh -c "
           f"'echo {{}} > {d}/prompt; printf \"%s\\t%s\\n\" {{}} \"$(cat {d}/response)\"'")
    r = sh(cmd)
    assert r.returncode == 0, r.stderr
    assert wrong_lines(r.stdout, truth) == []
    # one request per prompt, none for the reads
    assert generations(m.server) - before == len(truth)


def test_make_j8_one_recipe_line_per_prompt(tmp_path, kv):
    m, truth = kv
    d = m.p("kv")
    qs = list(truth)[:16]
    mk = tmp_path / "Makefile"
    mk.write_text("all: " + " ".join(f"out/{q}" for q in qs) + "\n"
                  f"out/%:\n\t@mkdir -p out; echo $* > {d}/prompt; cat {d}/response > $@\n")
    r = subprocess.run(["make", "-j8", "-f", str(mk)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    wrong = [(q, (tmp_path / "out" / q).read_text(), truth[q]) for q in qs
             if (tmp_path / "out" / q).read_text() != truth[q] + "\n"]
    assert wrong == []


def test_two_interleaving_shells(kv):
    m, truth = kv
    d = shlex.quote(m.p("kv"))
    qs = list(truth)
    loops = []
    for half in (qs[0::2], qs[1::2]):
        loops.append(subprocess.Popen(
            ["sh", "-c", f"for q in {' '.join(half)}; do echo $q > {d}/prompt; "
             f"sleep 0.01; printf '%s\\t%s\\n' $q \"$(cat {d}/response)\"; done"],
            stdout=subprocess.PIPE, text=True))
    out = "".join(p.communicate(timeout=300)[0] for p in loops)
    assert all(p.returncode == 0 for p in loops)
    assert wrong_lines(out, truth) == []


def test_relations_that_share_a_prompt(kv):
    """The writer itself, a command the writing shell runs, a subshell's command, a writer
    run by the shell (tee) for the shell's other commands; a process that wrote nothing
    gets the last committed prompt."""
    m, truth = kv
    d = m.p("kv")
    q1, q2, q3, q4 = list(truth)[:4]
    # the writer itself reads its own prompt back, and its answer
    with open(os.path.join(d, "prompt"), "w") as f:
        f.write(q1 + "\n")
    assert m.read("kv", "prompt") == q1 + "\n"
    assert m.read("kv", "response") == truth[q1] + "\n"
    # the shell writes, a command it runs reads; then a command in a command substitution
    r = sh(f"echo {q2} > {d}/prompt; cat {d}/response; echo \"$(cat {d}/prompt)\"")
    assert r.stdout == f"{truth[q2]}\n{q2}\n", r
    # a command the shell runs writes (tee), another command of that shell reads
    r = sh(f"echo {q3} | tee {d}/prompt > /dev/null; cat {d}/response")
    assert r.stdout == truth[q3] + "\n", r
    # a subshell writes, the shell's next command reads
    r = sh(f"(echo {q4} > {d}/prompt); cat {d}/response")
    assert r.stdout == truth[q4] + "\n", r
    # an unrelated reader: the last prompt committed (q4), not this test process's own
    r = subprocess.run(["setsid", "sh", "-c", f"cat {d}/prompt {d}/response"],
                       capture_output=True, text=True, start_new_session=True)
    assert r.stdout in (f"{q4}\n{truth[q4]}\n",), r


def test_prompt_never_reads_empty_while_written(kv):
    m, truth = kv
    d = m.p("kv")
    q1, q2 = list(truth)[:2]
    sh(f"echo {q1} > {d}/prompt")
    # a shell that opened prompt with O_TRUNC and has not written yet
    w = subprocess.Popen(["sh", "-c", f"exec 3> {d}/prompt; sleep 1; echo {q2} >&3"])
    time.sleep(0.4)
    r = subprocess.run(["setsid", "cat", f"{d}/prompt"], capture_output=True, text=True)
    assert r.stdout == q1 + "\n"
    w.wait(timeout=10)
    r = subprocess.run(["setsid", "cat", f"{d}/prompt"], capture_output=True, text=True)
    assert r.stdout == q2 + "\n"


def test_reading_never_generates(tmp_path, mount_factory, server_factory):
    """A walk over models in every state sends no request, and is quick."""
    s = server_factory()
    m = mount_factory(server=s)
    m.make_active("done")
    m.ask("done", "1")  # answered and cached
    m.make_active("asked")
    m.make_draft("draft")
    os.mkdir(m.p("empty"))
    m.make_draft("training", config=PAIR_CONFIG.replace("40", "4000"))
    assert m.read("training", "state") == "CREATING\n"
    # a prompt kept from before an unmount whose answer was never cached
    m.write("asked", "prompt", data="3\n")
    assert m.read("asked", "response")
    for f in os.listdir(m.cache_dir):
        p = os.path.join(m.cache_dir, f)
        if os.path.isdir(p):
            subprocess.run(["rm", "-rf", p])
    m.restart()
    out = tmp_path / "out"
    out.mkdir()
    walks = [f"grep -r . {m.path} > /dev/null",
             f"cp -a {m.path}/done {m.path}/asked {m.path}/training {out}/",
             f"tar cf {out}/all.tar -C {m.path} .",
             f"find {m.path} -type f > /dev/null",
             f"du -a {m.path} > /dev/null",
             f"head -n1 {m.path}/*/* > /dev/null",
             f"rsync -a {m.path}/ {out}/rs/"]
    before = requests(s)
    for w in walks:
        t0 = time.monotonic()
        r = sh(w)
        took = time.monotonic() - t0
        assert took < 1.5, (w, took)
        assert r.returncode in (0, 1, 2, 23), (w, r)
    after = requests(s)
    gens = {k: after.get(k, 0) - before.get(k, 0) for k in after if "gen" in k.lower()}
    assert sum(gens.values()) == 0, gens
    # the training model still trains, and wait is there by name but not listed
    assert "wait" not in os.listdir(m.p("training"))
    assert os.path.exists(m.p("training", "wait"))
