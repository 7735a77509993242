"""Stream targets for queues, tracking and the error stream, chosen by the path's scheme.

Only the in-memory ``dummy://`` stream lives here; other schemes (``kafka://``) register themselves
when their module is imported, so the runtime imports a client only when a graph uses it.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: it costs cold start
    from typing import Callable

# scheme -> factory(path, **options) -> object with push(data)
_FACTORIES: dict[str, Callable] = {}
# scheme -> module that registers it on import (lazy)
_LAZY = {"kafka": "fnpack.serving.streams_kafka"}


class DummyStream:
    """An in-memory stream: pushed records are kept in ``event_list`` (tests use it)."""

    def __init__(self, path: str = "dummy://", **options):
        self.path = path
        self.options = options
        self.event_list: list = []

    def push(self, data) -> None:
        if isinstance(data, list):
            self.event_list.extend(data)
        else:
            self.event_list.append(data)


_FACTORIES["dummy"] = DummyStream


def register_stream(scheme: str, factory: Callable) -> None:
    _FACTORIES[scheme] = factory


def get_stream_pusher(path: str, **options):
    """An object with ``push(data)`` for the stream at ``path``."""
    scheme = path.split("://", 1)[0] if "://" in path else ""
    if scheme not in _FACTORIES and scheme in _LAZY:
        importlib.import_module(_LAZY[scheme])
    factory = _FACTORIES.get(scheme)
    if factory is None:
        raise ValueError(
            f"unsupported stream path {path!r}: known schemes are {', '.join(sorted(_FACTORIES))}://"
        )
    return factory(path, **options)
