"""The harness of the benchmarks in tests/bench/run: a tunedfs-server started on a data
directory, a tunedfs mount on it, the server's request counters, models put in place
(a few through the real create route, the many written in the server's own on-disk
format), and the small statistics the figures need. Prints nothing itself."""
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE_MODEL = "models/tunedfs-local-1"


class Server:
    """tunedfs-server on 127.0.0.1, any free port; stats() gives its route counters."""

    def __init__(self, build, data, latency=0, workers=2, log=None, routes=None):
        exe = os.path.join(build, "server", "tunedfs-server")
        args = [exe, "--data-dir", data, "--port", "0", "--workers", str(workers)]
        if latency:
            args += ["--latency", str(latency)]
        if routes:  # the latency on these routes only
            args += ["--fault-routes", routes]
        if log:
            args += ["--request-log", log]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.url = self.proc.stdout.readline().decode().strip()
        if not self.url.startswith("http://"):
            self.proc.kill()
            raise RuntimeError("tunedfs-server did not start on " + data)
        host, port = self.url[len("http://"):].split(":")
        self.host, self.port = host, int(port)
        self._conn = None

    def call(self, method, path, body=None, conn=None):
        """One request on a kept-alive connection: (status, parsed JSON or None)."""
        c = conn or self._conn or http.client.HTTPConnection(self.host, self.port, timeout=300)
        if conn is None:
            self._conn = c
        data = json.dumps(body) if body is not None else None
        c.request(method, path, data, {"Content-Type": "application/json"} if data else {})
        r = c.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw else None)

    def connection(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=300)

    def stats(self):
        """{route: requests, "total": n} from GET /debug/stats."""
        _, s = self.call("GET", "/debug/stats")
        out = {k: v["requests"] for k, v in s.get("routes", {}).items()}
        out["total"] = s.get("total", 0)
        return out

    def stop(self):
        if self._conn:
            self._conn.close()
        self.proc.terminate()
        self.proc.wait(timeout=60)


def delta(after, before):
    """Requests between two stats() snapshots, the debug route itself left out."""
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    d.pop("debug.stats", None)
    d = {k: v for k, v in d.items() if v}
    # each stats() call is itself a request: the one that took `after` is counted in it
    d["total"] = after.get("total", 0) - before.get("total", 0) - 1
    return d


def fmt_requests(d):
    parts = [f"{k}={v}" for k, v in sorted(d.items()) if k != "total"]
    return f"{d.get('total', 0)} ({', '.join(parts) or 'none'})"


class Mount:
    """tunedfs -f MNT against a server; pid for /proc figures; stop() unmounts."""

    def __init__(self, build, url, work, list_ttl=60, extra=""):
        self.mnt = os.path.join(work, "mnt")
        os.makedirs(self.mnt, exist_ok=True)
        opts = (f"endpoint={url},data_dir={work}/data,cache_dir={work}/cache,"
                f"list_ttl={list_ttl},poll_interval=1" + (("," + extra) if extra else ""))
        self.proc = subprocess.Popen([os.path.join(build, "fs", "tunedfs"), "-f", self.mnt,
                                      "-o", opts], stderr=subprocess.DEVNULL)
        t = time.monotonic()
        while not os.path.ismount(self.mnt):
            if self.proc.poll() is not None or time.monotonic() - t > 30:
                raise RuntimeError("tunedfs did not mount")
            time.sleep(0.01)
        self.pid = self.proc.pid

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def status(self):
        """VmRSS and VmHWM of the tunedfs process in KiB."""
        out = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
        return out

    def stop(self):
        subprocess.run(["fusermount3", "-u", self.mnt], stderr=subprocess.DEVNULL)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            subprocess.run(["fusermount3", "-u", "-z", self.mnt], stderr=subprocess.DEVNULL)
            self.proc.kill()
            self.proc.wait()


def create_real(srv, ids, examples=None, epochs=1):
    """Models through the real create route (the trainer runs), waited for until ACTIVE."""
    ex = examples or [{"textInput": "a", "output": "b"}]
    body = {"baseModel": BASE_MODEL,
            "tuningTask": {"hyperparameters": {"epochCount": epochs, "batchSize": 1},
                           "trainingData": {"examples": {"examples": ex}}}}
    for i in ids:
        st, out = srv.call("POST", f"/v1beta/tunedModels?tunedModelId={i}", body)
        if st != 200:
            raise RuntimeError(f"create {i}: {st} {out}")
    for i in ids:
        while True:
            st, m = srv.call("GET", f"/v1beta/tunedModels/{i}")
            if m.get("state") == "ACTIVE":
                break
            if m.get("state") == "FAILED":
                raise RuntimeError(f"{i} FAILED")
            time.sleep(0.05)


