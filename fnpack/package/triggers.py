"""nuclio trigger configs (``spec.triggers`` entries) for HTTP, Kafka and cron."""

from __future__ import annotations

from .errors import BuildError


def http_trigger(
    workers: int = 8,
    port: int | None = None,
    host: str | None = None,
    paths: list[str] | None = None,
    worker_timeout: float | None = None,
    gateway_timeout: int | None = None,
    service_type: str | None = None,
    extra_attributes: dict | None = None,
) -> tuple[dict, dict]:
    """``(trigger, function annotations)``: ``worker_timeout`` in seconds, ``gateway_timeout`` for ingresses."""
    attributes: dict = {}
    if port is not None:
        attributes["port"] = port
    if service_type:
        attributes["serviceType"] = service_type
    if host or paths:
        attributes["ingresses"] = {"0": {"host": host or "", "paths": list(paths or ["/"])}}
    attributes.update(extra_attributes or {})
    trigger: dict = {"kind": "http", "maxWorkers": workers, "attributes": attributes}
    if worker_timeout is not None:
        trigger["workerAvailabilityTimeoutMilliseconds"] = int(worker_timeout * 1000)
    annotations = {}
    if gateway_timeout is not None:
        annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] = str(gateway_timeout)
        annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] = str(gateway_timeout)
    return trigger, annotations


def kafka_trigger(
    brokers: list[str] | str,
    topics: list[str] | str,
    group: str,
    initial_offset: str = "earliest",
    max_workers: int = 1,
    session_timeout: str | None = None,
    heartbeat_interval: str | None = None,
    worker_allocation_mode: str | None = None,
    explicit_ack_mode: str | None = None,
    extra_attributes: dict | None = None,
) -> dict:
    """A ``kafka-cluster`` trigger reading ``topics`` as consumer group ``group``."""
    brokers = [brokers] if isinstance(brokers, str) else list(brokers or [])
    topics = [topics] if isinstance(topics, str) else list(topics or [])
    if initial_offset not in ("earliest", "latest"):
        raise BuildError(f"initial_offset must be 'earliest' or 'latest', got {initial_offset!r}")
    attributes: dict = {
        "brokers": brokers,
        "topics": topics,
        "consumerGroup": group,
        "initialOffset": initial_offset,
    }
    for key, value in (
        ("sessionTimeout", session_timeout),
        ("heartbeatInterval", heartbeat_interval),
        ("workerAllocationMode", worker_allocation_mode),
    ):
        if value is not None:
            attributes[key] = value
    attributes.update(extra_attributes or {})
    trigger: dict = {"kind": "kafka-cluster", "maxWorkers": max_workers, "attributes": attributes}
    if explicit_ack_mode:
        trigger["explicitAckMode"] = explicit_ack_mode
    return trigger


def cron_trigger(
    interval: str | None = None,
    schedule: str | None = None,
    body=None,
    headers: dict | None = None,
) -> dict:
    """A cron trigger: ``interval`` like ``"10s"`` or a cron ``schedule``; optional event body/headers."""
    if bool(interval) == bool(schedule):
        raise BuildError("a cron trigger needs exactly one of interval ('10s') or schedule ('*/5 * * * *')")
    attributes: dict = {"interval": interval} if interval else {"schedule": schedule}
    if body is not None or headers:
        event: dict = {}
        if body is not None:
            event["body"] = body
        if headers:
            event["headers"] = dict(headers)
        attributes["event"] = event
    return {"kind": "cron", "attributes": attributes}
