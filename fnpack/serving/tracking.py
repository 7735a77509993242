"""Model tracking: per-model counters and latencies, and the model log records of the tracking stream.

Counters are always on (a few integer updates per event) so the emulator can expose them; log
records (reference 1.19) are pushed only when tracking is enabled for the server.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterator

from ..graph.streams import get_stream_pusher
from .clock import format_ns

LATENCY_WINDOW = 2048  # latest latencies kept per model, for percentiles


class ModelStats:
    """Request/error counts and latencies (µs) of one model in this worker."""

    __slots__ = ("requests", "errors", "total_us", "max_us", "recent")

    def __init__(self):
        self.requests = 0
        self.errors = 0
        self.total_us = 0.0
        self.max_us = 0.0
        self.recent: deque = deque(maxlen=LATENCY_WINDOW)

    def record(self, microsec: float, error: bool = False) -> None:
        self.requests += 1
        if error:
            self.errors += 1
        self.total_us += microsec
        if microsec > self.max_us:
            self.max_us = microsec
        self.recent.append(microsec)

    def snapshot(self) -> dict:
        """Plain-JSON view: counts, mean/max and p50/p99 over the latest events."""
        recent = sorted(self.recent)
        count = len(recent)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "mean_us": round(self.total_us / self.requests, 3) if self.requests else 0.0,
            "max_us": round(self.max_us, 3),
            "p50_us": round(recent[count // 2], 3) if count else 0.0,
            "p99_us": round(recent[min(count - 1, int(count * 0.99))], 3) if count else 0.0,
        }


class StreamContext:
    """Where a server's model log records go (``context.stream``), resolved once per server."""

    def __init__(self, enabled: bool, output_stream=None, stream_uri: str | None = None, function_uri=None):
        self.enabled = enabled
        self.output_stream = output_stream
        self.stream_uri = stream_uri
        self.function_uri = function_uri
        self.hostname = _hostname() if enabled else ""


def _hostname() -> str:
    import socket  # only servers that track models pay this import

    return socket.gethostname()


def stream_context(context) -> StreamContext:
    """The server's tracking stream (built on first use and kept as ``context.stream``).

    Enabled when the server tracks models (``track_models``, ``to_mock_server(track_models=True)``)
    or a ``log_stream`` parameter is set, and the server has a ``function_uri``. Records go to
    ``parameters["log_stream"]`` (``{project}`` is filled in); without one, to an in-memory
    ``dummy://`` stream in mock mode, and nowhere otherwise (the counters still work).
    """
    existing = getattr(context, "stream", None)
    if isinstance(existing, StreamContext):
        return existing
    server = getattr(context, "server", None)
    parameters = getattr(server, "parameters", None) or {}
    function_uri = getattr(server, "function_uri", None)
    log_stream = parameters.get("log_stream")
    wanted = bool(
        getattr(server, "track_models", None) or getattr(context, "monitoring_mock", False) or log_stream
    )
    enabled = wanted and bool(function_uri)
    stream = None
    uri = None
    if enabled:
        uri = log_stream.format(project=getattr(context, "project", "")) if log_stream else None
        if uri is None and getattr(context, "is_mock", False):
            uri = "dummy://"
        if uri:
            stream = get_stream_pusher(uri, **(parameters.get("stream_args") or {}))
        else:
            context.logger.warn(
                "model tracking is on but no log_stream parameter is set: records are not pushed"
            )
            enabled = False
    result = StreamContext(enabled, stream, uri, function_uri)
    if context is not None:
        context.stream = result
    return result


class ModelLogger:
    """Pushes one model's log records: success (sampled, optionally batched) and errors (immediately)."""

    _BATCH_HEADERS = ["request", "op", "resp", "when", "microsec", "metrics"]

    def __init__(self, model, stream: StreamContext, context):
        self.model = model
        self.stream = stream
        self.output_stream = stream.output_stream
        parameters = getattr(getattr(context, "server", None), "parameters", None) or {}
        self.sample = max(1, int(parameters.get("log_stream_sample") or 1))
        self.batch = max(1, int(parameters.get("log_stream_batch") or 1))
        self._sample_count = 0
        self._values: list = []
        self.worker = getattr(context, "worker_id", 0)

    def base_record(self) -> dict:
        model = self.model
        record = {
            "class": type(model).__name__,
            "worker": self.worker,
            "model": model.name,
            "version": model.version,
            "host": self.stream.hostname,
            "function_uri": self.stream.function_uri,
        }
        labels = getattr(model, "labels", None)
        if labels:
            record["labels"] = labels
        return record

    def push(
        self, request: Any, op: str, response: Any, start_ns: int, microsec: int, metrics: dict | None
    ) -> None:
        """Log one successful request (every ``log_stream_sample``-th; ``log_stream_batch`` per record)."""
        self._sample_count += 1
        if self._sample_count < self.sample:
            return
        self._sample_count = 0
        substitute = self.model.logged_results(request, response, op)
        if substitute:
            inputs, outputs = substitute
            request = {"id": request.get("id") if isinstance(request, dict) else None, "inputs": inputs}
            response = {"outputs": outputs}
        when = format_ns(start_ns)
        if self.batch > 1:
            self._values.append([request, op, response, when, microsec, metrics or {}])
            if len(self._values) >= self.batch:
                record = self.base_record()
                record["headers"] = list(self._BATCH_HEADERS)
                record["values"] = self._values
                self._values = []
                self.output_stream.push([record])
            return
        record = self.base_record()
        record.update(request=request, op=op, resp=response, when=when, microsec=microsec)
        if metrics:
            record["metrics"] = metrics
        self.output_stream.push([record])

    def push_error(self, request: Any, op: str, start_ns: int, error: str) -> None:
        record = self.base_record()
        record.update(request=request, op=op, when=format_ns(start_ns), error=error)
        self.output_stream.push([record])


# --- reading the stats of a running server ---------------------------------------------------------


def iter_models(server) -> Iterator[tuple[str, Any]]:
    """``(key, object)`` of every model in a server's compiled plan (routes and flow steps, nested)."""
    plan = getattr(server, "plan", None)
    if plan is None:
        return
    nodes = []
    if getattr(plan, "node", None) is not None:  # a router topology
        nodes.append(plan.node)
    if getattr(plan, "start", None) is not None:  # sync flow
        nodes.append(plan.start)
    nodes.extend(getattr(plan, "starts", None) or ())  # async flow
    seen: set[int] = set()
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(reversed(getattr(node, "next", None) or ()))
        obj = getattr(node, "object", None)
        if obj is None:
            continue
        if isinstance(getattr(obj, "stats", None), ModelStats):
            yield _model_key(obj, node), obj
        routes = getattr(obj, "routes", None)
        if isinstance(routes, dict):
            stack.extend(reversed(list(routes.values())))


def _model_key(obj, node) -> str:
    name = getattr(obj, "name", None) or getattr(node, "name", "")
    version = getattr(obj, "version", None)
    return f"{name}:{version}" if version else name


def server_stats(server) -> dict[str, dict]:
    """``{"model[:version]": {requests, errors, mean_us, max_us, p50_us, p99_us}}`` for a server."""
    return {key: obj.stats.snapshot() for key, obj in iter_models(server)}
