"""Worker cold start of a packaged function: fresh process → import the handler source → init_context.

Builds a 5-step sync flow (by-value classes) into function.yaml, then starts N fresh processes that import
the generated source and call ``init_context`` with nuclio-sdk objects, as nuclio's Python wrapper does.
``embed`` runs on a bare interpreter (``-I -S``: no site-packages, only nuclio-sdk + cloudpickle on the
path; the runtime comes from the source). ``pip`` runs the same graph with fnpack installed (bytecode
cached) for comparison. Targets (DESIGN.md): import + init < 100 ms, worker peak RSS < 40 MB, runtime < 300 KB.

    .venv/bin/python bench/coldstart.py [--runs 20]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/ holds modules named like the stdlib's (http.py): keep this script's folder off the path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from fnpack import new_function  # noqa: E402
from fnpack.package.embed import extract_literals, pack_modules, runtime_sources  # noqa: E402
from fnpack.package.loader import load_function  # noqa: E402


class Scale:
    def __init__(self, factor: int = 2, **kwargs):
        self.factor = factor

    def do(self, body):
        body["x"] = body["x"] * self.factor
        return body


def add_one(body):
    body["x"] = body["x"] + 1
    return body


def tag(body):
    body["tagged"] = True
    return body


def five_steps():
    fn = new_function("coldstart", project="bench")
    graph = fn.set_topology("flow", engine="sync")
    graph.to(name="s1", handler=add_one).to(Scale, name="s2", factor=3).to(name="s3", handler=add_one).to(
        Scale, name="s4", factor=2
    ).to(name="s5", handler=tag)
    return fn


CHILD = r"""
import sys, time
t0 = time.perf_counter()
sys.path[:0] = PATHS
import nuclio_sdk
t1 = time.perf_counter()
import main
t2 = time.perf_counter()
context = nuclio_sdk.Context(nuclio_sdk.Logger(30), nuclio_sdk.Platform("local"), 0, nuclio_sdk.TriggerInfo("http", "http"))
main.init_context(context)
t3 = time.perf_counter()
response = main.handler(context, nuclio_sdk.Event(body={"x": 1}, content_type="application/json"))
t4 = time.perf_counter()
assert response.status_code == 200 and '"x": 14' in response.body, response
import json, resource
print(json.dumps({"sdk_ms": (t1 - t0) * 1e3, "import_ms": (t2 - t1) * 1e3, "init_ms": (t3 - t2) * 1e3,
                  "first_event_ms": (t4 - t3) * 1e3, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "embedded": sys.modules["fnpack"].__file__.startswith("fnpack-embedded")}))
"""


def _site_packages() -> Path:
    import nuclio_sdk

    return Path(nuclio_sdk.__file__).resolve().parent.parent


def run_mode(mode: str, workdir: Path, runs: int) -> dict:
    fn = five_steps()
    target = workdir / mode / "function.yaml"
    fn.export(str(target), runtime="embed" if mode == "embed" else "pip")
    function = load_function(str(target))
    (target.parent / "main.py").write_text(function.source)
    if mode == "embed":
        lib = workdir / "bare-lib"
        lib.mkdir(exist_ok=True)
        for name in ("nuclio_sdk", "cloudpickle"):
            if not (lib / name).exists():
                os.symlink(_site_packages() / name, lib / name)
        python = [getattr(sys, "_base_executable", sys.executable), "-I", "-S"]
        paths = [str(lib), str(target.parent)]
    else:
        python = [sys.executable, "-I"]
        paths = [str(target.parent)]
    code = CHILD.replace("PATHS", repr(paths))
    samples = []
    for _ in range(runs + 1):  # the first run warms the OS file cache (and, for pip, the bytecode cache)
        started = time.perf_counter()
        out = subprocess.run(
            [*python, "-c", code], capture_output=True, text=True, timeout=120, cwd=target.parent
        )
        wall = (time.perf_counter() - started) * 1e3
        if out.returncode != 0:
            raise SystemExit(f"{mode}: the worker failed: {out.stderr.strip().splitlines()[-1:]}")
        sample = json.loads(out.stdout.strip().splitlines()[-1])
        sample["process_ms"] = wall
        samples.append(sample)
    samples = samples[1:]
    if mode == "embed":
        assert all(s["embedded"] for s in samples), "the runtime did not come from the source"
    ours = [s["import_ms"] + s["init_ms"] for s in samples]
    return {
        "mode": mode,
        "runs": runs,
        "import_init_median_ms": statistics.median(ours),
        "import_init_max_ms": max(ours),
        "sdk_import_median_ms": statistics.median(s["sdk_ms"] for s in samples),
        "first_event_median_ms": statistics.median(s["first_event_ms"] for s in samples),
        "process_median_ms": statistics.median(s["process_ms"] for s in samples),
        "process_max_ms": max(s["process_ms"] for s in samples),
        "peak_rss_mb_max": max(s["rss_mb"] for s in samples),
        "function_yaml_kb": target.stat().st_size / 1024,
        "source_kb": len(function.source.encode()) / 1024,
    }


def sizes(workdir: Path) -> dict:
    function = load_function(str(workdir / "embed" / "function.yaml"))
    runtime = runtime_sources()
    raw = sum(len(src.encode()) for _, src in runtime.values())
    literals = extract_literals(function.source)
    return {
        "runtime_modules": len(runtime),
        "runtime_source_kb": raw / 1024,
        "runtime_embedded_kb": len(pack_modules(runtime)) / 1024,
        "spec_kb": len(literals["_FNPACK_SPEC"].encode()) / 1024,
        "function_source_code_b64_kb": len(base64.b64encode(function.source.encode())) / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "coldstart.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fnpack-coldstart-") as tmp:
        workdir = Path(tmp)
        rows = [run_mode("embed", workdir, args.runs), run_mode("pip", workdir, args.runs)]
        size = sizes(workdir)
    header = f"{'mode':6} {'import+init p50':>16} {'max':>8} {'sdk import':>11} {'1st event':>10} {'process p50':>12} {'peak RSS':>9} {'yaml':>8}"
    print(f"cold start of a 5-step graph, {args.runs} fresh processes per mode")
    print(header)
    for r in rows:
        print(
            f"{r['mode']:6} {r['import_init_median_ms']:13.1f} ms {r['import_init_max_ms']:5.1f} ms "
            f"{r['sdk_import_median_ms']:8.1f} ms {r['first_event_median_ms']:7.2f} ms {r['process_median_ms']:9.1f} ms "
            f"{r['peak_rss_mb_max']:6.1f} MB {r['function_yaml_kb']:5.0f} KB"
        )
    print(
        f"embedded runtime: {size['runtime_modules']} modules, {size['runtime_source_kb']:.0f} KB source -> "
        f"{size['runtime_embedded_kb']:.0f} KB embedded (zlib+base64); spec {size['spec_kb']:.1f} KB; "
        f"functionSourceCode {size['function_source_code_b64_kb']:.0f} KB"
    )
    result = {
        "bench": "coldstart",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": rows,
        "sizes": size,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
