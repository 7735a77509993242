"""The handler's nuclio-event conversion, in-process, on odd and hostile inputs."""

from __future__ import annotations

import datetime

import nuclio_sdk

from fnpack import new_function
from fnpack.graph.event import Event
from fnpack.handlers import serving
from fnpack.handlers.events import text, text_map, to_graph_event


def test_text_helpers():
    assert text(b"\xff\xfeok") == "\ufffd\ufffdok"
    assert text(None) is None and text(7) == "7"
    same = {"A": "b"}
    assert text_map(same) is same
    assert text_map({b"K": b"v", "n": 3}) == {"K": "v", "n": 3}
    assert text_map(None) == {}


def test_nuclio_event_fields():
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    event = nuclio_sdk.Event(
        body=b"",
        content_type=b"text/plain; charset=utf-8",
        trigger=nuclio_sdk.TriggerInfo(b"http", b"web"),
        headers={b"X-A": b"1", "X-B": 2},
        fields={b"f": b"v"},
        _id=b"id-1",
        method=b"PATCH",
        path=b"/p",
        url=b"http://h/p",
        timestamp=when,
        offset=9,
        shard_id=2,
    )
    converted = to_graph_event(event)
    assert isinstance(converted, Event)
    assert converted.body is None  # empty HTTP body
    assert (converted.content_type, converted.method, converted.path, converted.id) == (
        "text/plain; charset=utf-8",
        "PATCH",
        "/p",
        "id-1",
    )
    assert converted.headers == {"X-A": "1", "X-B": 2} and converted.fields == {"f": "v"}
    assert (converted.trigger.kind, converted.trigger.name) == ("http", "web")
    assert converted.url == "http://h/p" and converted.offset == 9 and converted.shard_id == 2
    assert converted.time == when and converted.stream_path == "/p"
    assert converted.nuclio_event is event


def test_stream_events_and_plain_objects():
    for kind in ("kafka", "kafka-cluster", "v3ioStream", "v3io-stream", "rabbit-mq", "rabbitMq"):
        event = nuclio_sdk.Event(
            body=b"", trigger=nuclio_sdk.TriggerInfo(kind, "s"), path="topic-a", topic=None
        )
        converted = to_graph_event(event)
        assert converted.path == "/" and converted.stream_path == "topic-a"
        assert converted.body == b""  # only HTTP empty bodies become None

    class Bare:  # an event object with only a body: every other field defaults
        body = {"a": 1}

    converted = to_graph_event(Bare())
    assert converted.body == {"a": 1} and converted.path == "/" and converted.trigger.kind == ""
    assert len(converted.id) == 32  # generated lazily


def _context():
    fn = new_function("inproc")
    fn.set_topology("flow", engine="sync").to(name="s", handler="(event)")
    spec = fn.build().spec_json
    context = nuclio_sdk.Context(
        nuclio_sdk.Logger(30), nuclio_sdk.Platform("local"), 0, nuclio_sdk.TriggerInfo("http", "h")
    )
    serving.init_context(context, spec)
    return context


def test_handler_batch_with_a_broken_event_keeps_going():
    context = _context()

    class Broken:
        id = "broken"

        @property
        def body(self):
            raise RuntimeError("cannot read body")

    good = nuclio_sdk.Event(body={"a": 1}, content_type="application/json", _id="good")
    responses = serving.handler(context, [good, Broken(), good])
    assert [r.status_code for r in responses] == [200, 500, 200]
    assert [r.event_id for r in responses] == ["good", "broken", "good"]
    assert "cannot read body" in responses[1].body
    assert all(isinstance(r, nuclio_sdk.Response) for r in responses)


def test_handler_wraps_raw_results_in_nuclio_responses():
    context = _context()
    text_event = nuclio_sdk.Event(body=b"hello", content_type="text/plain")
    response = serving.handler(context, text_event)
    assert isinstance(response, nuclio_sdk.Response)
    assert response.status_code == 200 and response.body == b"hello"
    assert response.content_type == "application/octet-stream"
    context.platform._termination_callback()  # drains and stops the engine
