"""The runnable examples give the answers their docs promise."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import flow_basics  # noqa: E402


@pytest.fixture(scope="module")
def server():
    server = flow_basics.build().to_mock_server()
    yield server
    server.close()


def test_small_order_is_low_risk_with_discount(server):
    assert server.test(body={"items": [{"price": 30, "qty": 2}, {"price": 5}]}) == {
        "total": 65,
        "risk": "low",
        "discount": 0.1,
    }


def test_large_order_is_high_risk(server):
    assert server.test(body={"items": [{"price": 300}]})["risk"] == "high"


def test_bad_order_goes_to_the_error_handler(server):
    assert server.test(body={"no": "items"}) == {
        "rejected": True,
        "reason": "ValueError: an order needs 'items'",
        "step": "validate",
    }


def test_demo_script_runs_and_prints_answers():
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert '200  {"models": ["iris", "price:v1"]}' in out  # through the emulator, over HTTP
    assert '"model_name": "price", "outputs": [311.0, 250.5]' in out
    assert "400  failed to json decode event" in out
    assert "404  NotFoundError: model nope doesnt exist" in out
    assert "Traceback" not in out
    assert '"risk": "high"' in out  # the flow, through the mock server
