"""VotingEnsemble: voting and averaging, the vote-type rule, weights, routing, failures (reference 1.13, 3b)."""

from __future__ import annotations

import pytest

import fnpack
from fnpack.graph import GraphError
from fnpack.serving import VotingEnsemble
from fnpack.serving.ensemble import infer_vote_type, normalize_weights

from .models import Classifier, Failing, FloatModel, Multiplier

ENSEMBLE = "fnpack.serving.VotingEnsemble"


def ensemble(models, **args):
    """``models``: ``(key, class, class_args)``."""
    fn = fnpack.new_function("ens")
    fn.set_topology("router", ENSEMBLE, **args)
    for key, cls, class_args in models:
        fn.add_model(key, class_name=cls, model_path=".", **class_args)
    return fn.to_mock_server()


def multipliers(*factors, cls=Multiplier, **args):
    return ensemble([(f"m{k}", cls, {"multiplier": k}) for k in factors], **args)


def classifiers(*labels, **args):
    return ensemble([(f"c{i}", Classifier, {"label": label}) for i, label in enumerate(labels)], **args)


# --- vote type ---------------------------------------------------------------------------------


def test_integer_outputs_with_explicit_regression_are_averaged():
    # the reference voted these as classes and answered [1, 2]; averaged they are [2, 4]
    server = multipliers(1, 3, vote_type="regression")
    assert server.test("/v2/models/VotingEnsemble/infer", {"inputs": [1, 2]})["outputs"] == [2.0, 4.0]


def test_integral_float_outputs_are_inferred_as_regression():
    server = multipliers(1, 3, cls=FloatModel)  # predicts 1.0, 2.0 and 3.0, 6.0
    assert server.test("/v2/models/VotingEnsemble/infer", {"inputs": [1, 2]})["outputs"] == [2.0, 4.0]


def test_integer_outputs_are_inferred_as_classification():
    server = multipliers(1, 1, 3)
    assert server.test("/v2/models/VotingEnsemble/infer", {"inputs": [1, 2]})["outputs"] == [1, 2]


def test_infer_vote_type_rule():
    assert infer_vote_type([[1, 2], [3, 4]]) == "classification"
    assert infer_vote_type([["cat"], ["dog"]]) == "classification"
    assert infer_vote_type([[True], [False]]) == "classification"
    assert infer_vote_type([[1, 2], [3, 4.0]]) == "regression"
    assert infer_vote_type([[[1.0, 2.0]], [[1, 2]]]) == "regression"


def test_inferred_type_with_numpy_arrays():
    np = pytest.importorskip("numpy")
    assert infer_vote_type([np.array([1.0, 2.0])]) == "regression"
    assert infer_vote_type([np.array([1, 2])]) == "classification"


def test_unknown_vote_type_fails_at_init():
    with pytest.raises(GraphError, match="vote_type 'mean' must be 'classification' or 'regression'"):
        multipliers(1, vote_type="mean")


# --- classification ------------------------------------------------------------------------------


def test_majority_wins_and_string_labels_work():
    server = classifiers("cat", "dog", "dog")
    assert server.test("/v2/models/VotingEnsemble/infer", {"inputs": [0, 0]})["outputs"] == ["dog", "dog"]


def test_ties_go_to_the_lowest_class():
    assert classifiers(3, 1).test("/", {"inputs": [0]})["outputs"] == [1]
    assert classifiers("b", "a").test("/", {"inputs": [0]})["outputs"] == ["a"]


def test_weights_decide_the_vote():
    server = classifiers(0, 1, 1, weights={"c0": 3, "c1": 1, "c2": 1})
    assert server.test("/", {"inputs": [0]})["outputs"] == [0]


# --- weights --------------------------------------------------------------------------------------


def test_weights_are_normalized_and_listed():
    server = multipliers(1, 3, vote_type="regression", weights={"m1": 3, "m3": 1})
    assert server.test("/v2/models/") == {
        "models": ["VotingEnsemble", "m1", "m3"],
        "weights": {"m1": 0.75, "m3": 0.25},
    }
    # 0.75 * 2 + 0.25 * 6
    assert server.test("/", {"inputs": [2]})["outputs"] == [3.0]


def test_weights_summing_below_one_are_normalized():
    # the reference crashed at init on these
    server = multipliers(1, 3, vote_type="regression", weights={"m1": 0.1, "m3": 0.1})
    assert server.test("/", {"inputs": [2]})["outputs"] == [4.0]


def test_weights_as_a_list_in_route_order():
    assert normalize_weights([1, 3], ["a", "b"]) == {"a": 0.25, "b": 0.75}


