"""An order-scoring flow: validate, enrich, score two ways in parallel, merge, respond.

Shows the async engine's fan-out and merge, input/result paths, an error handler, and a class step.
Run it: ``python examples/flow_basics.py``.
"""

from __future__ import annotations

import fnpack


def validate(order: dict) -> dict:
    if not isinstance(order, dict) or "items" not in order:
        raise ValueError("an order needs 'items'")
    return order


def total(items: list) -> float:
    return round(sum(item["price"] * item.get("qty", 1) for item in items), 2)


class RiskScore:
    """A class step: a rule-based risk score, configured by its class_args."""

    def __init__(self, threshold: float = 100.0, context=None, name=None, **kwargs):
        self.threshold = threshold

    def do(self, order: dict) -> dict:
        return {"total": order["total"], "risk": "high" if order["total"] > self.threshold else "low"}


def discount(order: dict) -> dict:
    return {"discount": 0.1 if order["total"] > 50 else 0.0}


def combine(parts: list) -> dict:
    merged = {}
    for part in parts:
        merged.update(part)
    return merged


def rejected(event) -> dict:
    return {"rejected": True, "reason": event.error, "step": event.origin_state}


def build() -> fnpack.ServingFunction:
    fn = fnpack.new_function("order-scoring")
    graph = fn.set_topology("flow", engine="async")
    checked = graph.to(name="validate", handler=validate)
    checked.error_handler(name="reject", handler=rejected, full_event=True)
    enriched = checked.to(name="total", handler=total, input_path="items", result_path="total")
    enriched.to(RiskScore, name="risk", threshold=100)
    enriched.to(name="discount", handler=discount)
    graph.add_step("fnpack.serving.merger.Merge", name="merge", after=["risk", "discount"])
    graph.add_step(name="combine", handler=combine, after="merge").respond()
    return fn


if __name__ == "__main__":
    server = build().to_mock_server()
    print(server.test(body={"items": [{"price": 30, "qty": 2}, {"price": 5}]}))
    print(server.test(body={"items": [{"price": 300}]}))
    print(server.test(body={"no": "items"}))
    server.wait_for_completion()
