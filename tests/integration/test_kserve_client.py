"""A standard KServe v2 / Triton HTTP client against a built function running in the emulator."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from fnpack.emulator import serve
from fnpack.package.function import write_function

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import model_router

httpclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402

ROWS = np.array([[5.0, 3.4, 1.5, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    path = tmp_path_factory.mktemp("kserve") / "function.yaml"
    write_function(model_router.build().build(namespace=vars(model_router)), str(path))
    with serve(str(path), workers=1) as fn:
        yield httpclient.InferenceServerClient(url=fn.url.removeprefix("http://"))


def test_health_and_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("iris")
    metadata = client.get_model_metadata("iris")
    assert metadata["name"] == "iris"
    assert [i["name"] for i in metadata["inputs"]] == [
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
    ]


@pytest.mark.parametrize("binary", [True, False], ids=["binary-tensors", "json-tensors"])
def test_infer_round_trip(client, binary):
    tensor = httpclient.InferInput("x", list(ROWS.shape), "FP32")
    tensor.set_data_from_numpy(ROWS, binary_data=binary)
    result = client.infer(
        "iris", inputs=[tensor], outputs=[httpclient.InferRequestedOutput("output0", binary_data=binary)]
    )
    assert result.as_numpy("output0").tolist() == [0, 2]
    assert result.get_response()["model_name"] == "iris"


def test_infer_with_version(client):
    tensor = httpclient.InferInput("x", [1, 2], "FP64")
    tensor.set_data_from_numpy(np.array([[100.0, 2.0]]), binary_data=False)
    result = client.infer("price", inputs=[tensor], model_version="v1")
    assert result.get_response()["model_version"] == "v1"


def test_unknown_model_is_a_404_with_the_reason(client):
    tensor = httpclient.InferInput("x", list(ROWS.shape), "FP32")
    tensor.set_data_from_numpy(ROWS)
    with pytest.raises(InferenceServerException) as info:
        client.infer("nope", inputs=[tensor])
    assert info.value.status() == "404"
    assert "model nope doesnt exist" in str(info.value)