def clone_models(data, src_id, n, prefix, first_seq):
    """n copies of job src_id in the server's on-disk format (server/store.c: jobs/ID/
    job.json, weights.bin hard-linked), for a server not running. Creation order is a
    fixed shuffle of the names."""
    src = os.path.join(data, "jobs", src_id)
    with open(os.path.join(src, "job.json")) as f:
        job = json.load(f)
    # creation order (which the service lists in) unrelated to name order, as for models
    # made over months: a client that keeps names sorted must not pay O(n) per model
    order = list(range(n))
    random.Random(n).shuffle(order)
    for i in range(n):
        mid = f"{prefix}{i:06d}"
        d = os.path.join(data, "jobs", mid)
        os.makedirs(d)
        job["id"] = mid
        job["seq"] = str(first_seq + order[i])
        with open(os.path.join(d, "job.json"), "w") as f:
            json.dump(job, f, separators=(",", ":"))
        os.link(os.path.join(src, "weights.bin"), os.path.join(d, "weights.bin"))


def make_store(build, data, n, real=1, real_prefix="r", clone_prefix="c"):
    """A data directory holding n ACTIVE models: `real` of them made through the create
    route (1 example, epochCount 1), the rest copies of the first in the on-disk format.
    Returns (seconds for the real creates, seconds for the copies)."""
    if os.path.isdir(data):
        shutil.rmtree(data)
    srv = Server(build, data, workers=2)
    t0 = time.perf_counter()
    try:
        create_real(srv, [f"{real_prefix}{i:03d}" for i in range(real)])
    finally:
        srv.stop()
    t_real = time.perf_counter() - t0
    t0 = time.perf_counter()
    clone_models(data, f"{real_prefix}000", n - real, clone_prefix, real + 1)
    return t_real, time.perf_counter() - t0


def gen_body(prompt):
    return {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}


def curl_cmd(url, path, body=None):
    cmd = ["curl", "-sS", "--fail-with-body", "-o", "/dev/null"]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    return cmd + [url + path]


def timed(fn, *a):
    t = time.perf_counter()
    out = fn(*a)
    return time.perf_counter() - t, out


def med(xs):
    return statistics.median(xs)


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def ms(x):
    return f"{x * 1000:.2f} ms" if x < 1 else f"{x:.2f} s"


class PipeAsker:
    """The floor of any file interface whose calls another process makes: a child process
    that, for each prompt line read from a pipe, makes the same kept-alive POST and writes
    the answer's text back on a second pipe. ask() also writes the prompt to a local file
    first, as a prompt file is written."""

    def __init__(self, srv, model, work):
        self.local = os.path.join(work, "pipe-prompt")
        a_r, self.a_w = os.pipe()
        self.b_r, b_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.a_w)
            os.close(self.b_r)
            self._serve(srv, model, a_r, b_w)
        os.close(a_r)
        os.close(b_w)

    @staticmethod
    def _serve(srv, model, a_r, b_w):
        conn, buf = srv.connection(), b""
        try:
            while True:
                while b"\n" not in buf:
                    chunk = os.read(a_r, 4096)
                    if not chunk:
                        os._exit(0)
                    buf += chunk
                line, buf = buf.split(b"\n", 1)
                st, out = srv.call("POST", f"/v1beta/tunedModels/{model}:generateContent",
                                   gen_body(line.decode()), conn=conn)
                text = out["candidates"][0]["content"]["parts"][0]["text"].encode() + b"\n"
                os.write(b_w, len(text).to_bytes(4, "little") + text)
        finally:
            os._exit(1)

    def ask(self, prompt):
        with open(self.local, "w") as f:
            f.write(prompt + "\n")
        os.write(self.a_w, (prompt + "\n").encode())
        n = int.from_bytes(self._read(4), "little")
        return self._read(n).decode()

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = os.read(self.b_r, n - len(out))
            if not chunk:
                raise RuntimeError("the pipe asker ended")
            out += chunk
        return out

    def stop(self):
        os.close(self.a_w)
        os.close(self.b_r)
        os.waitpid(self.pid, 0)
