"""tunedfs as a system filesystem: the SOURCE word (`tunedfs SOURCE MOUNTPOINT`), options
only fstab reads, an fstab line mounted by mount(8) and `mount -t fuse.tunedfs` through
mount.fuse3, the systemd READY=1/STOPPING=1 messages, --version and per-backend help.

mount(8) runs helpers with a fixed PATH, so the fstab tests run in a private mount
namespace (unshare) where a directory holding tunedfs is bound over /usr/local/bin and
the test's fstab over /etc/fstab; the rest of the machine sees nothing of it."""
import os
import pathlib
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from .conftest import BAD_LINE, binary, fusermount_u, is_mounted


def run(*args, env=None):
    return subprocess.run([binary("tunedfs"), *args], capture_output=True, text=True,
                          env=env, timeout=30)


def user_env(tmp_path):
    """A user's XDG directories in tmp_path, no credentials, no hint where the server is."""
    home = tmp_path / "home"
    rundir = tmp_path / "run"
    home.mkdir(exist_ok=True)
    rundir.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "TUNEDFS_ENDPOINT",
                        "TUNEDFS_SERVER", "NOTIFY_SOCKET")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"), XDG_RUNTIME_DIR=str(rundir))
    return env


class Foreground:
    """`tunedfs -f ARGS...` started and waited for until mounted at mnt."""

    def __init__(self, tmp_path, mnt, args, env):
        self.mnt = mnt
        self.log_path = tmp_path / "tunedfs.stderr"
        self.cmd = [binary("tunedfs"), "-f", *args]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=log, env=env)
        deadline = time.time() + 20
        while not is_mounted(mnt):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise AssertionError(f"no mount: {self.stderr()}\nreproduce: {self.repro()}")
            time.sleep(0.05)

    def repro(self):
        return " ".join(shlex.quote(c) for c in self.cmd)

    def stderr(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        """Unmounts; returns the exit code after checking stderr."""
        fusermount_u(self.mnt)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "hung after unmount"
        bad = [line for line in self.stderr().splitlines() if BAD_LINE.search(line)]
        assert not bad, f"{bad}\nreproduce: {self.repro()}"
        return rc


def test_version_names_the_libraries():
    r = run("--version")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"tunedfs version \d+\.\d+\.\d+", lines[0]), lines
    for lib in ("libfuse", "libcurl", "cJSON"):
        assert any(re.fullmatch(lib + r" version \d+\.\d+\.\d+\S*", x) for x in lines), lib


def test_help_lists_the_options_per_backend(tmp_path):
    r = run("-o", "help")
    assert r.returncode == 0
    assert "backend=gemini:" in r.stdout and "-o api_key_file=FILE" in r.stdout
    assert r.stdout.index("backend=gemini:") < r.stdout.index("-o api_key_file=")
    # the SOURCE word picks a backend, and with it the help shows that backend's only
    r = run("gemini", str(tmp_path), "--help")
    assert r.returncode == 0 and "backend=gemini:" in r.stdout
    r = run("local-openai", str(tmp_path), "-o", "help")
    assert r.returncode == 0 and "-o local" in r.stdout
    assert "backend=gemini:" not in r.stdout


@pytest.mark.parametrize("source", ["bogus", "/dev/sda1", "ftp://example.org/"])
def test_unknown_source_is_refused(tmp_path, source):
    r = run(source, str(tmp_path))
    assert r.returncode != 0
    assert r.stderr.startswith(f"tunedfs: error: unknown source `{source}'")
    assert "--help" in r.stderr
    assert not is_mounted(str(tmp_path))


def test_source_local_and_fstab_only_options(tmp_path):
    env = user_env(tmp_path)
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    opts = "noauto,user,users,nouser,_netdev,nofail,auto,x-systemd.automount," \
           "x-systemd.requires=network-online.target,x-gvfs-hide,poll_interval=0.2"
    fg = Foreground(tmp_path, mnt, ["local", mnt, "-o", opts], env)
    os.mkdir(os.path.join(mnt, "m1"))
    assert "m1" in os.listdir(mnt)
    assert os.path.isdir(tmp_path / "home" / "data" / "tunedfs" / "local")
    assert fg.stop() == 0


def test_source_local_vertex(tmp_path):
    """local-vertex: the private server, spoken to in the Vertex AI protocol."""
    env = user_env(tmp_path)
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    fg = Foreground(tmp_path, mnt, ["local-vertex", mnt], env)
    os.mkdir(os.path.join(mnt, "m1"))
    assert "state" in os.listdir(os.path.join(mnt, "m1"))
    assert fg.stop() == 0


@pytest.mark.parametrize("source,name", [("gemini", "gemini"), ("vertex", "vertex"),
                                         ("openai", "openai"), ("local-vertex", "vertex"),
                                         ("local-openai", "openai")])
def test_source_names_the_backend(tmp_path, source, name):
    """The help after a SOURCE shows its backend's options only; a backend this build does
    not have is refused by name when mounting."""
    section = re.compile(r"^backend=(\w+):", re.M)
    built = section.findall(run("-o", "help").stdout)
    assert "gemini" in built
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    r = run(source, mnt, "-o", "help")
    assert r.returncode == 0
    assert section.findall(r.stdout) == ([name] if name in built else [])
    if name not in built:
        r = subprocess.run([binary("tunedfs"), "-f", source, mnt], capture_output=True,
                           text=True, env=user_env(tmp_path), timeout=60)
        assert r.returncode != 0
        assert f"backend={name}: unknown backend" in r.stderr, r.stderr
        assert not is_mounted(mnt)