def test_missing_models_weigh_zero():
    assert normalize_weights({"a": 2}, ["a", "b"]) == {"a": 1.0, "b": 0.0}


@pytest.mark.parametrize(
    "weights, message",
    [
        ({"zz": 1}, r"weights: unknown model\(s\) \['zz'\]"),
        ({"a": -1, "b": 2}, r"weights\['a'\]: expected a finite number >= 0, got -1"),
        ({"a": float("nan")}, r"weights\['a'\]: expected a finite number"),
        ({"a": "1"}, r"weights\['a'\]"),
        ({"a": True}, r"weights\['a'\]"),
        ({"a": 0, "b": 0}, "weights: must sum to a positive number"),
        ([1], r"weights: 1 values given for 2 models"),
        ("a", "weights must be a dict by model name or a list"),
    ],
)
def test_invalid_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        normalize_weights(weights, ["a", "b"])


def test_invalid_weights_fail_the_graph_at_init():
    with pytest.raises(GraphError, match=r"weights: unknown model\(s\)"):
        multipliers(1, weights={"nope": 1})


# --- routing -------------------------------------------------------------------------------------


def test_response_shape_with_per_model_outputs():
    resp = multipliers(1, 3, vote_type="regression").test(
        "/v2/models/VotingEnsemble/infer", {"inputs": [1]}, event_id="e"
    )
    assert resp == {
        "id": "e",
        "model_name": "VotingEnsemble",
        "outputs": [2.0],
        "model_version": "v1",
        "model_outputs": {"m1": [1], "m3": [3]},
    }


def test_ops_alone_and_path_less_requests_vote():
    server = multipliers(1, 3, vote_type="regression")
    assert server.test("/v2/models/infer", {"inputs": [1]})["outputs"] == [2.0]
    assert server.test("/v2/models/predict", {"inputs": [1]})["outputs"] == [2.0]
    # path-less: the default model, the first entry of the model list -- the ensemble
    assert server.test("/", {"inputs": [1]})["model_name"] == "VotingEnsemble"
    assert server.test("/", {"model": "m3", "inputs": [1]})["model_name"] == "m3"


def test_single_model_is_reachable_through_the_ensemble():
    server = multipliers(1, 3)
    resp = server.test("/v2/models/m3/infer", {"inputs": [1]})
    assert resp["model_name"] == "m3"
    assert resp["outputs"] == [3]
    assert server.test("/v2/models/m3/ready").status_code == 200


def test_unknown_model_is_404():
    resp = multipliers(1).test("/v2/models/zz/infer", {"inputs": [1]}, silent=True)
    assert resp.status_code == 404
    assert resp.body == "NotFoundError: model zz doesnt exist, available models: VotingEnsemble | m1"


def test_ensemble_metadata_ready_and_health():
    server = multipliers(1, 3)
    assert server.test("/v2/models/VotingEnsemble") == {
        "name": "VotingEnsemble",
        "version": "v1",
        "inputs": [],
        "outputs": [],
    }
    assert server.test("/v2/models/VotingEnsemble/ready").status_code == 200
    assert server.test("/")["name"] == "VotingEnsemble"


def test_ensemble_needs_an_inputs_list():
    server = multipliers(1, 3)
    resp = server.test("/v2/models/VotingEnsemble/infer", {"x": 1}, silent=True)
    assert (resp.status_code, resp.body) == (
        400,
        'BadRequestError: Expected key "inputs" in request body (model VotingEnsemble)',
    )
    resp = server.test("/v2/models/VotingEnsemble/infer", {"inputs": 3}, silent=True)
    assert resp.body == 'BadRequestError: Expected "inputs" to be a list (model VotingEnsemble)'


def test_illegal_ensemble_operation():
    resp = multipliers(1).test("/v2/models/VotingEnsemble/train", {"inputs": [1]}, silent=True)
    assert resp.status_code == 400
    assert "illegal model operation train" in resp.body


def test_failing_model_fails_the_vote_naming_it():
    server = ensemble([("ok", Multiplier, {}), ("bad", Failing, {})])
    resp = server.test("/", {"inputs": [1]}, silent=True)
    assert (resp.status_code, resp.body) == (400, "ValueError: predict went wrong (step bad)")


def test_ignore_errors_leaves_the_model_out_and_renormalizes():
    server = ensemble(
        [("ok", Multiplier, {"multiplier": 4}), ("bad", Failing, {})],
        vote_type="regression",
        ignore_errors=True,
    )
    resp = server.test("/", {"inputs": [1]})
    assert resp["outputs"] == [4.0]
    assert resp["model_outputs"] == {"ok": [4]}


