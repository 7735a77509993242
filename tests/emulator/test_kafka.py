"""The kafka-cluster trigger against a real broker (Tansu): at-least-once, explicit ack, drain on rebalance."""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path

import pytest
import yaml
from kafka_broker import FAST_GROUP

from fnpack.emulator import serve

from .conftest import wait_for
from .handlers import STREAM

pytestmark = pytest.mark.kafka


def _seen(out: Path) -> list[dict]:
    rows = []
    for path in out.glob("seen-*.jsonl"):
        for line in path.read_text().splitlines():
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError:  # a line cut by a SIGKILL
                    pass
    return rows


def _total(committed: list[int]) -> int:
    return sum(max(0, offset) for offset in committed)  # -1001: nothing committed on that partition


def _stream_fn(write_function, broker, topic, out, *, group=None, workers=1, env=(), **attrs):
    group = group or f"g-{uuid.uuid4().hex[:8]}"
    trigger = {
        "kind": "kafka-cluster",
        "maxWorkers": workers,
        "attributes": {
            "brokers": [broker.bootstrap],
            "topics": [topic],
            "consumerGroup": group,
            "initialOffset": "earliest",
            "sessionTimeout": "1s",
            "heartbeatInterval": "300ms",
            **attrs,
        },
    }
    path = write_function(
        STREAM,
        filename=f"function-{uuid.uuid4().hex[:6]}.yaml",
        env=[{"name": "OUT_DIR", "value": str(out)}, *env],
        triggers={"stream": trigger},
    )
    return path, group


def test_events_carry_topic_partition_offset_and_offsets_are_committed(
    write_function, kafka_broker, tmp_path
):
    topic = kafka_broker.create_topic(partitions=2)
    path, group = _stream_fn(write_function, kafka_broker, topic, tmp_path)
    kafka_broker.produce(topic, [f"m{i}".encode() for i in range(10)], spread=2)
    with serve(path):
        rows = wait_for(lambda: len(_seen(tmp_path)) >= 10 and _seen(tmp_path), timeout=30, what="10 events")
        wait_for(lambda: _total(kafka_broker.committed(group, topic, 2)) == 10, timeout=15, what="commits")
    assert sorted(r["v"] for r in rows) == sorted(f"m{i}" for i in range(10))
    r = rows[0]
    assert r["topic"] == topic and r["path"] == topic
    assert r["trigger"] == ["kafka-cluster", "stream"]
    by_partition: dict[int, list[int]] = {}
    for row in rows:
        by_partition.setdefault(row["shard"], []).append(row["offset"])
    for offsets in by_partition.values():
        assert offsets == list(range(len(offsets)))  # in order per partition, from offset 0


def test_thousand_messages_with_a_worker_killed_midway_none_lost(write_function, kafka_broker, tmp_path):
    topic = kafka_broker.create_topic(partitions=4)
    path, group = _stream_fn(
        write_function, kafka_broker, topic, tmp_path, workers=2, env=[{"name": "DELAY", "value": "0.002"}]
    )
    ids = [f"id-{i}" for i in range(1000)]
    kafka_broker.produce(topic, [i.encode() for i in ids], spread=4)
    with serve(path) as fn:
        rows = wait_for(
            lambda: len(_seen(tmp_path)) >= 150 and _seen(tmp_path), timeout=30, what="processing"
        )
        victim = rows[-1]["pid"]  # a worker handling messages (both are busy with 4 partitions)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: {r["v"] for r in _seen(tmp_path)} >= set(ids), timeout=60, what="all 1000 messages")
        wait_for(
            lambda: _total(kafka_broker.committed(group, topic, 4)) == 1000, timeout=15, what="all committed"
        )
        trigger = fn.emulator.triggers["stream"]
        assert victim not in fn.worker_pids("stream")
        assert len(fn.worker_pids("stream")) == 2
    rows = _seen(tmp_path)
    assert {r["v"] for r in rows} == set(ids)
    assert trigger.redelivered > 0  # the killed worker's messages went to a worker again
    assert any(r["pid"] == victim for r in rows)


