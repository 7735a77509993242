"""``fnpack deploy`` then an HTTP call to the reported URL: the dashboard runs the function in the emulator."""

from __future__ import annotations

import re

import pytest
import requests

from fnpack.cli import main

from .nuclio_dashboard import emulator_serve


def test_deploy_then_invoke_the_reported_url(dashboard, creds_env, write_function, capsys):
    if emulator_serve() is None:
        pytest.skip("fnpack.emulator.serve is not available in this tree: the dashboard cannot run functions")
    path = write_function(name="greeter")
    assert main(["deploy", str(path), "--dashboard", dashboard.url, "--poll-interval", "0.01"]) == 0
    out = capsys.readouterr().out
    match = re.search(r"function greeter is ready: (http://\S+)", out)
    assert match, out
    url = match.group(1)
    reply = requests.post(url, data=b"world", timeout=30)
    assert reply.status_code == 200
    assert reply.text == "hello world"
    assert main(["get", "greeter", "--dashboard", dashboard.url]) == 0
    assert f"url:          {url}" in capsys.readouterr().out
    assert main(["delete", "greeter", "--dashboard", dashboard.url]) == 0
    with pytest.raises(requests.ConnectionError):
        requests.post(url, data=b"world", timeout=5)  # the function stopped with its deletion


def test_function_that_cannot_start_ends_unhealthy(dashboard, creds_env, write_function, capsys):
    if emulator_serve() is None:
        pytest.skip("fnpack.emulator.serve is not available in this tree: the dashboard cannot run functions")
    source = (
        "def init_context(context):\n"
        "    raise RuntimeError('model file missing')\n\n"
        "def handler(context, event):\n"
        "    return 'never'\n"
    )
    path = write_function(name="sick", source=source)
    assert main(["deploy", str(path), "--dashboard", dashboard.url, "--poll-interval", "0.01"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fnpack deploy: error: function sick failed to deploy (unhealthy): ")
    assert "model file missing" in err
    assert dashboard.record("sick")["status"]["state"] == "unhealthy"
