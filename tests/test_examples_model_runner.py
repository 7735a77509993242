"""examples/model_runner_step.py gives the answers its docstring promises, in-process and as a function."""

import sys
from pathlib import Path

import pytest
import requests

from fnpack.emulator import serve

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import model_runner_step  # noqa: E402

SMALL = {"amount": 20, "country": "FR"}
LARGE = {"amount": 7000, "country": "FR"}


@pytest.fixture(scope="module")
def server():
    server = model_runner_step.build().to_mock_server()
    yield server
    server.close()


def test_small_amounts_skip_the_slow_model(server):
    assert server.test(body=SMALL) == {"decision": "approve", "scores": {"rules": {"score": 0.0}}}


def test_large_amounts_run_both_models(server):
    assert server.test(body=LARGE) == {
        "decision": "review",
        "scores": {"rules": {"score": 0.5}, "behaviour": {"score": 0.7}},
    }


def test_risky_country_is_reviewed_even_when_small(server):
    assert server.test(body={"amount": 5, "country": "XX"})["decision"] == "review"


def test_built_function_answers_the_same_over_http(tmp_path):
    path = tmp_path / "function.yaml"
    model_runner_step.build().export(str(path))
    with serve(path, workers=1) as fn:
        assert requests.post(fn.url, json=SMALL, timeout=10).json()["decision"] == "approve"
        got = requests.post(fn.url, json=LARGE, timeout=10).json()
        assert got["scores"] == {"rules": {"score": 0.5}, "behaviour": {"score": 0.7}}
        bad = requests.post(fn.url, json={"country": "FR"}, timeout=10)
        assert bad.status_code == 400
        assert bad.text.strip() == "KeyError: 'amount' (step models)"  # the selector's error, one line
