"""The prompt spool: every file written into MODEL/prompts/ is a prompt whose answer is
started at its close (at most -o max_requests at once, a queue beyond); responses/X
blocks until X's answer; `ls responses/` lists the answers done; the spool is kept like
drafts across an unmount and a kill -9."""
import json
import os
import subprocess

import pytest

from tests.conftest import direct

PAIR_CONFIG = "base_model = models/gemini-1.0-pro-001\nepoch_count = 3\nbatch_size = 4\n"


def requests(server):
    st, body, _ = server.request("GET", "/debug/stats")
    return {k: v["requests"] for k, v in body.get("routes", {}).items()}


def generations(server):
    return sum(v for k, v in requests(server).items() if "gen" in k.lower())



@pytest.fixture
def spooled(tmp_path, mount_factory, server_factory):
    s = server_factory()
    m = mount_factory(server=s, opts=["max_requests=4"])
    m.make_active("sp")
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(200):
        (inputs / f"p{i:03d}").write_text(f"{i}\n")
    return m, inputs


def test_200_prompts_cp_in_and_out(tmp_path, spooled):
    m, inputs = spooled
    assert {"prompts", "responses"} <= set(os.listdir(m.p("sp")))
    before = generations(m.server)
    r = subprocess.run(f"cp {inputs}/* {m.p('sp', 'prompts')}/", shell=True)
    assert r.returncode == 0
    assert len(os.listdir(m.p("sp", "prompts"))) == 200
    out = tmp_path / "out"
    out.mkdir()
    r = subprocess.run(f"cp {m.p('sp', 'responses')}/p* {out}/", shell=True)
    # the glob saw the answers done so far; the rest by name, each blocking until done
    for i in range(200):
        name = f"p{i:03d}"
        if not (out / name).exists():
            subprocess.run(["cp", m.p("sp", "responses", name), str(out / name)], check=True)
    # every answer is the answer to its own prompt
    wrong = []
    for i in range(200):
        want = direct(m.server, "sp", str(i)) + "\n"
        if (out / f"p{i:03d}").read_text() != want:
            wrong.append(i)
    assert wrong == []
    assert sorted(os.listdir(m.p("sp", "responses"))) == sorted(os.listdir(inputs))
    # one request per distinct prompt (the check above asked the server directly)
    assert generations(m.server) - before == 200 + 200
    r = json.loads(m.read("sp", "responses", "p007.json"))
    assert "candidates" in r


def test_make_j8_over_the_spool(tmp_path, spooled):
    m, inputs = spooled
    mk = tmp_path / "Makefile"
    names = sorted(os.listdir(inputs))[:40]
    sp = m.p("sp")
    mk.write_text("all: " + " ".join(f"out/{n}" for n in names) + "\n"
                  f"out/%: in/%\n\t@mkdir -p out; cp $< {sp}/prompts/$*; "
                  f"cp {sp}/responses/$* $@\n")
    r = subprocess.run(["make", "-j8", "-f", str(mk)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for n in names:
        assert (tmp_path / "out" / n).read_text() == \
            direct(m.server, "sp", str(int(n[1:]))) + "\n"


def test_rm_of_a_prompt_removes_its_answer_and_the_spool_survives(spooled):
    m, inputs = spooled
    for n in ("a", "b"):
        m.write("sp", "prompts", n, data="5\n")
    assert m.read("sp", "responses", "a") == m.read("sp", "responses", "b")
    os.unlink(m.p("sp", "prompts", "a"))
    assert sorted(os.listdir(m.p("sp", "responses"))) == ["b"]
    assert not os.path.exists(m.p("sp", "responses", "a"))
    before = generations(m.server)
    m.kill9()
    m.start()
    assert os.listdir(m.p("sp", "prompts")) == ["b"]
    assert m.read("sp", "prompts", "b") == "5\n"
    assert m.read("sp", "responses", "b").endswith("\n")
    assert generations(m.server) == before  # from the response cache
    # rmdir refuses a model with a spool; rm -r takes it along
    with pytest.raises(OSError):
        os.rmdir(m.p("sp"))
    subprocess.run(["rm", "-r", m.p("sp")], check=True)
    assert not os.path.exists(m.p("sp"))