def test_prediction_column_format():
    class Column(Multiplier):
        def predict(self, request):
            return {"prediction": super().predict(request)}

    fn = fnpack.new_function("cols")
    fn.set_topology("router", ENSEMBLE, vote_type="regression", format_response_with_col_name_flag=True)
    fn.add_model("a", class_name=Column, model_path=".", multiplier=1)
    fn.add_model("b", class_name=Column, model_path=".", multiplier=3)
    resp = fn.to_mock_server().test("/", {"inputs": [1]})
    assert resp["outputs"] == {"prediction": [2.0]}


def test_mismatched_prediction_counts_are_reported():
    class Short(Multiplier):
        def predict(self, request):
            return [0]

    resp = ensemble([("a", Multiplier, {}), ("b", Short, {})]).test("/", {"inputs": [1, 2]}, silent=True)
    assert resp.status_code == 400
    assert "model b returned 1 predictions, model a returned 2" in resp.body


@pytest.mark.parametrize("executor_type", ["thread", "process"])
def test_thread_executor_gives_the_same_vote(executor_type):
    server = multipliers(1, 3, vote_type="regression", executor_type=executor_type)
    assert server.test("/", {"inputs": [1, 2]})["outputs"] == [2.0, 4.0]


def test_named_ensemble_in_a_flow():
    fn = fnpack.new_function("ens-flow")
    graph = fn.set_topology("flow", engine="sync")
    graph.to("*fnpack.serving.VotingEnsemble", name="vote", vote_type="regression", result_path="vote")
    fn.add_model("a", class_name=Multiplier, model_path=".", multiplier=2)
    fn.add_model("b", class_name=Multiplier, model_path=".", multiplier=4)
    server = fn.to_mock_server()
    resp = server.test("/v2/models/vote/infer", {"inputs": [1]})
    assert resp["vote"]["model_name"] == "vote"
    assert resp["vote"]["outputs"] == [3.0]
    assert resp["inputs"] == [1]


def test_multi_output_regression_is_averaged_element_wise():
    class Pair(Multiplier):
        def predict(self, request):
            return [[x * self.model, -x * self.model] for x in request["inputs"]]

    server = ensemble(
        [("a", Pair, {"multiplier": 1}), ("b", Pair, {"multiplier": 3})], vote_type="regression"
    )
    assert server.test("/", {"inputs": [1]})["outputs"] == [[2.0, -2.0]]


def test_ensemble_object_serializes_its_options():
    obj = VotingEnsemble(
        vote_type="regression", weights={"a": 1, "b": 3}, executor_type="thread", version="v7"
    )
    struct = obj.to_dict()
    assert struct["kind"] == "router"
    assert struct["class_name"] == "fnpack.serving.ensemble.VotingEnsemble"
    assert struct["class_args"] == {
        "vote_type": "regression",
        "weights": {"a": 1, "b": 3},
        "executor_type": "thread",
        "version": "v7",
    }
    fn = fnpack.new_function("obj")
    fn.set_topology("router", obj)
    fn.add_model("a", class_name=Multiplier, model_path=".", multiplier=1)
    fn.add_model("b", class_name=Multiplier, model_path=".", multiplier=5)
    resp = fn.to_mock_server().test("/", {"inputs": [1]})
    assert resp["outputs"] == [4.0]  # 0.25 * 1 + 0.75 * 5
    assert resp["model_version"] == "v7"


def test_column_outputs_are_read_and_answered_per_event():
    # the reference's test_ensemble_infer: models answer {"predictions": [...]}, so does the vote
    class Column(Multiplier):
        def predict(self, request):
            return {"predictions": [request["inputs"][0] * self.model]}

    models = [
        (k, Column, {"multiplier": m}) for k, m in (("m1", 100), ("m2", 200), ("m3:v1", 300), ("m3:v2", 400))
    ]
    server = ensemble(models, vote_type="regression", prediction_col_name="predictions")
    for path, expected in [
        ("m1", 500),
        ("m3/versions/v2", 2000),
        ("VotingEnsemble", 1250.0),
        ("", 1250.0),
    ]:
        url = f"/v2/models/{path}/infer" if path else "/v2/models/infer"
        assert server.test(url, {"inputs": [5]})["outputs"] == {"predictions": [expected]}


def test_missing_prediction_column_names_model_and_column():
    class Other(Multiplier):
        def predict(self, request):
            return {"scores": [1]}

    server = ensemble([("a", Multiplier, {}), ("b", Other, {})], prediction_col_name="predictions")
    resp = server.test("/", {"inputs": [1]}, silent=True)
    assert resp.status_code == 400
    assert "model b: prediction_col_name 'predictions' is not in its outputs ['scores']" in resp.body
