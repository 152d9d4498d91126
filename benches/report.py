#!/usr/bin/env python3
"""Collects criterion's medians from several runs and prints BENCHMARKS.md's tables.

    python3 benches/report.py collect results/run1.tsv   # after each `cargo bench`
    python3 benches/report.py table results/run*.tsv     # medians of the runs, ratios

`collect` reads criterion's results (`<target>/criterion/**/new/*.json`)
and the paired comparisons' (`<target>/steward-benches/*.tsv`), where target
is $CARGO_TARGET_DIR or ./target, and writes one line per contender: its full
id, median time per iteration in ns, elements per iteration (the N of a
fan-out or of a child-scope phase) and, for paired comparisons, the median
over the rounds of steward's time over this contender's in the same round.

`table` takes the median, over the runs, of each contender's median time,
and of steward's ratio to it: the paired ratio where there is one, else the
ratio of the two criterion medians of that run. Every ratio compares figures
from the same run.
"""

import json
import os
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def collect(out):
    target = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
    root = target / "criterion"
    rows = []
    for tsv in sorted((target / "steward-benches").glob("*.tsv")):
        for line in tsv.read_text().splitlines():
            full_id, median, elements, ratio, _q1, _q3 = line.split("\t")
            rows.append((full_id, float(median), int(elements), ratio))
    for bench in sorted(root.glob("**/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        elements = 1
        throughput = meta.get("throughput") or {}
        if "Elements" in throughput:
            elements = throughput["Elements"]
        if all(row[0] != meta["full_id"] for row in rows):  # paired results win
            rows.append((meta["full_id"], est["median"]["point_estimate"], elements, ""))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        for full_id, median, elements, ratio in rows:
            f.write(f"{full_id}\t{median}\t{elements}\t{ratio}\n")
    print(f"{len(rows)} benchmarks -> {out}")


def load(path):
    runs = {}
    for line in Path(path).read_text().splitlines():
        full_id, median, elements, ratio = line.split("\t")
        runs[full_id] = (float(median), int(elements), float(ratio) if ratio else None)
    return runs


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    if ns >= 10:
        return f"{ns:.0f} ns"
    return f"{ns:.2f} ns"


def table(paths):
    runs = [load(p) for p in paths]
    groups = defaultdict(list)
    for full_id in runs[0]:
        group, _, name = full_id.rpartition("/")
        groups[group].append(name)
    print(f"Medians of {len(runs)} runs.\n")
    for group, names in groups.items():
        print(f"### {group}\n")
        print("| contender | per iteration | per element | steward / this (range over runs) |")
        print("|---|---:|---:|---:|")
        ref = f"{group}/steward"
        for name in names:
            full_id = f"{group}/{name}"
            values = [r[full_id][0] for r in runs if full_id in r]
            elements = runs[0][full_id][1]
            median = statistics.median(values)
            per_element = fmt_ns(median / elements) if elements > 1 else ""
            ratio = ""
            if name != "steward" and all(ref in r and full_id in r for r in runs):
                ratios = [
                    r[full_id][2] if r[full_id][2] is not None else r[ref][0] / r[full_id][0]
                    for r in runs
                ]
                ratio = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"
            print(f"| {name} | {fmt_ns(median)} | {per_element} | {ratio} |")
        print()


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "collect":
        collect(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "table":
        table(sys.argv[2:])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
