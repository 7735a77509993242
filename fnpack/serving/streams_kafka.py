"""``kafka://`` stream target for queue steps, tracking and the error stream (confluent-kafka).

Path forms: ``kafka://host:port[,host:port]/topic`` or ``kafka://topic`` with the brokers from the
``kafka_brokers`` option or the ``KAFKA_BROKERS`` env var. A push returns once the broker has
acknowledged the record, so an event the graph answered is never lost between functions.
"""

from __future__ import annotations

import json
import os
from urllib.parse import parse_qsl, urlsplit

from ..graph.paths import get_in, split_path
from ..graph.streams import register_stream

DELIVERY_TIMEOUT = 30.0


def parse_kafka_path(path: str, brokers=None) -> tuple[list[str], str, dict]:
    """``(brokers, topic, query options)`` of a ``kafka://`` path; a clear error when incomplete."""
    parts = urlsplit(path)
    if parts.scheme != "kafka":
        raise ValueError(f"not a kafka:// path: {path!r}")
    query = dict(parse_qsl(parts.query))
    topic = parts.path.strip("/")
    if topic:
        found = parts.netloc
    else:
        topic, found = parts.netloc, ""
    if isinstance(brokers, str):
        brokers = [b.strip() for b in brokers.split(",") if b.strip()]
    brokers = list(brokers or []) or [b for b in found.split(",") if b]
    if not brokers:
        brokers = [b.strip() for b in os.environ.get("KAFKA_BROKERS", "").split(",") if b.strip()]
    if not topic:
        raise ValueError(f"kafka stream path {path!r} names no topic: use kafka://host:port/topic")
    if not brokers:
        raise ValueError(
            f"kafka stream path {path!r} names no brokers: use kafka://host:port/{topic}, "
            "the kafka_brokers option, or the KAFKA_BROKERS env var"
        )
    return brokers, topic, query


class KafkaStream:
    """Produces JSON records to one topic; ``key_path`` keys each record by a body field."""

    def __init__(
        self,
        path: str,
        kafka_brokers=None,
        kafka_producer_options: dict | None = None,
        key_path: str | None = None,
        shards: int | None = None,
        create_topic: bool = True,
        **_ignored,
    ):
        from confluent_kafka import Producer  # lazy: only functions with kafka streams need the client

        self.brokers, self.topic, query = parse_kafka_path(path, kafka_brokers)
        self.path = path
        self._key_keys = split_path(key_path or query.pop("key_path", None))
        options = {"bootstrap.servers": ",".join(self.brokers), "linger.ms": 0, **query}
        options.update(kafka_producer_options or {})
        self._producer = Producer(options)
        if create_topic:
            self._ensure_topic(shards or 1)

    def _ensure_topic(self, partitions: int) -> None:
        try:
            from confluent_kafka.admin import AdminClient, NewTopic

            admin = AdminClient({"bootstrap.servers": ",".join(self.brokers)})
            futures = admin.create_topics(
                [NewTopic(self.topic, num_partitions=partitions, replication_factor=1)]
            )
            futures[self.topic].result(10)
        except Exception:  # exists already, or the broker creates topics itself
            pass

    def push(self, data) -> None:
        records = data if isinstance(data, list) else [data]
        errors = []

        def delivered(err, _msg):
            if err is not None:
                errors.append(err)

        for record in records:
            key = None
            if self._key_keys and isinstance(record, dict):
                body = record.get("body", record) if record.get("full_event_wrapper") else record
                value = get_in(body, self._key_keys) if isinstance(body, dict) else None
                key = None if value is None else str(value).encode()
            payload = record if isinstance(record, bytes) else json.dumps(record, default=str).encode()
            self._producer.produce(self.topic, value=payload, key=key, on_delivery=delivered)
        remaining = self._producer.flush(DELIVERY_TIMEOUT)
        if remaining or errors:
            reason = errors[0] if errors else f"{remaining} records not acknowledged in {DELIVERY_TIMEOUT}s"
            raise RuntimeError(
                f"failed to push to kafka topic {self.topic} at {','.join(self.brokers)}: {reason}"
            )


register_stream("kafka", KafkaStream)
