"""The generic serving handler: nuclio's ``init_context`` / ``handler`` pair for every fnpack function.

``init_context`` rebuilds the GraphServer once per worker from the packaged spec and keeps it in
``context.user_data.server``; ``handler`` converts nuclio's event (or a batch, a list of events) and
returns nuclio ``Response`` objects. nuclio calls these as ``<module>:handler`` (DESIGN contract 3).
"""

from __future__ import annotations

import logging
import os

from fnpack.graph.server import GraphServer

from .events import to_graph_event
from .spec import graph_namespace, read_spec

CURRENT_FUNCTION_ENV = "SERVING_CURRENT_FUNCTION"
_TEXT = (str, bytes, bytearray)


def init_context(context, spec=None, namespace=None) -> None:
    """Build this worker's GraphServer (``spec``: the embedded spec text, else env var / mounted file)."""
    spec_dict, origin = read_spec(spec)
    namespaces = graph_namespace(spec_dict)
    if namespace is not None:
        namespaces.extend(namespace if isinstance(namespace, list) else [namespace])
    server = GraphServer.from_dict(spec_dict)
    if _debug(context.logger):
        server.verbose = True
    if CURRENT_FUNCTION_ENV in os.environ:
        server.set_current_function(os.environ[CURRENT_FUNCTION_ENV])
    elif server.current_function is None:
        server.set_current_function("")
    server.init_states(context, namespaces, is_mock=bool(getattr(context, "is_mock", False)))
    server.init_object(namespaces)
    context.user_data.server = server
    _register_callbacks(context, server)
    context.logger.info(
        f"fnpack: serving graph ready (spec from {origin}, function '{server.current_function or '(root)'}')"
    )


def handler(context, event):
    """Run one event (or a batch: a list of events → a list of responses, each with its ``event_id``)."""
    server = context.user_data.server
    if event.__class__ is list:
        return [_respond(context, server, item, True) for item in event]
    return _respond(context, server, event, False)


def _respond(context, server: GraphServer, nuclio_event, batch: bool):
    try:
        result = server.run(to_graph_event(nuclio_event), context)
    except Exception as exc:  # a failure before the graph (conversion); the graph itself never raises
        result = context.Response(
            body=f"fnpack handler: {type(exc).__name__}: {exc}", content_type="text/plain", status_code=500
        )
    response_class = context.Response
    if result.__class__ is not response_class:
        result = _to_response(response_class, result)
    if batch:
        result.event_id = getattr(nuclio_event, "id", None)
    return result


def _to_response(response_class, result):
    if result is None:
        return response_class(body="", content_type="text/plain", status_code=200)
    if isinstance(result, _TEXT):
        content_type = "text/plain" if isinstance(result, str) else "application/octet-stream"
        return response_class(body=result, content_type=content_type, status_code=200)
    # a response object of another class (the graph's mock Response): copy it
    return response_class(
        headers=getattr(result, "headers", None),
        body=getattr(result, "body", None),
        content_type=getattr(result, "content_type", None),
        status_code=getattr(result, "status_code", 200),
    )


def _debug(logger) -> bool:
    """Debug logging on (nuclio's logger wraps a stdlib logger): the server is then verbose."""
    if os.environ.get("FNPACK_VERBOSE", "").lower() in ("1", "true", "yes"):
        return True
    inner = getattr(logger, "_logger", logger)
    is_enabled = getattr(inner, "isEnabledFor", None)
    return bool(is_enabled and is_enabled(logging.DEBUG))


def _register_callbacks(context, server: GraphServer) -> None:
    platform = getattr(context, "platform", None)
    if platform is None:
        return
    if hasattr(platform, "set_drain_callback"):  # stream rebalance: finish in-flight events
        platform.set_drain_callback(_logged(context, server.wait_for_completion, "drain"))
    if hasattr(platform, "set_termination_callback"):  # shutdown: drain, then stop the engine loop
        platform.set_termination_callback(_logged(context, server.close, "termination"))


def _logged(context, callback, what: str):
    """A platform callback that reports errors of events that failed after their response, never raises."""

    def run():
        try:
            callback()
        except Exception as exc:
            context.logger.error(f"fnpack: {what}: {exc}")

    return run
