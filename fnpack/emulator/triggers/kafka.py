"""The ``kafka-cluster`` trigger: a confluent-kafka consumer group feeding a worker pool, at least once.

A poll thread fetches messages; each partition's messages are handled in order (a partition is on one
worker at a time, as in nuclio), partitions in parallel across workers. A partition's offset is committed
only up to the first message whose handler has not finished -- or whose response carried
``x-nuclio-stream-no-ack`` and was not yet acknowledged with ``context.platform.explicit_ack`` (an ack of
offset N acknowledges every earlier one on that partition, as a Kafka commit does). A worker that dies
holding messages is restarted and the messages are handed to a worker again. On a rebalance every
worker's drain callback runs (SIGUSR2) before the partitions are given up.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections import defaultdict
from typing import Any

from fnpack.emulator.config import TriggerConfig, parse_duration
from fnpack.emulator.errors import FunctionConfigError, NoWorkerAvailable, WorkerDied
from fnpack.emulator.pool import WorkerPool
from fnpack.emulator.worker import WorkerProcess

log = logging.getLogger("fnpack.emulator")

NO_ACK_HEADER = "x-nuclio-stream-no-ack"
DEFAULT_BATCH = 256  # messages of one partition sent to a worker in one frame (handled one by one)

TP = tuple[str, int]


class OffsetTracker:
    """Per partition: the next offset to commit, holding back at unacknowledged (no-ack) messages."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._high: dict[TP, int] = {}  # one past the last handled offset
        self._unacked: dict[TP, set[int]] = defaultdict(set)
        self._committed: dict[TP, int] = {}

    def handled(self, tp: TP, offset: int, ack: bool) -> None:
        with self._lock:
            if offset + 1 > self._high.get(tp, -1):
                self._high[tp] = offset + 1
            if not ack:
                self._unacked[tp].add(offset)

    def explicit_ack(self, tp: TP, offset: int) -> None:
        with self._lock:
            pending = self._unacked.get(tp)
            if pending:
                pending.difference_update([o for o in pending if o <= offset])

    def position(self, tp: TP) -> int | None:
        high = self._high.get(tp)
        if high is None:
            return None
        pending = self._unacked.get(tp)
        return min(min(pending), high) if pending else high

    def to_commit(self) -> dict[TP, int]:
        """Partitions whose committable position moved since the last call."""
        with self._lock:
            out = {}
            for tp in self._high:
                pos = self.position(tp)
                if pos is not None and pos > self._committed.get(tp, -1):
                    out[tp] = pos
            return out

    def committed(self, positions: dict[TP, int]) -> None:
        with self._lock:
            self._committed.update(positions)

    def forget(self, tps: list[TP]) -> None:
        with self._lock:
            for tp in tps:
                self._high.pop(tp, None)
                self._unacked.pop(tp, None)
                self._committed.pop(tp, None)


def _duration_ms(attrs: dict[str, Any], key: str, default: str, trigger: str) -> int:
    return int(parse_duration(attrs.get(key, default), f"trigger {trigger!r}: {key}") * 1000)


_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")


def _field(mapping: dict[str, Any], name: str) -> Any:
    """``mapping[name]`` matched case-insensitively, as nuclio decodes attributes (mapstructure)."""
    lower = name.lower()
    return next((v for k, v in mapping.items() if str(k).lower() == lower), None)


def _unflatten_pem(text: str) -> str:
    """A PEM passed on one line, as nuclio accepts it: ``@`` for newlines, or spaces for newlines."""
    if "\n" in text:
        return text
    if "@" in text:
        return text.replace("@", "\n")
    markers = ("BEGIN CERTIFICATE", "END CERTIFICATE", "BEGIN PRIVATE KEY", "END PRIVATE KEY")
    for marker in markers:
        text = text.replace(marker, marker.replace(" ", "-"))
    text = text.replace(" ", "\n")
    for marker in markers:
        text = text.replace(marker.replace(" ", "-"), marker)
    return text


