"""The mount itself: one mount per data directory (a second one refuses, naming the
holder), no mount over a live one, and `tail -f progress` seeing each new line."""
import os
import re
import subprocess
import time

from tests.fs.conftest import QUICK_CONFIG, binary


def second(mnt, opts, env=None):
    os.makedirs(mnt, exist_ok=True)
    return subprocess.run([binary("tunedfs"), "-f", mnt, "-o", ",".join(opts)],
                          capture_output=True, text=True, timeout=30, env=env)


def test_a_second_mount_of_a_data_directory_is_refused(tmp_path, mount):
    r = second(str(tmp_path / "mnt2"), ["endpoint=" + mount.server.url,
                                         "data_dir=" + mount.data_dir,
                                         "cache_dir=" + str(tmp_path / "c2")])
    assert r.returncode == 1, r
    assert "in use by another tunedfs" in r.stderr and mount.path in r.stderr, r.stderr
    assert f"pid {mount.proc.pid} " in r.stderr, r.stderr
    # the first mount goes on, and after its unmount the directory is free again
    os.mkdir(mount.p("still-here"))
    assert mount.unmount() == 0
    mount.start()
    assert "still-here" in os.listdir(mount.path)


def test_a_second_local_mount_is_refused(tmp_path, mount_factory):
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "xdg-data"),
               XDG_CACHE_HOME=str(tmp_path / "xdg-cache"))
    m = mount_factory(local=True, env=env)
    env2 = dict(m.env)
    r = second(str(tmp_path / "mnt2"), ["local"], env=env2)
    assert r.returncode == 1, r
    assert "in use by another tunedfs" in r.stderr and m.path in r.stderr, r.stderr


def test_no_mount_over_a_live_mount(tmp_path, mount):
    r = second(mount.path, ["endpoint=" + mount.server.url,
                            "data_dir=" + str(tmp_path / "d2"),
                            "cache_dir=" + str(tmp_path / "c2")])
    assert r.returncode == 1 and "already a live FUSE mount" in r.stderr, r
    assert os.listdir(mount.path) == []


def test_tail_f_progress_sees_new_lines(mount):
    mount.make_draft("tailed", config=QUICK_CONFIG.replace("epoch_count = 3",
                                                           "epoch_count = 2000"))
    assert mount.read("tailed", "state") == "CREATING\n"
    before = len(mount.read("tailed", "progress").splitlines())
    p = subprocess.Popen(["tail", "-s", "0.2", "-n", "+1", "-f", mount.p("tailed", "progress")],
                         stdout=subprocess.PIPE, text=True)
    time.sleep(2.5)
    p.terminate()
    out, _ = p.communicate(timeout=10)
    lines = out.split("\n")[:-1]  # whole lines: tail may be stopped in the middle of one
    now = mount.read("tailed", "progress").splitlines()
    snaps = [ln for ln in lines[1:] if ln]
    # every line tail printed is a whole line of the file, and it saw lines come
    assert all(re.fullmatch(r"\d+ \d+ \d+\.\d+ \S+", ln) for ln in snaps), snaps[-5:]
    steps = [int(ln.split()[0]) for ln in snaps]
    assert steps == list(range(1, len(steps) + 1)), steps[:20]
    # more lines than there were when it started: it saw them come
    assert before - 1 < len(steps) <= len(now) - 1, (before, len(steps), len(now))
    first_read_size = len(lines[0])
    assert first_read_size == 63, lines[0]
    subprocess.run(["rm", "-rf", mount.p("tailed")], check=True)
