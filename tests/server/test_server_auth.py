"""Credentials: open by default; with --api-key-file the key may come as x-goog-api-key,
?key= or a Bearer token; with --oauth-clients, tokens from POST /token. Unix sockets."""
import json
import os
import stat
import subprocess
import time
import urllib.parse
import urllib.request

KEY = "AIzaTestKey-0123456789"


def key_server(server_factory, tmp_path):
    kf = tmp_path / "key"
    kf.write_text(KEY + "\n")
    return server_factory("--api-key-file", str(kf))


def test_open_by_default(server):
    st, _, _ = server.request("GET", "/v1beta/tunedModels",
                              headers={"Authorization": "Bearer whatever",
                                       "x-goog-user-project": "p"})
    assert st == 200
    st, _, _ = server.request("GET", "/v1beta/tunedModels")
    assert st == 200


def test_api_key_mode(server_factory, tmp_path, tuning):
    s = key_server(server_factory, tmp_path)
    ok = [({"x-goog-api-key": KEY}, ""), ({}, "?key=" + KEY),
          ({"Authorization": "Bearer " + KEY, "x-goog-user-project": "proj"}, "")]
    for headers, q in ok:
        st, body, _ = s.request("GET", "/v1beta/tunedModels" + q, headers=headers)
        assert st == 200, body
    st, body, _ = s.request("GET", "/v1beta/tunedModels")
    assert st == 401 and body["error"]["status"] == "UNAUTHENTICATED"
    for headers, q in [({"x-goog-api-key": "wrong"}, ""), ({}, "?key=wrong"),
                       ({"Authorization": "Bearer wrong"}, ""),
                       ({"x-goog-api-key": KEY[:-1]}, "")]:
        st, body, _ = s.request("GET", "/v1beta/tunedModels" + q, headers=headers)
        assert st == 403 and body["error"]["status"] == "PERMISSION_DENIED"
        assert KEY not in json.dumps(body)
    # Every API route is guarded, including writes; /debug/stats is not.
    st, _, _ = s.request("POST", "/v1beta/tunedModels", tuning())
    assert st == 401
    st, _, _ = s.request("GET", "/debug/stats")
    assert st == 200
    assert KEY not in s.stderr()


def test_unix_socket(server_factory, tmp_path, curl):
    sock = str(tmp_path / "srv.sock")
    s = server_factory(socket=sock)
    assert s.url == "unix:" + sock
    mode = stat.S_IMODE(os.stat(sock).st_mode)
    assert stat.S_ISSOCK(os.stat(sock).st_mode) and mode & 0o077 == 0
    out = curl(f"curl -s --unix-socket {sock} http://localhost/v1beta/models")
    assert json.loads(out)["models"][0]["name"] == "models/tunedfs-local-1"
    body = json.dumps({"baseModel": "models/tunedfs-local-1", "tuningTask": {
        "hyperparameters": {"epochCount": 1},
        "trainingData": {"examples": {"examples": [{"textInput": "a", "output": "b"}]}}}})
    out = curl(f"curl -s --unix-socket {sock} -X POST -H 'Content-Type: application/json' "
               f"'http://localhost/v1beta/tunedModels?tunedModelId=viasock' -d '{body}'")
    assert json.loads(out)["metadata"]["tunedModel"] == "tunedModels/viasock"
    for _ in range(200):
        out = curl(f"curl -s --unix-socket {sock} http://localhost/v1beta/tunedModels/viasock")
        if json.loads(out)["state"] != "CREATING":
            break
        time.sleep(0.05)
    assert json.loads(out)["state"] == "ACTIVE"
    s.stop()
    assert not os.path.exists(sock)


def test_oauth_tokens(server_factory, tmp_path):
    clients = tmp_path / "clients.json"
    clients.write_text(json.dumps({"authorized_user": [
        {"client_id": "cid", "client_secret": "csecret", "refresh_token": "1//rt"}]}))
    kf = tmp_path / "key"
    kf.write_text(KEY)
    s = server_factory("--oauth-clients", str(clients), "--token-lifetime", "60",
                       "--api-key-file", str(kf))
    form = urllib.parse.urlencode({"grant_type": "refresh_token", "client_id": "cid",
                                   "client_secret": "csecret", "refresh_token": "1//rt"})
    req = urllib.request.Request(s.url + "/token", data=form.encode(), method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(req, timeout=10) as r:
        tok = json.loads(r.read())
    assert tok["access_token"] and tok["expires_in"] <= 60
    st, _, _ = s.request("GET", "/v1beta/tunedModels",
                         headers={"Authorization": "Bearer " + tok["access_token"]})
    assert st == 200
    st, body, _ = s.request("GET", "/v1beta/tunedModels",
                            headers={"Authorization": "Bearer not-a-token"})
    assert st == 401 and body["error"]["status"] == "UNAUTHENTICATED"
    st, _, _ = s.request("GET", "/v1beta/tunedModels", headers={"x-goog-api-key": KEY})
    assert st == 200  # the API key still works beside OAuth
    st, stats, _ = s.request("GET", "/debug/stats")
    assert stats["routes"]["token"]["requests"] == 1
    assert tok["access_token"] not in s.stderr()
