"""OAuth credentials through a real tunedfs mount against tunedfs-server --oauth-clients:
the tutorial's flow with each credential source and 2 s tokens, 16 readers at token
expiry causing exactly one refresh, a revoked refresh token (EACCES, the message in
`error`, the mount alive), and no secret in argv, logs or any file the mount shows.
The mount harness is the filesystem suite's own (tests/fs/conftest.py).
"""
import importlib.util
import os
import threading
import time

import pytest

from tests.auth.test_auth import (Auth, SecretWatch, oauth_stats, rsa_key, token_command,  # noqa: F401
                       count_runs)

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "tunedfs_fs_harness", os.path.join(HERE, "..", "fs", "conftest.py"))
fs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fs)

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(fs.BUILD, "fs", "tunedfs")) or not os.path.exists("/dev/fuse"),
    reason="tunedfs not built or no FUSE")


@pytest.fixture
def auth(tmp_path, rsa_key):  # noqa: F811
    return Auth(tmp_path, rsa_key)


@pytest.fixture
def mounts():
    made = []
    yield made
    problems = []
    for m in made:
        rc = m.unmount() if m.proc is not None else 0
        if rc != 0:
            problems.append(f"tunedfs exited {rc} after unmount")
        bad = m.unexpected_lines()
        if bad:
            problems.append("unexpected tunedfs stderr:\n" + "\n".join(bad))
        if problems:
            problems.append("reproduce: " + m.repro())
    if problems:
        pytest.fail("\n".join(problems))


def mount_with(auth, server, mounts, source, opts=()):
    """A mount whose credentials come from source; returns it and the token command's
    run file (None for the ADC sources)."""
    env = auth.env()  # TUNEDFS_HTTP_DEBUG=1: its log is scanned too
    runs = None
    opts = list(opts)
    if source == "token_command":
        cmd, runs = token_command(auth, server)
        # fuse -o splits at commas and the command has none; '=' after the first is kept
        opts += ["token_command=" + cmd, "project=tunedfs-quota"]
    elif source == "authorized_user":
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(auth.user_adc())
        opts += ["token_uri=" + server.url + "/token"]
    else:
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(auth.sa_adc(server.url + "/token"))
    base = auth.dir / f"mount-{len(mounts)}"
    base.mkdir()
    m = fs.Mount(base, server, opts=opts, env=env)
    mounts.append(m)
    return m, runs


def every_file_text(m):
    out = {}
    for root, dirs, files in os.walk(m.path):
        for name in files:
            p = os.path.join(root, name)
            try:
                with open(p, "rb") as f:
                    out[p] = f.read().decode(errors="replace")
            except OSError as e:
                out[p] = str(e)
    return out


@pytest.mark.parametrize("source", ["authorized_user", "service_account", "token_command"])
def test_tutorial_flow_with_short_tokens(server_factory, auth, mounts, source):
    server = server_factory("--oauth-clients", str(auth.clients), "--token-lifetime", "2")
    watch = SecretWatch(auth)
    m, runs = mount_with(auth, server, mounts, source)
    m.make_active("auth-model")
    # distinct prompts (no response cache hit) over several token lifetimes: none fails
    for i in range(8):
        m.ask("auth-model", str(11 + 2 * i))
        assert m.read("auth-model", "error") == ""
        time.sleep(0.5)
    st = oauth_stats(server)
    assert st["refreshGrants"] + st["jwtGrants"] >= 2
    if runs:
        assert count_runs(runs) >= 2
    files = every_file_text(m)
    assert m.unmount() == 0
    texts = {"tunedfs stderr": m.stderr(), "server stderr": server.stderr()}
    texts.update(files)
    watch.check(texts)


def test_sixteen_readers_at_expiry_one_refresh(server_factory, auth, mounts):
    # 8 s tokens: long enough that the 16 lookups finish well inside the new one's life
    server = server_factory("--oauth-clients", str(auth.clients), "--token-lifetime", "8")
    m, _ = mount_with(auth, server, mounts, "authorized_user")
    os.listdir(m.path)
    time.sleep(8.2)  # the token is dead
    before = oauth_stats(server)["refreshGrants"]
    go = threading.Barrier(16)
    seen = []

    def reader(i):
        go.wait()
        # a name not in the model table is looked up at the service: one call each
        seen.append(os.path.exists(m.p(f"no-such-model-{i}")))

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [False] * 16
    assert oauth_stats(server)["refreshGrants"] - before == 1


def test_revoked_refresh_token_in_error_file(server_factory, auth, mounts):
    server = server_factory("--oauth-clients", str(auth.clients), "--token-lifetime", "2")
    m, _ = mount_with(auth, server, mounts, "authorized_user")
    m.allow += [r"Token has been expired or revoked", r"invalid_grant"]
    m.make_active("revoked")
    auth.write_clients(revoked=[auth.refresh_token])
    time.sleep(2.2)
    with pytest.raises(OSError):
        m.ask("revoked", "3")
    err = m.read("revoked", "error")
    assert "Token has been expired or revoked." in err, err
    assert auth.refresh_token not in err and auth.client_secret not in err
    assert m.proc.poll() is None  # the mount lives
    assert os.path.isdir(m.p("revoked"))
    auth.write_clients()
    time.sleep(1.2)  # past the retry backoff
    # answered again: the read succeeds (a tiny model's answer may be empty text)
    assert m.ask("revoked", "5").endswith("\n")
    assert m.read("revoked", "error") == ""
