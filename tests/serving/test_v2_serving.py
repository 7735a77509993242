"""V2ModelServer behind the default ModelRouter: operations, response shapes, readiness, errors."""

from __future__ import annotations

import re

import pytest

import fnpack
from fnpack.graph import GraphError, TriggerInfo
from fnpack.serving import V2ModelServer
from fnpack.serving.tracking import iter_models

from .models import Failing, FailingLoad, GatedLoad, Hooked, Multiplier

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$")


def router_server(*models, load_mode=None, **server_kwargs):
    """A router function with ``(key, class, args)`` models, as a mock server."""
    fn = fnpack.new_function("v2-tests")
    fn.spec.load_mode = load_mode
    for key, cls, args in models:
        fn.add_model(key, class_name=cls, model_path="/models/" + key, **args)
    return fn.to_mock_server(**server_kwargs)


@pytest.fixture
def server():
    return router_server(("m1", Multiplier, {"multiplier": 2}), ("m2:v1", Multiplier, {"multiplier": 3}))


def model_of(server, key):
    return dict(iter_models(server))[key]


def test_infer_response_shape(server):
    resp = server.test("/v2/models/m1/infer", {"inputs": [1, 2]}, event_id="e1")
    assert set(resp) == {"id", "model_name", "outputs", "timestamp"}
    assert resp["id"] == "e1"
    assert resp["model_name"] == "m1"
    assert resp["outputs"] == [2, 4]
    assert TIMESTAMP.match(resp["timestamp"]), resp["timestamp"]


def test_version_is_reported_and_routed(server):
    resp = server.test("/v2/models/m2/versions/v1/infer", {"inputs": [1, 2]})
    assert resp["model_name"] == "m2"
    assert resp["model_version"] == "v1"
    assert resp["outputs"] == [3, 6]


def test_body_id_wins_over_event_id(server):
    resp = server.test("/v2/models/m1/infer", {"id": "from-body", "inputs": [1]}, event_id="e1")
    assert resp["id"] == "from-body"


def test_predict_is_an_alias_and_post_without_op_infers(server):
    assert server.test("/v2/models/m1/predict", {"inputs": [5]})["outputs"] == [10]
    assert server.test("/v2/models/m1", {"inputs": [5]})["outputs"] == [10]


def test_body_operation_overrides_the_path(server):
    resp = server.test("/v2/models/m1/infer", {"inputs": [1, 2], "operation": "explain"})
    assert resp["outputs"] == {"explained": 2}


def test_explain_has_no_timestamp(server):
    resp = server.test("/v2/models/m1/explain", {"inputs": [1, 2, 3]})
    assert resp["outputs"] == {"explained": 3}
    assert "timestamp" not in resp


def test_metadata_on_get(server):
    assert server.test("/v2/models/m1") == {"name": "m1", "version": "", "inputs": [], "outputs": []}
    assert server.test("/v2/models/m2/versions/v1")["version"] == "v1"


def test_ready_is_200_with_the_event_id(server):
    resp = server.test("/v2/models/m1/ready", event_id="r1")
    assert resp.status_code == 200
    assert resp.body == b"Model m1 is ready (event_id = r1)"


def test_ready_with_post_is_an_illegal_operation(server):
    resp = server.test("/v2/models/m1/ready", {"inputs": [1]}, method="POST", silent=True)
    assert resp.status_code == 400
    assert "illegal model operation ready, method=POST" in resp.body


def test_custom_operation(server):
    assert server.test("/v2/models/m1/echo", {"x": 1}) == {"echo": {"x": 1}}


def test_unknown_operation_is_400_naming_it(server):
    resp = server.test("/v2/models/m1/nope", {"inputs": [1]}, silent=True)
    assert resp.status_code == 400
    assert resp.body.startswith("BadRequestError: illegal model operation nope")
    assert "\n" not in resp.body


@pytest.mark.parametrize(
    "body, message",
    [
        ({"data": [1]}, 'Expected key "inputs" in request body (model m1)'),
        ({"inputs": 5}, 'Expected "inputs" to be a list (model m1)'),
        ([1, 2], 'Expected key "inputs" in request body (model m1), got a list body'),
    ],
)
def test_bad_input_is_400_naming_the_field(server, body, message):
    resp = server.test("/v2/models/m1/infer", body, silent=True)
    assert resp.status_code == 400
    assert resp.body == f"BadRequestError: {message}"


def test_unknown_model_and_version_are_404(server):
    resp = server.test("/v2/models/zz/infer", {"inputs": [1]}, silent=True)
    assert resp.status_code == 404
    assert resp.body == "NotFoundError: model zz doesnt exist, available models: m1 | m2:v1"
    resp = server.test("/v2/models/m2/versions/v9/infer", {"inputs": [1]}, silent=True)
    assert resp.status_code == 404
    assert "model m2 version v9 doesnt exist" in resp.body