def test_explicit_ack_holds_the_commit_until_acked(write_function, kafka_broker, tmp_path):
    topic = kafka_broker.create_topic(partitions=1)
    path, group = _stream_fn(write_function, kafka_broker, topic, tmp_path)
    kafka_broker.produce(topic, [b"noack-1", b"noack-2", b"plain-3"])
    with serve(path):
        wait_for(lambda: len(_seen(tmp_path)) >= 3, timeout=30, what="3 events")
    # stopped without acking: nothing at or past the first no-ack message was committed ...
    assert kafka_broker.committed(group, topic)[0] in (0, -1001)
    with serve(path):
        # ... so a restart in the same group gets all three again
        wait_for(lambda: len(_seen(tmp_path)) >= 6, timeout=30, what="redelivery")
        kafka_broker.produce(topic, [b"ack"])
        wait_for(
            lambda: kafka_broker.committed(group, topic) == [4], timeout=30, what="commit after explicit ack"
        )
    values = [r["v"] for r in _seen(tmp_path)]
    assert values.count("noack-1") == 2 and values.count("plain-3") == 2 and values.count("ack") == 1


def test_handler_errors_are_committed_and_the_worker_keeps_going(write_function, kafka_broker, tmp_path):
    topic = kafka_broker.create_topic(partitions=1)
    path, group = _stream_fn(write_function, kafka_broker, topic, tmp_path)
    kafka_broker.produce(topic, [b"fail", b"after"])
    with serve(path) as fn:
        pids = fn.worker_pids()
        wait_for(lambda: kafka_broker.committed(group, topic) == [2], timeout=30, what="both committed")
        assert fn.worker_pids() == pids
    assert [r["v"] for r in _seen(tmp_path)] == ["fail", "after"]


def test_rebalance_calls_the_drain_callback(write_function, kafka_broker, tmp_path):
    from confluent_kafka import Consumer

    topic = kafka_broker.create_topic(partitions=2)
    path, group = _stream_fn(write_function, kafka_broker, topic, tmp_path)
    kafka_broker.produce(topic, [b"m"])
    with serve(path) as fn:
        wait_for(lambda: len(_seen(tmp_path)) >= 1, timeout=30, what="the first event")
        [pid] = fn.worker_pids()
        other = Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": group, **FAST_GROUP})
        other.subscribe([topic])
        try:
            wait_for(
                lambda: other.poll(0.05) is None and (tmp_path / f"drained-{pid}").exists(),
                timeout=30,
                what="the drain callback",
            )
        finally:
            other.close()


def test_message_headers_reach_the_event(write_function, kafka_broker, tmp_path):
    from confluent_kafka import Producer

    topic = kafka_broker.create_topic(partitions=1)
    path, _ = _stream_fn(write_function, kafka_broker, topic, tmp_path)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    producer.produce(topic, value=b"with-headers", headers=[("trace-id", b"t-1"), ("tenant", b"acme")])
    producer.produce(topic, value=b"without")
    assert producer.flush(10) == 0
    with serve(path):
        rows = wait_for(lambda: len(_seen(tmp_path)) >= 2 and _seen(tmp_path), timeout=30, what="2 events")
    by_value = {r["v"]: r for r in rows}
    assert by_value["with-headers"]["headers"] == {"trace-id": "t-1", "tenant": "acme"}
    assert by_value["without"]["headers"] == {}


def test_without_initial_offset_a_new_group_reads_only_new_messages_as_nuclio(
    write_function, kafka_broker, tmp_path
):
    topic = kafka_broker.create_topic(partitions=1)
    kafka_broker.produce(topic, [b"old-0", b"old-1"])
    path, _ = _stream_fn(write_function, kafka_broker, topic, tmp_path, initialOffset=None)
    sent = []

    def new_one_seen():  # keep producing until the consumer, positioned at the end, gets one
        sent.append(f"new-{len(sent)}".encode())
        kafka_broker.produce(topic, [sent[-1]])
        return any(r["v"].startswith("new-") for r in _seen(tmp_path))

    with serve(path):
        wait_for(new_one_seen, timeout=30, what="a message produced after the consumer joined")
    assert not [r for r in _seen(tmp_path) if r["v"].startswith("old-")]


def test_brokers_may_come_from_the_trigger_url(write_function, kafka_broker, tmp_path):
    topic = kafka_broker.create_topic(partitions=1)
    kafka_broker.produce(topic, [b"via-url"])
    path, _ = _stream_fn(write_function, kafka_broker, topic, tmp_path, brokers=None)
    config = yaml.safe_load(path.read_text())
    config["spec"]["triggers"]["stream"]["url"] = kafka_broker.bootstrap
    path.write_text(yaml.safe_dump(config))
    with serve(path):
        wait_for(lambda: [r["v"] for r in _seen(tmp_path)] == ["via-url"], timeout=30, what="the message")
