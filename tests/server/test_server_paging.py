"""Paging through many tuned models: stable creation order, small and clamped page sizes,
opaque tokens, bad tokens refused."""


def list_all(server, size):
    names, token, pages = [], None, 0
    while True:
        q = f"?pageSize={size}" + (f"&pageToken={token}" if token else "")
        st, body, _ = server.request("GET", "/v1beta/tunedModels" + q)
        assert st == 200, body
        batch = [m["name"] for m in body.get("tunedModels", [])]
        assert len(batch) <= size
        names += batch
        pages += 1
        token = body.get("nextPageToken")
        if not token:
            return names, pages


def test_paging_250(server, make_model):
    created = []
    for i in range(250):
        op, _ = make_model(server, f"m{i:03d}-x", wait=False)
        created.append(op["metadata"]["tunedModel"])
    # Creation order, not id order: ids were made to sort differently from it.
    names, pages = list_all(server, 7)
    assert names == created and pages == 36
    names, pages = list_all(server, 100)
    assert names == created and pages == 3
    # Default 10; above 1000 clamps to 1000.
    st, body, _ = server.request("GET", "/v1beta/tunedModels")
    assert len(body["tunedModels"]) == 10 and body["nextPageToken"]
    st, body, _ = server.request("GET", "/v1beta/tunedModels?page_size=5000")
    assert st == 200 and len(body["tunedModels"]) == 250 and "nextPageToken" not in body

    # A deletion between pages neither repeats nor skips the others.
    st, first, _ = server.request("GET", "/v1beta/tunedModels?pageSize=50")
    token = first["nextPageToken"]
    server.request("DELETE", "/v1beta/" + created[50])
    server.request("DELETE", "/v1beta/" + created[10])
    st, second, _ = server.request("GET", f"/v1beta/tunedModels?pageSize=50&pageToken={token}")
    assert [m["name"] for m in second["tunedModels"]] == created[51:101]

    for m in created[::25]:
        if m not in (created[50], created[10]):
            server.wait_model(m)


def test_bad_page_token(server, make_model):
    make_model(server, "one", wait=False)
    for tok in ["garbage", "0000000000000000000z", "00000000000000000000", "%zz"]:
        st, body, _ = server.request("GET", "/v1beta/tunedModels?pageToken=" + tok)
        assert st == 400 and body["error"]["status"] == "INVALID_ARGUMENT", tok
    st, body, _ = server.request("GET", "/v1beta/tunedModels/one/operations?pageToken=bad")
    assert st == 400
    st, body, _ = server.request("GET", "/v1beta/models?pageToken=bad")
    assert st == 400
    server.wait_model("tunedModels/one")


def test_filter(server, make_model):
    make_model(server, "a1", display="Roman numerals", wait=False)
    make_model(server, "b1", display="Number generator", wait=False)
    st, body, _ = server.request("GET", "/v1beta/tunedModels?filter=roman")
    assert [m["name"] for m in body["tunedModels"]] == ["tunedModels/a1"]
    st, body, _ = server.request("GET", "/v1beta/tunedModels?filter=owner:me")
    assert len(body["tunedModels"]) == 2
    server.wait_model("tunedModels/a1")
    server.wait_model("tunedModels/b1")
