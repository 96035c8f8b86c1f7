"""OAuth credentials end to end over HTTP: tunedfs-server with --oauth-clients on one side,
the real client code (creds.h + the HTTP layer, driven by tests/auth/auth_probe) on the
other. Every source the mount accepts, short token lifetimes, one refresh for many callers,
a revoked refresh token, and a scan of argv, logs and output for every secret used.
"""
import json
import os
import re
import secrets
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("TUNEDFS_BUILD_DIR", os.path.join(ROOT, "build")))
PROBE = os.path.join(BUILD, "tests", "auth", "auth_probe")
SCOPES = ("https://www.googleapis.com/auth/cloud-platform "
          "https://www.googleapis.com/auth/generative-language.tuning")
CLIENT_ID = "tunedfs-test.apps.example"
SA_EMAIL = "tuner@tunedfs-test.iam.gserviceaccount.com"
CREDENTIAL_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS",
                  "CLOUDSDK_CONFIG", "GOOGLE_CLOUD_QUOTA_PROJECT")

pytestmark = pytest.mark.skipif(not os.path.exists(PROBE), reason="auth_probe not built")


def write_private(path, text):
    """Credential files are 0600 from birth, as gcloud writes them."""
    tmp = str(path) + ".new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.rename(tmp, str(path))  # atomic: the server never reads half a file


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory):
    d = tmp_path_factory.mktemp("rsa")
    key = d / "key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", str(key)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pub = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout"], check=True,
                         stdout=subprocess.PIPE).stdout.decode()
    return key.read_text(), pub


class Auth:
    """The secrets of one test, the clients file the server reads and the ADC files."""

    def __init__(self, tmp_path, rsa_key):
        self.dir = tmp_path
        self.private_key, self.public_key = rsa_key
        self.client_secret = "GOCSPX-" + secrets.token_urlsafe(18)
        self.refresh_token = "1//0" + secrets.token_urlsafe(20) + "/" + secrets.token_urlsafe(8)
        self.clients = tmp_path / "clients.json"
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.write_clients()

    def write_clients(self, revoked=()):
        write_private(self.clients, json.dumps({
            "authorized_user": [{"client_id": CLIENT_ID, "client_secret": self.client_secret,
                                 "refresh_token": self.refresh_token}],
            "service_accounts": [{"client_email": SA_EMAIL, "public_key": self.public_key}],
            "revoked_refresh_tokens": list(revoked),
        }))

    def user_adc(self, token_uri=None, quota_project="tunedfs-quota"):
        d = {"type": "authorized_user", "client_id": CLIENT_ID,
             "client_secret": self.client_secret, "refresh_token": self.refresh_token,
             "quota_project_id": quota_project}
        if token_uri:
            d["token_uri"] = token_uri
        path = self.dir / "adc-user.json"
        write_private(path, json.dumps(d))
        return path

    def sa_adc(self, token_uri):
        path = self.dir / "adc-sa.json"
        write_private(path, json.dumps({
            "type": "service_account", "project_id": "tunedfs-test",
            "private_key_id": "0123abcd", "private_key": self.private_key,
            "client_email": SA_EMAIL, "client_id": "1234567890", "token_uri": token_uri}))
        return path

    def secrets(self):
        body = [ln for ln in self.private_key.splitlines() if ln and "-----" not in ln]
        return [self.client_secret, self.refresh_token, body[3], body[-2]]

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_ENV}
        env["HOME"] = str(self.home)
        env["TUNEDFS_HTTP_DEBUG"] = "1"  # the debug log must not leak either
        env.update({k: str(v) for k, v in extra.items()})
        return env


