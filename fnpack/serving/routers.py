"""Routers of model routes: ``ModelRouter`` (V2 URL routing) and ``ParallelRun`` (fan-out + merge).

A router gets ``routes`` (route key -> compiled node with ``run(event)``) from the graph. A
path-less request (stream mode: path ``/`` or empty, e.g. from a Kafka trigger) goes to
``body["model"]`` when given, else to the router's **default model**: ``default_model`` when set,
else the first entry of the router's model list (``GET /v2/models/``). The rule is the same in
every router; ``ModelRouter`` lists its routes, ``VotingEnsemble`` lists itself first.
"""

from __future__ import annotations

from typing import Any

from ..graph.errors import BadRequestError, NotFoundError, StepError, err_to_str
from ..graph.event import Event
from ..graph.paths import get_in, split_path, update_in
from ..graph.steps import StepToDict
from .oip import printable
from .protocol import (
    DEFAULT_HEALTH_PREFIX,
    DEFAULT_URL_PREFIX,
    decode_body,
    route_key,
    server_metadata,
    split_model_path,
)
from .v2_serving import V2ModelServer

_RUNTIME_ARGS = ("graph_step", "full_event")
_CACHED_OPS = frozenset(("infer", "predict", "explain"))
EXECUTOR_TYPES = (None, "", "sync", "array", "thread", "process")


class BaseModelRouter(StepToDict):
    """Common router behaviour: paths, health and model list, ``preprocess``/``postprocess`` hooks."""

    _STEP_KIND = "router"
    _dict_fields = ["protocol", "url_prefix", "health_prefix", "default_model"]

    def __init__(
        self,
        context=None,
        name: str | None = None,
        routes: dict | None = None,
        protocol: str | None = None,
        url_prefix: str | None = None,
        health_prefix: str | None = None,
        input_path: str | None = None,
        result_path: str | None = None,
        default_model: str | None = None,
        **kwargs,
    ):
        for key in _RUNTIME_ARGS:
            kwargs.pop(key, None)
        self.name = name
        self.context = context
        self.routes: dict = routes or {}
        self.protocol = protocol
        self.url_prefix = url_prefix
        self.health_prefix = health_prefix
        self.default_model = default_model
        self._kwargs = kwargs
        self._input_path = input_path
        self._result_path = result_path
        self._in_keys = split_path(input_path)
        self._out_keys = split_path(result_path)
        self._prefix = (url_prefix or DEFAULT_URL_PREFIX).rstrip("/")
        self._prefix_slash = self._prefix + "/"
        self._health = (health_prefix or DEFAULT_HEALTH_PREFIX).rstrip("/")
        cls = type(self)
        # no paths and no hooks: do_event goes straight to routing
        self._plain = (
            not self._in_keys
            and not self._out_keys
            and cls.preprocess is BaseModelRouter.preprocess
            and cls.postprocess is BaseModelRouter.postprocess
        )

    def post_init(self, mode: str | None = "sync", **kwargs) -> None:
        if self.default_model is not None and self.default_model not in self.model_list():
            raise ValueError(
                f"default_model {self.default_model!r} is not one of the models {self.model_list()}"
            )
        if self.context is not None and self.context.verbose:
            self.context.logger.info(f"router {self.name} loaded routes: {list(self.routes)}")

    # --- hooks --------------------------------------------------------------------------------------
    def preprocess(self, event):
        return event

    def postprocess(self, event):
        return event

    # --- shared ---------------------------------------------------------------------------------------
    def model_list(self) -> list[str]:
        """What ``GET /v2/models/`` lists; its first entry is the default model."""
        return list(self.routes)

    def default_route_key(self) -> str:
        if self.default_model:
            return self.default_model
        models = self.model_list()
        if not models:
            raise NotFoundError(f"router {self.name} has no models")
        return models[0]

    def _unknown(self, model: str, version: str = "") -> NotFoundError:
        what = (
            f"model {printable(model)} version {printable(version)}"
            if version
            else f"model {printable(model)}"
        )
        return NotFoundError(f"{what} doesnt exist, available models: {' | '.join(self.model_list())}")

    def do_event(self, event, *args, **kwargs):
        """Apply ``input_path``, route the event, then write the result at ``result_path``."""
        if self._plain:
            return self._handle_event(event)
        original = event.body
        if self._in_keys and original is not None:
            event.body = get_in(original, self._in_keys)
        event = self.preprocess(event)
        event = self._handle_event(event)
        event = self.postprocess(event)
        if self._out_keys and not hasattr(event.body, "status_code"):  # a Response stays the answer
            event.body = update_in(original, self._out_keys, event.body)
        return event

    def _handle_event(self, event):
        raise NotImplementedError

    def _decoded_body(self, event, method: str):
        body = event.body
        if body is not None and body.__class__ is not dict and method != "GET":
            body = event.body = decode_body(event, body)
        return body

    def _classify(self, event) -> tuple[str, str, str, str]:
        """``(kind, model, version, op)``; kind is ``model``, ``stream``, ``list`` or ``server``."""
        path = event.path or "/"
        if path.startswith(self._prefix_slash):
            rest = path[len(self._prefix_slash) :]
            if not rest.strip("/"):
                return "list", "", "", ""
            model, version, op = split_model_path(rest)
            return "model", model, version, op
        if path == "/" or path == "":
            return ("server" if event.method == "GET" else "stream"), "", "", ""
        if path == self._prefix:
            return "list", "", "", ""
        if path.startswith(self._health) or path in ("/v2", "/v2/"):
            return "server", "", "", ""
        raise BadRequestError(f"illegal path prefix {printable(path)}, must start with {self._prefix}")

    def _finish(self, event, body):
        event.body = body
        event.terminated = True
        return event


