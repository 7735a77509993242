"""The sync engine: chains, paths, content types, responses and errors (reference 1.8, 1.10, 1.11)."""

import json
from datetime import datetime, timezone

import pytest

import fnpack
from fnpack.graph import GraphError, MockEvent


def inc(x):
    return x + 1


def double(x):
    return x * 2


class Multiplier:
    def __init__(self, k=2, **kwargs):
        self.k = k

    def do(self, body):
        return body * self.k


class EventTagger:
    """A full-event class: gets and returns the event."""

    def __init__(self, context=None, name=None, tag="x"):
        self.context = context
        self.name = name
        self.tag = tag

    def do_event(self, event):
        event.body = {"tag": self.tag, "body": event.body, "step": self.name}
        return event


class WithNamedHandler:
    def __init__(self, offset=0):
        self.offset = offset

    def add(self, x):
        return x + self.offset


def test_chain_built_with_to_runs_in_order(new_flow):
    fn, graph = new_flow()
    graph.to(name="d", handler=double).to(name="i", handler=inc)
    assert fn.to_mock_server().test(body=5) == 11


def test_add_step_with_prev_and_before(new_flow):
    fn, graph = new_flow()
    graph.add_step(name="a", handler="(event + 1)")
    graph.add_step(name="c", handler="(event * 10)", after="$prev")
    graph.add_step(name="b", handler="(event * 2)", before="c")
    assert graph["b"].after == ["a"]
    assert graph["c"].after == ["b"]
    assert fn.to_mock_server().test(body=1) == 40  # (1 + 1) * 2 * 10


def test_class_steps_do_do_event_and_named_handler(new_flow):
    fn, graph = new_flow()
    graph.to(Multiplier, k=3).to("EventTagger", name="tagger", tag="t").to(
        name="pick", handler="(event['body'])"
    ).to(WithNamedHandler, handler="add", offset=1)
    server = fn.to_mock_server()
    assert server.test(body=2) == 7


def test_handler_given_as_import_path_and_expression(new_flow):
    fn, graph = new_flow()
    graph.to(name="dump", handler="json.dumps").to(name="len", handler="(len(event))")
    assert fn.to_mock_server().test(body={"a": 1}, get_body=True) == len(json.dumps({"a": 1}))


def test_handler_with_context_parameter_gets_graph_context(new_flow):
    seen = {}

    def handler(x, context=None):
        seen["context"] = context
        return context.get_param("factor") * x

    fn, graph = new_flow()
    fn.spec.parameters["factor"] = 3
    graph.to(name="h", handler=handler)
    server = fn.to_mock_server()
    assert server.test(body=2) == 6
    assert seen["context"] is server.context
    assert seen["context"].is_mock and seen["context"].server is server


def test_underscore_class_arg_is_resolved_as_function(new_flow):
    class Apply:
        def __init__(self, fn):
            self.fn = fn

        def do(self, x):
            return self.fn(x)

    fn, graph = new_flow()
    graph.to(Apply, name="apply", _fn="(event * 7)")
    assert fn.to_mock_server().test(body=3) == 21


def test_input_and_result_path(new_flow):
    fn, graph = new_flow()
    graph.to(name="d", handler=double, input_path="x", result_path="y.z")
    assert fn.to_mock_server().test(body={"x": 5}) == {"x": 5, "y": {"z": 10}}


def test_input_path_missing_key_gives_none_and_non_dict_body_is_a_400(new_flow):
    fn, graph = new_flow()
    graph.to(name="show", handler="(repr(event))", input_path="a.b", result_path="seen")
    server = fn.to_mock_server()
    assert server.test(body={"a": {}}) == {"a": {}, "seen": "None"}
    with pytest.raises(
        RuntimeError, match=r"failed \(400\): TypeError: input_path parameter supports only dict-like"
    ):
        server.test(body=5)


def test_result_path_replaces_an_empty_body(new_flow):
    fn, graph = new_flow()
    graph.to(name="k", handler="(7)", result_path="out")
    assert fn.to_mock_server().test(body={}, method="POST") == 7


def test_json_string_bodies_are_decoded_only_for_json_content_types(new_flow):
    fn, graph = new_flow()
    graph.to(name="t", handler="(type(event).__name__)")
    server = fn.to_mock_server()
    assert server.test(body='{"a": 1}') == "dict"
    assert server.test(body=b'{"a": 1}', content_type="application/json") == "dict"
    assert server.test(body='{"a": 1}', content_type="application/text") == "str"
    assert server.test(body="not json") == "str"  # no declared type: stays a string


def test_undecodable_declared_json_is_a_400_and_server_keeps_serving(new_flow):
    fn, graph = new_flow()
    graph.to(name="t", handler=inc)
    server = fn.to_mock_server()
    resp = server.test(body=b"{oops", content_type="application/json", silent=True, get_body=False)
    assert resp.status_code == 400
    assert resp.content_type == "text/plain"
    assert resp.body.startswith("failed to json decode event")
    assert server.test(body=b"1", content_type="application/json") == 2


def test_step_error_is_400_with_exception_and_step_name(new_flow):
    def boom(x):
        raise ValueError(f"bad value {x}")

    fn, graph = new_flow()
    graph.to(name="first", handler=inc).to(name="explode", handler=boom)
    server = fn.to_mock_server()
    resp = server.test(body=1, silent=True, get_body=False)
    assert resp.status_code == 400
    assert resp.body == "ValueError: bad value 2 (step explode)"
    with pytest.raises(RuntimeError, match=r"^failed \(400\): ValueError: bad value 2 \(step explode\)$"):
        server.test(body=1)
    # the server keeps serving
    fn2, graph2 = new_flow()
    graph2.to(name="ok", handler=inc)
    assert fn2.to_mock_server().test(body=1) == 2


