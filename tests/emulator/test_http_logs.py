"""``X-Nuclio-Log-Level``: the function's logs for one request come back in ``X-Nuclio-Logs``, as in nuclio."""

from __future__ import annotations

import json

import pytest
import requests
import yaml

from fnpack.cli import main
from fnpack.emulator import serve

from .conftest import function_config

HANDLER = """
def handler(context, event):
    context.logger.debug_with("scoring", rows=2)
    context.logger.info("done")
    if event.path == "/chatty":
        for i in range(200):
            context.logger.info("line %d of a long story" % i)
    return "ok"
"""


@pytest.fixture(scope="module")
def fn():
    with serve(function_config(HANDLER), workers=1, log_level="info") as served:
        yield served


def _logs(fn, level, path="/"):
    r = requests.get(fn.url + path, headers={"X-Nuclio-Log-Level": level} if level else {}, timeout=10)
    assert r.text == "ok"
    raw = r.headers.get("X-Nuclio-Logs")
    return None if raw is None else json.loads(raw)


def test_debug_logs_come_back_even_when_the_worker_logs_at_info(fn):
    logs = _logs(fn, "debug")
    assert [(e["level"], e["message"], e.get("with")) for e in logs] == [
        ("debug", "scoring", {"rows": 2}),
        ("info", "done", None),
    ]
    assert all(e["datetime"] for e in logs)


def test_the_requested_level_filters(fn):
    assert [e["message"] for e in _logs(fn, "info")] == ["done"]
    assert _logs(fn, "error") == []


def test_no_header_no_logs_and_too_many_logs_are_dropped_as_in_nuclio(fn):
    assert _logs(fn, None) is None
    assert _logs(fn, "info", "/chatty") is None  # over nuclio's 4 KiB header limit
    assert [e["message"] for e in _logs(fn, "debug")] == ["scoring", "done"]  # the next request is clean


def test_invoke_log_level_prints_the_function_logs(tmp_path, capsys):
    path = tmp_path / "function.yaml"
    path.write_text(yaml.safe_dump(function_config(HANDLER)))
    assert main(["invoke", str(path), "--log-level", "debug"]) == 0
    out = capsys.readouterr().out
    assert "function logs:" in out
    assert "debug scoring rows=2" in out and "info  done" in out
