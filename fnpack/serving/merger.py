"""``Merge``: fan-in of several branches of the same event (async engine)."""

from __future__ import annotations

from collections import OrderedDict

from ..graph.plan import DROP


class Merge:
    """Wait for every upstream branch of an event, then emit one event whose body lists their bodies.

    ``expected_num_events`` defaults to the number of ``after`` links of the step; the join key is
    ``key_path`` (a dotted path into the body) or the event id. At most ``max_behind`` partial keys are
    held: older ones are dropped with a warning and their late parts ignored.
    """

    def __init__(
        self,
        full_event: bool | None = None,
        key_path: str | None = None,
        max_behind: int | None = None,
        expected_num_events: int | None = None,
        context=None,
        name: str | None = None,
        graph_step=None,
        **kwargs,
    ):
        self.name = name or "Merge"
        self.context = context
        self.key_path = key_path
        self._keys = tuple(key_path.split(".")) if key_path else ()
        self.full_event = True if full_event is None and not key_path else bool(full_event)
        self.max_behind = max_behind or 64
        after = list(getattr(graph_step, "after", None) or [])
        self.expected_num_events = expected_num_events or len(after) or 1
        self._parts: OrderedDict = OrderedDict()
        self._dropped: OrderedDict = OrderedDict()

    def _key(self, event):
        if not self._keys:
            return event.id
        value = event.body
        for key in self._keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def do_event(self, event):
        if self.expected_num_events <= 1:
            return event if self.full_event else _with_body(event, [event.body])
        key = self._key(event)
        if key in self._dropped:
            return DROP
        parts = self._parts.get(key)
        if parts is None:
            parts = self._parts[key] = []
            if len(self._parts) > self.max_behind:
                old_key, _ = self._parts.popitem(last=False)
                self._dropped[old_key] = True
                if len(self._dropped) > 4 * self.max_behind:
                    self._dropped.popitem(last=False)
                if self.context is not None:
                    message = f"merge step {self.name} dropped partial key {old_key!r}, more than max_behind={self.max_behind}"
                    self.context.logger.warn(message)
                    self.context.push_error(event, message, source=self.name)
        parts.append(event.body)
        if len(parts) < self.expected_num_events:
            return DROP
        del self._parts[key]
        event.body = parts
        return event


def _with_body(event, body):
    event.body = body
    return event