class Probe:
    def __init__(self, auth, url, args=(), env=None):
        self.log_path = auth.dir / f"probe-{secrets.token_hex(3)}.stderr"
        self.out = []
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([PROBE, url, *args], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log,
                                         env=env if env is not None else auth.env(), text=True)
        self.first = self.read()

    def read(self):
        line = self.proc.stdout.readline().strip()
        self.out.append(line)
        return line

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.read()

    def stats(self):
        _, r, _, f = self.cmd("stats").split()
        return int(r), int(f)

    def close(self):
        if self.proc.stdin:
            self.proc.stdin.close()
        rc = self.proc.wait(timeout=60)
        self.out += [ln.strip() for ln in self.proc.stdout.read().splitlines()]
        self.proc.stdout.close()
        bad = [ln for ln in self.stderr().splitlines()
               if re.search(r"sanitizer|runtime error|leak", ln, re.IGNORECASE)]
        assert not bad, "\n".join(bad)
        return rc

    def stderr(self):
        return self.log_path.read_text(errors="replace")


def oauth_stats(server):
    status, st, _ = server.request("GET", "/debug/stats")
    assert status == 200
    return st["oauth"]


def post_token(server, fields):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(server.url + "/token", data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class SecretWatch:
    """Scans /proc/*/cmdline of every process while a test runs for this test's secrets,
    and afterwards every log and output given to check() for them and for any access
    token the server issued (they all start with "ya29.")."""

    def __init__(self, auth):
        self.needles = auth.secrets()
        self.hits = []
        self.scans = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        argv = f.read().decode(errors="replace")
                except OSError:
                    continue
                # only this test's own secrets: other people's tests run beside us
                for n in self.needles:
                    if n in argv:
                        self.hits.append(f"argv of pid {pid}: {argv[:120]!r}")
            self.scans += 1
            time.sleep(0.05)

    def check(self, texts):
        self.stop.set()
        self.thread.join()
        assert self.scans > 0
        for name, text in texts.items():
            for n in self.needles + ["ya29."]:
                if n in text:
                    self.hits.append(f"{name} shows a secret")
        assert not self.hits, "\n".join(self.hits)


def run_calls(probe, seconds, pause=0.2):
    """Calls for a while; returns the answers that were not ok."""
    bad = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r = probe.cmd("call")
        if r != "ok":
            bad.append(r)
        time.sleep(pause)
    return bad


@pytest.fixture
def auth(tmp_path, rsa_key):
    return Auth(tmp_path, rsa_key)


@pytest.fixture
def oauth_server(server_factory, auth):
    return server_factory("--oauth-clients", str(auth.clients), "--token-lifetime", "2")


def test_token_endpoint_over_http(oauth_server, auth):
    s = oauth_server
    status, body, _ = s.request("GET", "/v1beta/tunedModels")
    assert status == 401 and body["error"]["status"] == "UNAUTHENTICATED"
    grant = {"grant_type": "refresh_token", "client_id": CLIENT_ID,
             "client_secret": auth.client_secret, "refresh_token": auth.refresh_token}
    status, tok = post_token(s, grant)
    assert status == 200, tok
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 2
    assert set(tok["scope"].split()) == set(SCOPES.split())
    bearer = {"Authorization": "Bearer " + tok["access_token"]}
    status, body, _ = s.request("GET", "/v1beta/tunedModels", headers=bearer)
    assert status == 200, body
    status, body = post_token(s, dict(grant, client_secret="wrong"))
    assert (status, body["error"]) == (401, "invalid_client")
    status, body = post_token(s, {"grant_type": "password"})
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    auth.write_clients(revoked=[auth.refresh_token])
    status, body = post_token(s, grant)
    assert (status, body["error"]) == (400, "invalid_grant")
    assert body["error_description"] == "Token has been expired or revoked."
    time.sleep(2.1)  # longer than the token lifetime
    status, body, _ = s.request("GET", "/v1beta/tunedModels", headers=bearer)
    assert status == 401 and body["error"]["status"] == "UNAUTHENTICATED"
    st = oauth_stats(s)
    assert (st["issued"], st["refreshGrants"], st["jwtGrants"]) == (1, 1, 0)


def test_authorized_user_short_tokens(oauth_server, auth):
    """A 2 s token over a run of calls: refreshed ahead of expiry, never a failed call."""
    watch = SecretWatch(auth)
    adc = auth.user_adc()
    p = Probe(auth, oauth_server.url, ["--token-uri", oauth_server.url + "/token"],
              env=auth.env(GOOGLE_APPLICATION_CREDENTIALS=adc))
    assert p.first == "kind authorized_user"
    assert run_calls(p, 6) == []
    refreshes, failures = p.stats()
    assert failures == 0
    assert refreshes >= 3
    assert oauth_stats(oauth_server)["refreshGrants"] == refreshes
    assert p.close() == 0
    watch.check({"probe stderr": p.stderr(), "probe stdout": "\n".join(p.out),
                 "server stderr": oauth_server.stderr()})


def test_service_account_file_token_uri(oauth_server, auth):
    """The service account's JWT goes to the token_uri its own file names."""
    watch = SecretWatch(auth)
    adc = auth.sa_adc(oauth_server.url + "/token")
    p = Probe(auth, oauth_server.url, env=auth.env(GOOGLE_APPLICATION_CREDENTIALS=adc))
    assert p.first == "kind service_account"
    assert run_calls(p, 5) == []
    refreshes, failures = p.stats()
    assert failures == 0 and refreshes >= 2
    assert oauth_stats(oauth_server)["jwtGrants"] == refreshes
    assert p.close() == 0
    watch.check({"probe stderr": p.stderr(), "probe stdout": "\n".join(p.out),
                 "server stderr": oauth_server.stderr()})


def token_command(auth, server):
    """A command that prints an access token the way `gcloud auth application-default
    print-access-token` does, counting its runs. Its secrets are in a 0600 file."""
    conf = auth.dir / "cmd-conf.json"
    write_private(conf, json.dumps({"url": server.url + "/token", "client_id": CLIENT_ID,
                                    "client_secret": auth.client_secret,
                                    "refresh_token": auth.refresh_token}))
    runs = auth.dir / "cmd-runs"
    script = auth.dir / "print-token.py"
    script.write_text(
        "import json, sys, urllib.parse, urllib.request\n"
        "c = json.load(open(sys.argv[1]))\n"
        "open(sys.argv[2], 'a').write('run\\n')\n"
        "form = urllib.parse.urlencode({'grant_type': 'refresh_token', 'client_id':"
        " c['client_id'], 'client_secret': c['client_secret'], 'refresh_token':"
        " c['refresh_token']}).encode()\n"
        "print(json.load(urllib.request.urlopen(c['url'], form))['access_token'])\n")
    return f"/usr/bin/python3 {script} {conf} {runs}", runs


def count_runs(runs):
    return len(runs.read_text().splitlines()) if runs.exists() else 0


def test_token_command_rerun_on_401(oauth_server, auth):
    """The command's token is taken to live an hour; the server's dies after 2 s, so each
    401 re-runs the command once and the call still succeeds."""
    watch = SecretWatch(auth)
    cmd, runs = token_command(auth, oauth_server)
    p = Probe(auth, oauth_server.url, ["--token-command", cmd, "--project", "tunedfs-quota"])
    assert p.first == "kind token-command"
    assert run_calls(p, 6, pause=0.5) == []
    refreshes, failures = p.stats()
    assert failures == 0
    assert refreshes >= 2
    assert count_runs(runs) == refreshes
    assert p.close() == 0
    watch.check({"probe stderr": p.stderr(), "probe stdout": "\n".join(p.out),
                 "server stderr": oauth_server.stderr()})


@pytest.mark.parametrize("source", ["authorized_user", "service_account", "token_command"])
def test_sixteen_callers_one_refresh(server_factory, auth, source):
    s = server_factory("--oauth-clients", str(auth.clients), "--token-lifetime", "600")
    args, env = [], auth.env()
    runs = None
    if source == "token_command":
        cmd, runs = token_command(auth, s)
        args = ["--token-command", cmd]
    elif source == "authorized_user":
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(auth.user_adc(s.url + "/token"))
    else:
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(auth.sa_adc(s.url + "/token"))
    p = Probe(auth, s.url, args, env=env)
    assert p.cmd("storm 16") == "ok 16 fail 0"
    assert p.stats() == (1, 0)
    # the token is now dead as far as the client knows (as after a 401)
    assert p.cmd("invalidate") == "invalidated"
    assert p.stats() == (1, 0)
    assert p.cmd("storm 16") == "ok 16 fail 0"
    assert p.stats() == (2, 0)
    st = oauth_stats(s)
    assert st["refreshGrants"] + st["jwtGrants"] == 2
    if runs:
        assert count_runs(runs) == 2
    assert p.close() == 0


def test_revoked_refresh_token(oauth_server, auth):
    s = oauth_server
    adc = auth.user_adc(s.url + "/token")
    p = Probe(auth, s.url, env=auth.env(GOOGLE_APPLICATION_CREDENTIALS=adc))
    assert p.cmd("call") == "ok"
    auth.write_clients(revoked=[auth.refresh_token])
    time.sleep(2.1)  # the access token dies
    r = p.cmd("call")
    assert r.startswith("error 13 "), r  # EACCES
    assert "Token has been expired or revoked." in r
    assert auth.refresh_token not in r and auth.client_secret not in r
    # the next call tries again (after a short backoff), and works once un-revoked
    auth.write_clients()
    time.sleep(1.1)
    assert p.cmd("call") == "ok"
    refreshes, failures = p.stats()
    assert failures == 1
    assert p.close() == 0


def test_no_credentials_names_every_place(auth, tmp_path):
    env = auth.env(CLOUDSDK_CONFIG=tmp_path / "gcloud-config")
    p = Probe(auth, "http://127.0.0.1:9", env=env)
    assert p.first.startswith("creds: no credentials found"), p.first
    for place in ("api_key_file", "GEMINI_API_KEY", "GOOGLE_API_KEY", "token_command",
                  "GOOGLE_APPLICATION_CREDENTIALS",
                  str(tmp_path / "gcloud-config" / "application_default_credentials.json"),
                  str(auth.home / ".config/gcloud/application_default_credentials.json"),
                  "-o local"):
        assert place in p.first, place
    assert p.close() == 2


def test_unsupported_adc_type_and_open_file(auth, tmp_path):
    ext = tmp_path / "external.json"
    write_private(ext, json.dumps({"type": "external_account", "audience": "x"}))
    p = Probe(auth, "http://127.0.0.1:9", env=auth.env(GOOGLE_APPLICATION_CREDENTIALS=ext))
    assert "external_account" in p.first and str(ext) in p.first, p.first
    assert p.close() == 2
    # readable by others: one warning naming the file, never its content
    adc = auth.user_adc("http://127.0.0.1:9/token")
    os.chmod(adc, 0o644)
    p = Probe(auth, "http://127.0.0.1:9", env=auth.env(GOOGLE_APPLICATION_CREDENTIALS=adc))
    assert p.first == "kind authorized_user"
    assert p.close() == 0
    warnings = [ln for ln in p.stderr().splitlines() if "warning" in ln]
    assert len(warnings) == 1 and str(adc) in warnings[0], p.stderr()
    assert auth.client_secret not in p.stderr() and auth.refresh_token not in p.stderr()


def test_api_key_wins_over_oauth(oauth_server, auth):
    adc = auth.user_adc(oauth_server.url + "/token")
    p = Probe(auth, oauth_server.url,
              env=auth.env(GOOGLE_APPLICATION_CREDENTIALS=adc, GOOGLE_API_KEY="AIza-test"))
    assert p.first == "kind api-key"
    assert p.close() == 0
