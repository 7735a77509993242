"""Open Inference Protocol: codec validation, property round trips, and the Triton HTTP client's wire form."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnpack
from fnpack.graph import BadRequestError
from fnpack.serving import V2ModelServer, oip

from .models import Multiplier

np = pytest.importorskip("numpy")
httpclient = pytest.importorskip("tritonclient.http")
Client = httpclient.InferenceServerClient

NUMPY_DTYPES = {
    "BOOL": np.bool_,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.object_,
}


class Echo(V2ModelServer):
    """Returns every input tensor unchanged, renamed ``out_<name>`` (keeps the datatype)."""

    def predict(self, request):
        return [
            {"name": f"out_{t.name}", "datatype": t.datatype, "shape": t.shape, "data": t.data}
            for t in request["tensors"]
        ]


class Doubler(V2ModelServer):
    """A plain V2 model (rows in, rows out) served unchanged to tensor clients."""

    def predict(self, request):
        return [[2 * x for x in row] for row in request["inputs"]]


class NumpySum(V2ModelServer):
    def predict(self, request):
        return {
            "sum": np.asarray(request["inputs"], dtype=np.float32).sum(axis=1),
            "count": [len(request["inputs"])],
        }


@pytest.fixture(scope="module")
def server():
    fn = fnpack.new_function("oip")
    fn.add_model("echo", class_name=Echo, model_path=".")
    fn.add_model("double", class_name=Doubler, model_path=".")
    fn.add_model("npsum", class_name=NumpySum, model_path=".")
    fn.add_model("mult", class_name=Multiplier, model_path=".", multiplier=3)
    return fn.to_mock_server()


def post(server, model, request_body, json_size, version="", binary_response=False):
    """Send the client's request bytes as the HTTP trigger would; return the client's parsed result.

    ``binary_response``: whether the answer must use the binary extension (the client asked for it).
    """
    headers = {"Inference-Header-Content-Length": str(json_size)} if json_size is not None else {}
    path = f"/v2/models/{model}/versions/{version}/infer" if version else f"/v2/models/{model}/infer"
    response = server.test(path, request_body, method="POST", headers=headers, get_body=False, silent=True)
    assert response.status_code == 200, response.body
    header_length = response.headers.get("Inference-Header-Content-Length")
    if binary_response:
        assert response.content_type == "application/octet-stream"
        return Client.parse_response_body(response.body, header_length=int(header_length))
    assert header_length is None
    assert response.content_type == "application/json"
    return Client.parse_response_body(response.body.encode())


def sample(datatype, shape):
    size = int(np.prod(shape))
    if datatype == "BYTES":
        return np.array([f"s{i}".encode() for i in range(size)], dtype=np.object_).reshape(shape)
    if datatype == "BOOL":
        return (np.arange(size) % 2 == 0).reshape(shape)
    info = np.iinfo(NUMPY_DTYPES[datatype]) if datatype[0] in "IU" else None
    if info is not None:
        extremes = [int(info.min), int(info.max), 0, 1, int(info.max) // 2, int(info.min) // 2 or 7]
        return np.array((extremes * size)[:size], dtype=NUMPY_DTYPES[datatype]).reshape(shape)
    return (np.arange(size, dtype=np.float64) * 1.5 - 3.25).astype(NUMPY_DTYPES[datatype]).reshape(shape)


# --- the Triton client against the router ---------------------------------------------------------------


@pytest.mark.parametrize("binary_out", [False, True], ids=["json-out", "binary-out"])
@pytest.mark.parametrize("binary", [False, True], ids=["json-in", "binary-in"])
@pytest.mark.parametrize("datatype", list(NUMPY_DTYPES))
def test_triton_client_round_trip_of_every_datatype(server, datatype, binary, binary_out):
    data = sample(datatype, [2, 3])
    tensor = httpclient.InferInput("x", [2, 3], datatype)
    tensor.set_data_from_numpy(data, binary_data=binary)
    outputs = [httpclient.InferRequestedOutput("out_x", binary_data=binary_out)]
    body, json_size = Client.generate_request_body([tensor], outputs=outputs, request_id="r1")
    result = post(server, "echo", body, json_size, binary_response=binary_out)
    out = result.as_numpy("out_x")
    assert out.shape == (2, 3)
    assert result.get_output("out_x")["datatype"] == datatype
    assert result.get_response()["id"] == "r1"
    assert result.get_response()["model_name"] == "echo"
    if datatype == "BYTES":
        expected = [v.decode() for v in data.reshape(-1)]
        assert [v.decode() if isinstance(v, bytes) else v for v in out.reshape(-1)] == expected
    else:
        assert out.dtype == data.dtype
        np.testing.assert_array_equal(out, data)


def test_plain_v2_model_serves_a_tensor_client(server):
    tensor = httpclient.InferInput("rows", [2, 2], "FP32")
    tensor.set_data_from_numpy(np.array([[1, 2], [3, 4]], dtype=np.float32))  # binary by default
    body, json_size = Client.generate_request_body([tensor])  # no outputs named: the client's defaults
    result = post(server, "double", body, json_size, binary_response=True)
    np.testing.assert_array_equal(result.as_numpy("output0"), [[2, 4], [6, 8]])
    assert result.get_output("output0")["datatype"] == "FP64"


def test_requested_output_names_and_numpy_outputs(server):
    tensor = httpclient.InferInput("rows", [2, 3], "INT32")
    tensor.set_data_from_numpy(np.arange(6, dtype=np.int32).reshape(2, 3), binary_data=False)
    outputs = [httpclient.InferRequestedOutput("sum", binary_data=False)]
    body, json_size = Client.generate_request_body([tensor], outputs=outputs)
    result = post(server, "npsum", body, json_size)
    assert [o["name"] for o in result.get_response()["outputs"]] == ["sum"]
    assert result.get_output("sum")["datatype"] == "FP32"
    np.testing.assert_array_equal(result.as_numpy("sum"), np.array([3, 12], dtype=np.float32))


def test_single_output_takes_the_requested_name(server):
    tensor = httpclient.InferInput("x", [3], "INT64")
    tensor.set_data_from_numpy(np.array([1, 2, 3]), binary_data=False)
    body, json_size = Client.generate_request_body([tensor], outputs=[httpclient.InferRequestedOutput("y")])
    result = post(server, "mult", body, json_size, binary_response=True)
    np.testing.assert_array_equal(result.as_numpy("y"), [3, 6, 9])


def test_unknown_requested_output_is_400(server):
    tensor = httpclient.InferInput("rows", [1, 1], "INT32")
    tensor.set_data_from_numpy(np.array([[1]], dtype=np.int32), binary_data=False)
    body, _ = Client.generate_request_body([tensor], outputs=[httpclient.InferRequestedOutput("nope")])
    resp = server.test("/v2/models/npsum/infer", body, silent=True)
    assert resp.status_code == 400
    assert (
        resp.body == "BadRequestError: outputs: the model has no output named 'nope', it has ['sum', 'count']"
    )


def test_tensor_request_through_the_ensemble():
    fn = fnpack.new_function("oip-ens")
    fn.set_topology("router", "fnpack.serving.VotingEnsemble", vote_type="regression")
    fn.add_model("a", class_name=Multiplier, model_path=".", multiplier=1)
    fn.add_model("b", class_name=Multiplier, model_path=".", multiplier=3)
    server = fn.to_mock_server()
    tensor = httpclient.InferInput("x", [2], "FP32")
    tensor.set_data_from_numpy(np.array([1, 2], dtype=np.float32))
    body, json_size = Client.generate_request_body(
        [tensor], outputs=[httpclient.InferRequestedOutput("o", False)]
    )
    result = post(server, "VotingEnsemble", body, json_size)
    np.testing.assert_array_equal(result.as_numpy("o"), [2.0, 4.0])
    body, json_size = Client.generate_request_body([tensor])
    result = post(server, "VotingEnsemble", body, json_size, binary_response=True)
    np.testing.assert_array_equal(result.as_numpy("output0"), [2.0, 4.0])
    np.testing.assert_array_equal(result.as_numpy("output0"), [2.0, 4.0])


# --- bad tensors: 400 naming the field -------------------------------------------------------------------


def tensor_body(**fields):
    tensor = {"name": "x", "shape": [2], "datatype": "INT32", "data": [1, 2]}
    tensor.update(fields)
    return {"inputs": [{k: v for k, v in tensor.items() if v is not None}]}


@pytest.mark.parametrize(
    "fields, message",
    [
        (
            {"datatype": "FP8"},
            "inputs[0] (x).datatype: unsupported datatype 'FP8', expected one of BOOL, INT8",
        ),
        ({"shape": [3]}, "inputs[0] (x): shape [3] needs 3 values, data has 2"),
        ({"shape": [2, -1]}, "inputs[0] (x).shape: expected a list of non-negative integers, got [2, -1]"),
        ({"shape": "2"}, "inputs[0] (x).shape: expected a list of non-negative integers"),
        ({"data": None}, "inputs[0] (x).data: missing"),
        ({"data": "12"}, "inputs[0] (x).data: expected a list, got '12'"),
        ({"data": [1, "2"]}, "inputs[0] (x).data: INT32 values must be integers, got '2'"),
        ({"data": [1, 2.5]}, "inputs[0] (x).data: INT32 values must be integers, got 2.5"),
        (
            {"datatype": "UINT8", "data": [1, 256]},
            "inputs[0] (x).data: 256 is out of range for UINT8 [0, 255]",
        ),
        ({"datatype": "INT8", "data": [-129, 0]}, "inputs[0] (x).data: -129 is out of range for INT8"),
        (
            {"datatype": "BOOL", "data": [1, 0]},
            "inputs[0] (x).data: BOOL values must be true or false, got 1",
        ),
        (
            {"datatype": "FP32", "data": [1, True]},
            "inputs[0] (x).data: FP32 values must be numbers, got True",
        ),
        ({"datatype": "FP16", "data": [1.0, 1e6]}, "inputs[0] (x).data: 1000000.0 is out of range for FP16"),
        ({"datatype": "BYTES", "data": ["a", 1]}, "inputs[0] (x).data: BYTES values must be strings, got 1"),
        ({"name": ""}, "inputs[0].name: expected a non-empty string, got ''"),
        ({"shape": [2, 2], "data": [[1, 2], [3]]}, "inputs[0] (x).data is not rectangular"),
    ],
)
def test_bad_tensor_is_400_naming_the_field(fields, message):
    fn = fnpack.new_function("bad")
    fn.add_model("echo", class_name=Echo, model_path=".")
    resp = fn.to_mock_server().test("/v2/models/echo/infer", tensor_body(**fields), silent=True)
    assert resp.status_code == 400
    assert resp.body.startswith(f"BadRequestError: {message}"), resp.body
    assert "\n" not in resp.body


def test_nested_data_is_accepted():
    request = oip.decode_request(tensor_body(shape=[2, 2], data=[[1, 2], [3, 4]]))
    assert request.inputs[0].data == [1, 2, 3, 4]
    assert request.v2_inputs() == [[1, 2], [3, 4]]


def test_several_inputs_give_a_list_per_tensor():
    body = {
        "inputs": [
            {"name": "a", "shape": [2], "datatype": "INT32", "data": [1, 2]},
            {"name": "b", "shape": [1], "datatype": "BYTES", "data": ["z"]},
        ]
    }
    assert oip.decode_request(body).v2_inputs() == [[1, 2], ["z"]]
    body["inputs"][1]["name"] = "a"
    with pytest.raises(BadRequestError, match="duplicate tensor names"):
        oip.decode_request(body)


@pytest.mark.parametrize(
    "raw, header, message",
    [
        (b'{"inputs": []}', 99, "Inference-Header-Content-Length: 99 is outside the body"),
        (b"{nope", 5, "the JSON header of the binary request is not valid JSON"),
        (
            b'{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","parameters":{"binary_data_size":8}}]}\x01\x00\x00\x00',
            None,
            "binary_data_size: 8 exceeds",
        ),
        (
            b'{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","parameters":{"binary_data_size":3}}]}\x01\x00\x00',
            None,
            "3 bytes is not a whole number of INT32",
        ),
        (
            b'{"inputs":[{"name":"x","shape":[1],"datatype":"INT8","parameters":{"binary_data_size":1}}]}\x01\x02',
            None,
            "1 bytes not claimed",
        ),
    ],
)
def test_bad_binary_requests(raw, header, message):
    header = header if header is not None else raw.index(b"}]}") + 3
    with pytest.raises(BadRequestError, match=message):
        oip.decode_binary_body(raw, header)


def test_bad_binary_header_value_through_the_server(server):
    resp = server.test(
        "/v2/models/echo/infer", b"{}xx", headers={"Inference-Header-Content-Length": "abc"}, silent=True
    )
    assert resp.status_code == 400
    assert resp.body == "BadRequestError: Inference-Header-Content-Length: expected an integer, got 'abc'"


def test_encode_outputs_forms():
    assert oip.encode_outputs([1, 2]) == [
        {"name": "output0", "datatype": "INT64", "shape": [2], "data": [1, 2]}
    ]
    assert oip.encode_outputs(True)[0] == {
        "name": "output0",
        "datatype": "BOOL",
        "shape": [1],
        "data": [True],
    }
    assert oip.encode_outputs([[1.5], [2]])[0]["datatype"] == "FP64"
    assert oip.encode_outputs([b"a", "b"])[0]["data"] == ["a", "b"]
    assert oip.encode_outputs([2**64 - 1])[0]["datatype"] == "UINT64"
    assert oip.encode_outputs({"a": [1], "b": ["x"]}, [{"name": "b"}]) == [
        {"name": "b", "datatype": "BYTES", "shape": [1], "data": ["x"]}
    ]
    with pytest.raises(ValueError, match="mixes value types"):
        oip.encode_outputs([1, "a"])
    with pytest.raises(ValueError, match="not rectangular"):
        oip.encode_outputs([[1, 2], [3]])
    with pytest.raises(ValueError, match="invalid output tensor"):
        oip.encode_outputs([{"name": "o", "datatype": "INT8", "shape": [1], "data": [1000]}])


# --- property tests: round trips of generated tensors of every datatype ------------------------------------

_INT_RANGES = {k: (v[2], v[3]) for k, v in oip.DATATYPES.items() if v[0] == "int"}
_FLOAT_WIDTH = {"FP16": 16, "FP32": 32, "FP64": 64}


def values_for(datatype):
    if datatype == "BOOL":
        return st.booleans()
    if datatype in _INT_RANGES:
        low, high = _INT_RANGES[datatype]
        return st.integers(low, high)
    if datatype in _FLOAT_WIDTH:
        return st.floats(width=_FLOAT_WIDTH[datatype], allow_nan=False, allow_infinity=False)
    return st.text(max_size=8)


@st.composite
def tensors(draw, datatype):
    shape = draw(st.lists(st.integers(0, 4), min_size=0, max_size=3))
    size = 1
    for dim in shape:
        size *= dim
    data = draw(st.lists(values_for(datatype), min_size=size, max_size=size))
    return {
        "name": draw(st.text(min_size=1, max_size=10)),
        "datatype": datatype,
        "shape": shape,
        "data": data,
    }


@pytest.mark.parametrize("datatype", list(oip.DATATYPES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_json_tensor_round_trip(datatype, data):
    """JSON tensor -> decoded Tensor -> nested value -> output tensor: the same tensor."""
    tensor = data.draw(tensors(datatype))
    body = json.loads(json.dumps({"inputs": [tensor]}))
    decoded = oip.decode_request(body).inputs[0]
    assert decoded.to_dict() == tensor
    nested = decoded.to_nested()
    if tensor["shape"]:
        encoded = oip.tensor_from_value(tensor["name"], nested, tensor["datatype"])
        assert encoded["data"] == tensor["data"]
        if all(tensor["shape"]):
            assert encoded["shape"] == tensor["shape"]


@pytest.mark.parametrize("datatype", list(oip.DATATYPES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_binary_tensor_round_trip(datatype, data):
    """pack -> binary-extension body -> decode: the same values (what the client sends by default)."""
    tensor = data.draw(tensors(datatype))
    raw = oip.pack(tensor["data"], tensor["datatype"])
    header = {
        "inputs": [
            {
                "name": tensor["name"],
                "shape": tensor["shape"],
                "datatype": tensor["datatype"],
                "parameters": {"binary_data_size": len(raw)},
            }
        ]
    }
    text = json.dumps(header).encode()
    body = oip.decode_binary_body(text + raw, len(text))
    assert oip.decode_request(body).inputs[0].data == tensor["data"]


@pytest.mark.parametrize("datatype", list(oip.DATATYPES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_numpy_tensor_round_trip_through_the_triton_client(datatype, data):
    """Client-encoded numpy tensor -> our decode -> numpy output (JSON and binary) -> client-parsed: the same."""
    tensor = data.draw(tensors(datatype))
    binary = data.draw(st.booleans())
    if datatype == "BYTES":
        array = np.array([v.encode() for v in tensor["data"]], dtype=np.object_).reshape(tensor["shape"])
    else:
        array = np.array(tensor["data"], dtype=NUMPY_DTYPES[datatype]).reshape(tensor["shape"])
    client_input = httpclient.InferInput(tensor["name"], tensor["shape"], datatype)
    client_input.set_data_from_numpy(array, binary_data=binary)
    raw, json_size = Client.generate_request_body([client_input])
    body = oip.decode_binary_body(raw, json_size) if json_size is not None else json.loads(raw)
    decoded = oip.decode_request(body).inputs[0]
    if datatype == "BYTES":
        out = oip.tensor_from_value("out", decoded.data, "BYTES")
        out["shape"] = decoded.shape
    else:
        out = oip.tensor_from_value("out", decoded.as_numpy())
    response = {"model_name": "m", "outputs": [out]}
    as_binary = oip.binary_response(response, oip.InferRequest([], [], {"binary_data_output": True}))
    for result in (
        Client.parse_response_body(json.dumps(response).encode()).as_numpy("out"),
        Client.parse_response_body(as_binary[0], header_length=as_binary[1]).as_numpy("out"),
    ):
        assert result.shape == array.shape
        if datatype == "BYTES":
            assert [v.decode() if isinstance(v, bytes) else v for v in result.reshape(-1)] == tensor["data"]
        else:
            assert result.dtype == array.dtype
            np.testing.assert_array_equal(result, array)