def test_body_that_is_not_json_is_400():
    server = router_server(("m1", Multiplier, {}))
    # declared JSON: the server's decoder answers
    resp = server.test("/v2/models/m1/infer", b"{nope", content_type="application/json", silent=True)
    assert resp.status_code == 400
    assert resp.body.startswith("failed to json decode event")
    # undeclared: the router cannot read it either
    resp = server.test("/v2/models/m1/infer", b"{nope", content_type="text/plain", silent=True)
    assert resp.status_code == 400
    assert resp.body.startswith("BadRequestError: Unrecognized request format")
    # JSON text with another content type is read by the router
    assert server.test("/v2/models/m1/infer", b'{"inputs": [4]}', content_type="text/plain")["outputs"] == [4]


def test_image_body_becomes_a_bytes_input():
    class ImageSize(V2ModelServer):
        def predict(self, request):
            return [len(f.read()) for f in request["inputs"]]

    server = router_server(("img", ImageSize, {}))
    resp = server.test("/v2/models/img/infer", b"\x89PNG\x00\x01", content_type="image/png")
    assert resp["outputs"] == [6]


def test_predict_raising_is_400_with_the_model_name_and_server_keeps_serving():
    server = router_server(("bad", Failing, {}), ("good", Multiplier, {"multiplier": 2}))
    body = {"inputs": [1]}
    resp = server.test("/v2/models/bad/infer", body, silent=True)
    assert resp.status_code == 400
    assert resp.body == "ValueError: predict went wrong (step bad)"
    assert body == {"inputs": [1]}  # the caller's body is not mutated (reference quirk fixed)
    assert server.test("/v2/models/good/infer", {"inputs": [1]})["outputs"] == [2]
    assert server.test("/v2/models/bad/infer", body, silent=True).status_code == 400


def test_hooks_run_in_order():
    server = router_server(("h", Hooked, {}))
    resp = server.test("/v2/models/h/infer", {"inputs": [1, 2]})
    assert resp["outputs"] == [2, 3]
    assert resp["post"] is True
    resp = server.test("/v2/models/h/infer", {"inputs": [-5]}, silent=True)
    assert resp.status_code == 400
    assert resp.body == "ValueError: negative input (step h)"


def test_model_parameters_fall_back_to_server_parameters():
    class Params(V2ModelServer):
        def predict(self, request):
            return [self.get_param("own"), self.get_param("shared"), self.get_param("missing", "dflt")]

    fn = fnpack.new_function("params")
    fn.spec.parameters = {"shared": "server", "own": "server"}
    fn.add_model("p", class_name=Params, model_path=".", own="model")
    server = fn.to_mock_server()
    assert server.test("/v2/models/p/infer", {"inputs": []})["outputs"] == ["model", "server", "dflt"]


def test_sync_load_failure_stops_the_server_from_starting():
    with pytest.raises(GraphError, match="failed to load model broken: OSError: no such model file"):
        router_server(("broken", FailingLoad, {}), load_mode="sync")


def test_async_load_answers_408_until_loaded():
    GatedLoad.gate.clear()
    server = router_server(("slow", GatedLoad, {}), load_mode="async")
    model = model_of(server, "slow")
    resp = server.test("/v2/models/slow/ready", silent=True)
    assert (resp.status_code, resp.body) == (408, b"model not ready")
    resp = server.test("/v2/models/slow/infer", {"inputs": [1]}, silent=True)
    assert resp.status_code == 408
    assert resp.body == "RequestTimeoutError: model slow is not ready yet"
    GatedLoad.gate.set()
    assert model.wait_for_ready(10)
    assert server.test("/v2/models/slow/ready").status_code == 200
    assert server.test("/v2/models/slow/infer", {"inputs": [1]})["outputs"] == [1]


def test_async_load_stream_events_wait_for_the_model():
    GatedLoad.gate.clear()
    server = router_server(("slow", GatedLoad, {}), load_mode="async")
    GatedLoad.gate.set()  # the stream event below blocks on the model's ready event, not on a sleep
    resp = server.test("/", {"inputs": [7]}, trigger=TriggerInfo("kafka", "k"))
    assert resp["outputs"] == [7]


def test_async_load_failure_is_reported():
    server = router_server(("broken", FailingLoad, {}), load_mode="async")
    model = model_of(server, "broken")
    assert model.wait_for_ready(10) is False
    resp = server.test("/v2/models/broken/infer", {"inputs": [1]}, silent=True)
    assert resp.status_code == 400
    assert "model broken failed to load: OSError: no such model file" in resp.body


def test_model_given_as_object_is_ready_without_load():
    model = V2ModelServer(name="m", model=object())
    assert model.ready


