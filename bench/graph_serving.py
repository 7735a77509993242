"""Serving benchmark cases: ModelRouter + one V2 model, and a 3-model VotingEnsemble.

``cases()`` returns ``(label, server, kwargs for server.test())`` rows that ``bench/graph.py`` folds
into its table. Run alone (``.venv/bin/python bench/graph_serving.py [--events N]``) to time them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fnpack
from fnpack.serving import V2ModelServer


class Doubler(V2ModelServer):
    """A model whose predict is as cheap as the reference's bench model (a list comprehension)."""

    def load(self):
        self.model = self.get_param("factor", 2)

    def predict(self, request):
        factor = self.model
        return [x * factor for x in request["inputs"]]


def router_v2_server():
    fn = fnpack.new_function("bench-router")
    fn.add_model("m1", class_name=Doubler, model_path="/m", factor=2)
    return fn.to_mock_server()


def ensemble_server():
    fn = fnpack.new_function("bench-ensemble")
    fn.set_topology("router", "fnpack.serving.VotingEnsemble", vote_type="regression")
    for i in range(3):
        fn.add_model(f"m{i}", class_name=Doubler, model_path="/m", factor=i + 1)
    return fn.to_mock_server()


def cases() -> list:
    return [
        (
            "router + V2 model infer",
            router_v2_server(),
            {"path": "/v2/models/m1/infer", "body": {"inputs": [1, 2]}},
        ),
        (
            "router + V2 model infer (OIP tensor)",
            router_v2_server(),
            {
                "path": "/v2/models/m1/infer",
                "body": {"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1.0, 2.0]}]},
            },
        ),
        (
            "VotingEnsemble, 3 V2 models (regression)",
            ensemble_server(),
            {"path": "/v2/models/VotingEnsemble/infer", "body": {"inputs": [1, 2]}},
        ),
    ]


def main() -> None:
    from _util import print_table, rate_and_latency, write_results

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    rows, results = [], {}
    for label, server, kwargs in cases():
        server.test(**kwargs)  # fail loudly before timing
        stats = rate_and_latency(lambda s=server, k=kwargs: s.test(**k), args.events)
        rows.append([label, stats["events_per_s"], stats["p50_us"], stats["p99_us"]])
        results[label] = stats
    print_table("serving through server.test()", ["case", "events/s", "p50 µs", "p99 µs"], rows)
    print(f"results: {write_results('graph_serving', {'cases': results})}")


if __name__ == "__main__":
    main()
