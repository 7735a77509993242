"""ModelRouter URL scheme (list, health, stream mode, prefixes) and ParallelRun fan-out."""

from __future__ import annotations

import threading

import pytest

import fnpack
from fnpack.graph import GraphError
from fnpack.serving import ParallelRun, V2ModelServer

from .models import Failing, Multiplier


def make_server(router=None, models=(("m1", 2), ("m2", 3)), **router_args):
    fn = fnpack.new_function("routers")
    if router is not None or router_args:
        fn.set_topology("router", router, **router_args)
    for key, multiplier in models:
        fn.add_model(key, class_name=Multiplier, model_path=".", multiplier=multiplier)
    return fn.to_mock_server()


# --- ModelRouter -----------------------------------------------------------------------------


def test_model_list_with_any_method():
    server = make_server()
    assert server.test("/v2/models") == {"models": ["m1", "m2"]}
    assert server.test("/v2/models/") == {"models": ["m1", "m2"]}
    assert server.test("/v2/models/", {"x": 1}, method="POST") == {"models": ["m1", "m2"]}


@pytest.mark.parametrize("path", ["/", "", "/v2/health", "/v2/health/live", "/v2/health/ready", "/v2"])
def test_server_metadata_and_health(path):
    assert make_server().test(path, method="GET") == {
        "name": "ModelRouter",
        "version": "v2",
        "extensions": [],
    }


def test_stream_mode_uses_body_model_and_operation():
    server = make_server()
    assert server.test("/", {"model": "m2", "inputs": [1]})["outputs"] == [3]
    assert server.test("", {"model": "m2", "operation": "explain", "inputs": [1]})["outputs"] == {
        "explained": 1
    }


def test_path_less_request_goes_to_the_first_model_of_the_list():
    server = make_server()
    resp = server.test("/", {"inputs": [1]})
    assert resp["model_name"] == server.test("/v2/models/")["models"][0] == "m1"


def test_default_model_overrides_the_first():
    server = make_server("fnpack.serving.ModelRouter", default_model="m2")
    assert server.test("/", {"inputs": [1]})["model_name"] == "m2"
    with pytest.raises(GraphError, match="default_model 'zz' is not one of the models"):
        make_server("fnpack.serving.ModelRouter", default_model="zz")


def test_illegal_path_prefix_is_400():
    resp = make_server().test("/v1/models/m1/infer", {"inputs": [1]}, silent=True)
    assert resp.status_code == 400
    assert resp.body == "BadRequestError: illegal path prefix /v1/models/m1/infer, must start with /v2/models"


def test_custom_url_prefix():
    server = make_server("fnpack.serving.ModelRouter", url_prefix="/api/")
    assert server.test("/api/m1/infer", {"inputs": [1]})["outputs"] == [2]
    assert server.test("/api") == {"models": ["m1", "m2"]}


def test_repeated_paths_are_served_from_the_resolved_cache_and_stay_correct():
    server = make_server()
    for _ in range(3):
        assert server.test("/v2/models/m1/infer", {"inputs": [1]})["outputs"] == [2]
        assert server.test("/v2/models/m2/infer", {"inputs": [1]})["outputs"] == [3]
    # a cached path still honours a body "operation" and raises with the route name
    assert server.test("/v2/models/m1/infer", {"inputs": [1], "operation": "explain"})["outputs"] == {
        "explained": 1
    }
    resp = server.test("/v2/models/m1/infer", {"inputs": "x"}, silent=True)
    assert resp.status_code == 400


def test_router_input_and_result_path_in_a_flow():
    fn = fnpack.new_function("flow-router")
    graph = fn.set_topology("flow", engine="sync")
    graph.to("*", name="r", input_path="req", result_path="resp")
    fn.add_model("m1", class_name=Multiplier, model_path=".", multiplier=5)
    server = fn.to_mock_server()
    resp = server.test("/v2/models/m1/infer", {"req": {"inputs": [1]}, "other": True})
    assert resp["resp"]["outputs"] == [5]
    assert resp["other"] is True


def test_router_hooks():
    class Tagging(fnpack.serving.ModelRouter):
        def preprocess(self, event):
            event.body["inputs"] = [x * 10 for x in event.body["inputs"]]
            return event

        def postprocess(self, event):
            event.body["tagged"] = True
            return event

    fn = fnpack.new_function("hooks")
    fn.set_topology("router", Tagging)
    fn.add_model("m1", class_name=Multiplier, model_path=".", multiplier=2)
    resp = fn.to_mock_server().test("/v2/models/m1/infer", {"inputs": [1]})
    assert resp["outputs"] == [20]
    assert resp["tagged"] is True


# --- ParallelRun ---------------------------------------------------------------------------------


class Keyed(V2ModelServer):
    """Returns a dict keyed by its own name (what ParallelRun merges)."""

    def predict(self, request):
        return request["inputs"]

    def postprocess(self, response):
        return {self.name: response["outputs"], "shared": self.name}


