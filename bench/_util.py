"""Small helpers shared by the bench scripts: timing loops, tables, results files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def machine_info() -> dict:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def rate_and_latency(call, n: int, warmup: int = 2000) -> dict:
    """Events/s from a bulk-timed loop, p50/p99 (µs) from a per-call-timed loop."""
    for _ in range(warmup):
        call()
    start = time.perf_counter()
    for _ in range(n):
        call()
    rate = n / (time.perf_counter() - start)
    clock = time.perf_counter_ns
    samples = []
    append = samples.append
    for _ in range(min(n, 50_000)):
        t0 = clock()
        call()
        append(clock() - t0)
    samples.sort()
    return {
        "events_per_s": rate,
        "p50_us": samples[len(samples) // 2] / 1000,
        "p99_us": samples[int(len(samples) * 0.99)] / 1000,
    }


def median(values):
    return statistics.median(values)


def print_table(title: str, columns: list[str], rows: list[list]) -> None:
    cells = [[str(c) for c in columns]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    print(f"\n{title}")
    for i, row in enumerate(cells):
        print("  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value) -> str:
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        return f"{value:.2f}"
    return str(value)


def write_results(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps({"machine": machine_info(), **data}, indent=2))
    return path
