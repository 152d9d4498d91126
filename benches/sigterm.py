#!/usr/bin/env python3
"""SIGTERM to exit of an idle steward program, timed from outside the process.

    python3 benches/sigterm.py [ITERATIONS]

Builds the examples in release mode, then for each program: starts it, waits
for the line it prints once it is up, sends SIGTERM, and times until the
process has exited (as a supervisor sees it: `waitpid` returns). Each run
must exit with status 0. Prints the median, 90th percentile and maximum.

Programs:

- `service` (the idle job service on smol: job listener, probe server,
  workers, journal in a fresh temporary folder; no pre-stop delay outside
  Kubernetes), the figure the bar is for;
- `hello --runtime smol|tokio --drain-ms 0`: signal handlers, one worker
  holding a guard, drained at once;
- `probes --probe-addr 127.0.0.1:0`: `steward_smol::App` with its probe
  server and three checks.
"""

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PROGRAMS = [
    (
        "service (idle)",
        ["service", "--listen", "127.0.0.1:0", "--probe-addr", "127.0.0.1:0", "--data", "{tmp}"],
        "listening on",
    ),
    ("hello (smol)", ["hello", "--runtime", "smol", "--drain-ms", "0"], "ready"),
    ("hello (tokio)", ["hello", "--runtime", "tokio", "--drain-ms", "0"], "ready"),
    ("probes (smol App)", ["probes", "--probe-addr", "127.0.0.1:0"], "probes on"),
]


def once(argv, marker):
    tmp = tempfile.mkdtemp(prefix="steward-sigterm-")
    proc = subprocess.Popen(
        [str(TARGET / "release" / argv[0]), *(a.format(tmp=tmp) for a in argv[1:])],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        for line in proc.stdout:
            if marker in line:
                break
        else:
            raise RuntimeError(f"{argv[0]} ended before printing {marker!r}")
        # A plain blocking wait: `wait(timeout=...)` polls with growing sleeps
        # (0.5, 1, 2, 4 ms...) and would round every figure up to one of them.
        watchdog = threading.Timer(30, proc.kill)
        watchdog.start()
        start = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        status = proc.wait()
        took = time.perf_counter() - start
        watchdog.cancel()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if status != 0:
        raise RuntimeError(f"{argv[0]} exited with {status}")
    return took


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    subprocess.run(
        ["cargo", "build", "--release", "-p", "steward-examples"]
        + [arg for _, argv, _ in PROGRAMS for arg in ("--bin", argv[0])],
        cwd=ROOT,
        check=True,
    )
    print(f"\nSIGTERM to exit, {iterations} runs each\n")
    print("| program | median | p90 | max |")
    print("|---|---:|---:|---:|")
    for name, argv, marker in PROGRAMS:
        times = sorted(once(argv, marker) for _ in range(iterations))
        p90 = times[round((len(times) - 1) * 0.9)]
        print(
            f"| {name} | {statistics.median(times) * 1e3:.1f} ms | {p90 * 1e3:.1f} ms"
            f" | {times[-1] * 1e3:.1f} ms |"
        )


if __name__ == "__main__":
    main()
