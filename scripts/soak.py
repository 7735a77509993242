"""`make soak`: load the example model router in the emulator (2 workers) for N minutes and watch memory.

Samples the RSS (``VmRSS`` of ``/proc/<pid>/status``) of each worker and of this process, which runs the
trigger (and the load client, which keeps nothing per request), every few seconds while an aiohttp client
keeps C requests in flight (every 10th one malformed JSON, so the error path runs too), prints a table,
and exits 1 when a process's RSS grew more than the threshold (10%) over its first sample after warm-up,
when a worker died or was restarted, or when a request got no answer or an unexpected one (a good request
anything but its own 200, a malformed one anything but a 400). Not part of `make test` (it runs for minutes): ``python scripts/soak.py --minutes 2``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "examples"), str(ROOT / "tests")]

import model_router  # noqa: E402
from reliability.load import LoadResult, run_load  # noqa: E402

from fnpack.emulator import serve  # noqa: E402
from fnpack.package.function import write_function  # noqa: E402

INFER = "/v2/models/iris/infer"


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0, help="length of the run (10)")
    p.add_argument("--workers", type=int, default=2, help="emulator worker processes (2)")
    p.add_argument("--concurrency", type=int, default=32, help="requests in flight (32)")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between RSS samples (5)")
    p.add_argument("--warmup", type=float, help="seconds before the baseline sample (10%% of the run, 10-60)")
    p.add_argument("--threshold", type=float, default=10.0, help="allowed RSS growth in percent (10)")
    p.add_argument(
        "--log", help="file for the workers' log lines (default: a temp file; its path is printed)"
    )
    p.add_argument(
        "--bad-every", type=int, default=10, help="every k-th request is malformed JSON (10; 0: none)"
    )
    return p.parse_args(argv)


def _label(pid: int) -> str:
    """Column label: a worker by pid; this process, which runs the trigger (and the load client)."""
    return "trigger+client" if pid == os.getpid() else f"worker {pid}"


async def soak(url: str, pids: list[int], args: argparse.Namespace, get_pids) -> tuple[list, LoadResult]:
    watched = [*pids, os.getpid()]  # the workers, and the trigger process
    duration = args.minutes * 60
    warmup = args.warmup if args.warmup is not None else min(60.0, max(10.0, duration * 0.1))
    stop = asyncio.Event()
    result = LoadResult()
    load = asyncio.create_task(
        run_load(
            url,
            None,
            args.concurrency,
            timeout=30,
            stop=stop,
            result=result,
            bad_every=args.bad_every,
            track_ids=False,  # the memory watched here includes this process: the client must not grow
        )
    )
    started = time.monotonic()
    samples: list[tuple[float, int, float, list[int], bool]] = []  # t, answered, req/s, rss per pid, baseline
    last_t, last_n = 0.0, 0
    baseline_taken = False
    print(
        f"{'t (s)':>7} {'requests':>9} {'req/s':>7} "
        + " ".join(f"{_label(p) + ' (MiB)':>22}" for p in watched)
    )
    while True:
        await asyncio.sleep(args.interval)
        t = time.monotonic() - started
        if load.done():
            break
        rss = [rss_kib(pid) for pid in watched]
        n = result.answered
        rate = (n - last_n) / (t - last_t)
        last_t, last_n = t, n
        baseline = not baseline_taken and t >= warmup
        baseline_taken = baseline_taken or baseline
        samples.append((t, n, rate, rss, baseline))
        cells = " ".join(f"{kib / 1024:>22.1f}" for kib in rss)
        print(
            f"{t:>7.0f} {n:>9} {rate:>7.0f} {cells}{'   <- baseline (after warm-up)' if baseline else ''}",
            flush=True,
        )
        if sorted(await asyncio.to_thread(get_pids)) != sorted(pids):
            print("a worker died or was restarted", flush=True)
            break
        if t >= duration:
            break
    stop.set()
    await asyncio.wait_for(load, 60)
    return samples, result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # the workers inherit fd 2: their log lines (one per malformed request) go to a file, the table to stdout
    log_path = args.log or tempfile.mkstemp(prefix="fnpack-soak-", suffix=".log")[1]
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 2)
    print(f"soak: worker logs in {log_path}")
    with tempfile.TemporaryDirectory(prefix="fnpack-soak-") as tmp:
        path = write_function(
            model_router.build().build(namespace=vars(model_router)), f"{tmp}/function.yaml"
        )
        with serve(path, workers=args.workers, log_level="warn") as fn:
            pids = sorted(fn.worker_pids())
            print(f"soak: {args.minutes:g} min against {fn.url}{INFER}, {args.workers} workers {pids}, "
                  f"concurrency {args.concurrency}, RSS every {args.interval:g} s")  # fmt: skip
            samples, result = asyncio.run(soak(fn.url + INFER, pids, args, fn.worker_pids))
            final_pids = sorted(fn.worker_pids())
    failures = []
    base = next((s for s in samples if s[4]), None)
    if base is None:
        failures.append("the run ended before the warm-up: no baseline sample (use more --minutes)")
    else:
        last = samples[-1]
        print(f"\n{'process':>16} {'baseline MiB':>13} {'last MiB':>9} {'peak MiB':>9} {'growth':>8}")
        for i, pid in enumerate([*pids, os.getpid()]):
            after = [s[3][i] for s in samples if s[0] >= base[0]]
            growth = (last[3][i] - base[3][i]) / base[3][i] * 100 if base[3][i] else float("inf")
            print(f"{_label(pid):>16} {base[3][i] / 1024:>13.1f} {last[3][i] / 1024:>9.1f} {max(after) / 1024:>9.1f} "
                  f"{growth:>7.1f}%")  # fmt: skip
            if growth > args.threshold:
                failures.append(f"{_label(pid)}: RSS grew {growth:.1f}% (limit {args.threshold:g}%)")
    print(f"\n{result.answered} requests in {result.elapsed:.0f} s ({result.rate:.0f} req/s), {result.bad} "
          f"malformed on purpose, statuses {dict(result.statuses)}, no answer: {len(result.errors)}")  # fmt: skip
    if final_pids != pids:
        failures.append(f"workers changed during the run: {pids} -> {final_pids}")
    if result.errors:
        failures.append(f"{len(result.errors)} requests got no answer, e.g. {result.errors[0]}")
    if result.statuses[200] + result.statuses[400] != result.answered or result.statuses[400] != result.bad:
        failures.append(f"unexpected answers: {dict(result.statuses)} for {result.bad} malformed requests")
    if result.wrong:
        failures.append(f"{len(result.wrong)} wrong answers, e.g. {result.wrong[0]}")
    for failure in failures:
        print(f"FAIL: {failure}")
    print("soak: ok" if not failures else "soak: failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
