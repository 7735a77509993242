"""Arbitrary paths, methods and bodies never crash a serving graph: every answer is a 2xx or a 4xx."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fnpack

from .models import Multiplier

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
segments = st.sampled_from(
    ["v2", "models", "m1", "m2", "versions", "v1", "infer", "ready", "explain", "", "x"]
)
paths = st.lists(segments, max_size=6).map(lambda parts: "/" + "/".join(parts))
tensor_like = st.fixed_dictionaries(
    {
        "name": st.text(max_size=3),
        "shape": st.lists(st.integers(-1, 3), max_size=3),
        "datatype": st.sampled_from(["INT32", "FP32", "BOOL", "BYTES", "FP8", 7]),
        "data": st.lists(json_values, max_size=5),
    }
)
bodies = (
    json_values
    | st.fixed_dictionaries({"inputs": st.lists(json_values | tensor_like, max_size=3)})
    | st.binary(max_size=40)
)


@pytest.fixture(scope="module", params=["fnpack.serving.ModelRouter", "fnpack.serving.VotingEnsemble"])
def server(request):
    fn = fnpack.new_function("fuzz")
    fn.set_topology("router", request.param)
    fn.add_model("m1", class_name=Multiplier, model_path=".", multiplier=2)
    fn.add_model("m2:v1", class_name=Multiplier, model_path=".", multiplier=3)
    return fn.to_mock_server()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=paths,
    method=st.sampled_from(["GET", "POST", "PUT", None]),
    body=bodies,
    header=st.sampled_from([None, "0", "5", "-1", "x"]),
)
def test_any_request_gets_a_2xx_or_4xx(server, path, method, body, header):
    headers = {"Inference-Header-Content-Length": header} if header is not None else None
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = server.run(
        fnpack.graph.MockEvent(body=raw, path=path, method=method, headers=headers, content_type=""),
        get_body=False,
    )
    status = getattr(response, "status_code", 200)
    assert 200 <= status < 500, response.body
    if status >= 400:
        assert "\n" not in response.body
    assert server.test("/v2/models/m1/infer", {"inputs": [1]})["outputs"] == [2]  # still serving
