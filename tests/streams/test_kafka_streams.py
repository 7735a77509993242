"""Queue steps, keyed records and the error stream on a real Kafka-compatible broker (Tansu)."""

from __future__ import annotations

import json

import pytest

import fnpack
from fnpack.graph import GraphServer
from fnpack.serving.streams_kafka import parse_kafka_path

from .topics import read_topic

pytestmark = pytest.mark.kafka


def _root_server(fn) -> GraphServer:
    server = GraphServer.from_dict({**fn.serving_spec(), "current_function": ""})
    server.init_states(None, namespace=[], is_mock=False)
    server.init_object([])
    return server


def test_queue_step_produces_wrapped_keyed_events(kafka_broker):
    topic = kafka_broker.create_topic()
    fn = fnpack.new_function("parent")
    graph = fn.set_topology("flow", engine="async")
    graph.to(name="pre", handler="(event)").to(
        ">>", name="q", path=f"kafka://{kafka_broker.bootstrap}/{topic}", key_path="user"
    ).to(name="child_step", handler="(event)", function="child")
    server = _root_server(fn)
    for i in range(3):
        assert server.test(body={"user": f"u{i}", "n": i}, event_id=f"e{i}") == {"id": f"e{i}"}
    server.wait_for_completion()
    records = read_topic(kafka_broker, topic, 3, with_keys=True)
    assert records == [
        (
            f"u{i}".encode(),
            {"full_event_wrapper": True, "body": {"user": f"u{i}", "n": i}, "id": f"e{i}", "key": ""},
        )
        for i in range(3)
    ]


def test_child_function_unwraps_records_it_receives():
    fn = fnpack.new_function("parent")
    graph = fn.set_topology("flow", engine="sync")
    graph.to(">>", name="q", path="dummy://").to(
        name="child_step", handler=lambda e: {"id": e.id, "body": e.body}, full_event=True, function="child"
    )
    server = fn.to_mock_server(current_function="child")
    record = json.dumps({"full_event_wrapper": True, "body": {"x": 1}, "id": "orig", "key": "k"})
    assert server.test(body=record) == {"id": "orig", "body": {"x": 1}}


def test_error_stream_on_kafka_gets_payload_error_and_step(kafka_broker):
    topic = kafka_broker.create_topic()
    fn = fnpack.new_function("errs")
    graph = fn.set_topology("flow", engine="sync")
    graph.to(name="ok", handler="(event)").to(name="fails", handler="(event['missing'])")
    fn.spec.error_stream = f"kafka://{kafka_broker.bootstrap}/{topic}"
    server = fn.to_mock_server()
    resp = server.test(body={"a": 1}, event_id="bad-1", silent=True, get_body=False)
    assert resp.status_code == 400
    assert server.test(body={"missing": 2}) == 2  # processing continues
    (record,) = read_topic(kafka_broker, topic, 1, timeout=60)
    assert record["event"] == {"id": "bad-1", "body": {"a": 1}}
    assert record["source"] == "fails"
    assert record["message"] == "KeyError: 'missing'"


def test_kafka_path_forms(monkeypatch):
    assert parse_kafka_path("kafka://h1:9092,h2:9092/topic") == (["h1:9092", "h2:9092"], "topic", {})
    assert parse_kafka_path("kafka://topic", brokers="b:1") == (["b:1"], "topic", {})
    monkeypatch.setenv("KAFKA_BROKERS", "env:1")
    assert parse_kafka_path("kafka://topic") == (["env:1"], "topic", {})
    monkeypatch.delenv("KAFKA_BROKERS")
    with pytest.raises(ValueError, match="names no brokers"):
        parse_kafka_path("kafka://topic")
