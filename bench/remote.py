"""Remote steps: a flow with one RemoteStep against a local echo server, sync and async engines,
next to a bare HTTP client doing the same calls (requests for sync, aiohttp for async), same run.

Run: ``.venv/bin/python bench/remote.py [--events N]``. Prints a table, writes JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]
sys.path.insert(0, str(_HERE.parent))

from _util import print_table, write_results  # noqa: E402

import fnpack  # noqa: E402

ECHO_SERVER = r"""
import sys
from aiohttp import web
async def echo(request):
    return web.Response(body=await request.read(), content_type="application/json")
app = web.Application()
app.router.add_route("*", "/{tail:.*}", echo)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def start_echo() -> tuple[subprocess.Popen, str]:
    from _common import free_port, wait_http

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", ECHO_SERVER, str(port)])
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/ready", proc=proc)
    return proc, url


def flow(engine: str, url: str, responder: bool, max_in_flight: int = 32):
    fn = fnpack.new_function(f"remote-{engine}")
    graph = fn.set_topology("flow", engine=engine)
    step = graph.to(
        "fnpack.serving.remote.RemoteStep", name="remote", url=url, max_in_flight=max_in_flight, retries=0
    )
    if responder:
        step.respond()
    return fn.to_mock_server()


def timed(run, events: int) -> float:
    start = time.perf_counter()
    run(events)
    return events / (time.perf_counter() - start)


def bare_requests(url: str, events: int) -> None:
    import requests

    with requests.Session() as session:
        for i in range(events):
            session.post(url, json={"i": i}).json()


def bare_aiohttp(url: str, events: int, concurrency: int) -> None:
    import aiohttp

    async def main():
        sem = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession() as session:

            async def one(i):
                async with sem, session.post(url, json={"i": i}) as resp:
                    await resp.json()

            await asyncio.gather(*(one(i) for i in range(events)))

    asyncio.run(main())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32, help="async in-flight bound (both sides)")
    args = parser.parse_args(argv)
    proc, url = start_echo()
    try:
        sync_server = flow("sync", url, responder=True)
        async_resp = flow("async", url, responder=True)
        async_fire = flow("async", url, responder=False, max_in_flight=args.concurrency)
        n = args.events

        def run_server(server):
            return lambda count: [server.test(body={"i": i}) for i in range(count)]

        def run_fire(count):
            for i in range(count):
                async_fire.test(body={"i": i})
            async_fire.wait_for_completion(timeout=120)

        results = {
            "sync engine, RemoteStep (requests), one at a time": (timed(run_server(sync_server), n), "bare requests.Session loop", timed(lambda c: bare_requests(url, c), n)),
            "async engine, RemoteStep with responder, one at a time": (timed(run_server(async_resp), n), "bare requests.Session loop", None),
            f"async engine, no responder, {args.concurrency} in flight": (timed(run_fire, n), f"bare aiohttp, {args.concurrency} in flight", timed(lambda c: bare_aiohttp(url, c, args.concurrency), n)),
        }  # fmt: skip
        base = results["sync engine, RemoteStep (requests), one at a time"][2]
        rows, data = [], {}
        for label, (ours, base_label, baseline) in results.items():
            baseline = baseline if baseline is not None else base
            rows.append([label, ours, base_label, baseline, f"{ours / baseline:.2f}x"])
            data[label] = {"events_per_s": ours, "baseline": base_label, "baseline_events_per_s": baseline}
        for server in (sync_server, async_resp, async_fire):
            server.close()
    finally:
        proc.terminate()
        proc.wait(10)
    print_table(
        f"remote step vs bare HTTP client, local aiohttp echo server ({n} events)",
        ["case", "fnpack ev/s", "baseline", "baseline ev/s", "ratio"],
        rows,
    )
    print(f"\nwrote {write_results('remote', {'cases': data})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
