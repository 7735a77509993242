"""A stream pipeline split over two functions: HTTP in, a Kafka topic between them, results out.

- ``pipeline`` (the parent, HTTP trigger): validates each reading and enriches it, then a queue step
  produces it to the ``readings`` topic;
- ``pipeline-scorer`` (the child, fed by ``readings`` through a Kafka trigger): scores the reading and
  a second queue writes it to the ``alerts`` topic. Failing events go to the ``errors`` topic with
  their payload, the error and the step that raised it.

``build(brokers)`` returns the function; ``fnpack build examples/stream_pipeline.py -o function.yaml``
writes the parent and, beside it, ``pipeline-scorer.yaml``. The brokers default to ``KAFKA_BROKERS``.
"""

from __future__ import annotations

import os

import fnpack

# the child's consumer group settings: quick joins (tests and demos); real deployments keep defaults
FAST_GROUP = {
    "attributes": {"sessionTimeout": "1s", "heartbeatInterval": "300ms", "initialOffset": "earliest"}
}


def validate(reading: dict) -> dict:
    if not isinstance(reading, dict) or "sensor" not in reading or "value" not in reading:
        raise ValueError("a reading needs 'sensor' and 'value'")
    return reading


def enrich(reading: dict) -> dict:
    return {**reading, "unit": reading.get("unit", "C")}


def score(reading: dict) -> dict:
    value = float(reading["value"])
    if value < -273.15:
        raise ValueError(f"impossible temperature {value}")
    return {**reading, "alert": value > 80.0}


def build(
    brokers: str | None = None, fast_group: bool = False, topic_prefix: str = ""
) -> fnpack.ServingFunction:
    """The pipeline; its topics are ``<topic_prefix>readings``, ``...alerts`` and ``...errors``."""
    brokers = brokers or os.environ.get("KAFKA_BROKERS", "127.0.0.1:9092")
    fn = fnpack.new_function("pipeline")
    graph = fn.set_topology("flow", engine="async")
    graph.to(name="validate", handler=validate).to(name="enrich", handler=enrich).to(
        ">>",
        name="readings",
        path=f"kafka://{brokers}/{topic_prefix}readings",
        key_path="sensor",
        trigger_args=FAST_GROUP if fast_group else None,
    ).to(name="score", handler=score, function="scorer").to(
        ">>", name="alerts", path=f"kafka://{brokers}/{topic_prefix}alerts", function="scorer"
    )
    fn.add_child_function("scorer")
    fn.spec.error_stream = f"kafka://{brokers}/{topic_prefix}errors"
    fn.with_http(workers=2)
    return fn


if __name__ == "__main__":
    import json

    print(json.dumps(build().spec.graph.to_dict(), indent=2))
