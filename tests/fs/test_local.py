"""`tunedfs -o local MOUNT`: a private tunedfs-server started and stopped with the mount,
everything under the user's XDG directories (here in tmp)."""
import os


def servers_under(path):
    """pids of tunedfs-server processes whose command line mentions path."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"tunedfs-server") and any(path.encode() in c for c in cmd):
            pids.append(int(pid))
    return pids


def test_local_mount(tmp_path, mount_factory):
    home = tmp_path / "home"
    run = tmp_path / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"), XDG_RUNTIME_DIR=str(run))
    m = mount_factory(local=True, env=env)
    m.make_active("offline")
    assert servers_under(str(home)), "no private server running"
    m.write("offline", "prompt", data="1\n")
    assert m.read("offline", "response").endswith("\n")
    assert os.path.isdir(home / "data" / "tunedfs" / "local")
    assert m.unmount() == 0
    assert servers_under(str(home)) == []
    assert os.listdir(run) == []
    # the models are still there at the next mount
    m.start()
    assert m.read("offline", "state") == "ACTIVE\n"
