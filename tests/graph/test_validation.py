"""Graph validation at init: one-line errors naming the step, before the first event (reference 1.7)."""

import pytest

import fnpack
from fnpack.graph import GraphError, GraphServer


def _init(graph_dict):
    server = GraphServer(graph=graph_dict)
    server.init_states(None, namespace=[], is_mock=True)
    server.set_current_function("*")
    server.init_object([])
    return server


def _one_line(exc_info):
    text = str(exc_info.value)
    assert "\n" not in text
    return text


def test_unknown_after_when_building(new_flow):
    _, graph = new_flow()
    graph.to(name="a", handler="(event)")
    with pytest.raises(GraphError, match="cant set after, there is no step named nope"):
        graph.add_step(name="b", handler="(event)", after="nope")


def test_unknown_after_in_a_dict_graph():
    with pytest.raises(GraphError) as info:
        _init({"engine": "sync", "steps": {"a": {"handler": "(event)", "after": ["ghost"]}}})
    assert _one_line(info) == "step 'a' is after unknown step 'ghost'"


def test_cycle_is_detected():
    graph = {
        "engine": "async",
        "steps": {
            "s": {"handler": "(event)"},
            "a": {"handler": "(event)", "after": ["s", "b"]},
            "b": {"handler": "(event)", "after": ["a"]},
        },
    }
    with pytest.raises(GraphError, match="loop detected in step .*, graph must be acyclic"):
        _init(graph)


def test_two_responders(new_flow):
    fn, graph = new_flow("async")
    graph.to(name="a", handler="(event)").respond()
    graph.add_step(name="b", handler="(event)", after="a").respond()
    with pytest.raises(GraphError, match=r"there are more than one responder steps in the graph \(a,b\)"):
        fn.to_mock_server()


def test_class_not_found_names_the_step(new_flow):
    fn, graph = new_flow()
    graph.to("no_such_module.Model", name="model")
    with pytest.raises(GraphError) as info:
        fn.to_mock_server()
    assert _one_line(info).startswith("step 'model': class 'no_such_module.Model' not found")


def test_handler_not_found_names_the_step(new_flow):
    fn, graph = new_flow()
    graph.to(name="h", handler="nowhere_to_be_found")
    with pytest.raises(GraphError, match="step 'h': handler 'nowhere_to_be_found' not found"):
        fn.to_mock_server()


def test_missing_handler_method_on_class(new_flow):
    class Thing:
        def do(self, x):
            return x

    fn, graph = new_flow()
    graph.to(Thing, name="t", handler="missing")
    with pytest.raises(
        GraphError, match=r"step 't': handler \(missing\) specified but doesnt exist in class Thing"
    ):
        fn.to_mock_server()


def test_class_without_handler_fails_at_init_not_first_event(new_flow):
    class Nothing:
        pass

    fn, graph = new_flow()
    graph.to(Nothing, name="n")
    with pytest.raises(GraphError, match=r"step 'n': class Nothing has no do_event\(\) or do\(\) method"):
        fn.to_mock_server()


def test_bad_class_args_name_the_step(new_flow):
    class Strict:
        def __init__(self, a):
            self.a = a

        def do(self, x):
            return x

    fn, graph = new_flow()
    graph.to(Strict, name="strict", b=1)
    with pytest.raises(GraphError) as info:
        fn.to_mock_server()
    assert _one_line(info).startswith("step 'strict': failed to create Strict(b=1): TypeError")


def test_router_without_routes():
    fn = fnpack.new_function("r")
    fn.set_topology("router")
    with pytest.raises(GraphError, match="router step 'router' has no routes"):
        fn.to_mock_server()


def test_sync_engine_rejects_branches_at_init(new_flow):
    fn, graph = new_flow("sync")
    a = graph.to(name="a", handler="(event)")
    a.to(name="b", handler="(event)")
    a.to(name="c", handler="(event)")
    with pytest.raises(GraphError, match="step 'a' branches to b,c: the sync engine runs a single chain"):
        fn.to_mock_server()


def test_sync_engine_rejects_two_start_steps(new_flow):
    fn, graph = new_flow("sync")
    graph.add_step(name="a", handler="(event)")
    graph.add_step(name="b", handler="(event)")
    with pytest.raises(GraphError, match=r"sync engine can only have one starting step \(without .after\)"):
        fn.to_mock_server()


def test_illegal_root_kind():
    with pytest.raises(GraphError, match="illegal root step kind 'queue'"):
        GraphServer(graph={"kind": "queue"})


def test_unknown_step_kind():
    with pytest.raises(GraphError, match="step 'x': unknown step kind 'choice'"):
        GraphServer(graph={"steps": {"x": {"kind": "choice"}}})


def test_bad_handler_expression(new_flow):
    fn, graph = new_flow()
    graph.to(name="e", handler="(event +)")
    with pytest.raises(GraphError, match=r"step 'e': handler expression '\(event \+\)' is not valid Python"):
        fn.to_mock_server()


def test_topology_cannot_be_set_twice():
    fn = fnpack.new_function("t")
    fn.set_topology("flow")
    with pytest.raises(GraphError, match="graph topology is already set"):
        fn.set_topology("router")
    with pytest.raises(GraphError, match="unsupported topology star"):
        fn.set_topology("star", exist_ok=True)


def test_queue_needs_function_downstream_and_path(new_flow):
    _, graph = new_flow("async")
    with pytest.raises(GraphError, match="path=<stream path or None> must be specified for queues"):
        graph.to(">>", name="q")
    queue = graph.to(">>", name="q", path=None)
    with pytest.raises(GraphError, match="step 'x' must specify a function, because it follows a queue step"):
        queue.to(name="x", handler="(event)")


def test_class_name_or_handler_required(new_flow):
    _, graph = new_flow()
    with pytest.raises(GraphError, match="class_name or handler must be provided"):
        graph.to(name="nothing")
