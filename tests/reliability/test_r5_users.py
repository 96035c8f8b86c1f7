"""R5: other users and hostile names. A second, non-root user made for the test cannot
list, read or write a mount made without allow_other; with allow_other the file modes
hold; the data and cache directories are private; a directory name cannot reach outside
its model nor change the URL path of a request."""
import errno
import json
import os
import re
import stat

import pytest

# Runs a list of operations as the calling user and prints the errno name of each.
PROBE = r"""
import errno, json, os, sys
out = []
for op, path in json.loads(sys.argv[1]):
    try:
        if op == "list":
            os.listdir(path)
        elif op == "read":
            with open(path, "rb") as f:
                f.read()
        elif op == "write":
            os.close(os.open(path, os.O_WRONLY))
        elif op == "create":
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        elif op == "mkdir":
            os.mkdir(path)
        elif op == "rmdir":
            os.rmdir(path)
        elif op == "stat":
            os.stat(path)
        out.append("ok")
    except OSError as e:
        out.append(errno.errorcode.get(e.errno, str(e.errno)))
print(json.dumps(out))
"""


def probe(user, ops):
    rc, out, err = user.python(PROBE, json.dumps(ops))
    assert rc == 0, err
    return dict(zip([f"{op} {path}" for op, path in ops], json.loads(out)))


def test_no_allow_other_keeps_everyone_else_out(reachable_mount_factory, other_user):
    m = reachable_mount_factory()
    m.make_draft("secret", config=None)
    before = {f: m.read("secret", f) for f in ("examples.jsonl", "state")}
    # The way in is open: only the filesystem itself can refuse.
    assert probe(other_user, [["list", os.path.dirname(m.path)]]) == {
        f"list {os.path.dirname(m.path)}": "ok"}
    ops = [["list", m.path], ["stat", m.p("secret")], ["list", m.p("secret")],
           ["read", m.p("secret", "examples.jsonl")], ["read", m.p("secret", "state")],
           ["write", m.p("secret", "examples.jsonl")], ["create", m.p("secret", "config")],
           ["mkdir", m.p("intruder")], ["rmdir", m.p("secret")]]
    got = probe(other_user, ops)
    assert all(v == "EACCES" for v in got.values()), got
    # nothing changed for the owner
    assert sorted(os.listdir(m.path)) == ["secret"]
    assert {f: m.read("secret", f) for f in before} == before
    assert before["state"] == "DRAFT\n"
    assert "config" not in os.listdir(m.p("secret"))  # the refused create made nothing


def expected(st, want):
    """What default_permissions must answer another user (neither owner nor in the
    group) for access `want` ("r", "w", "x" or "rx")."""
    bits = {"r": stat.S_IROTH, "w": stat.S_IWOTH, "x": stat.S_IXOTH}
    ok = all(st.st_mode & bits[c] for c in want)
    return "ok" if ok else "EACCES"


def test_allow_other_enforces_file_modes(reachable_mount_factory, other_user):
    m = reachable_mount_factory(opts=["allow_other"])
    m.make_active("shared")
    m.make_draft("draft", config=None)
    root = os.stat(m.path)
    assert root.st_uid != other_user.uid
    ops, want = [], {}

    def add(op, path, access):
        ops.append([op, path])
        want[f"{op} {path}"] = expected(os.stat(path), access)

    add("list", m.path, "rx")
    for model in ("shared", "draft"):
        add("list", m.p(model), "rx")
        for name in sorted(os.listdir(m.p(model))):
            p = m.p(model, name)
            st = os.stat(p)
            assert st.st_uid != other_user.uid, name
            if stat.S_ISREG(st.st_mode):
                add("read", p, "r")
                add("write", p, "w")
    got = probe(other_user, ops)
    assert got == want
    # Making or removing a model needs write access to the mount's root.
    got = probe(other_user, [["mkdir", m.p("intruder")], ["rmdir", m.p("draft")]])
    w = "ok" if root.st_mode & stat.S_IWOTH else "EACCES"
    assert got == {f"mkdir {m.p('intruder')}": w, f"rmdir {m.p('draft')}": w}
    if w == "EACCES":
        assert sorted(os.listdir(m.path)) == ["draft", "shared"]


def test_data_and_cache_are_private(mount):
    mount.make_active("private")
    assert mount.ask("private", "1")
    mount.make_draft("notes", config=None)
    mount.write("private", "generation", data="temperature = 0\n")
    checked = 0
    for top in (mount.data_dir, mount.cache_dir):
        assert os.path.isdir(top), top
        for d, dirs, files in os.walk(top):
            mode = stat.S_IMODE(os.lstat(d).st_mode)
            assert mode == 0o700, f"{d} is {mode:o}"
            for f in files:
                p = os.path.join(d, f)
                mode = stat.S_IMODE(os.lstat(p).st_mode)
                assert mode == 0o600, f"{p} is {mode:o}"
                checked += 1
    # The walk saw the draft and the cached answer, not empty trees.
    assert checked >= 2


