"""tunedfs-server's Cloud Storage routes over real HTTP: media and resumable uploads,
metadata, downloads, deletes, and their errors in the JSON API's envelope."""
import json
import os
import urllib.parse

BEARER = {"Authorization": "Bearer any-token"}


def upload(server, bucket, name, data, ctype="application/jsonl", headers=None):
    q = urllib.parse.urlencode({"uploadType": "media", "name": name})
    h = dict(BEARER, **{"Content-Type": ctype})
    h.update(headers or {})
    return server.request("POST", f"/upload/storage/v1/b/{bucket}/o?{q}", raw=data, headers=h)


def obj_path(bucket, name):
    return f"/storage/v1/b/{bucket}/o/" + urllib.parse.quote(name, safe="")


def raw_get(server, path, headers=BEARER):
    import urllib.request
    req = urllib.request.Request(server.url + path, headers=headers)
    with urllib.request.urlopen(req) as r:
        return r.status, r.read(), dict(r.headers)


def error_of(status_body, code, status):
    st, body, _ = status_body
    assert st == code, body
    assert body["error"]["code"] == code and body["error"]["status"] == status
    assert body["error"]["message"] and body["error"]["errors"][0]["reason"]
    return body["error"]["message"]


def test_media_upload_get_delete(server):
    data = "".join(json.dumps({"n": i}) + "\n" for i in range(50)).encode()
    name = "tunedfs/my model/train-ü.jsonl"
    st, o, _ = upload(server, "bkt", name, data)
    assert st == 200, o
    assert o["kind"] == "storage#object" and o["name"] == name and o["bucket"] == "bkt"
    assert o["size"] == str(len(data)) and o["contentType"] == "application/jsonl"
    assert o["generation"].isdigit() and o["md5Hash"]
    st, meta, _ = server.request("GET", obj_path("bkt", name), headers=BEARER)
    assert st == 200 and meta["name"] == name and meta["size"] == o["size"]
    st, body, h = raw_get(server, obj_path("bkt", name) + "?alt=media")
    assert st == 200 and body == data and h["Content-Type"] == "application/jsonl"
    # the mediaLink is served too (same host, as the client was told)
    link = urllib.parse.urlsplit(o["mediaLink"])
    st, body, _ = raw_get(server, link.path + "?" + link.query)
    assert body == data
    # a second upload replaces it
    st, o2, _ = upload(server, "bkt", name, b"short\n")
    assert st == 200 and o2["size"] == "6"
    st, _, _ = server.request("DELETE", obj_path("bkt", name), headers=BEARER)
    assert st == 204
    error_of(server.request("GET", obj_path("bkt", name), headers=BEARER), 404, "NOT_FOUND")
    error_of(server.request("DELETE", obj_path("bkt", name), headers=BEARER), 404,
             "NOT_FOUND")


def test_upload_errors(server):
    q = "uploadType=multipart&name=x"
    error_of(server.request("POST", f"/upload/storage/v1/b/bkt/o?{q}", raw=b"x",
                            headers=BEARER), 400, "INVALID_ARGUMENT")
    error_of(server.request("POST", "/upload/storage/v1/b/bkt/o?uploadType=media", raw=b"x",
                            headers=BEARER), 400, "INVALID_ARGUMENT")
    error_of(upload(server, "B!", "x", b"x"), 400, "INVALID_ARGUMENT")
    assert upload(server, "bkt", "once", b"1")[0] == 200
    q = "uploadType=media&name=once&ifGenerationMatch=0"
    error_of(server.request("POST", f"/upload/storage/v1/b/bkt/o?{q}", raw=b"2",
                            headers=BEARER), 412, "FAILED_PRECONDITION")
    error_of(server.request("GET", obj_path("nobucket", "x"), headers=BEARER), 404,
             "NOT_FOUND")


def test_bearer_required(server_factory, tmp_path):
    s = server_factory()
    error_of(upload(s, "bkt", "x", b"x", headers={"Authorization": ""}), 401,
             "UNAUTHENTICATED")
    st, body, _ = s.request("GET", obj_path("bkt", "x"), headers={"x-goog-api-key": "k"})
    assert st == 401 and body["error"]["status"] == "UNAUTHENTICATED"
    clients = tmp_path / "clients.json"
    clients.write_text("{}")
    locked = server_factory("--oauth-clients", str(clients), sub="locked")
    error_of(upload(locked, "bkt", "x", b"x"), 401, "UNAUTHENTICATED")


