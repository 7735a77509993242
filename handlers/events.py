"""nuclio event → graph :class:`~fnpack.graph.event.Event`, once per event, for every form nuclio gives.

nuclio-sdk hands the handler either decoded strings or (in the raw event mode) bytes for the path,
method, content type, trigger and header/field keys and values; a JSON body arrives already decoded
(dict, list, number or str) or as bytes when decoding failed. The graph sees one normalized shape.
"""

from __future__ import annotations

import json

from fnpack.graph.event import Event, TriggerInfo

# reference 1.18: the nuclio path of these triggers holds the topic, routing uses the body instead
STREAM_KINDS = frozenset(("kafka", "kafka-cluster", "v3ioStream", "v3io-stream", "rabbit-mq", "rabbitMq"))
_HTTP_KINDS = frozenset(("http", ""))
_JSON = "application/json"
_BYTES = (bytes, bytearray)


def text(value) -> str | None:
    """``value`` as str: bytes are decoded (UTF-8, invalid bytes replaced), None stays None."""
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, _BYTES):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def text_map(mapping) -> dict:
    """A headers/fields map with str keys (and bytes values decoded); the same dict when already str."""
    if not mapping:
        return {}
    for key, value in mapping.items():
        if key.__class__ is not str or isinstance(value, _BYTES):
            break
    else:
        return mapping
    return {text(k): (text(v) if isinstance(v, _BYTES) else v) for k, v in mapping.items()}


_TRIGGERS: dict = {}


def _trigger(nuclio_trigger) -> TriggerInfo:
    """A shared TriggerInfo per (kind, name): an event's trigger is read-only to the graph."""
    kind = getattr(nuclio_trigger, "kind", "")
    name = getattr(nuclio_trigger, "name", "")
    try:
        return _TRIGGERS[(kind, name)]
    except KeyError:
        pass
    except TypeError:  # unhashable values: build one without caching
        return TriggerInfo(text(kind) or "", text(name) or "")
    info = TriggerInfo(text(kind) or "", text(name) or "")
    if len(_TRIGGERS) < 64:
        _TRIGGERS[(kind, name)] = info
    return info


def to_graph_event(nuclio_event) -> Event:
    """Copy one nuclio event into a graph event (no deep copies; the body object is shared)."""
    try:  # nuclio_sdk.Event always has these; other event objects take the getattr path
        content_type = nuclio_event.content_type
        path = nuclio_event.path
        method = nuclio_event.method
        event_id = nuclio_event.id
        headers = nuclio_event.headers
        trigger = _trigger(nuclio_event.trigger)
    except AttributeError:
        content_type = getattr(nuclio_event, "content_type", None)
        path = getattr(nuclio_event, "path", None)
        method = getattr(nuclio_event, "method", None)
        event_id = getattr(nuclio_event, "id", None)
        headers = getattr(nuclio_event, "headers", None)
        trigger = _trigger(getattr(nuclio_event, "trigger", None))
    if content_type.__class__ is not str:
        content_type = text(content_type)
    if path.__class__ is not str:
        path = text(path)
    if method.__class__ is not str:
        method = text(method)
    if event_id.__class__ is not str:
        event_id = text(event_id)
    body = nuclio_event.body
    if body.__class__ is str and content_type == _JSON:
        # nuclio already decoded this JSON document into a string; keep the server from decoding it twice
        body = json.dumps(body)
    elif isinstance(body, _BYTES) and not body and trigger.kind in _HTTP_KINDS:
        body = None  # reference 1.18: an empty HTTP body is "no body"
    path = path or "/"
    topic = getattr(nuclio_event, "topic", None)
    if topic is not None and topic.__class__ is not str:
        topic = text(topic)
    timestamp = getattr(nuclio_event, "timestamp", None)
    event = Event(
        body,
        content_type,
        text_map(headers),
        method,
        "/" if trigger.kind in STREAM_KINDS else path,
        event_id or None,
        trigger,
        getattr(nuclio_event, "offset", None),
        timestamp if hasattr(timestamp, "tzinfo") else None,
    )
    event.stream_path = topic or path
    event.topic = topic
    url = getattr(nuclio_event, "url", None)
    event.url = url if url is None or url.__class__ is str else text(url)
    fields = getattr(nuclio_event, "fields", None)
    event.fields = text_map(fields) if fields else {}
    event.shard_id = getattr(nuclio_event, "shard_id", None)
    event.nuclio_event = nuclio_event
    return event
