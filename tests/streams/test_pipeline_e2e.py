"""The two-function stream pipeline, end to end: HTTP into the parent, Kafka to the child, results
and errors read back from their topics. Real broker, real emulator workers, built function.yamls."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fnpack.emulator import serve
from fnpack.package.function import write_function

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import stream_pipeline

from .topics import read_topic

pytestmark = pytest.mark.kafka


def post(url: str, body) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_pipeline_over_http_and_kafka(kafka_broker, tmp_path):
    for topic in (
        "e2e-readings",
        "e2e-alerts",
        "e2e-errors",
    ):  # what a deploy does first (the reference's init_queues)
        kafka_broker.create_topic(topic)
    fn = stream_pipeline.build(brokers=kafka_broker.bootstrap, fast_group=True, topic_prefix="e2e-")
    parent = write_function(fn.build(namespace=vars(stream_pipeline)), str(tmp_path / "function.yaml"))
    child = write_function(
        fn.build(namespace=vars(stream_pipeline), current_function="scorer"),
        str(tmp_path / "pipeline-scorer.yaml"),
    )
    readings = [{"sensor": f"s{i % 3}", "value": 70 + i} for i in range(20)]
    with serve(child), serve(parent, workers=2) as front:
        for reading in readings:
            status, text = post(front.url, reading)
            assert status == 200, text
            assert set(json.loads(text)) == {"id"}  # acknowledged: the rest runs in the child
        status, text = post(front.url, {"value": 1})  # no sensor: rejected by the parent
        assert status == 400
        assert text == "ValueError: a reading needs 'sensor' and 'value' (step validate)"
        assert post(front.url, {"sensor": "bad", "value": -300})[0] == 200  # fails later, in the child

        alerts = read_topic(kafka_broker, "e2e-alerts", len(readings))
        errors = read_topic(kafka_broker, "e2e-errors", 2)

    assert sorted((a["sensor"], a["value"], a["alert"], a["unit"]) for a in alerts) == sorted(
        (r["sensor"], r["value"], r["value"] > 80, "C") for r in readings
    )
    by_source = {e["source"]: e for e in errors}
    assert by_source["validate"]["event"]["body"] == {"value": 1}
    assert by_source["score"]["message"] == "ValueError: impossible temperature -300.0"
    assert by_source["score"]["event"]["body"] == {"sensor": "bad", "value": -300, "unit": "C"}
