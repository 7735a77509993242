"""fnpack vs the reference system (mlrun 1.12.1 + storey), same workloads, same run, with ratios.

The reference is installed into its own venv, ``bench/.venv-ref``, on first use (never a dependency
of fnpack). Run: ``.venv/bin/python bench/compare.py [--events N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

from _util import print_table, write_results  # noqa: E402

REF_VENV = _HERE / ".venv-ref"
REF_PACKAGES = ["mlrun==1.12.1", "storey"]
TARGETS = {"router + V2 model infer": 3.0, "3-step sync flow": 3.0, "3-step async flow": 20.0}


def reference_python() -> Path:
    python = REF_VENV / "bin" / "python"
    if (
        not python.exists()
        or subprocess.run([python, "-c", "import mlrun, storey"], capture_output=True).returncode
    ):
        print(
            f"installing the reference system into {REF_VENV} ({', '.join(REF_PACKAGES)}), once ...",
            flush=True,
        )
        subprocess.run([sys.executable, "-m", "venv", str(REF_VENV)], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", *REF_PACKAGES], check=True)
    return python


def run_side(python, lib: str, events: int) -> dict:
    env = {**os.environ, "MLRUN_LOG_LEVEL": "ERROR", "PYTHONPATH": str(_HERE.parent)}
    out = subprocess.run(
        [str(python), str(_HERE / "workloads.py"), "--lib", lib, "--events", str(events)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if out.returncode:
        raise SystemExit(f"{lib} workloads failed:\n{out.stderr[-2000:]}")
    last = [line for line in out.stdout.splitlines() if line.startswith("{")][
        -1
    ]  # the reference logs to stdout
    return json.loads(last)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events", type=int, default=100_000, help="events per case (the reference's async flow runs 1/20)"
    )
    args = parser.parse_args(argv)

    ref = run_side(reference_python(), "mlrun", args.events)
    ours = run_side(sys.executable, "fnpack", args.events)
    rows = []
    for label, target in TARGETS.items():
        a, b = ours["cases"][label], ref["cases"][label]
        ratio = a["events_per_s"] / b["events_per_s"]
        rows.append(
            [
                label,
                a["events_per_s"],
                b["events_per_s"],
                f"{ratio:.1f}x",
                f">= {target:g}x",
                a["p50_us"],
                a["p99_us"],
                b["p99_us"],
            ]
        )
    rows.append(
        [
            "import time (ms)",
            ours["import_s"] * 1e3,
            ref["import_s"] * 1e3,
            f"{ref['import_s'] / ours['import_s']:.0f}x less",
            "",
            "",
            "",
            "",
        ]
    )
    rows.append(["peak RSS after 3 servers (MB)", ours["rss_mb_after_3_servers"], ref["rss_mb_after_3_servers"],
                 f"{ref['rss_mb_after_3_servers'] / ours['rss_mb_after_3_servers']:.1f}x less", "", "", "", ""])  # fmt: skip
    print_table(
        "fnpack vs reference (mlrun 1.12.1), server.test() in one process",
        [
            "workload",
            "fnpack ev/s",
            "reference ev/s",
            "ratio",
            "target",
            "fnpack p50 µs",
            "fnpack p99 µs",
            "ref p99 µs",
        ],
        rows,
    )
    path = write_results("compare", {"fnpack": ours, "reference": ref, "targets": TARGETS})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