def test_serializes_like_the_reference():
    struct = V2ModelServer(name="ms", model_path="./xx", multiplier=7).to_dict()
    assert struct == {
        "class_name": "fnpack.serving.v2_serving.V2ModelServer",
        "name": "ms",
        "class_args": {"model_path": "./xx", "multiplier": 7, "protocol": "v2"},
    }


def test_reference_class_names_resolve():
    fn = fnpack.new_function("ref")
    fn.set_topology("router", "mlrun.serving.routers.ModelRouter")
    fn.add_model("m", class_name="Multiplier", model_path=".", multiplier=3)
    assert fn.to_mock_server().test("/v2/models/m/infer", {"inputs": [1]})["outputs"] == [3]
    spec = {"kind": "router", "class_name": "mlrun.serving.VotingEnsemble", "routes": {}}
    assert fnpack.graph.graph_from_dict(spec).class_name == "mlrun.serving.VotingEnsemble"


def test_infer_dict_reorders_by_the_input_schema():
    class Schema(V2ModelServer):
        def load(self):
            self.inputs = [{"name": "a"}, {"name": "b"}]

        def predict(self, request):
            return request["inputs"]

    server = router_server(("s", Schema, {}))
    resp = server.test("/v2/models/s/infer_dict", {"inputs": [{"b": 2, "a": 1}, {"a": 3, "b": 4}]})
    assert resp["outputs"] == [[1, 2], [3, 4]]
    resp = server.test("/v2/models/s/infer_dict", {"inputs": {"a": 1}}, silent=True)
    assert resp.status_code == 400
    assert "input keys : ['b']" in resp.body
    assert server.test("/v2/models/s")["inputs"] == [{"name": "a"}, {"name": "b"}]


def test_infer_dict_without_schema_is_400(server):
    resp = server.test("/v2/models/m1/infer_dict", {"inputs": [{"a": 1}]}, silent=True)
    assert resp.status_code == 400
    assert "needs the model's input schema" in resp.body


def test_input_and_result_path_in_a_flow():
    fn = fnpack.new_function("flow")
    graph = fn.set_topology("flow", engine="sync")
    graph.to(Multiplier, name="m", model_path=".", multiplier=10, input_path="req", result_path="resp")
    server = fn.to_mock_server()
    resp = server.test("/", {"req": {"inputs": [1, 2]}, "keep": 1})
    assert resp["keep"] == 1
    assert resp["req"] == {"inputs": [1, 2]}
    assert resp["resp"]["outputs"] == [10, 20]
    # in a flow the model sees the raw path: / infers, /ready and GET / work
    assert server.test("/ready").status_code == 200
    assert server.test("/")["name"] == "m"


def test_get_model_finds_the_file(tmp_path):
    (tmp_path / "model.pkl").write_bytes(b"x")
    (tmp_path / "other.pkl").write_bytes(b"y")
    (tmp_path / "notes.txt").write_text("z")
    model = V2ModelServer(name="m", model_path=str(tmp_path))
    path, extra = model.get_model(".pkl")
    assert path == str(tmp_path / "model.pkl")
    assert set(extra) == {"other.pkl", "notes.txt"}
    assert V2ModelServer(name="m", model_path=str(tmp_path / "other.pkl")).get_model() == (
        str(tmp_path / "other.pkl"),
        {},
    )
    with pytest.raises(FileNotFoundError, match="no file ending with '.onnx'"):
        model.get_model(".onnx")
    with pytest.raises(ValueError, match="unsupported model_path"):
        V2ModelServer(name="m", model_path="s3://bucket/m").get_model()


def test_model_instance_added_to_a_tracked_router():
    fn = fnpack.new_function("instances")
    fn.set_topology("router")
    fn.add_model("my", ".", class_name=Multiplier(multiplier=100))
    fn.set_tracking("dummy://")
    server = fn.to_mock_server()
    assert server.test("/v2/models/my/infer", {"inputs": [5]})["outputs"] == [500]
    assert len(server.context.stream.output_stream.event_list) == 1


def test_models_chained_in_an_async_flow_with_paths():
    fn = fnpack.new_function("chained")
    graph = fn.set_topology("flow", engine="async")
    graph.to(Multiplier(name="m1", model_path=".", multiplier=2), result_path="m1", input_path="req").to(
        Multiplier(name="m2", model_path=".", result_path="m2", multiplier=3, input_path="req")
    ).respond()
    server = fn.to_mock_server()
    resp = server.test(body={"req": {"inputs": [5]}})
    server.wait_for_completion()
    assert list(resp) == ["req", "m1", "m2"]
    assert (resp["m1"]["outputs"], resp["m2"]["outputs"]) == ([10], [15])
