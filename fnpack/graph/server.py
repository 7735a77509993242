"""``GraphServer``: hosts one graph, turns events into responses, and its in-process test client."""

from __future__ import annotations

import json
import os
import sys

from .context import GraphContext, SecretsStore
from .engines import AsyncFlow, RouterRoot, SyncFlow
from .errors import ClientError, GraphError, StepError, err_to_str, status_of
from .event import MockEvent, Response, TriggerInfo
from .loop import LoopThread
from .plan import Compiler, compile_flow
from .resolve import resolve_handler
from .steps import BaseStep, RootFlowStep, RouterStep, graph_from_dict
from .streams import get_stream_pusher

_TEXT = (str, bytes, bytearray)
_JSON_TYPES = frozenset(("", "json", "application/json"))
_SPEC_FIELDS = (
    "function_uri",
    "version",
    "parameters",
    "graph",
    "load_mode",
    "functions",
    "graph_initializer",
    "error_stream",
    "track_models",
    "tracking_policy",
    "default_content_type",
    "secret_sources",
    "current_function",
)
_SPEC_TYPES = {
    "graph": (dict, "a graph (mapping)"),
    "parameters": (dict, "a mapping"),
    "functions": (dict, "a mapping of function names to addresses"),
    "secret_sources": (list, "a list of {kind, source} mappings"),
    "load_mode": (str, "'sync' or 'async'"),
    "error_stream": (str, "a stream path (string)"),
    "default_content_type": (str, "a content type (string)"),
    "current_function": (str, "a function name (string)"),
    "function_uri": (str, "a function URI (string)"),
    "graph_initializer": (str, "a 'module.function' name (string)"),
}
_EVENT_ID_HEADERS = frozenset(("mlrun-event-id", "fnpack-event-id"))
_EVENT_PATH_HEADERS = frozenset(("mlrun-event-path", "fnpack-event-path"))
_BINARY_TENSOR_HEADER = "inference-header-content-length"


