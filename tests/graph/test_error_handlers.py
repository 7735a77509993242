"""Recovery steps, in both engines, with one error shape: event.error (str), event.origin_state (step)."""

import pytest


def boom(x):
    raise ValueError(f"bad {x}")


def catch(event):
    return {"error": event.error, "origin": event.origin_state, "body": event.body}


@pytest.mark.parametrize("engine", ["sync", "async"])
def test_step_error_handler_output_is_the_response(new_flow, engine):
    fn, graph = new_flow(engine)
    graph.to(name="a", handler="(event + 1)").to(name="b", handler=boom).error_handler(
        name="h", handler=catch, full_event=True
    )
    server = fn.to_mock_server()
    assert server.test(body=1) == {"error": "ValueError: bad 2", "origin": "b", "body": 2}
    assert server.test(body=5)["body"] == 6  # the server keeps serving


@pytest.mark.parametrize("engine", ["sync", "async"])
def test_body_error_handler_replaces_the_body_with_its_result(new_flow, engine):
    fn, graph = new_flow(engine)
    graph.to(name="b", handler=boom).error_handler(name="h", handler="({'recovered': event})")
    assert fn.to_mock_server().test(body=1) == {"recovered": 1}


@pytest.mark.parametrize("engine", ["sync", "async"])
def test_error_handler_with_before_continues_the_flow(new_flow, engine):
    fn, graph = new_flow(engine)
    chain = graph.to(name="a", handler="(event + 1)").to(name="b", handler=boom)
    chain.error_handler(name="h", handler="(-event)", before="c")
    c = graph.add_step(name="c", handler="(event * 10)", after="b")
    if engine == "async":
        c.respond()
    server = fn.to_mock_server()
    assert server.test(body=1) == -20  # a: 2, b fails, h: -2, c: -20
    assert graph["c"].after == ["b"]  # the spec is not rewritten by init


@pytest.mark.parametrize("engine", ["sync", "async"])
def test_graph_level_error_handler_catches_any_step(new_flow, engine):
    fn, graph = new_flow(engine)
    graph.to(name="a", handler="(event + 1)").to(name="b", handler=boom).to(name="c", handler="(event)")
    graph.error_handler(name="oops", handler=catch, full_event=True)
    result = fn.to_mock_server().test(body=1)
    assert result == {"error": "ValueError: bad 2", "origin": "b", "body": 2}


def test_graph_error_handler_rejects_before(new_flow):
    from fnpack.graph import GraphError

    fn, graph = new_flow()
    graph.to(name="a", handler="(event)")
    with pytest.raises(GraphError, match="`before` arg can't be specified for graph error handler"):
        graph.error_handler(name="h", handler=catch, before="a")


@pytest.mark.parametrize("engine", ["sync", "async"])
def test_failing_error_handler_reports_its_own_name(new_flow, engine):
    fn, graph = new_flow(engine)
    graph.to(name="b", handler=boom).error_handler(name="h", handler="(1 / 0)")
    resp = fn.to_mock_server().test(body=1, silent=True, get_body=False)
    assert resp.status_code == 400
    assert resp.body == "ZeroDivisionError: division by zero (step h)"


def test_error_handler_serialized_form(new_flow):
    _, graph = new_flow()
    graph.to(name="b", handler=boom).error_handler(name="h", handler="catch", full_event=True)
    steps = graph.to_dict()["steps"]
    assert steps["b"]["on_error"] == "h"
    assert steps["h"] == {"kind": "error_step", "handler": "catch", "full_event": True, "base_step": "b"}


def test_errors_are_pushed_to_the_error_stream(new_flow):
    from fnpack.graph import DummyStream

    fn, graph = new_flow()
    graph.to(name="b", handler=boom)
    fn.spec.error_stream = "dummy://errors"
    server = fn.to_mock_server()
    server.test(body=3, silent=True, event_id="e9")
    stream = server.error_stream_pusher
    assert isinstance(stream, DummyStream)
    (record,) = stream.event_list
    assert record["source"] == "b"
    assert record["event"] == {"id": "e9", "body": 3}
    assert record["message"] == "ValueError: bad 3"
    assert set(record) == {"function_uri", "worker", "host", "source", "event", "message", "args"}
