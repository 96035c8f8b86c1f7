"""Harness of the reliability and security tests (issue 6, short forms).

Reuses the filesystem harness of tests/fs/conftest.py as it is (the `mount_factory` and
`mount` fixtures and its Mount class) and adds what only these tests need: a mount in a
directory other users can reach, a second non-root user made for the test, and small
helpers to run commands as that user and to read the server's API directly.
"""
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid

import pytest

from tests.fs import conftest as fs_harness

# The filesystem fixtures, registered here too so these tests can use them.
mount_factory = fs_harness.mount_factory
mount = fs_harness.mount
Mount = fs_harness.Mount
QUICK_EXAMPLES = fs_harness.QUICK_EXAMPLES
QUICK_CONFIG = fs_harness.QUICK_CONFIG


@pytest.fixture
def short_dir():
    """A short, world-traversable directory (unix socket paths are limited to 107 bytes,
    and another user must be able to reach a mount point inside it)."""
    d = tempfile.mkdtemp(prefix="tdfs-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def reachable_mount_factory(short_dir, server_factory):
    """Like mount_factory, but the mount point lies under a 0755 directory so that the
    only thing keeping another user out is the filesystem itself."""
    mounts = []

    def make(server=None, opts=(), sub=None):
        import pathlib
        base = pathlib.Path(short_dir) / (sub or f"m{len(mounts)}")
        base.mkdir(parents=True, exist_ok=True)
        os.chmod(base, 0o755)
        m = Mount(base, server or server_factory(), opts=opts)
        mounts.append(m)
        return m

    yield make
    problems = []
    for m in mounts:
        if m.proc is not None:
            rc = m.unmount()
            if rc != 0:
                problems.append(f"tunedfs exited {rc} after unmount; reproduce: {m.repro()}")
        else:
            fs_harness.fusermount_u(m.path)
        bad = m.unexpected_lines()
        if bad:
            problems.append("unexpected tunedfs stderr:\n" + "\n".join(bad))
    if problems:
        pytest.fail("\n".join(problems))


class OtherUser:
    """A non-root user that exists for one test."""

    def __init__(self):
        self.name = "tdfs" + uuid.uuid4().hex[:8]
        subprocess.run(["useradd", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", "--user-group", self.name],
                       check=True, capture_output=True)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def run(self, *argv, input=None, timeout=30):
        """Runs argv as this user (no supplementary groups); returns CompletedProcess."""
        cmd = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
               "--"] + list(argv)
        return subprocess.run(cmd, input=input, capture_output=True, timeout=timeout,
                              env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})

    def python(self, code, *args, timeout=30):
        """Runs a Python snippet as this user; its stdout is returned decoded."""
        r = self.run("/usr/bin/python3", "-c", code, *args, timeout=timeout)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def remove(self):
        subprocess.run(["userdel", "--force", self.name], capture_output=True)
        subprocess.run(["groupdel", self.name], capture_output=True)


@pytest.fixture
def other_user():
    if os.geteuid() != 0:
        pytest.skip("making a second user needs root")
    if shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("useradd and setpriv are needed")
    u = OtherUser()
    try:
        yield u
    finally:
        u.remove()
