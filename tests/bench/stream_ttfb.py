#!/usr/bin/python3
"""Time to the first byte of a streamed answer: `cat response` on the mount against the
first SSE event `curl -N` gets from streamGenerateContent?alt=sse, same tunedfs-server
(--stream-delay 100), same model and settings, answers of 10 events (80 bytes, 8 a
chunk). Each round asks a new prompt of both, so nothing is cached. Prints the medians,
the ratio and the time to the whole answer; asserts nothing.

usage: tests/bench/stream_ttfb.py [ROUNDS] [BUILD_DIR]      (defaults: 10, build)
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build"))
DELAY_MS = 100
OUT_BYTES = 80  # 10 events of 8 bytes
EXAMPLES = [{"text_input": str(i), "output": " ".join(["counting on and on"] * 8)}
            for i in range(2)]


def first_and_end(cmd, marker, t0=None):
    """Runs cmd: seconds from t0 (default: now) to the first output holding marker, and
    to its end."""
    t0 = time.monotonic() if t0 is None else t0
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    seen, first = b"", None
    while True:
        b = os.read(p.stdout.fileno(), 65536)
        if not b:
            break
        seen += b
        if first is None and marker in seen:
            first = time.monotonic() - t0
    p.wait()
    return first, time.monotonic() - t0, seen


def main():
    tmp = tempfile.mkdtemp(prefix="tunedfs-bench-")
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    srv = subprocess.Popen([os.path.join(BUILD, "server", "tunedfs-server"), "--data-dir",
                            os.path.join(tmp, "srv"), "--port", "0", "--stream-delay",
                            str(DELAY_MS)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    url = srv.stdout.readline().decode().strip()
    fs = subprocess.Popen([os.path.join(BUILD, "fs", "tunedfs"), "-f", mnt, "-o",
                           f"endpoint={url},data_dir={tmp}/data,cache_dir={tmp}/cache,"
                           "poll_interval=0.2,submit_delay=0.05"], stderr=subprocess.DEVNULL)
    try:
        while not os.path.ismount(mnt):
            time.sleep(0.01)
        d = os.path.join(mnt, "s")
        os.mkdir(d)
        with open(os.path.join(d, "examples.jsonl"), "w") as f:
            f.write("".join(json.dumps(e) + "\n" for e in EXAMPLES))
        with open(os.path.join(d, "config"), "w") as f:
            f.write("base_model = models/gemini-1.0-pro-001\nepoch_count = 40\n")
        with open(os.path.join(d, "wait")) as f:
            assert f.read() == "ACTIVE\n"
        with open(os.path.join(d, "generation"), "w") as f:
            f.write(f"temperature = 0\nmax_output_tokens = {OUT_BYTES}\n")
        fs_first, fs_end, curl_first, curl_end, curl_own, fs_read = [], [], [], [], [], []
        for i in range(ROUNDS):
            nonce = uuid.uuid4().hex[:6]
            body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "c" + nonce}]}],
                               "generationConfig": {"temperature": 0,
                                                    "maxOutputTokens": OUT_BYTES}})
            a, b, out = first_and_end(
                ["curl", "-sN", "-X", "POST", "-H", "Content-Type: application/json",
                 "-w", "\n%{time_starttransfer}", "--data-binary", body,
                 f"{url}/v1beta/tunedModels/s:streamGenerateContent?alt=sse"], b"data:")
            events = out.count(b"data:")
            curl_own.append(float(out.rsplit(b"\n", 1)[1]))
            curl_first.append(a)
            curl_end.append(b)
            t0 = time.monotonic()
            with open(os.path.join(d, "prompt"), "w") as f:
                f.write("m" + nonce + "\n")
            a, b, out = first_and_end(["cat", os.path.join(d, "response")], b"", t0)
            fs_first.append(a)  # from before the prompt's write
            fs_end.append(b)
            t0 = time.monotonic()
            with open(os.path.join(d, "prompt"), "w") as f:
                f.write("r" + nonce + "\n")
            fd = os.open(os.path.join(d, "response"), os.O_RDONLY)
            os.read(fd, 65536)
            fs_read.append(time.monotonic() - t0)
            while os.read(fd, 65536):
                pass
            os.close(fd)
            if i == 0:
                print(f"answer: {len(out) - 1} bytes by the mount; curl saw {events} events")
        med = statistics.median
        print(f"rounds {ROUNDS}, --stream-delay {DELAY_MS}")
        print(f"first byte: cat response {med(fs_first) * 1000:.1f} ms (from the prompt's "
              f"write), curl first event {med(curl_first) * 1000:.1f} ms (from its start), "
              f"ratio {med(fs_first) / med(curl_first):.2f}")
        print(f"  curl's own time_starttransfer (its process start left out) "
              f"{med(curl_own) * 1000:.1f} ms, ratio {med(fs_first) / med(curl_own):.2f}")
        print(f"  the mount's first byte read in this process (no cat started) "
              f"{med(fs_read) * 1000:.1f} ms, ratio {med(fs_read) / med(curl_own):.2f}")
        print(f"whole answer: cat response {med(fs_end) * 1000:.0f} ms, "
              f"curl {med(curl_end) * 1000:.0f} ms")
    finally:
        subprocess.run(["fusermount3", "-u", mnt], stderr=subprocess.DEVNULL)
        fs.wait(timeout=20)
        srv.terminate()
        srv.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