def test_chained_exception_text_names_the_cause(new_flow):
    def parse(x):
        try:
            json.loads(x)
        except ValueError as exc:
            raise ValueError("Unrecognized request format") from exc

    fn, graph = new_flow()
    graph.to(name="parse", handler=parse)
    resp = fn.to_mock_server().test(body="{", content_type="text/plain", silent=True, get_body=False)
    assert resp.body.startswith("ValueError: Unrecognized request format, caused by: Expecting property name")


@pytest.mark.parametrize("result", [{}, [], 0, False, {"a": 1}, [1, 2], 3.5])
def test_non_text_results_are_json_even_when_falsy(new_flow, result):
    fn, graph = new_flow()
    graph.to(name="r", handler=lambda body: result)
    resp = fn.to_mock_server().test(body=1, get_body=False)
    assert resp.status_code == 200
    assert resp.content_type == "application/json"
    assert json.loads(resp.body) == result


def test_text_and_none_results_are_returned_raw(new_flow):
    fn, graph = new_flow()
    graph.to(name="r", handler="(event)")
    server = fn.to_mock_server()
    assert server.test(body="plain", content_type="text/plain", get_body=False) == "plain"
    assert (
        server.test(body=b"\x00\x01", content_type="application/octet-stream", get_body=False) == b"\x00\x01"
    )


def test_non_json_result_is_a_clear_500_not_a_crash(new_flow):
    fn, graph = new_flow()
    graph.to(name="r", handler=lambda body: object())
    resp = fn.to_mock_server().test(body=1, get_body=False, silent=True)
    assert resp.status_code == 500
    assert "failed to encode the graph's result as JSON" in resp.body


def test_terminated_event_stops_the_flow(new_flow):
    def stop(event):
        event.terminated = True
        event.body = "stopped"
        return event

    fn, graph = new_flow()
    graph.to(name="stop", handler=stop, full_event=True).to(name="never", handler="(1/0)")
    assert fn.to_mock_server().test(body=1) == "stopped"


def test_full_event_handler_returning_a_value_sets_the_body(new_flow):
    fn, graph = new_flow()
    graph.to(name="f", handler=lambda event: event.path, full_event=True).to(
        name="g", handler="(event.upper())"
    )
    assert fn.to_mock_server().test(path="/abc", body=1) == "/ABC"


def test_class_step_gets_name_and_context(new_flow):
    fn, graph = new_flow()
    graph.to(EventTagger, name="tag1")
    server = fn.to_mock_server()
    assert server.test(body=1) == {"tag": "x", "body": 1, "step": "tag1"}


def test_mock_event_defaults_and_overrides():
    when = datetime(2024, 1, 2, tzinfo=timezone.utc)
    seen = {}

    def capture(event):
        seen.update(
            id=event.id, method=event.method, path=event.path, time=event.time, trigger=event.trigger.kind
        )
        return event

    fn = fnpack.new_function("t")
    fn.set_topology("flow", engine="sync").to(name="c", handler=capture, full_event=True)
    server = fn.to_mock_server()
    server.test(body={"a": 1}, event_id="e1", time=when, trigger={"kind": "http", "name": "h"})
    assert seen == {"id": "e1", "method": "POST", "path": "/", "time": when, "trigger": "http"}
    server.test()
    assert seen["method"] == "GET" and len(seen["id"]) == 32 and seen["time"].tzinfo is not None


def test_event_id_and_path_header_overrides(new_flow):
    fn, graph = new_flow()
    graph.to(name="c", handler=lambda e: {"id": e.id, "path": e.path}, full_event=True)
    server = fn.to_mock_server()
    body = server.test(path="/x", body=1, headers={"MLRUN-EVENT-ID": "abc", "mlrun-event-path": "/y"})
    assert body == {"id": "abc", "path": "/y"}


def test_async_def_handler_is_awaited_in_sync_engine(new_flow):
    async def slow_double(x):
        return x * 2

    fn, graph = new_flow()
    graph.to(name="s", handler=slow_double).to(name="i", handler=inc)
    assert fn.to_mock_server().test(body=4) == 9


def test_no_graph_is_a_clear_error():
    fn = fnpack.new_function("empty")
    with pytest.raises(GraphError, match="no models or steps were set"):
        fn.to_mock_server()


def test_server_run_accepts_events_directly(new_flow):
    fn, graph = new_flow()
    graph.to(name="d", handler=double)
    server = fn.to_mock_server()
    resp = server.run(MockEvent(body=b"21", content_type="application/json"))
    assert resp.status_code == 200 and resp.body == "42"


def test_binary_tensor_bodies_are_not_json_decoded(new_flow):
    fn, graph = new_flow()
    graph.to(name="t", handler="(type(event).__name__)")
    server = fn.to_mock_server()
    headers = {"Inference-Header-Content-Length": "2"}
    assert server.test(body=b"[]  ", content_type="application/json", headers=headers) == "bytes"


def test_verbose_server_keeps_tracebacks_out_of_the_response(new_flow):
    fn, graph = new_flow()
    graph.to(name="boom", handler="(1 / 0)")
    server = fn.to_mock_server()
    server.verbose = True
    resp = server.test(body=1, silent=True, get_body=False)
    assert resp.body == "ZeroDivisionError: division by zero (step boom)"
