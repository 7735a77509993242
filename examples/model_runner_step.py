"""Several models on one event with ``ModelRunnerStep`` (the reference's newer model API).

Two fraud models score each transaction: a rule model that runs inline and an "async" model (think: a
call to a remote scorer) that the asyncio engine awaits. A selector skips the slow model for small
amounts, and a last step turns the per-model scores into a decision.
Run it: ``python examples/model_runner_step.py``.
"""

from __future__ import annotations

import asyncio

import fnpack
from fnpack.serving import Model, ModelRunnerStep, ModelSelector


class RuleModel(Model):
    """Flags large amounts and risky countries; ``limit`` comes from add_model's parameters."""

    def __init__(self, name: str, limit: float = 1000.0, **kwargs):
        super().__init__(name, **kwargs)
        self.limit = limit

    def load(self):
        self.risky = {"XX", "YY"}

    def predict(self, body, **kwargs):
        score = 0.5 * (body["amount"] > self.limit) + 0.5 * (body.get("country") in self.risky)
        return {"score": score}


class BehaviourModel(Model):
    """Stands in for an I/O-bound scorer: ``predict_async`` is awaited by the async engine."""

    async def predict_async(self, body, **kwargs):
        await asyncio.sleep(0)  # a real one would await an HTTP call here
        return {"score": min(1.0, body["amount"] / 10_000)}


class SkipSlowForSmallAmounts(ModelSelector):
    def select(self, event, available_models):
        if event.body["amount"] < 100:
            return ["rules"]
        return None  # every model


def decide(scores: dict) -> dict:
    top = max(result["score"] for result in scores.values())
    return {"decision": "review" if top >= 0.5 else "approve", "scores": scores}


def build() -> fnpack.ServingFunction:
    fn = fnpack.new_function("fraud-scoring")
    graph = fn.set_topology("flow", engine="async")
    runner = ModelRunnerStep(name="models", model_selector=SkipSlowForSmallAmounts)
    runner.add_model("rules", RuleModel, execution_mechanism="naive", limit=500)
    runner.add_model("behaviour", BehaviourModel, execution_mechanism="asyncio")
    graph.to(runner).to(name="decide", handler=decide).respond()
    return fn


if __name__ == "__main__":
    server = build().to_mock_server()
    print(server.test(body={"amount": 20, "country": "FR"}))
    print(server.test(body={"amount": 7000, "country": "FR"}))
    server.wait_for_completion()
