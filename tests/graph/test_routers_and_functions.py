"""Routers as graph steps, queues and multi-function graphs in the mock server (reference 1.6, 1.16)."""

import pytest

import fnpack
from fnpack.graph import DummyStream, GraphError


class Echo:
    def __init__(self, context=None, name=None, factor=1, **kwargs):
        self.name = name
        self.factor = factor
        self.loaded = False

    def post_init(self, mode=None):
        self.loaded = True

    def do_event(self, event):
        event.body = {"model": self.name, "value": event.body["value"] * self.factor, "loaded": self.loaded}
        return event


class BodyRouter:
    """Routes by ``body["model"]``; every other request gets the route list."""

    def __init__(self, context=None, name=None, routes=None, **kwargs):
        self.routes = routes

    def do_event(self, event):
        key = event.body.get("model") if isinstance(event.body, dict) else None
        if key is None:
            event.body = {"models": list(self.routes)}
            return event
        return self.routes[key].run(event)


def test_router_topology_with_custom_router_class():
    fn = fnpack.new_function("r")
    fn.set_topology("router", BodyRouter)
    fn.add_model("a", class_name=Echo, model_path="/m/a", factor=2)
    fn.add_model("b", class_name=Echo, model_path="/m/b", factor=3)
    server = fn.to_mock_server()
    assert server.test(body={"model": "b", "value": 5}) == {"model": "b", "value": 15, "loaded": True}
    assert server.test(body={"value": 5}) == {"models": ["a", "b"]}
    assert fn.spec.graph.to_dict()["routes"]["a"]["class_args"] == {"factor": 2, "model_path": "/m/a"}


def test_router_step_inside_a_flow(new_flow):
    fn, graph = new_flow()
    graph.to("*BodyRouter", name="r").to(name="out", handler="(event['value'])")
    fn.add_model("a", class_name=Echo, model_path="/m", factor=10)
    assert fn.to_mock_server().test(body={"model": "a", "value": 2}) == 20


def test_route_error_names_the_route(new_flow):
    class Broken:
        def __init__(self, **kwargs):
            pass

        def do(self, body):
            raise RuntimeError("model exploded")

    fn = fnpack.new_function("r")
    fn.set_topology("router", BodyRouter)
    fn.add_model("bad", class_name=Broken, model_path="/x")
    resp = fn.to_mock_server().test(body={"model": "bad"}, silent=True, get_body=False)
    assert resp.status_code == 400
    assert resp.body == "RuntimeError: model exploded (step bad)"


def test_add_model_needs_a_router(new_flow):
    fn, graph = new_flow()
    graph.to(name="a", handler="(event)")
    with pytest.raises(GraphError, match="graph does not contain any router"):
        fn.add_model("m", class_name=Echo, model_path="/m")


def _two_function_graph():
    fn = fnpack.new_function("pipe")
    graph = fn.set_topology("flow", engine="async")
    graph.to(name="pre", handler="(event + 1)").to(">>", name="q", path="dummy://q1").to(
        name="child_step", handler="(event * 100)", function="child"
    ).respond()
    fn.add_child_function("child", url="./child.py")
    return fn, graph


def test_mock_server_runs_a_multi_function_graph_in_one_process():
    fn, _ = _two_function_graph()
    assert fn.to_mock_server().test(body=1) == 200


def test_root_function_stops_at_the_queue():
    fn, _ = _two_function_graph()
    server = fn.to_mock_server(current_function="")
    assert server.test(body=1, event_id="e1") == {"id": "e1"}


def test_child_function_starts_at_its_first_step():
    fn, _ = _two_function_graph()
    assert fn.to_mock_server(current_function="child").test(body=3) == 300


def test_child_function_does_not_build_the_parents_steps():
    class ParentOnly:
        def __init__(self, **kwargs):
            raise AssertionError("a parent step was built in the child")

    fn = fnpack.new_function("pipe")
    graph = fn.set_topology("flow", engine="async")
    graph.to(ParentOnly, name="pre").to(">>", name="q", path="dummy://q1").to(
        name="child_step", handler="(event * 100)", function="child"
    ).respond()
    assert fn.to_mock_server(current_function="child").test(body=3) == 300


def test_unknown_current_function_is_an_init_error():
    fn, _ = _two_function_graph()
    with pytest.raises(GraphError, match=r"did not find steps pointing to current function \(nope\)"):
        fn.to_mock_server(current_function="nope")


def test_queue_pushes_wrapped_events_to_its_stream_outside_mock():
    from fnpack.graph import GraphServer

    fn, _ = _two_function_graph()
    spec = fn.serving_spec()
    server = GraphServer.from_dict({**spec, "current_function": ""})
    server.init_states(None, namespace=[], is_mock=False)
    server.init_object([])
    server.test(body=4, event_id="e4")
    stream = server.plan.starts[0].next[0].object
    assert isinstance(stream, DummyStream)
    assert stream.event_list == [{"full_event_wrapper": True, "body": 5, "id": "e4", "key": ""}]


def test_list_child_functions():
    _, graph = _two_function_graph()
    assert graph.list_child_functions() == ["child"]
