"""Answers as they arrive, on each backend against a real tunedfs-server: `response` and
responses/X grow while the server streams (--stream-delay between its events), a reader at
the end waits for more, the finished bytes equal the unstreamed answer, a stream the server
cuts half-way (--cut-rate) is asked again with no byte twice, and a retry that answers
differently from what a reader already has is EIO with the reason in `error`.
"""
import json
import os
import time

import pytest

BEARER_OPENAI = {"Authorization": "Bearer sk-tunedfs-test-key"}
BEARER_VERTEX = {"Authorization": "Bearer test-token"}
# Long outputs: a model tuned for 30 epochs on these answers at length (up to
# max_output_tokens); after 2 epochs its answer was a few random bytes now and then.
EXAMPLES = [{"text_input": str(i), "output": " ".join(["counting on and on"] * 8)}
            for i in range(2)]
GENERATION = "temperature = 0\nmax_output_tokens = 80\n"
PROMPT = "1"
# With --seed 3 the first draw of --cut-rate 0.5 cuts and the second does not.
CUT_ONCE = ["--cut-rate", "0.5", "--seed", "3"]

BACKENDS = {
    "gemini": ([], None, "base_model = models/gemini-1.0-pro-001\nepoch_count = 30\n"),
    "vertex": (["backend=vertex", "project=test-proj", "bucket=bkt",
                "token_command=echo test-token"], None,
               "base_model = gemini-2.5-flash\nepoch_count = 30\n"),
    "openai": (["backend=openai"], {"OPENAI_API_KEY": "sk-tunedfs-test-key"},
               "base_model = gpt-4.1-mini-2025-04-14\nepoch_count = 30\n"),
}


def mount_for(mount_factory, server, backend):
    opts, env, config = BACKENDS[backend]
    if backend == "openai":
        opts = opts + ["endpoint=" + server.url + "/v1"]
    m = mount_factory(server=server, opts=opts,
                      env=dict(os.environ, **env) if env else None)
    m.make_active("s", examples=EXAMPLES, config=config)
    m.write("s", "generation", data=GENERATION)
    return m


def unstreamed(m, backend, prompt):
    """The answer to prompt through the server's unstreamed route, with the same settings."""
    model = json.loads(m.read("s", "model.json"))
    if backend == "openai":
        body = {"model": model["fine_tuned_model"], "temperature": 0,
                "max_completion_tokens": 80,
                "messages": [{"role": "user", "content": prompt}]}
        st, a, _ = m.server.request("POST", "/v1/chat/completions", body,
                                    headers=BEARER_OPENAI)
        assert st == 200, a
        return a["choices"][0]["message"]["content"]
    body = {"contents": [{"role": "user", "parts": [{"text": prompt}]}],
            "generationConfig": {"temperature": 0, "maxOutputTokens": 80}}
    if backend == "vertex":
        path = "/v1/" + model["tunedModel"]["endpoint"] + ":generateContent"
        st, a, _ = m.server.request("POST", path, body, headers=BEARER_VERTEX)
    else:
        st, a, _ = m.server.request("POST", "/v1beta/tunedModels/s:generateContent", body)
    assert st == 200, a
    return "".join(p["text"] for p in a["candidates"][0]["content"]["parts"])


def read_timed(path):
    """Reads path to its end: (bytes, seconds to the first byte, seconds to the end,
    number of reads that returned bytes)."""
    t0 = time.monotonic()
    fd = os.open(path, os.O_RDONLY)
    data, first, pieces = b"", None, 0
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            if first is None:
                first = time.monotonic() - t0
            data += chunk
            pieces += 1
    finally:
        os.close(fd)
    return data, first, time.monotonic() - t0, pieces


def stream_requests(server):
    st, stats, _ = server.request("GET", "/debug/stats")
    assert st == 200
    return sum(r["requests"] for name, r in stats.get("routes", {}).items()
               if "streamGenerateContent" in name or "chat" in name)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_response_grows_while_the_answer_streams(mount_factory, server_factory, backend):
    s = server_factory("--stream-delay", "100")
    m = mount_for(mount_factory, s, backend)
    m.write("s", "prompt", data=PROMPT + "\n")
    data, first, total, pieces = read_timed(m.p("s", "response"))
    text = data.decode()
    want = unstreamed(m, backend, PROMPT)
    assert text == want + "\n"
    assert len(want) >= 40, want  # several 8-byte events, so several delays
    # the first bytes came while the rest was still being sent
    assert pieces >= 3, (pieces, text)
    assert first < total - 0.3, (first, total)
    assert m.read("s", "error") == ""
    # done: the answer now comes whole from the cache, and equal
    assert m.read("s", "response") == text


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_spool_response_grows_while_the_answer_streams(mount_factory, server_factory,
                                                       backend):
    s = server_factory("--stream-delay", "100")
    m = mount_for(mount_factory, s, backend)
    m.write("s", "prompts", "q", data=PROMPT + "\n")
    data, first, total, pieces = read_timed(m.p("s", "responses", "q"))
    assert data.decode() == unstreamed(m, backend, PROMPT) + "\n"
    assert pieces >= 3 and first < total - 0.3, (pieces, first, total)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_cut_stream_is_asked_again_without_a_byte_twice(mount_factory, server_factory,
                                                          backend):
    s = server_factory("--stream-delay", "50", *CUT_ONCE)
    m = mount_for(mount_factory, s, backend)
    before = stream_requests(s)
    m.write("s", "prompt", data=PROMPT + "\n")
    data, first, total, pieces = read_timed(m.p("s", "response"))
    assert stream_requests(s) - before == 2  # cut once, then whole
    assert data.decode() == unstreamed(m, backend, PROMPT) + "\n"
    assert pieces >= 2 and first < total - 0.2, (pieces, first, total)
    assert m.read("s", "error") == ""


def test_a_retry_that_answers_differently_is_eio_with_the_reason(mount_factory,
                                                                server_factory):
    # At temperature 2 the model may end its answer within its first event, and an answer
    # that short is cut before any byte of it goes out (the retry is then simply the
    # answer): such a round only checks that, and a fresh server and mount try again.
    for attempt in range(4):
        s = server_factory("--stream-delay", "100", *CUT_ONCE)
        m = mount_for(mount_factory, s, "gemini")
        m.allow += [r"retry answered differently"]
        m.write("s", "generation", data="temperature = 2\nmax_output_tokens = 200\n")
        m.write("s", "prompt", data=PROMPT + "\n")
        fd = os.open(m.p("s", "response"), os.O_RDONLY)
        try:
            got = os.read(fd, 65536)
            assert got, "the first bytes come before the cut"
            try:
                while True:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    got += chunk
            except OSError as e:
                assert e.errno == 5, e  # EIO
                break
        finally:
            os.close(fd)
        # read whole with no EIO: then no byte of the cut stream went out, and what was
        # read is exactly the retry's answer, as kept (never a splice of the two)
        with open(m.p("s", "response"), "rb") as f:
            assert got == f.read(), got
    else:
        raise AssertionError("four answers in a row too short to be cut mid-way")
    assert "retry answered differently" in m.read("s", "error")
    # nothing of it was cached: the prompt written again asks again (the next stream is
    # not cut) and gets a whole answer
    before = stream_requests(s)
    m.write("s", "prompt", data=PROMPT + "\n")
    again = m.read("s", "response")
    assert stream_requests(s) == before + 1
    assert again.endswith("\n") and m.read("s", "error") == ""
