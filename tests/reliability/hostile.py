"""A small hostile HTTP server for the reliability tests: just enough of the Gemini API for a
mount (list, get, generateContent and its stream, operations), on 127.0.0.1 only, whose answers a test
scripts. It misbehaves in ways tunedfs-server never does: page tokens in a circle, endless
listings, 200s that carry errors, answers about another model, names with a NUL, huge or
truncated bodies. It does not train anything and keeps no state on disk.

Use: `h = Hostile(); h.add_model("m"); h.hook = fn` where fn(req) returns None (the normal
answer) or a Reply; `h.requests` lists (method, path, query) of every request seen.
"""
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STAMP = "2026-01-01T00:00:00Z"


def model_json(mid, **extra):
    m = {"name": f"tunedModels/{mid}", "displayName": mid,
         "baseModel": "models/gemini-1.0-pro-001", "state": "ACTIVE",
         "createTime": STAMP, "updateTime": STAMP,
         "tuningTask": {"hyperparameters": {"epochCount": 1, "batchSize": 1,
                                            "learningRate": 0.001}}}
    m.update(extra)
    return m


def answer_json(text):
    return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1}}


def generates(path):
    """Whether path asks a model for an answer, streamed (as the mount asks) or not."""
    return path.endswith(":generateContent") or path.endswith(":streamGenerateContent")


def rpc_error(code, status, message, retry_delay=None):
    e = {"code": code, "status": status, "message": message}
    if retry_delay:
        e["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                         "retryDelay": retry_delay}]
    return {"error": e}


class Reply:
    """One scripted answer: a status and a body (dict -> JSON, or bytes), or raw(handler)
    that writes whatever it wants on the socket."""

    def __init__(self, status=200, body=None, headers=None, raw=None):
        self.status, self.body, self.headers, self.raw = status, body, headers or {}, raw


class Request:
    def __init__(self, method, path, query, body):
        self.method, self.path, self.query, self.body = method, path, query, body

    def prompt(self):
        try:
            return self.body["contents"][0]["parts"][0]["text"]
        except (KeyError, IndexError, TypeError):
            return ""


class Hostile:
    def __init__(self):
        self.models = {}
        self.hook = None
        self.requests = []
        self.lock = threading.Lock()
        self.answer = lambda mid, prompt: f"{mid} says {prompt.strip()}"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_any(self):
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                req = Request(self.command, u.path, q, body)
                with outer.lock:
                    outer.requests.append((self.command, u.path, q))
                r = outer.hook(req) if outer.hook else None
                if r is None:
                    r = outer.normal(req)
                if r.raw:
                    r.raw(self)
                    self.close_connection = True
                    return
                data = r.body if isinstance(r.body, bytes) else json.dumps(r.body).encode()
                ctype = "application/json"
                if r.status == 200 and u.path.endswith(":streamGenerateContent"):
                    # a stream of one event: the answer (or whatever the hook gave)
                    data, ctype = b"data: " + data + b"\r\n\r\n", "text/event-stream"
                try:
                    self.send_response(r.status)
                    for k, v in r.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    for i in range(0, len(data), 1 << 20):
                        self.wfile.write(data[i:i + (1 << 20)])
                except OSError:
                    self.close_connection = True

            do_GET = do_POST = do_PATCH = do_DELETE = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add_model(self, mid, **extra):
        self.models[mid] = model_json(mid, **extra)

    def count(self, method, path_prefix, pred=None):
        with self.lock:
            return sum(1 for m, p, q in self.requests
                       if m == method and p.startswith(path_prefix) and (pred is None or pred(q)))

    def normal(self, req):
        p = req.path
        if req.method == "GET" and p == "/v1beta/tunedModels":
            return Reply(body={"tunedModels": list(self.models.values())})
        if p.startswith("/v1beta/tunedModels/") and generates(p):
            mid = p[len("/v1beta/tunedModels/"):p.rindex(":")]
            if mid not in self.models:
                return Reply(404, rpc_error(404, "NOT_FOUND", f"no model {mid}"))
            return Reply(body=answer_json(self.answer(mid, req.prompt())))
        if req.method == "GET" and p.startswith("/v1beta/tunedModels/") and "/" not in p[20:]:
            mid = p[len("/v1beta/tunedModels/"):]
            if mid in self.models:
                return Reply(body=self.models[mid])
            return Reply(404, rpc_error(404, "NOT_FOUND", f"no model {mid}"))
        if req.method == "GET" and p.endswith("/operations"):
            return Reply(body={"operations": []})
        if req.method == "GET" and p == "/v1beta/models":
            return Reply(body={"models": []})
        return Reply(404, rpc_error(404, "NOT_FOUND", f"nothing at {p}"))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def wait_for(pred, timeout=20, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()