def _json_default(value):
    """Encode what ``json`` cannot: numpy arrays and scalars, datetimes, sets, bytes."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def to_json(body) -> str:
    try:
        return json.dumps(body)
    except TypeError:
        return json.dumps(body, default=_json_default)


class GraphServer:
    """Runs a serving graph: ``init_states`` + ``init_object`` once, then ``run(event)`` per event."""

    kind = "server"

    def __init__(
        self,
        graph=None,
        parameters: dict | None = None,
        load_mode: str | None = None,
        function_uri: str | None = None,
        verbose: bool = False,
        version: str | None = None,
        functions: dict | None = None,
        graph_initializer=None,
        error_stream: str | None = None,
        track_models: bool | None = None,
        tracking_policy=None,
        secret_sources: list | None = None,
        default_content_type: str | None = None,
        current_function: str | None = None,
        **kwargs,
    ):
        self._graph: BaseStep | None = None
        self.graph = graph
        if parameters is not None and not isinstance(parameters, dict):
            raise GraphError(f"serving spec: 'parameters' must be a mapping, got {type(parameters).__name__}")
        if default_content_type is not None and not isinstance(default_content_type, str):
            raise GraphError("serving spec: 'default_content_type' must be a content type (string)")
        self.parameters = parameters or {}
        self.load_mode = load_mode
        self.function_uri = function_uri
        self.verbose = verbose
        self.version = version or "v2"
        self.functions = functions or {}
        self.graph_initializer = graph_initializer
        self.error_stream = error_stream
        self.track_models = track_models
        self.tracking_policy = tracking_policy
        self.secret_sources = secret_sources or []
        self.default_content_type = default_content_type
        self.current_function = current_function
        self.context: GraphContext | None = None
        self.secrets: SecretsStore | None = None
        self.error_stream_pusher = None
        self._plan = None
        self._loop = LoopThread()
        self._response_types: tuple = (Response,)

    # --- spec -----------------------------------------------------------------------------------
    @property
    def graph(self) -> BaseStep | None:
        return self._graph

    @graph.setter
    def graph(self, graph) -> None:
        self._graph = graph_from_dict(graph) if isinstance(graph, dict) else graph

    def set_current_function(self, function: str | None) -> None:
        self.current_function = function

    def to_dict(self) -> dict:
        """The serving spec (DESIGN contract 2) as plain JSON-ready data."""
        spec = {}
        for field in _SPEC_FIELDS:
            value = getattr(self, field, None)
            if field == "graph":
                value = value.to_dict() if value is not None else None
            if field == "graph_initializer" and callable(value):
                value = f"{value.__module__}.{value.__qualname__}"
            spec[field] = value
        return spec

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, struct: dict) -> GraphServer:
        """Rebuild from a serving spec; unknown keys are ignored."""
        if not isinstance(struct, dict):
            raise GraphError(f"serving spec must be a JSON object, got {type(struct).__name__}")
        known = {k: struct[k] for k in _SPEC_FIELDS if k in struct}
        for field, (expected, what) in _SPEC_TYPES.items():
            value = known.get(field)
            if value is not None and not isinstance(value, expected):
                raise GraphError(f"serving spec: '{field}' must be {what}, got {type(value).__name__}")
        return cls(**known)

    # --- init -----------------------------------------------------------------------------------
    def init_states(
        self,
        context=None,
        namespace=None,
        logger=None,
        is_mock: bool = False,
        monitoring_mock: bool = False,
    ) -> None:
        """Build the context, secrets and error stream, then run the graph initializer."""
        self.secrets = SecretsStore(self.secret_sources)
        if self.error_stream:
            self.error_stream_pusher = get_stream_pusher(self.error_stream)
        if self.current_function is None:
            self.current_function = os.environ.get("SERVING_CURRENT_FUNCTION", "")
        server_context = GraphContext(server=self, nuclio_context=context, logger=logger)
        server_context.is_mock = is_mock
        server_context.monitoring_mock = monitoring_mock
        server_context.root = self.graph
        server_context.current_function = self.current_function
        server_context.verbose = self.verbose
        self.context = server_context
        if server_context.Response is not Response:
            self._response_types = (Response, server_context.Response)
        if self.graph_initializer:
            initializer = resolve_handler(self.graph_initializer, _namespaces(namespace), "graph_initializer")
            initializer(self)
            server_context.root = self.graph

    def init_object(self, namespace=None) -> None:
        """Compile the graph into its execution plan (instantiates classes, loads models)."""
        graph = self.graph
        if graph is None:
            raise GraphError("no models or steps were set, use function.set_topology() and add steps")
        if self.context is None:
            self.init_states(namespace=namespace)
        compiler = Compiler(
            self.context,
            _namespaces(namespace),
            self.current_function,
            self.context.is_mock,
            self.load_mode,
            self._loop,
        )
        if isinstance(graph, RouterStep):
            self._plan = RouterRoot(compiler.node(graph), self._loop, self.context)
        elif isinstance(graph, RootFlowStep):
            engine = graph.engine_kind
            plan = compile_flow(graph, compiler, engine)
            if engine == "sync":
                self._plan = SyncFlow(plan, self._loop, self.context)
            else:
                max_in_flight = self.parameters.get("max_in_flight", 256)
                self._plan = AsyncFlow(plan, self._loop, self.context, max_in_flight=max_in_flight)
        else:
            raise GraphError(f"illegal root step {type(graph).__name__}, use a router or a flow")

    @property
    def plan(self):
        """The compiled execution plan (after ``init_object``)."""
        return self._plan

    # --- events ---------------------------------------------------------------------------------
    def run(self, event, context=None, get_body: bool = False, extra_args: dict | None = None):
        """Process one event; returns a Response (or, with ``get_body``, the raw result body)."""
        content_type = event.content_type or self.default_content_type or ""
        if ";" in content_type:
            content_type = content_type.split(";", 1)[0].strip()
        event.content_type = content_type
        headers = event.headers
        binary_tensors = bool(headers) and self._header_overrides(event, headers)
        body = event.body
        if body.__class__ in _TEXT and content_type in _JSON_TYPES and not binary_tensors:
            try:
                event.body = json.loads(body)
            except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, too deep
                if content_type:
                    reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
                    message = f"failed to json decode event, {reason}"
                    self.context.push_error(event, message, source="_handler")
                    return self._text_response(message, 400)
        body = event.body
        if body.__class__ is dict and body.get("full_event_wrapper") is True:
            _unwrap(event, body)
        try:
            result = self._plan.run(event)
        except Exception as exc:
            return self._error_response(event, exc)
        body = result.body
        if get_body or body is None or body.__class__ in _TEXT or isinstance(body, self._response_types):
            return body
        try:
            text = to_json(body)
        except (TypeError, ValueError) as exc:
            message = f"failed to encode the graph's result as JSON: {err_to_str(exc)}"
            self.context.logger.error(message)
            return self._text_response(message, 500)
        return self.context.Response(body=text, content_type="application/json", status_code=200)

    @staticmethod
    def _header_overrides(event, headers: dict) -> bool:
        """Apply the event id/path headers; True when the body carries binary tensor data."""
        binary = False
        for key, value in headers.items():
            lowered = key.lower() if isinstance(key, str) else key.decode("latin-1").lower()
            if lowered in _EVENT_ID_HEADERS and value:
                event.id = value.decode() if isinstance(value, bytes) else value
            elif lowered in _EVENT_PATH_HEADERS and value:
                event.path = value.decode() if isinstance(value, bytes) else value
            elif lowered == _BINARY_TENSOR_HEADER:
                binary = True  # JSON header + raw tensor bytes: the OIP codec splits it, not json.loads
        return binary

    def _text_response(self, message: str, status: int):
        return self.context.Response(body=message, content_type="text/plain", status_code=status)

    def _error_response(self, event, exc: BaseException):
        cause = exc.cause if isinstance(exc, StepError) else exc
        status = status_of(exc)
        message = err_to_str(cause) if isinstance(cause, ClientError) else err_to_str(exc)
        step = exc.step if isinstance(exc, StepError) else None
        if status >= 500 or not isinstance(cause, ClientError):
            details = ""
            if self.verbose:  # the traceback goes to the log, never to the client
                import traceback

                details = "\n" + "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
            self.context.logger.error(f"event {event.id} failed: {message}{details}")
        self.context.push_error(event, err_to_str(cause), source=step)
        return self._text_response(message, status)

    def test(
        self,
        path: str = "/",
        body=None,
        method: str = "",
        headers: dict | None = None,
        content_type: str | None = None,
        silent: bool = False,
        get_body: bool = True,
        event_id: str | None = None,
        trigger=None,
        offset=None,
        time=None,
    ):
        """Send one test event through the graph in-process; raises on an error status unless ``silent``."""
        if self._plan is None:
            if self.graph is None:
                raise GraphError("no models or steps were set, use function.set_topology() and add steps")
            raise GraphError("the server is not initialized, call init_states() and init_object() first")
        if not method:
            method = "POST" if body else "GET"
        if trigger is not None and not isinstance(trigger, TriggerInfo):
            if isinstance(trigger, dict):
                trigger = TriggerInfo(trigger.get("kind", ""), trigger.get("name", ""))
            else:
                trigger = TriggerInfo(str(trigger), "")
        event = MockEvent(
            body=body,
            content_type=content_type,
            headers=headers,
            method=method,
            path=path,
            event_id=event_id,
            trigger=trigger,
            offset=offset,
            time=time,
        )
        response = self.run(event, get_body=get_body)
        status = getattr(response, "status_code", None)
        if status is not None and status >= 300 and not silent:
            raise RuntimeError(f"failed ({status}): {response.body}")
        return response

    def wait_for_completion(self, timeout: float | None = None) -> None:
        """Block until the async engine has finished every event in flight (a no-op for sync and routers)."""
        if self._plan is not None:
            self._plan.wait_for_completion(timeout)

    def close(self, timeout: float | None = 30) -> None:
        """Drain, release step resources (``close()`` / ``async aclose()`` hooks), stop the loop."""
        try:
            self.wait_for_completion(timeout)
        finally:
            for node in self._plan.nodes() if self._plan is not None else []:
                self._close_object(node.object)
            self._loop.stop()

    def _close_object(self, obj) -> None:
        if obj is None:
            return
        try:
            if hasattr(obj, "aclose") and self._loop.started:
                self._loop.run(obj.aclose(), timeout=10)
            if hasattr(obj, "close"):
                obj.close()
        except Exception as exc:
            self.context.logger.warn(f"closing {type(obj).__name__} failed: {err_to_str(exc)}")


def _unwrap(event, wrapper: dict) -> None:
    """Restore an event that a queue step pushed as a full-event record (body, id, key)."""
    event.body = wrapper.get("body")
    if wrapper.get("id"):
        event.id = wrapper["id"]
    if wrapper.get("key"):
        event.key = wrapper["key"]


def _namespaces(namespace) -> list:
    if namespace is None:
        return []
    if isinstance(namespace, (list, tuple)):
        return list(namespace)
    return [namespace]


def create_graph_server(
    parameters: dict | None = None,
    load_mode: str | None = None,
    graph=None,
    verbose: bool = False,
    current_function: str | None = None,
    **kwargs,
) -> GraphServer:
    """A GraphServer for ``graph`` (a step or its dict); ``current_function`` defaults to the env."""
    if current_function is None:
        current_function = os.environ.get("SERVING_CURRENT_FUNCTION", "")
    return GraphServer(
        graph,
        parameters,
        load_mode,
        verbose=verbose,
        current_function=current_function,
        **kwargs,
    )


def mock_server(
    server: GraphServer,
    namespace=None,
    current_function: str = "*",
    logger=None,
    track_models: bool = False,
) -> GraphServer:
    """Initialize ``server`` for in-process tests (every step local by default)."""
    server.set_current_function(current_function)
    caller = sys._getframe(1).f_globals if namespace is None else None
    namespaces = _namespaces(namespace) + ([caller] if caller else [])
    server.init_states(None, namespaces, logger=logger, is_mock=True, monitoring_mock=track_models)
    server.init_object(namespaces)
    return server


__all__ = ["GraphServer", "create_graph_server", "mock_server"]