def security_config(attrs: dict[str, Any], trigger: str) -> dict[str, Any]:
    """librdkafka settings for nuclio's ``sasl``, ``tls``, ``caCert``, ``accessKey`` and
    ``accessCertificate`` attributes (empty when the trigger uses none of them)."""
    what = f"trigger {trigger!r}"
    sasl = _field(attrs, "sasl") or {}
    tls = _field(attrs, "tls") or {}
    if not isinstance(sasl, dict) or not isinstance(tls, dict):
        raise FunctionConfigError(f"{what}: attributes.sasl and attributes.tls must be mappings")
    config: dict[str, Any] = {}
    use_tls = bool(_field(tls, "enable"))
    if _field(tls, "insecureSkipVerify"):
        config["enable.ssl.certificate.verification"] = False
    for attr, key in (
        ("caCert", "ssl.ca.pem"),
        ("accessKey", "ssl.key.pem"),
        ("accessCertificate", "ssl.certificate.pem"),
    ):
        value = _field(attrs, attr)
        if value:
            if not isinstance(value, str):
                raise FunctionConfigError(f"{what}: attributes.{attr} must be a PEM string")
            config[key] = _unflatten_pem(value)
            use_tls = True
    if _field(sasl, "enable"):
        mechanism = str(_field(sasl, "mechanism") or "PLAIN").upper()
        if mechanism not in _SASL_MECHANISMS:
            raise FunctionConfigError(
                f"{what}: sasl.mechanism {mechanism!r} is not one of {', '.join(_SASL_MECHANISMS)}"
            )
        config["security.protocol"] = "SASL_SSL" if use_tls else "SASL_PLAINTEXT"
        config["sasl.mechanisms"] = mechanism
        if mechanism == "OAUTHBEARER":
            oauth = _field(sasl, "oauth") or {}
            config["sasl.oauthbearer.method"] = "oidc"
            for attr, key in (
                ("clientId", "sasl.oauthbearer.client.id"),
                ("clientSecret", "sasl.oauthbearer.client.secret"),
                ("tokenUrl", "sasl.oauthbearer.token.endpoint.url"),
            ):
                if _field(oauth, attr):
                    config[key] = str(_field(oauth, attr))
            scopes = _field(oauth, "scopes")
            if scopes:
                config["sasl.oauthbearer.scope"] = (
                    " ".join(scopes) if isinstance(scopes, list) else str(scopes)
                )
        else:
            config["sasl.username"] = str(_field(sasl, "user") or "")
            config["sasl.password"] = str(_field(sasl, "password") or "")
    elif use_tls:
        config["security.protocol"] = "SSL"
    return config


