"""The serving examples (model router, voting ensemble) through ``to_mock_server()``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))

import ensemble  # noqa: E402
import model_router  # noqa: E402

SETOSA, VIRGINICA = [5.0, 3.4, 1.5, 0.2], [6.7, 3.0, 5.2, 2.3]
DISPUTED = [7.2, 3.9, 6.3, 0.4]  # centroid and petal say 2 (virginica), knn says 1


@pytest.fixture(scope="module")
def router():
    return model_router.build().to_mock_server()


@pytest.fixture(scope="module")
def voting():
    return ensemble.build().to_mock_server()


# --- model router ----------------------------------------------------------------------------------


def test_router_lists_both_models(router):
    assert router.test("/v2/models/") == {"models": ["iris", "price:v1"]}


def test_model_trained_at_startup_classifies_its_training_rows(router):
    resp = router.test("/v2/models/iris/infer", {"inputs": model_router.IRIS_X})
    assert resp["outputs"] == model_router.IRIS_Y
    assert router.test("/v2/models/iris/infer", {"inputs": [SETOSA, VIRGINICA]})["outputs"] == [0, 2]


def test_custom_operation_answers_names(router):
    assert router.test("/v2/models/iris/names", {"inputs": [SETOSA]}) == {"names": ["setosa"]}


def test_schema_in_metadata_enables_infer_dict(router):
    meta = router.test("/v2/models/iris")
    assert [f["name"] for f in meta["inputs"]] == [
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
    ]
    row = dict(zip(["petal_width", "petal_length", "sepal_width", "sepal_length"], reversed(VIRGINICA)))
    assert router.test("/v2/models/iris/infer_dict", {"inputs": [row]})["outputs"] == [2]


def test_versioned_regressor(router):
    resp = router.test("/v2/models/price/versions/v1/infer", {"inputs": [[100, 2], [80, 1]]})
    assert resp["outputs"] == [311.0, 250.5]
    assert resp["model_version"] == "v1"


def test_bad_rows_are_400_naming_the_input(router):
    resp = router.test("/v2/models/iris/infer", {"inputs": [SETOSA, [1, 2]]}, silent=True)
    assert resp.status_code == 400
    assert resp.body == "ValueError: inputs[1]: expected 4 features, got [1, 2] (step iris)"


def test_tensor_clients_get_tensors(router):
    body = {"inputs": [{"name": "rows", "shape": [2, 4], "datatype": "FP32", "data": SETOSA + VIRGINICA}]}
    resp = router.test("/v2/models/iris/infer", body)
    assert resp["outputs"] == [{"name": "output0", "datatype": "INT64", "shape": [2], "data": [0, 2]}]


def test_regressor_reads_a_json_model_file(tmp_path):
    import fnpack

    (tmp_path / "model.json").write_text('{"coef": [1, 1], "intercept": 0.5}')
    fn = fnpack.new_function("file-model")
    fn.add_model("p", class_name=model_router.LinearRegressor, model_path=str(tmp_path / "model.json"))
    assert fn.to_mock_server().test("/v2/models/p/infer", {"inputs": [[1, 2]]})["outputs"] == [3.5]


def test_sklearn_is_optional(router):
    # use_sklearn picks scikit-learn when installed, the built-in estimator otherwise: same answers
    server = model_router.build(use_sklearn=True).to_mock_server()
    assert server.test("/v2/models/iris/infer", {"inputs": [SETOSA, VIRGINICA]})["outputs"] == [0, 2]


# --- voting ensemble -----------------------------------------------------------------------------------


def test_ensemble_lists_itself_first_with_normalized_weights(voting):
    assert voting.test("/v2/models/") == {
        "models": ["VotingEnsemble", "centroid", "knn", "petal"],
        "weights": {"centroid": 2 / 7, "knn": 3 / 7, "petal": 2 / 7},
    }


def test_ensemble_votes_with_per_model_answers(voting):
    resp = voting.test("/v2/models/VotingEnsemble/infer", {"inputs": [SETOSA, DISPUTED]})
    assert resp["outputs"] == [0, 2]
    assert resp["model_outputs"] == {"centroid": [0, 2], "knn": [0, 1], "petal": [0, 2]}


def test_weights_change_the_outcome():
    server = ensemble.build(weights={"centroid": 1, "knn": 5, "petal": 1}).to_mock_server()
    assert server.test("/", {"inputs": [DISPUTED]})["outputs"] == [1]


def test_path_less_post_votes_and_single_models_answer(voting):
    assert voting.test("/", {"inputs": [DISPUTED]})["model_name"] == "VotingEnsemble"
    assert voting.test("/v2/models/knn/infer", {"inputs": [DISPUTED]})["outputs"] == [1]


@pytest.mark.parametrize("script", ["model_router.py", "ensemble.py"])
def test_examples_run_as_scripts(script):
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "'model_name'" in out.stdout
