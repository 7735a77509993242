"""The event a graph processes, and the mock response object.

The graph always runs on :class:`Event` (slotted, cheap to create); the nuclio handler copies the
fields of nuclio's event into one once per request. Ids and times are made only when read.
"""

from __future__ import annotations

import itertools
import os
from datetime import datetime, timezone

# Event ids: a random 64-bit per-process prefix plus a counter, formatted like uuid4().hex
# (32 hex chars) at a fraction of its cost (no syscall per event).
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)


def new_event_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


class TriggerInfo:
    """``kind`` and ``name`` of the trigger an event came from (``""`` in mock)."""

    __slots__ = ("kind", "name")

    def __init__(self, kind: str = "", name: str = ""):
        self.kind = kind
        self.name = name

    def __repr__(self) -> str:
        return f"TriggerInfo(kind={self.kind!r}, name={self.name!r})"


_NO_TRIGGER = TriggerInfo()


class Event:
    """One event flowing through the graph. ``body`` is what steps transform."""

    __slots__ = (
        "body",
        "path",
        "method",
        "headers",
        "content_type",
        "trigger",
        "offset",
        "key",
        "error",
        "origin_state",
        "terminated",
        "stream_path",
        "fields",
        "url",
        "topic",
        "shard_id",
        "_id",
        "_time",
        "nuclio_event",
    )

    def __init__(
        self,
        body=None,
        content_type=None,
        headers=None,
        method=None,
        path="/",
        event_id=None,
        trigger=None,
        offset=None,
        time=None,
        key=None,
    ):
        self.body = body
        self.content_type = content_type
        self.headers = headers if headers is not None else {}
        self.method = method
        self.path = path
        self._id = event_id
        self.trigger = trigger if trigger is not None else _NO_TRIGGER
        self.offset = offset if offset is not None else 0
        self._time = time
        self.key = key if key is not None else ""
        self.error = None
        self.origin_state = None
        self.terminated = False
        self.stream_path = None
        self.fields = None
        self.url = None
        self.topic = None
        self.shard_id = None
        self.nuclio_event = None

    @property
    def id(self) -> str:
        if self._id is None:
            self._id = new_event_id()
        return self._id

    @id.setter
    def id(self, value) -> None:
        self._id = value

    @property
    def time(self) -> datetime:
        """When the event was created (given in ``test(time=...)`` or read lazily as now)."""
        if self._time is None:
            self._time = datetime.now(timezone.utc)
        return self._time

    @time.setter
    def time(self, value) -> None:
        self._time = value

    # nuclio's name for the same thing
    timestamp = time

    def copy(self) -> Event:
        """A shallow copy sharing the body; the copy keeps the same id (made now if it was not yet)."""
        if self._id is None:
            self._id = new_event_id()
        new = Event.__new__(Event)
        for name in Event.__slots__:
            setattr(new, name, getattr(self, name))
        return new

    def __repr__(self) -> str:
        return f"Event(id={self._id!r}, path={self.path!r}, body={self.body!r})"


class MockEvent(Event):
    """An event built in-process by ``server.test()`` (the reference's name for it)."""

    __slots__ = ()


class Response:
    """A response object (nuclio's shape); used in mock mode instead of ``nuclio_sdk.Response``."""

    __slots__ = ("headers", "body", "content_type", "status_code")

    def __init__(self, headers=None, body=None, content_type=None, status_code=200):
        self.headers = headers or {}
        self.body = body
        self.content_type = content_type or "text/plain"
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"Response(status_code={self.status_code}, content_type={self.content_type!r}, body={self.body!r})"