BAD_NAMES = ["a%2Fb", "%2e%2e", "..%2F..%2Fetc", "a%2F..%2F..%2Fx", "%2F", "A", "a_b", "a.b",
             "-a", "a-", "é", "a b", "a\nb", "a?b", "a#b", "a:generateContent", "a;b", "x" * 41,
             "a\\b", "..."]
# What any path the server sees must look like.
SAFE_PATH = re.compile(r"^/v1(beta)?/(models(/[a-z0-9.-]+)?|tunedModels"
                       r"(/[a-z]([a-z0-9-]{0,38}[a-z0-9])?(:generateContent|/operations"
                       r"(/[a-z0-9]+)?)?)?)$")


def logged_paths(log):
    paths = []
    with open(log) as f:
        for line in f:
            paths += [w for w in line.split() if w.startswith("/")]
    return paths


def test_names_cannot_escape_nor_change_the_url(tmp_path, server_factory, mount_factory):
    log = str(tmp_path / "requests.log")
    s = server_factory("--request-log", log)
    m = mount_factory(server=s)
    m.allow += [r"not a valid tunedModelId", r"^tunedfs: warning: mkdir a$", r"^b: not a valid"]
    m.make_draft("inside", config=None)
    for name in BAD_NAMES:
        with pytest.raises(OSError) as e:
            os.mkdir(m.p(name))
        assert e.value.errno == errno.EINVAL, (name, e.value)
        # a lookup of the name must not go out as a request either
        with pytest.raises(OSError) as e:
            os.stat(m.p(name))
        assert e.value.errno in (errno.ENOENT, errno.EINVAL), (name, e.value)
    for name in ("x" * 255, "x" * 256, "y" * 300, "z" * 1100):
        with pytest.raises(OSError):
            os.mkdir(m.p(name))
        assert not os.path.exists(m.p(name))
    with pytest.raises(OSError) as e:
        os.mkdir(m.p("nosuch", "deeper"))
    assert e.value.errno == errno.ENOENT
    # ".." is the kernel's: it names the mount's parent, never a model.
    with pytest.raises(OSError):
        os.mkdir(m.p(".."))
    assert os.path.realpath(m.p("inside", "..")) == m.path
    # The longest valid id works, so the refusals above are about the names.
    os.mkdir(m.p("a" * 40))
    assert sorted(os.listdir(m.path)) == sorted(["inside", "a" * 40])
    # Scratch files inside a model stay inside it.
    for name in ("..%2F..%2Fescaped", "%2e%2e%2Fescaped", ".escaped"):
        try:
            with open(m.p("inside", name), "w") as f:
                f.write("x")
        except OSError as e:
            assert e.errno in (errno.EINVAL, errno.EACCES, errno.EPERM), (name, e)
    m.read("inside", "state")
    os.listdir(m.path)
    for d, dirs, files in os.walk(str(tmp_path)):
        if os.path.commonpath([d, m.path]) == m.path:
            continue
        for f in files + dirs:
            if "escaped" in f:
                # only allowed as a scratch file of the draft itself
                assert os.path.basename(d) == "inside" or "inside" in d.split(os.sep), \
                    os.path.join(d, f)
    paths = logged_paths(log)
    assert paths, "the request log is empty"
    stray = [p for p in paths if not SAFE_PATH.match(p)]
    assert not stray, stray
    assert not any("escaped" in p or "%" in p or ".." in p for p in paths), paths


def test_overlong_names_are_refused_as_such(mount):
    mount.allow += [r"not a valid tunedModelId"]
    for name in ("x" * 41, "x" * 64, "x" * 255, "x" * 256, "y" * 300, "z" * 1100):
        with pytest.raises(OSError) as e:
            os.mkdir(mount.p(name))
        assert e.value.errno in (errno.EINVAL, errno.ENAMETOOLONG), (len(name), e.value)


def test_names_cannot_forge_log_lines(mount):
    """A name is data: written to the log it must not start a line of its own."""
    forged = "a\ntunedfs: forged line"
    mount.allow += [r"not a valid tunedModelId", r"forged", r"^tunedfs: warning: mkdir a$"]
    with pytest.raises(OSError) as e:
        os.mkdir(mount.p(forged))
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError):
        os.stat(mount.p(forged))
    lines = [line for line in mount.stderr().splitlines() if "forged" in line]
    assert lines, "the refusal was not logged"
    assert not any(line.startswith("tunedfs: forged") for line in lines), lines