class ModelRouter(BaseModelRouter):
    """Routes ``/v2/models/<model>[/versions/<v>]/<op>`` to the route ``model[:v]`` (the default router)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # path -> (route key, op, callable): resolved infer paths, so repeated paths skip parsing
        self._resolved: dict[str, tuple] = {}

    def _handle_event(self, event):
        path = event.path
        body = event.body
        hit = self._resolved.get(path)
        if hit is not None and body.__class__ is dict and "operation" not in body:
            key, event.path, run = hit
            try:
                return run(event)
            except StepError:
                raise
            except Exception as exc:
                raise StepError(key, exc) from exc
        method = event.method or "POST"
        kind, model, version, op = self._classify(event)
        if kind == "server":
            return self._finish(event, server_metadata(type(self).__name__))
        if kind == "list":
            return self._finish(event, {"models": self.model_list()})
        body = self._decoded_body(event, method)
        if kind == "stream":
            if body.__class__ is dict:
                model = body.get("model") or self.default_route_key()
                op = body.get("operation") or "infer"
            else:
                model, op = self.default_route_key(), "infer"
        elif body.__class__ is dict:
            op = body.get("operation") or op
        key = route_key(model, version) if version else model
        route = self.routes.get(key)
        if route is None:
            raise self._unknown(model, version)
        if kind == "model" and op in _CACHED_OPS and path.__class__ is str:
            self._resolved[path] = (key, op, direct_call(route))
        event.path = op
        return route.run(event)


def _child_event(event, op: str, body: Any) -> Event:
    """A fresh event for one route of a fan-out: same id, trigger and headers; its own body dict."""
    return Event(
        dict(body) if body.__class__ is dict else body,
        event.content_type,
        event.headers,
        event.method,
        op,
        event.id,
        event.trigger,
        event.offset,
        getattr(event, "_time", None),
        event.key,
    )


def direct_call(route):
    """The fastest way to run a route: a V2 model's own ``do_event`` (no paths, no handler), else ``run``."""
    obj = getattr(route, "object", None)
    step = getattr(route, "step", None)
    if (
        isinstance(obj, V2ModelServer)
        and type(obj).do_event is V2ModelServer.do_event
        and not getattr(step, "handler", None)
        and not getattr(step, "input_path", None)
        and not getattr(step, "result_path", None)
    ):
        return obj.do_event
    return route.run


