"""``fn.deploy(dashboard=...)``: the library call behind ``fnpack deploy``, straight from a function object."""

from __future__ import annotations

import pytest
import requests

import fnpack

from .nuclio_dashboard import emulator_serve


def shout(body):
    return (body.decode() if isinstance(body, bytes) else str(body)).upper()


def test_function_object_deploys_and_serves(dashboard, creds_env):
    if emulator_serve() is None:
        pytest.skip("fnpack.emulator.serve is not available: the dashboard cannot run functions")
    fn = fnpack.new_function("shouter", project="demo")
    fn.set_topology("flow", engine="sync").to(name="shout", handler=shout)
    status = fn.deploy(dashboard.url, poll_interval=0.01)
    assert status.state == "ready"
    reply = requests.post(status.url, data=b"hey", headers={"Content-Type": "text/plain"}, timeout=30)
    assert reply.status_code == 200 and reply.text == "HEY"
    assert dashboard.record("shouter")["metadata"]["labels"]["nuclio.io/project-name"] == "demo"
