"""Graph runtime benchmark: events/s and latency through server.test(), import and rebuild cost.

Run: ``make bench`` or ``.venv/bin/python bench/graph.py [--events N]``. Prints a table and writes
JSON under bench/results/. Targets (DESIGN.md): ~3 µs per router event, async p99 < 50 µs,
fresh-process import + 5-step rebuild < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

# bench/ goes last on sys.path: its script names (http.py) must not shadow the stdlib
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]
sys.path.insert(0, str(_HERE.parent))

from _util import median, print_table, rate_and_latency, write_results  # noqa: E402

import fnpack  # noqa: E402


def inc(x):
    return x + 1


class Model:
    def __init__(self, context=None, name=None, **kwargs):
        self.name = name

    def do_event(self, event):
        event.body = {"model": self.name, "outputs": event.body["inputs"]}
        return event


class PathRouter:
    """A minimal router: ``/<model>`` picks the route."""

    def __init__(self, context=None, name=None, routes=None, **kwargs):
        self.routes = routes

    def do_event(self, event):
        return self.routes[event.path.strip("/")].run(event)


def flow_server(engine: str):
    fn = fnpack.new_function(f"flow-{engine}")
    graph = fn.set_topology("flow", engine=engine)
    last = graph.to(name="a", handler=inc, input_path="x", result_path="x")
    last = last.to(name="b", handler=inc, input_path="x", result_path="x")
    last = last.to(name="c", handler=inc, input_path="x", result_path="x")
    if engine == "async":
        last.respond()
    return fn.to_mock_server()


def router_server():
    fn = fnpack.new_function("router")
    fn.set_topology("router", PathRouter)
    fn.add_model("m1", class_name=Model, model_path="/m")
    return fn.to_mock_server()


def graph_cases() -> list:
    cases = [
        (
            "router + 1 model step (plain classes)",
            router_server(),
            {"path": "/m1", "body": {"inputs": [1, 2]}},
        ),
        ("3-step sync flow", flow_server("sync"), {"body": {"x": 1}}),
        ("3-step async flow", flow_server("async"), {"body": {"x": 1}}),
    ]
    try:
        import graph_serving
    except ImportError:
        return cases
    return cases + list(graph_serving.cases())


FRESH_PROCESS = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import fnpack.graph
t1 = time.perf_counter()
spec = json.loads(sys.argv[1])
server = fnpack.graph.GraphServer.from_dict(spec)
server.init_states(None, namespace=[], is_mock=False)
server.init_object([])
t2 = time.perf_counter()
assert server.test(body={"x": 0}) == {"x": 5}, "wrong result"
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "rebuild_ms": (t2 - t1) * 1e3,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def five_step_spec() -> dict:
    """A 5-step sync flow with paths, as a serving spec (what a worker rebuilds at start)."""
    fn = fnpack.new_function("five")
    step = fn.set_topology("flow", engine="sync")
    for name in "abcde":
        step = step.to(name=name, handler="(event + 1)", input_path="x", result_path="x")
    return fn.serving_spec(current_function="")


def fresh_process(runs: int) -> dict:
    spec = json.dumps(five_step_spec())
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", FRESH_PROCESS, spec],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[1],
        ).stdout
        samples.append(json.loads(out))
    total = [s["import_ms"] + s["rebuild_ms"] for s in samples]
    return {
        "import_ms_median": median([s["import_ms"] for s in samples]),
        "rebuild_ms_median": median([s["rebuild_ms"] for s in samples]),
        "total_ms_median": median(total),
        "total_ms_max": max(total),
        "rss_mb_max": max(s["rss_mb"] for s in samples),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per case (default 200000)")
    parser.add_argument("--runs", type=int, default=20, help="fresh-process runs (default 20)")
    args = parser.parse_args(argv)

    rows, results = [], {}
    for label, server, kwargs in graph_cases():
        server.test(**kwargs)  # fails loudly if the case is broken
        stats = rate_and_latency(lambda s=server, k=kwargs: s.test(**k), args.events)
        server.wait_for_completion()
        results[label] = stats
        rows.append([label, stats["events_per_s"], stats["p50_us"], stats["p99_us"]])
    print_table(
        "fnpack graph runtime, server.test() in one process", ["case", "events/s", "p50 µs", "p99 µs"], rows
    )

    cold = fresh_process(args.runs)
    results["fresh process: import fnpack.graph + rebuild 5-step graph"] = cold
    print_table(
        f"fresh process ({args.runs} runs)",
        ["measure", "value"],
        [
            ["import fnpack.graph, median ms", cold["import_ms_median"]],
            ["rebuild 5-step graph from dict, median ms", cold["rebuild_ms_median"]],
            ["import + rebuild, median ms (target < 100)", cold["total_ms_median"]],
            ["import + rebuild, max ms", cold["total_ms_max"]],
            ["peak RSS MB (target < 40)", cold["rss_mb_max"]],
        ],
    )
    path = write_results("graph", {"cases": results})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
