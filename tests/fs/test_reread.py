"""Completed answers read again: responses/X and X.json come from the kernel's page cache
once done, so these check that a reread after the prompt changed (rewritten, or removed
and made again) gives the new answer, that stat shows a done answer's size, and that
`response`, which depends on the reader, follows each new prompt. No timing here."""
import json
import os

import pytest

from tests.fs.test_spool import direct


def reread(path):
    """As cat reads: open, read to the end, close, without isatty."""
    fd = os.open(path, os.O_RDONLY)
    try:
        out = b""
        while True:
            b = os.read(fd, 65536)
            if not b:
                return out.decode()
            out += b
    finally:
        os.close(fd)


@pytest.fixture
def model(mount_factory, server_factory):
    m = mount_factory(server=server_factory())
    m.make_active("rr")
    return m


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_reread_after_prompt_rewrite_gives_the_new_answer(model):
    m = model
    prompt, resp = m.p("rr", "prompts", "q"), m.p("rr", "responses", "q")
    for text in ("first question", "a second, rather different question", "3"):
        write(prompt, text + "\n")
        want = direct(m.server, "rr", text) + "\n"
        for _ in range(5):
            assert reread(resp) == want
        assert os.stat(resp).st_size == len(want.encode())
        whole = json.loads(reread(resp + ".json"))
        assert "candidates" in whole
        assert json.loads(reread(resp + ".json")) == whole


def test_reread_after_rm_and_new_prompt(model):
    m = model
    prompt, resp = m.p("rr", "prompts", "q"), m.p("rr", "responses", "q")
    write(prompt, "before removal\n")
    assert reread(resp) == direct(m.server, "rr", "before removal") + "\n"
    assert reread(resp) == direct(m.server, "rr", "before removal") + "\n"
    os.unlink(prompt)
    with pytest.raises(FileNotFoundError):
        reread(resp)
    write(prompt, "made again\n")
    want = direct(m.server, "rr", "made again") + "\n"
    assert reread(resp) == want
    assert reread(resp) == want


def test_a_handle_open_across_a_rewrite_reads_one_whole_answer(model):
    m = model
    prompt, resp = m.p("rr", "prompts", "q"), m.p("rr", "responses", "q")
    write(prompt, "old one\n")
    old = direct(m.server, "rr", "old one") + "\n"
    assert reread(resp) == old
    fd = os.open(resp, os.O_RDONLY)
    try:
        write(prompt, "new one\n")
        new = direct(m.server, "rr", "new one") + "\n"
        assert reread(resp) == new
        # the page cache is the file's: like a local file rewritten in place, a handle
        # held across the change may read the new answer, but never a mix of the two
        assert os.pread(fd, 65536, 0).decode() in (old, new)
    finally:
        os.close(fd)
    assert reread(resp) == new


def test_response_follows_each_prompt_of_its_reader(model):
    m = model
    for text in ("one", "two", "one", "three"):
        write(m.p("rr", "prompt"), text + "\n")
        want = direct(m.server, "rr", text) + "\n"
        assert reread(m.p("rr", "response")) == want
        assert reread(m.p("rr", "response")) == want
