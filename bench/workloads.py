"""The same serving workloads for fnpack and for the reference system (mlrun), one interpreter each.

Run by ``bench/compare.py`` as ``<python> bench/workloads.py --lib fnpack|mlrun``; prints one JSON
object: events/s and latency per case, import time, peak RSS after building three servers.
This file imports neither library at module level, so either interpreter can run it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

# bench/ goes last on sys.path: its script names (http.py) must not shadow the stdlib
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]

from _util import rate_and_latency  # noqa: E402


def inc(x):
    return x + 1


def build(lib: str):
    """(module, V2ModelServer base) of the library under test."""
    if lib == "mlrun":
        import mlrun
        from mlrun.serving import V2ModelServer

        return mlrun, V2ModelServer
    import fnpack
    from fnpack.serving import V2ModelServer

    return fnpack, V2ModelServer


def servers(lib: str) -> dict:
    module, base = build(lib)

    class EchoModel(base):
        def load(self):
            self.ready = True

        def predict(self, request):
            return request["inputs"]

    namespace = {"EchoModel": EchoModel, "inc": inc}

    def new(name):
        return module.new_function(name, kind="serving") if lib == "mlrun" else module.new_function(name)

    router = new("router")
    router.add_model("m1", class_name="EchoModel", model_path=".")
    flows = {}
    for engine in ("sync", "async"):
        fn = new(f"flow-{engine}")
        graph = fn.set_topology("flow", engine=engine)
        step = graph.to(name="a", handler="inc").to(name="b", handler="inc").to(name="c", handler="inc")
        if engine == "async":
            step.respond()
        flows[engine] = fn.to_mock_server(namespace=namespace)
    return {
        "router + V2 model infer": (
            router.to_mock_server(namespace=namespace),
            {"path": "/v2/models/m1/infer", "body": {"inputs": [[1, 2, 3]]}},
        ),
        "3-step sync flow": (flows["sync"], {"body": 1}),
        "3-step async flow": (flows["async"], {"body": 1}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", choices=["fnpack", "mlrun"], required=True)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    if args.lib == "mlrun":
        import logging

        logging.disable(logging.INFO)  # the reference logs every flow termination

    start = time.perf_counter()
    build(args.lib)
    import_s = time.perf_counter() - start
    cases = servers(args.lib)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results = {}
    for label, (server, kwargs) in cases.items():
        events = (
            args.events if "async" not in label or args.lib == "fnpack" else max(2_000, args.events // 20)
        )
        server.test(**kwargs)
        results[label] = rate_and_latency(
            lambda s=server, k=kwargs: s.test(**k), events, warmup=min(2000, events)
        )
        if "flow" in label:  # the reference's router has no wait_for_completion
            server.wait_for_completion()
    print(
        json.dumps(
            {"lib": args.lib, "import_s": import_s, "rss_mb_after_3_servers": rss_mb, "cases": results}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
