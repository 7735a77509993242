"""Fixtures of the reliability suite: the example model router built once, served by the real emulator."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from kafka_broker import kafka_broker  # noqa: F401  (session fixture: a real Tansu broker)
from polling import wait_for  # noqa: F401  (re-exported for the tests here)

from fnpack.emulator import ServedFunction, serve
from fnpack.package.function import write_function

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))

import model_router  # noqa: E402

INFER = "/v2/models/iris/infer"
SETOSA = [5.0, 3.4, 1.5, 0.2]
GOOD_BODY = json.dumps({"inputs": [SETOSA]}).encode()


def build_router(target: Path) -> str:
    """The example model router (``iris`` + ``price:v1``) packaged into ``target`` (a function.yaml)."""
    return write_function(model_router.build().build(namespace=vars(model_router)), str(target))


@pytest.fixture(scope="session")
def router_yaml(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_router(tmp_path_factory.mktemp("router") / "function.yaml")


@pytest.fixture(scope="module")
def router(router_yaml: str) -> Iterator[ServedFunction]:
    """The model router in the emulator with 2 workers on 127.0.0.1, for the whole module."""
    with serve(router_yaml, workers=2) as fn:
        yield fn


def assert_serving(fn: ServedFunction, pids: list[int] | None = None) -> None:
    """Same workers as before (none died or restarted) and a good infer still answers correctly."""
    if pids is not None:
        assert sorted(fn.worker_pids()) == sorted(pids), "a worker died or was restarted"
    r = requests.post(
        fn.url + INFER, data=GOOD_BODY, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert r.status_code == 200, r.text
    assert r.json()["outputs"] == [0]


def report(request: pytest.FixtureRequest, name: str, value: Any) -> None:
    """A measured figure: printed (shown by ``pytest -rP``) and kept in the test report's properties."""
    request.node.user_properties.append((name, value))
    print(f"[reliability] {request.node.name}: {name} = {value}")
