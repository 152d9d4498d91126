#!/usr/bin/env python3
"""The job service's throughput with backpressure (BENCHMARKS.md, "Job
service: throughput with backpressure").

Starts the built `service` (or `service-tokio`) on loopback with a fresh data
directory, lets CLIENTS connections flood it with jobs (each a writer thread
that never waits for an answer and a reader thread counting the `ok` lines)
for SECONDS, and samples every 0.5 s: /readyz, the jobs acknowledged and
not done, the resident memory. Then SIGTERM; the exit must be 0.

    cargo build --release -p steward-examples --bin service --bin service-tokio
    python3 benches/jobs_flood.py [--bin service] [--seconds 20] [--clients 8] \
        [-- service flags such as --work-ms 20 --workers 4]
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def done_count(data):
    n = 0
    for name in os.listdir(data):
        if name.startswith("done") and name.endswith(".log"):
            with open(os.path.join(data, name), "rb") as f:
                n += f.read().count(b"\n")
    return n


def readyz(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="service")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--payload", type=int, default=100)
    ap.add_argument("flags", nargs="*")
    args = ap.parse_args()
    exe = os.path.join(os.path.dirname(__file__), "..", "target", "release", args.bin)
    data = tempfile.mkdtemp(prefix="jobs-flood-")
    probe = free_port()
    proc = subprocess.Popen(
        [exe, "--listen", "127.0.0.1:0", "--probe-addr", f"127.0.0.1:{probe}",
         "--data", data, "--pre-stop-ms", "0", *args.flags],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    addr = line.rsplit(" ", 1)[1].strip()
    host, port = addr.rsplit(":", 1)
    rss_before = status_kib(proc.pid, "VmRSS")

    stop = threading.Event()
    acked = [0] * args.clients
    payload = b"x" * args.payload

    def client(i):
        s = socket.create_connection((host, int(port)))
        def write():
            n = 0
            lines = b"".join(b"c%d-%d-%s\n" % (i, n + k, payload) for k in range(64))
            while not stop.is_set():
                try:
                    s.sendall(lines)
                except OSError:
                    return
                n += 64
            s.shutdown(socket.SHUT_WR)
        w = threading.Thread(target=write, daemon=True)
        w.start()
        f = s.makefile("rb")
        try:
            for answer in f:
                if answer.startswith(b"ok "):
                    acked[i] += 1
        except OSError:
            pass  # reset at the stop: the service closes with input unread
        w.join()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    samples = []
    while time.monotonic() - start < args.seconds:
        time.sleep(0.5)
        a = sum(acked)
        d = done_count(data)
        samples.append((time.monotonic() - start, a, d, readyz(probe), status_kib(proc.pid, "VmRSS")))
    elapsed = time.monotonic() - start
    a_end, d_end = samples[-1][1], samples[-1][2]
    peak = status_kib(proc.pid, "VmHWM")
    stop.set()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=60)
    for t in threads:
        t.join(timeout=10)
    shutil.rmtree(data, ignore_errors=True)
    not_ready = sum(1 for s in samples if s[3] == 503) / len(samples)
    waiting = max(s[1] - s[2] for s in samples)
    rss = [s[4] for s in samples]
    print(f"{args.bin} {' '.join(args.flags)}: {args.clients} clients, {elapsed:.1f} s: "
          f"acked {a_end} ({a_end / elapsed:,.0f}/s), done {d_end} ({d_end / elapsed:,.0f}/s), "
          f"acked-not-done max {waiting}, /readyz 503 in {not_ready:.0%} of samples, "
          f"RSS {rss_before} KiB before, {min(rss)}-{max(rss)} KiB during, peak {peak} KiB; exit {code}")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