class ParallelRun(BaseModelRouter):
    """Run every route on a copy of the event and merge the results.

    ``merge``: ``"update"`` (default; dict results ``update`` one dict in route order, starting from
    the request body when ``extend_event``), ``"list"`` (results in route order) or ``"dict"``
    (``{route: result}``). ``executor_type``: ``None``/``"sync"``/``"array"`` run the routes one
    after the other in the event's thread; ``"thread"`` runs them in a thread pool (``"process"`` is
    served by threads). A failing route fails the request naming the route, unless
    ``ignore_errors`` (then it is logged, pushed to the error stream and left out).
    """

    MERGES = ("update", "list", "dict")
    _dict_fields = [*BaseModelRouter._dict_fields, "extend_event", "executor_type", "merge", "ignore_errors"]

    def __init__(
        self,
        context=None,
        name: str | None = None,
        routes: dict | None = None,
        protocol: str | None = None,
        url_prefix: str | None = None,
        health_prefix: str | None = None,
        extend_event: bool | None = None,
        executor_type: str | None = None,
        merge: str | None = None,
        ignore_errors: bool = False,
        input_path: str | None = None,
        result_path: str | None = None,
        **kwargs,
    ):
        super().__init__(
            context, name, routes, protocol, url_prefix, health_prefix, input_path, result_path, **kwargs
        )
        if executor_type not in EXECUTOR_TYPES:
            raise ValueError(f"executor_type {executor_type!r} is not one of 'sync', 'array', 'thread'")
        if merge not in (None, *self.MERGES):
            raise ValueError(f"merge {merge!r} is not one of {', '.join(self.MERGES)}")
        self.extend_event = extend_event
        self.executor_type = executor_type
        self.merge = merge
        self.ignore_errors = ignore_errors or None  # None: left out of the serialized form
        self._threaded = executor_type in ("thread", "process")
        self._pool = None  # a ThreadPoolExecutor, made on the first threaded event
        self._calls: list | None = None
        if executor_type == "process" and context is not None:
            context.logger.warn(
                f"router {name}: executor_type='process' is served by a thread pool in fnpack"
            )

    def _handle_event(self, event):
        method = event.method or "POST"
        kind, model, version, op = self._classify(event)
        if kind == "server":
            return self._finish(event, server_metadata(type(self).__name__))
        if kind == "list":
            return self._finish(event, {"models": self.model_list()})
        body = self._decoded_body(event, method)
        if kind == "model":
            op = "/".join(p for p in (model, version and f"versions/{version}", op) if p)
        results = self.fan_out(event, op, body)
        event.body = self.merge_results(body, results)
        return event

    def merge_results(self, body: Any, results: list[tuple[str, Any]]) -> Any:
        how = self.merge or "update"
        if how == "list":
            return [result for _, result in results]
        if how == "dict":
            return dict(results)
        merged = dict(body) if self.extend_event and isinstance(body, dict) else {}
        for key, result in results:
            if isinstance(result, dict):
                merged.update(result)
            else:
                merged[key] = result
        return merged

    # --- fan-out ------------------------------------------------------------------------------------
    def fan_out(self, event, op: str, body: Any) -> list[tuple[str, Any]]:
        """Run every route on a copy of ``event`` with path ``op``; ``[(key, body)]`` in route order."""
        calls = self._calls
        if calls is None:
            calls = self._calls = [(key, direct_call(route)) for key, route in self.routes.items()]
        outcomes = []
        if self._threaded and len(calls) > 1:
            pool = self._pool
            if pool is None:
                from concurrent.futures import ThreadPoolExecutor  # only thread-mode routers pay its import

                pool = self._pool = ThreadPoolExecutor(
                    max_workers=min(32, len(calls)), thread_name_prefix=f"fnpack-{self.name}"
                )
            futures = [(key, pool.submit(run, _child_event(event, op, body))) for key, run in calls]
            for key, future in futures:
                try:
                    outcomes.append((key, future.result().body, None))
                except Exception as exc:
                    outcomes.append((key, None, exc))
        else:
            for key, run in calls:
                try:
                    outcomes.append((key, run(_child_event(event, op, body)).body, None))
                except Exception as exc:
                    outcomes.append((key, None, exc))
        results = []
        for key, result, error in outcomes:
            if error is None:
                results.append((key, result))
            elif self.ignore_errors:
                message = f"route {key} of {self.name} failed and was left out: {err_to_str(error)}"
                if self.context is not None:
                    self.context.logger.warn(message)
                    self.context.push_error(event, message, source=self.name)
            else:
                raise error if isinstance(error, StepError) else StepError(key, error)
        return results

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)
