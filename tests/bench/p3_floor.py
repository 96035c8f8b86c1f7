#!/usr/bin/python3
"""P3's floor: what paging the list of N models costs before any client does anything with
the pages. On one tunedfs-server, in turn for --rounds rounds: a kept-alive HTTP client
that only finds each page's token (per page: the server's time to the first byte, the
transfer to the last), the same client parsing every page with json.loads, curl paging as
tests/bench/run's P3 does (a process a page), curl's start-up alone (a 1-model page), and
a fresh mount's cold `ls -l` (and `os.listdir`) of the same list. Prints, asserts nothing.

  tests/bench/p3_floor.py --build build --models 10000 --rounds 5
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Mount, Server, make_store, med, ms, timed  # noqa: E402

TOKEN = re.compile(rb'"nextPageToken"\s*:\s*"([^"]*)"')


def get(sock, host, path):
    """One GET on a kept-alive socket: (seconds to the first byte, to the last, body)."""
    t0 = time.perf_counter()
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    buf = sock.recv(1 << 16)
    t1 = time.perf_counter()
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(1 << 16)
    head, _, body = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    if not m:
        raise RuntimeError("no Content-Length: " + head.decode(errors="replace"))
    want, parts = int(m.group(1)), [body]
    got = len(body)
    while got < want:
        b = sock.recv(1 << 20)
        parts.append(b)
        got += len(b)
    return t1 - t0, time.perf_counter() - t0, b"".join(parts)


def pages(srv, parse):
    """Every page, one after another on one connection: (total, [(ttfb, last)], parse s)."""
    sock = socket.create_connection((srv.host, srv.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    tok, per, t_parse = None, [], 0.0
    t0 = time.perf_counter()
    try:
        while True:
            path = "/v1beta/tunedModels?pageSize=1000" + (f"&pageToken={tok}" if tok else "")
            first, last, body = get(sock, srv.host, path)
            per.append((first, last))
            if parse:
                t = time.perf_counter()
                tok = json.loads(body).get("nextPageToken")
                t_parse += time.perf_counter() - t
            else:
                m = TOKEN.search(body, max(0, len(body) - 4096)) or TOKEN.search(body)
                tok = m.group(1).decode() if m else None
            if not tok:
                break
    finally:
        sock.close()
    return time.perf_counter() - t0, per, t_parse


def curl_pages(url):
    tok, n = "", 0
    while True:
        out = subprocess.run(["curl", "-sS", "--fail-with-body", url + "/v1beta/tunedModels"
                              "?pageSize=1000" + (f"&pageToken={tok}" if tok else "")],
                             check=True, stdout=subprocess.PIPE).stdout
        n += 1
        tok = json.loads(out).get("nextPageToken")
        if not tok:
            return n


def curl_small(url):
    subprocess.run(["curl", "-sS", "-o", "/dev/null", url + "/v1beta/tunedModels?pageSize=1"],
                   check=True)


def cold(build, url, work, fn):
    mnt = Mount(build, url, work)
    try:
        return timed(fn, mnt.mnt)[0]
    finally:
        mnt.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--models", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    work = tempfile.mkdtemp(prefix="tunedfs-p3floor-")
    data = os.path.join(work, "store")
    make_store(a.build, data, a.models)
    srv = Server(a.build, data)
    r = {k: [] for k in ("floor", "ttfb", "xfer", "parsing", "parse", "curl", "start",
                         "ls", "listdir")}
    try:
        for i in range(a.rounds):
            t, per, _ = pages(srv, False)
            r["floor"].append(t)
            r["ttfb"].append(sum(p[0] for p in per))
            r["xfer"].append(sum(p[1] - p[0] for p in per))
            t, _, tp = pages(srv, True)
            r["parsing"].append(t)
            r["parse"].append(tp)
            r["curl"].append(timed(curl_pages, srv.url)[0])
            r["start"].append(med([timed(curl_small, srv.url)[0] for _ in range(5)]))
            r["ls"].append(cold(a.build, srv.url, os.path.join(work, f"l{i}"),
                                lambda p: subprocess.run(["ls", "-l", p], check=True,
                                                         stdout=subprocess.DEVNULL)))
            r["listdir"].append(cold(a.build, srv.url, os.path.join(work, f"d{i}"), os.listdir))
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)
    n_pages = len(per)
    print(f"P3 floor, {a.models} models, {n_pages} pages, medians of {a.rounds} rounds")
    rows = [("kept-alive client, token only (the floor)", "floor"),
            ("  of it: server to first byte, all pages", "ttfb"),
            ("  of it: first byte to last, all pages", "xfer"),
            ("kept-alive client, json.loads each page", "parsing"),
            ("  of it: json.loads", "parse"),
            ("curl, a process a page (tests/bench/run)", "curl"),
            ("  one curl of a 1-model page (start-up)", "start"),
            ("tunedfs cold ls -l (fresh mount)", "ls"),
            ("tunedfs cold os.listdir (fresh mount)", "listdir")]
    for label, k in rows:
        print(f"  {label:<44} {ms(med(r[k])):>10}   " + " ".join(ms(x) for x in r[k]))
    f, c = med(r["floor"]), med(r["curl"])
    print(f"  floor / curl {f / c:.2f}; cold ls -l / curl, median of pairs "
          f"{med([x / y for x, y in zip(r['ls'], r['curl'])]):.2f}; cold ls -l / floor "
          f"{med(r['ls']) / f:.2f}")


if __name__ == "__main__":
    main()
