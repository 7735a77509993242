"""HTTP emulator bench: wrk against ``fnpack run`` (1 and 2 workers) and a bare aiohttp echo server, same run.

Target (DESIGN.md): one worker reaches at least 70% of the bare server's req/s; N workers scale to the cores.
When uvloop is installed, the same pair runs again on uvloop (``fnpack run --loop uvloop`` and a bare server on
uvloop): each fnpack row is compared with the bare server on the same loop type.
Scaling: a CPU-bound handler (about 1 ms of Python per event) with 1 worker and with one worker per core;
the echo cannot show it, since there the trigger process and wrk already fill the machine.
Usage: python bench/http.py [--duration 10] [--connections 32] [--loop asyncio|uvloop|both] [--no-scaling]
"""

from __future__ import annotations

import sys
from pathlib import Path

# this file is bench/http.py: keep its directory off sys.path so it does not shadow the stdlib ``http``
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import base64  # noqa: E402
import importlib.util  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from typing import Any  # noqa: E402

import yaml  # noqa: E402


def _load_common():
    spec = importlib.util.spec_from_file_location("_fnpack_bench_common", _HERE / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = _load_common()
ROOT = common.ROOT

ECHO_HANDLER = """
def handler(context, event):
    return context.Response(body=event.body, content_type="application/octet-stream")
"""

BARE_SERVER = """
import asyncio, sys
from aiohttp import web

async def echo(request):
    body = await request.read()
    return web.Response(body=body, content_type="application/octet-stream")

async def main(port):
    server = web.Server(echo, access_log=None)
    await asyncio.get_running_loop().create_server(server, "127.0.0.1", port)
    await asyncio.Event().wait()

if sys.argv[2] == "uvloop":
    import uvloop
    uvloop.run(main(int(sys.argv[1])))
else:
    asyncio.run(main(int(sys.argv[1])))
"""

BURN_HANDLER = """
def handler(context, event):
    total = 0
    for i in range(30_000):  # about 1 ms of pure Python: the handler, not the plumbing, is the cost
        total += i * i
    return str(total)
"""

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body   = '{"inputs": [1, 2, 3, 4]}'
wrk.headers["Content-Type"] = "application/octet-stream"
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def run_wrk(wrk: str, url: str, script: Path, duration: int, connections: int) -> dict[str, Any]:
    subprocess.run(
        [wrk, "-t1", "-c8", "-d2s", "-s", str(script), url], capture_output=True, check=True
    )  # warm-up
    out = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: _ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "req_per_s": rps,
        "p50_ms": lat.get("50"),
        "p90_ms": lat.get("90"),
        "p99_ms": lat.get("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds, best kept (default 2)")
    parser.add_argument(
        "--no-scaling", action="store_true", help="skip the CPU-bound handler run (1 worker vs one per core)"
    )
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop", "both"),
        default=None,
        help="event loop(s) to measure (default: both when uvloop is installed, else asyncio)",
    )
    args = parser.parse_args()
    has_uvloop = importlib.util.find_spec("uvloop") is not None
    if args.loop is None:
        args.loop = "both" if has_uvloop else "asyncio"
    if args.loop != "asyncio" and not has_uvloop:
        raise SystemExit("--loop uvloop needs the uvloop package: pip install uvloop")
    loops = ["asyncio", "uvloop"] if args.loop == "both" else [args.loop]
    wrk = common.ensure_debian_tool("wrk", "wrk")

    work = Path(tempfile.mkdtemp(prefix="fnpack-bench-http-"))
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT)

    def write_function(name: str, source: str) -> Path:
        path = work / f"{name}.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "nuclio.io/v1",
                    "kind": "Function",
                    "metadata": {"name": name},
                    "spec": {
                        "runtime": "python:3.11",
                        "handler": f"{name}:handler",
                        "build": {"functionSourceCode": base64.b64encode(source.encode()).decode()},
                    },
                }
            )
        )
        return path

    function = write_function("echo", ECHO_HANDLER)
    burn = write_function("burn", BURN_HANDLER)

    def bare_server(loop: str) -> tuple[subprocess.Popen[Any], str]:
        port = common.free_port()
        proc = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port), loop])
        return proc, f"http://127.0.0.1:{port}/"

    def emulator(workers: int, loop: str, path: Path = function) -> tuple[subprocess.Popen[Any], str]:
        port = common.free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "fnpack.cli", "run", str(path), "--port", str(port),
             "--workers", str(workers), "--log-level", "error", "--loop", loop],
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        return proc, f"http://127.0.0.1:{port}/"

    def label(name: str, loop: str) -> str:
        return name if loop == "asyncio" else f"{name} (uvloop)"

    servers: dict[str, Any] = {}
    bare_of: dict[str, str] = {}  # row -> the bare row on the same loop type
    for loop in loops:
        bare = label("bare aiohttp", loop)
        servers[bare] = lambda loop=loop: bare_server(loop)
        servers[label("fnpack run, 1 worker", loop)] = lambda loop=loop: emulator(1, loop)
        servers[label("fnpack run, 2 workers", loop)] = lambda loop=loop: emulator(2, loop)
        for name in list(servers)[-3:]:
            bare_of[name] = bare
    cores = os.cpu_count() or 1
    if not args.no_scaling:
        servers["CPU-bound handler, 1 worker"] = lambda: emulator(1, "asyncio", burn)
        servers[f"CPU-bound handler, {cores} workers"] = lambda: emulator(cores, "asyncio", burn)
    # interleaved rounds, best round per server: the machine may be shared, and noise only ever slows a run
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    for round_no in range(args.rounds):
        for name, start in servers.items():
            proc, url = start()
            try:
                common.wait_http(url, proc=proc)
                runs[name].append(run_wrk(wrk, url, script, args.duration, args.connections))
            finally:
                common.stop(proc)
            print(f"round {round_no + 1}: {name}: {runs[name][-1]['req_per_s']:,.0f} req/s", flush=True)
    results = {name: {**max(rs, key=lambda r: r["req_per_s"]), "rounds": rs} for name, rs in runs.items()}

    rows = []
    for name, r in results.items():
        if name not in bare_of:
            continue
        r["ratio_to_bare"] = r["req_per_s"] / results[bare_of[name]]["req_per_s"]
        rows.append(
            [name, r["req_per_s"], r["p50_ms"], r["p90_ms"], r["p99_ms"], f"{r['ratio_to_bare']:.0%}"]
        )
    common.print_table(
        f"HTTP echo, wrk -t1 -c{args.connections} -d{args.duration}s, POST 24-byte body, best of {args.rounds}",
        ["server", "req/s", "p50 ms", "p90 ms", "p99 ms", "vs bare (same loop)"],
        rows,
    )
    scaling = None
    if not args.no_scaling:
        one = results["CPU-bound handler, 1 worker"]
        many = results[f"CPU-bound handler, {cores} workers"]
        scaling = {"cores": cores, "workers": cores, "ratio": many["req_per_s"] / one["req_per_s"]}
        print()
        common.print_table(
            f"CPU-bound handler (about 1 ms per event), wrk -t1 -c{args.connections}, best of {args.rounds}",
            ["server", "req/s", "p50 ms", "p99 ms", "vs 1 worker"],
            [
                [name, r["req_per_s"], r["p50_ms"], r["p99_ms"], f"{r['req_per_s'] / one['req_per_s']:.2f}x"]
                for name, r in results.items()
                if name.startswith("CPU-bound")
            ],
        )
        print(f"{cores} workers vs 1 on {cores} cores: {scaling['ratio']:.2f}x (linear would be {cores}x)")
    print()
    for loop in loops:
        ratio = results[label("fnpack run, 1 worker", loop)]["ratio_to_bare"]
        target = (
            " (target >= 70%)" if loop == "asyncio" else " (no target: compared with bare aiohttp on uvloop)"
        )
        print(f"1 worker vs bare aiohttp, {loop}: {ratio:.0%}{target}")
    path = common.write_results(
        "http",
        {
            "duration_s": args.duration,
            "connections": args.connections,
            "results": results,
            "target": 0.7,
            "scaling": scaling,
        },
    )
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