class KafkaTrigger:
    """Consumes ``attributes.topics`` from ``attributes.brokers`` as group ``attributes.consumerGroup``."""

    kind = "kafka-cluster"

    def __init__(self, config: TriggerConfig, *, batch_size: int = DEFAULT_BATCH) -> None:
        self.name = config.name
        attrs = config.attributes
        brokers = attrs.get("brokers") or config.raw.get("url")  # nuclio falls back to the trigger's url
        if isinstance(brokers, str):
            brokers = [b.strip() for b in brokers.split(",") if b.strip()]
        topics = attrs.get("topics")
        if isinstance(topics, str):
            topics = [topics]
        group = attrs.get("consumerGroup")
        for what, value in (("brokers", brokers), ("topics", topics), ("consumerGroup", group)):
            if not value:
                raise FunctionConfigError(
                    f"trigger {self.name!r}: attributes.{what} is required for kafka-cluster"
                )
        # nuclio's default: a new consumer group starts at the newest offset
        initial = str(attrs.get("initialOffset") or "latest").lower()
        if initial not in ("earliest", "latest"):
            raise FunctionConfigError(f"trigger {self.name!r}: initialOffset must be 'earliest' or 'latest'")
        extra = attrs.get("consumerConfig") or {}
        if not isinstance(extra, dict):
            raise FunctionConfigError(f"trigger {self.name!r}: attributes.consumerConfig must be a mapping")
        self.topics: list[str] = [str(t) for t in topics]
        self.consumer_config: dict[str, Any] = {
            "bootstrap.servers": ",".join(str(b) for b in brokers),
            "group.id": str(group),
            "enable.auto.commit": False,
            "auto.offset.reset": initial,
            "session.timeout.ms": _duration_ms(attrs, "sessionTimeout", "10s", self.name),
            "heartbeat.interval.ms": _duration_ms(attrs, "heartbeatInterval", "3s", self.name),
            **security_config(attrs, self.name),
            **extra,
        }
        self.rebalance_wait = _duration_ms(attrs, "maxWaitHandlerDuringRebalance", "5s", self.name) / 1000
        self.batch_size = int(attrs.get("fnpackBatchSize", batch_size))
        self.tracker = OffsetTracker()
        self.pool: WorkerPool | None = None
        self.processed = 0
        self.redelivered = 0
        self.assignment: list[TP] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._running = False
        self._stopping = False
        self._consumer: Any = None
        self._drained: dict[int, asyncio.Future[None]] = {}
        self.error: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self, pool: WorkerPool) -> None:
        try:
            from confluent_kafka import Consumer
        except ImportError:
            raise FunctionConfigError(
                "the kafka-cluster trigger needs confluent-kafka: pip install 'fnpack[kafka]'"
            )
        self.pool = pool
        self._loop = asyncio.get_running_loop()
        try:
            self._consumer = Consumer(self.consumer_config, logger=logging.getLogger("fnpack.emulator.kafka"))
        except Exception as exc:
            raise FunctionConfigError(f"trigger {self.name!r}: bad Kafka consumer settings: {exc}")
        self._running = True
        self._thread = threading.Thread(target=self._poll_loop, name=f"kafka-{self.name}", daemon=True)
        self._thread.start()

    async def stop_accepting(self) -> None:
        """Finish the batch in hand, commit, leave the group (drain callbacks run), stop polling."""
        self._running = False
        thread = self._thread
        if thread is not None:
            loop = asyncio.get_running_loop()
            started = time.monotonic()
            while thread.is_alive():
                await loop.run_in_executor(None, thread.join, 0.2)
                waited = time.monotonic() - started
                if waited > 5:
                    self._stopping = True  # give up on messages that cannot find a worker
                if waited > 30:
                    log.warning("trigger %s: the consumer thread did not stop", self.name)
                    break
            self._thread = None

    async def stop(self, grace: float) -> None:
        await self.stop_accepting()

    # -- poll thread -----------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        from confluent_kafka import KafkaError

        consumer = self._consumer
        loop = self._loop
        assert loop is not None
        try:
            consumer.subscribe(self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
            while self._running:
                messages = consumer.consume(num_messages=self.batch_size * 4, timeout=0.1)
                batch = []
                for m in messages:
                    err = m.error()
                    if err is None:
                        batch.append(m)
                    elif err.code() != KafkaError._PARTITION_EOF:
                        log.warning("trigger %s: kafka: %s", self.name, err.str())
                if batch:
                    future = asyncio.run_coroutine_threadsafe(self._process(batch), loop)
                    future.result()
                self._commit()
            self._commit()
        except Exception as exc:  # report, never die silently
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("trigger %s: kafka consumer stopped: %s", self.name, self.error)
        finally:
            try:
                consumer.close()  # leaves the group: revoke -> drain callbacks
            except Exception as exc:
                log.warning("trigger %s: closing the consumer: %s", self.name, exc)

    def _commit(self) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        positions = self.tracker.to_commit()
        if not positions:
            return
        try:
            self._consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in positions.items()], asynchronous=False
            )
        except KafkaException as exc:
            log.warning("trigger %s: offset commit failed (will retry): %s", self.name, exc)
            return
        self.tracker.committed(positions)

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self.assignment = sorted({*self.assignment, *((p.topic, p.partition) for p in partitions)})
        log.info("trigger %s: assigned %s", self.name, _fmt(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        log.info("trigger %s: rebalance, revoking %s; draining workers", self.name, _fmt(partitions))
        loop = self._loop
        if loop is not None and loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._drain_workers(), loop)
            try:
                fut.result(self.rebalance_wait + 1)
            except Exception as exc:
                log.warning("trigger %s: drain: %s", self.name, exc)
        self._commit()
        gone = [(p.topic, p.partition) for p in partitions]
        self.tracker.forget(gone)
        self.assignment = [tp for tp in self.assignment if tp not in gone]

    # -- event loop side -------------------------------------------------------------------------
    async def _drain_workers(self) -> None:
        pool = self.pool
        if pool is None:
            return
        loop = asyncio.get_running_loop()
        waits = []
        for w in pool.workers:
            if w.alive and w.ready.done() and w.pid is not None:
                fut = loop.create_future()
                self._drained[w.pid] = fut
                waits.append(fut)
                w.signal(signal.SIGUSR2)
        if waits:
            await asyncio.wait(waits, timeout=self.rebalance_wait)
        self._drained.clear()

    def on_control(self, worker: WorkerProcess, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "streamMessageAck":
            attrs = message.get("attributes") or {}
            try:
                tp = (str(attrs["topic"]), int(attrs["partition"]))
                self.tracker.explicit_ack(tp, int(attrs["offset"]))
            except (KeyError, TypeError, ValueError):
                log.warning("trigger %s: malformed explicit ack %r", self.name, attrs)
        elif kind == "drainDone":
            fut = self._drained.get(worker.pid or -1)
            if fut is not None and not fut.done():
                fut.set_result(None)

    async def _process(self, messages: list[Any]) -> None:
        by_partition: dict[TP, list[Any]] = defaultdict(list)
        for m in messages:
            by_partition[(m.topic(), m.partition())].append(m)
        await asyncio.gather(*(self._process_partition(tp, ms) for tp, ms in by_partition.items()))

    async def _process_partition(self, tp: TP, messages: list[Any]) -> None:
        for start in range(0, len(messages), self.batch_size):
            chunk = messages[start : start + self.batch_size]
            bodies = [m.value() or b"" for m in chunk]
            while True:
                worker = await self._acquire()
                if worker is None:
                    return  # shutting down: not committed, redelivered next time
                try:
                    reply, _ = await worker.call_batch(_batch_header(tp, chunk), bodies)
                except WorkerDied as exc:
                    self.redelivered += len(chunk)
                    log.warning(
                        "trigger %s: %s; redelivering %d message(s) of %s[%d] from offset %d",
                        self.name, exc, len(chunk), tp[0], tp[1], chunk[0].offset(),
                    )  # fmt: skip
                    continue
                finally:
                    self.pool.release(worker)  # type: ignore[union-attr]
                break
            for m, r in zip(chunk, reply["r"]):
                headers = r.get("h")
                ack = not (headers and any(k.lower() == NO_ACK_HEADER for k in headers))
                self.tracker.handled(tp, m.offset(), ack)
            self.processed += len(chunk)

    async def _acquire(self) -> WorkerProcess | None:
        pool = self.pool
        assert pool is not None
        while True:
            try:
                return await pool.acquire(0.5)
            except NoWorkerAvailable:
                if self._stopping:
                    return None


def _batch_header(tp: TP, chunk: list[Any]) -> dict[str, Any]:
    """Columnar event metadata of one partition's messages: offsets, timestamps, headers by index."""
    now = time.time()
    stamps = []
    headers: dict[str, dict[str, str]] = {}
    for i, m in enumerate(chunk):
        ts_type, ts = m.timestamp()
        stamps.append(ts / 1000.0 if ts_type and ts >= 0 else now)
        hs = m.headers()
        if hs:
            headers[str(i)] = {k: (v or b"").decode("utf-8", "replace") for k, v in hs}
    header: dict[str, Any] = {
        "topic": tp[0],
        "shard": tp[1],
        "off": [m.offset() for m in chunk],
        "ts": stamps,
    }
    if headers:
        header["hd"] = headers
    return header


def _fmt(partitions: list[Any]) -> str:
    return ", ".join(f"{p.topic}[{p.partition}]" for p in partitions) or "nothing"