def parallel_server(models=("a", "b", "c"), **args):
    fn = fnpack.new_function("parallel")
    fn.set_topology("router", ParallelRun, **args)
    for key in models:
        fn.add_model(key, class_name=Keyed, model_path=".")
    return fn.to_mock_server()


def test_parallel_run_update_merge_in_route_order():
    resp = parallel_server().test("/", {"inputs": [1]})
    assert resp == {"a": [1], "b": [1], "c": [1], "shared": "c"}


def test_parallel_run_extend_event_starts_from_the_request():
    resp = parallel_server(extend_event=True).test("/", {"inputs": [1], "x": 9})
    assert resp["x"] == 9
    assert resp["inputs"] == [1]
    assert resp["a"] == [1]


@pytest.mark.parametrize("executor_type", [None, "thread"])
def test_parallel_run_list_and_dict_merges(executor_type):
    server = parallel_server(merge="list", executor_type=executor_type)
    assert server.test("/", {"inputs": [2]}) == [
        {"a": [2], "shared": "a"},
        {"b": [2], "shared": "b"},
        {"c": [2], "shared": "c"},
    ]
    server = parallel_server(merge="dict", executor_type=executor_type)
    assert server.test("/", {"inputs": [2]})["b"] == {"b": [2], "shared": "b"}


def test_parallel_run_runs_routes_concurrently_in_thread_mode():
    barrier = threading.Barrier(2, timeout=10)

    class Meeting(V2ModelServer):
        def predict(self, request):
            barrier.wait()  # both routes must be inside predict at the same time
            return [self.name]

    fn = fnpack.new_function("threads")
    fn.set_topology("router", ParallelRun, executor_type="thread", merge="dict")
    fn.add_model("x", class_name=Meeting, model_path=".")
    fn.add_model("y", class_name=Meeting, model_path=".")
    resp = fn.to_mock_server().test("/", {"inputs": [0]})
    assert resp["x"]["outputs"] == ["x"] and resp["y"]["outputs"] == ["y"]


def test_parallel_run_failure_names_the_route_or_is_left_out():
    fn = fnpack.new_function("p-fail")
    fn.set_topology("router", ParallelRun, merge="dict")
    fn.add_model("ok", class_name=Keyed, model_path=".")
    fn.add_model("bad", class_name=Failing, model_path=".")
    resp = fn.to_mock_server().test("/", {"inputs": [1]}, silent=True)
    assert resp.status_code == 400
    assert resp.body == "ValueError: predict went wrong (step bad)"

    fn = fnpack.new_function("p-ignore", project="p")
    fn.set_topology("router", ParallelRun, merge="dict", ignore_errors=True)
    fn.add_model("ok", class_name=Keyed, model_path=".")
    fn.add_model("bad", class_name=Failing, model_path=".")
    fn.spec.error_stream = "dummy://"
    server = fn.to_mock_server()
    assert list(server.test("/", {"inputs": [1]})) == ["ok"]
    record = server.error_stream_pusher.event_list[-1]
    assert "route bad of router failed and was left out" in record["message"]


def test_parallel_run_health_and_list():
    server = parallel_server()
    assert server.test("/")["name"] == "ParallelRun"
    assert server.test("/v2/models/") == {"models": ["a", "b", "c"]}


def test_parallel_run_rejects_unknown_options():
    with pytest.raises(GraphError, match="merge 'concat' is not one of update, list, dict"):
        parallel_server(merge="concat")
    with pytest.raises(GraphError, match="executor_type 'gpu'"):
        parallel_server(executor_type="gpu")


class Static:
    """A plain class route (``do``) answering fixed data."""

    def __init__(self, context, name=None, data=None):
        self.data = data or {}

    def do(self, body):
        return self.data


def double_x(body):
    return {"mul": body["x"] * 2}


@pytest.mark.parametrize("executor_type", [None, "array", "thread", "process"])
def test_parallel_run_with_class_and_handler_routes(executor_type):
    fn = fnpack.new_function("parallel-mixed")
    graph = fn.set_topology("router", ParallelRun(extend_event=True, executor_type=executor_type))
    graph.add_route("c1", class_name=Static, data={"a": 1, "b": 2})
    graph.add_route("c2", class_name=Static, data={"c": 7})
    graph.add_route("c3", handler=double_x)
    server = fn.to_mock_server()
    assert server.test(body={"x": 8}) == {"x": 8, "a": 1, "b": 2, "c": 7, "mul": 16}
    assert server.test("", {"x": 9}) == {"x": 9, "a": 1, "b": 2, "c": 7, "mul": 18}


def test_router_with_paths_still_answers_get_requests():
    fn = fnpack.new_function("flow-router-get")
    graph = fn.set_topology("flow", engine="sync")
    graph.to("*", name="r", input_path="req", result_path="resp")
    fn.add_model("m1", class_name=Multiplier, model_path=".", multiplier=5)
    server = fn.to_mock_server()
    assert server.test("/v2/models/") == {"models": ["m1"]}
    assert server.test("/v2/models/m1/ready").status_code == 200