def session(server, name, ctype="application/jsonl"):
    q = urllib.parse.urlencode({"uploadType": "resumable", "name": name})
    st, body, h = server.request("POST", f"/upload/storage/v1/b/bkt/o?{q}", raw=b"",
                                 headers=dict(BEARER, **{"X-Upload-Content-Type": ctype}))
    assert st == 200, body
    loc = urllib.parse.urlsplit(h["Location"])
    assert loc.path == "/upload/storage/v1/b/bkt/o" and "upload_id=" in loc.query
    return loc.path + "?" + loc.query


def test_resumable_upload_in_chunks(server):
    data = os.urandom(600 * 1024)
    url = session(server, "big/train.jsonl")
    chunk = 256 * 1024
    # no Authorization on the session URI: it is its own credential
    st, _, h = server.request("PUT", url, raw=data[:chunk],
                              headers={"Content-Range": f"bytes 0-{chunk - 1}/*"})
    assert st == 308 and h["Range"] == f"bytes=0-{chunk - 1}"
    # a chunk sent from the wrong offset is told where the session is
    st, _, h = server.request("PUT", url, raw=data[:10],
                              headers={"Content-Range": "bytes 5-14/*"})
    assert st == 308 and h["Range"] == f"bytes=0-{chunk - 1}"
    st, _, h = server.request("PUT", url, raw=b"",
                              headers={"Content-Range": f"bytes */{len(data)}"})
    assert st == 308 and h["Range"] == f"bytes=0-{chunk - 1}"
    st, _, h = server.request("PUT", url, raw=data[chunk:2 * chunk],
                              headers={"Content-Range": f"bytes {chunk}-{2 * chunk - 1}/*"})
    assert st == 308 and h["Range"] == f"bytes=0-{2 * chunk - 1}"
    rest = data[2 * chunk:]
    st, o, _ = server.request(
        "PUT", url, raw=rest,
        headers={"Content-Range": f"bytes {2 * chunk}-{len(data) - 1}/{len(data)}"})
    assert st == 200 and o["size"] == str(len(data)) and o["name"] == "big/train.jsonl"
    assert o["contentType"] == "application/jsonl"
    st, body, _ = raw_get(server, obj_path("bkt", "big/train.jsonl") + "?alt=media")
    assert body == data
    # the session is over
    st, _, _ = server.request("PUT", url, raw=b"x", headers={"Content-Range": "bytes 0-0/1"})
    assert st == 404


def test_resumable_whole_and_cancel(server):
    url = session(server, "one.jsonl")
    st, o, _ = server.request("PUT", url, raw=b"abc\n")
    assert st == 200 and o["size"] == "4"
    url = session(server, "gone.jsonl")
    st, _, _ = server.request("DELETE", url)
    assert st == 499
    st, _, _ = server.request("PUT", url, raw=b"abc\n")
    assert st == 404
    st, _, _ = server.request("GET", obj_path("bkt", "gone.jsonl"), headers=BEARER)
    assert st == 404


def test_list_by_prefix_in_pages_and_with_a_delimiter(server):
    names = ["a/x/1", "a/x/2", "a/y", "a/z/3", "b/1", "a"]
    for n in names:
        assert upload(server, "lbk", n, b"d\n")[0] == 200

    def page(**q):
        st, body, _ = server.request(
            "GET", "/storage/v1/b/lbk/o?" + urllib.parse.urlencode(q), headers=BEARER)
        assert st == 200, body
        assert body["kind"] == "storage#objects"
        return body

    got = page(prefix="a/")
    assert [o["name"] for o in got["items"]] == ["a/x/1", "a/x/2", "a/y", "a/z/3"]
    assert got["items"][0]["bucket"] == "lbk" and "nextPageToken" not in got
    first = page(prefix="a/", maxResults=3)
    assert [o["name"] for o in first["items"]] == ["a/x/1", "a/x/2", "a/y"]
    rest = page(prefix="a/", maxResults=3, pageToken=first["nextPageToken"])
    assert [o["name"] for o in rest["items"]] == ["a/z/3"] and "nextPageToken" not in rest
    folded = page(prefix="a/", delimiter="/")
    assert [o["name"] for o in folded["items"]] == ["a/y"]
    assert folded["prefixes"] == ["a/x/", "a/z/"]
    assert len(page()["items"]) == 6
    # nothing under a prefix: no items at all, as the service answers
    assert "items" not in page(prefix="none/")
    assert "items" not in server.request("GET", "/storage/v1/b/empty-bkt/o",
                                         headers=BEARER)[1]
    error_of(server.request("GET", "/storage/v1/b/lbk/o?pageToken=zz", headers=BEARER), 400,
             "INVALID_ARGUMENT")
    for n in names:
        assert server.request("DELETE", obj_path("lbk", n), headers=BEARER)[0] == 204
    assert "items" not in page()
