"""Timing helpers of the in-process bench scripts; tables, results files and machine info come from
``_common`` (re-exported here so every script imports one module)."""

from __future__ import annotations

import statistics
import time

from _common import RESULTS, machine_info, print_table, write_results

__all__ = ["RESULTS", "machine_info", "median", "print_table", "rate_and_latency", "write_results"]


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