def test_source_url_is_the_endpoint(tmp_path, server):
    env = user_env(tmp_path)
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    fg = Foreground(tmp_path, mnt, [server.url, mnt, "-o", "_netdev"], env)
    os.mkdir(os.path.join(mnt, "m1"))
    assert os.listdir(mnt) == ["m1"]
    assert fg.stop() == 0
    # the drafts went to the directory of that endpoint under XDG_DATA_HOME
    assert os.listdir(tmp_path / "home" / "data" / "tunedfs")


def test_the_mount_point_alone_still_works(tmp_path):
    env = user_env(tmp_path)
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    fg = Foreground(tmp_path, mnt, [mnt, "-o", "local"], env)
    assert os.listdir(mnt) == []
    assert fg.stop() == 0


def in_namespace(tmp_path, script, env):
    """Runs script (sh) in a private mount namespace where tunedfs is on mount(8)'s PATH."""
    if not shutil.which("unshare") or not os.path.exists("/sbin/mount.fuse3"):
        pytest.skip("needs unshare and mount.fuse3")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(binary("tunedfs"), bindir / "tunedfs")
    full = f"mount --bind {shlex.quote(str(bindir))} /usr/local/bin\n" + script
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", full],
                          capture_output=True, text=True, env=env, timeout=120)


# In the namespace: mounted, usable, unmounted by umount, and the daemon gone after.
CHECK = """
grep -q " $MNT .* - fuse.tunedfs " /proc/self/mountinfo
mkdir "$MNT/m1"
ls "$MNT" | grep -qx m1
umount "$MNT"
i=0
while pgrep -f "tunedfs local $MNT" >/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "tunedfs still running"; exit 1; }; sleep 0.1
done
echo done
"""


def test_fstab_line_with_mount(tmp_path):
    env = user_env(tmp_path)
    mnt = tmp_path / "models"
    mnt.mkdir()
    fstab = tmp_path / "fstab"
    fstab.write_text(f"local  {mnt}  fuse.tunedfs  noauto,user,_netdev  0 0\n")
    env["MNT"] = str(mnt)
    # the namespace's /etc/fstab is this one; the machine's stays as it is
    r = in_namespace(tmp_path, f"mount --bind {shlex.quote(str(fstab))} /etc/fstab\n"
                     "mount \"$MNT\"\n" + CHECK, env)
    assert r.returncode == 0 and r.stdout.endswith("done\n"), r.stdout + r.stderr
    assert os.path.isdir(tmp_path / "home" / "data" / "tunedfs" / "local")
    assert not is_mounted(str(mnt))


def test_mount_t_fuse_tunedfs(tmp_path):
    env = user_env(tmp_path)
    mnt = tmp_path / "models"
    mnt.mkdir()
    env["MNT"] = str(mnt)
    opts = "noauto,users,nofail,_netdev,x-systemd.automount,list_ttl=5"
    r = in_namespace(tmp_path, f"mount -t fuse.tunedfs -o {opts} local \"$MNT\"\n" + CHECK, env)
    assert r.returncode == 0 and r.stdout.endswith("done\n"), r.stdout + r.stderr
    assert os.path.isdir(tmp_path / "home" / "data" / "tunedfs" / "local")


def environ_of(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read().split(b"\0")


def test_systemd_hears_ready_then_stopping(tmp_path):
    """Type=notify: READY=1 once the mount answers, STOPPING=1 when it goes; the private
    server does not inherit NOTIFY_SOCKET."""
    env = user_env(tmp_path)
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    env["NOTIFY_SOCKET"] = path
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    fg = Foreground(tmp_path, mnt, ["local", mnt], env)
    try:
        assert sock.recv(256) == b"READY=1"
        assert os.listdir(mnt) == []
        children = subprocess.run(["pgrep", "-P", str(fg.proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        assert children, "no private server"
        for pid in children:
            assert not any(v.startswith(b"NOTIFY_SOCKET=") for v in environ_of(pid))
    finally:
        rc = fg.stop()
    assert sock.recv(256) == b"STOPPING=1"
    assert rc == 0
    sock.close()


def test_root_home_is_not_a_users_home(tmp_path):
    """mount(8) runs helpers with root's HOME even for a user's mount (fstab `user`): a
    tunedfs run as that user keeps its data in the user's own home instead. Where
    /dev/fuse is open to users the mount also succeeds, and is undone here."""
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("setpriv"):
        pytest.skip("needs root, useradd and setpriv")
    base = pathlib.Path(tempfile.mkdtemp(prefix="tunedfs-user-"))  # one the user can reach
    base.chmod(0o755)
    home, mnt = base / "home", base / "models"
    name = f"tdfs{os.getpid() % 100000}{int(time.time() * 1000) % 1000}"
    subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell",
                    "/usr/sbin/nologin", "--user-group", name], check=True, capture_output=True)
    try:
        uid = int(subprocess.run(["id", "-u", name], capture_output=True, text=True).stdout)
        for d in (home, mnt):
            d.mkdir()
            os.chown(d, uid, uid)
        env = {"PATH": "/usr/bin:/bin", "HOME": "/root",
               "TUNEDFS_SERVER": binary("tunedfs-server")}
        r = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                            "--", binary("tunedfs"), "local", str(mnt)],
                           capture_output=True, text=True, env=env, timeout=30)
        if r.returncode == 0:
            fusermount_u(str(mnt))
        assert "/root" not in r.stderr, r.stderr
        assert os.path.isdir(home / ".local" / "share" / "tunedfs"), r.stderr
    finally:
        fusermount_u(str(mnt))
        subprocess.run(["userdel", "--force", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)
        subprocess.run(["rm", "-rf", str(base)])
