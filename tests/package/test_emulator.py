"""A built function under the local emulator (nuclio's wrapper behaviour, real HTTP, 2 worker processes)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

serve = pytest.importorskip("fnpack.emulator").serve

from .graphs import model_router_function  # noqa: E402


def _post(url: str, body: dict):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_model_router_under_the_emulator(tmp_path):
    path = tmp_path / "function.yaml"
    model_router_function().export(str(path))
    with serve(str(path), workers=2) as served:
        status, body = _post(f"{served.url}/v2/models/m1/infer", {"inputs": [2, 3]})
        assert status == 200 and body["outputs"] == [6, 9]
        status, body = _post(f"{served.url}/v2/models/m2/versions/v2/infer", {"inputs": [1]})
        assert status == 200 and body["outputs"] == [10]
        status, _ = _post(f"{served.url}/v2/models/unknown/infer", {"inputs": [1]})
        assert 400 <= status < 500
