"""countTokens of tunedfs-server's Gemini routes: one token per byte of the text parts, on
base models and tuned ones, in either request form; its errors; the same count on the
Vertex publisher route and in generateContent's usage."""

URL = "/v1beta/models/tunedfs-local-1:countTokens"


def turns(*texts):
    return [{"role": "user" if i % 2 == 0 else "model", "parts": [{"text": t}]}
            for i, t in enumerate(texts)]


def test_counts_bytes_of_the_text_parts(server):
    st, c, _ = server.request("POST", URL, {"contents": turns("hello", "wörld")})
    assert st == 200 and c["totalTokens"] == 5 + 6, c
    st, c, _ = server.request("POST", URL, {"generateContentRequest": {
        "contents": turns("abc"), "systemInstruction": {"parts": [{"text": "be brief"}]}}})
    assert st == 200 and c["totalTokens"] == 3, c  # the inner request's contents
    st, c, _ = server.request("POST", URL, {"contents": turns("abc"),
                                            "systemInstruction": {"parts": [{"text": "xy"}]}})
    assert st == 200 and c["totalTokens"] == 5, c
    # a real service's base name counts the same way
    st, c, _ = server.request("POST", "/v1beta/models/gemini-1.5-flash-001-tuning:countTokens",
                              {"contents": turns("1", "2")})
    assert st == 200 and c["totalTokens"] == 2, c


def test_errors(server):
    st, c, _ = server.request("POST", "/v1beta/models/no-such-model:countTokens",
                              {"contents": turns("a")})
    assert st == 404 and c["error"]["status"] == "NOT_FOUND", c
    st, c, _ = server.request("POST", URL, {"contents": "a"})
    assert st == 400 and c["error"]["status"] == "INVALID_ARGUMENT", c
    st, c, _ = server.request("POST", URL, raw=b"{not json")
    assert st == 400, c
    st, c, _ = server.request("POST", "/v1beta/tunedModels/nothing-here:countTokens",
                              {"contents": turns("a")})
    assert st == 404, c


def test_tuned_model_and_usage_agree(server, make_model):
    make_model(server, "counted", epochs=1)
    st, c, _ = server.request("POST", "/v1beta/tunedModels/counted:countTokens",
                              {"contents": turns("12345")})
    assert st == 200 and c["totalTokens"] == 5, c
    st, g, _ = server.request("POST", "/v1beta/tunedModels/counted:generateContent",
                              {"contents": turns("12345")})
    assert st == 200, g
    u = g["usageMetadata"]
    assert u["promptTokenCount"] == 5
    text = "".join(p["text"] for p in g["candidates"][0]["content"]["parts"])
    assert u.get("candidatesTokenCount", 0) == len(text.encode())
    st, s, _ = server.request("GET", "/debug/stats")
    assert s["routes"]["tunedModels.countTokens"]["requests"] == 1
