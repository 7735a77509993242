"""A model router with V2 models, packaged and served in a fresh interpreter without fnpack."""

from __future__ import annotations

import json

from fnpack.package.loader import load_function
from fnpack.package.validate import run_probe

from .graphs import model_router_function

JSON = "application/json"


def test_model_router_serves_v2_requests_without_fnpack(tmp_path, bare_python):
    fn = model_router_function()
    expected = fn.to_mock_server().test("/v2/models/m1/infer", body={"inputs": [1, 2]})
    result = fn.export(str(tmp_path / "function.yaml"))
    assert result.by_value == ["package.graphs.model_router_function.<locals>.Multiplier"]
    function = load_function(str(tmp_path / "function.yaml"))
    assert function.graph["kind"] == "router" and set(function.graph["routes"]) == {"m1", "m2:v2"}
    python, args, lib = bare_python
    events = [
        {"body": {"inputs": [1, 2]}, "content_type": JSON, "path": "/v2/models/m1/infer", "id": "r1"},
        {
            "body": {"inputs": [1, 2]},
            "content_type": JSON,
            "path": "/v2/models/m2/versions/v2/infer",
            "id": "r2",
        },
        {"body_b64": "", "method": "GET", "path": "/v2/models/", "id": "list"},
        {"body_b64": "", "method": "GET", "path": "/v2/models/nope/infer", "id": "missing"},
    ]
    out = run_probe(function, python=python, python_args=tuple(args), extra_paths=[lib], events=events)
    assert out.get("ok") and "error" not in out, out
    r1, r2, listing, missing = out["responses"]
    body1 = json.loads(r1["body"])
    assert body1["outputs"] == [3, 6] == expected["outputs"]
    assert body1["id"] == "r1" and body1["model_name"] == "m1"
    assert json.loads(r2["body"])["outputs"] == [10, 20]
    assert listing["status"] == 200 and set(json.loads(listing["body"])["models"]) >= {"m1", "m2:v2"}
    assert 400 <= missing["status"] < 500
