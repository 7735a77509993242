"""Reading a topic back in stream tests: a fresh consumer group from the earliest offset."""

from __future__ import annotations

import json
import time
import uuid


def read_topic(broker, topic: str, expected: int, timeout: float = 30.0, with_keys: bool = False) -> list:
    """Up to ``expected`` JSON records of ``topic`` (``(key, value)`` pairs with ``with_keys``)."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 1000,
            "heartbeat.interval.ms": 300,
        }
    )
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            value = json.loads(msg.value())
            got.append((msg.key(), value) if with_keys else value)
    finally:
        consumer.close()
    return got
