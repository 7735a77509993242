"""Fixtures for deploy tests: the test nuclio dashboard, function.yaml files, and a real dockerd."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest
import yaml

from .nuclio_dashboard import NuclioDashboard

USER = "deployer"
PASSWORD = "pw-Zq81-never-print"
ACCESS_KEY = "ak-7f3c-never-print"
SECRETS = (PASSWORD, ACCESS_KEY)

HELLO_SOURCE = textwrap.dedent(
    """
    def handler(context, event):
        body = event.body.decode() if isinstance(event.body, bytes) else str(event.body)
        return "hello " + body
    """
)


@pytest.fixture
def dashboard():
    server = NuclioDashboard(users={USER: PASSWORD}, access_keys={ACCESS_KEY}).start()
    yield server
    server.stop()


@pytest.fixture
def creds_env(monkeypatch):
    """Basic-auth credentials in the environment, as CI would set them."""
    monkeypatch.setenv("NUCLIO_USERNAME", USER)
    monkeypatch.setenv("NUCLIO_PASSWORD", PASSWORD)
    monkeypatch.delenv("NUCLIO_ACCESS_KEY", raising=False)
    monkeypatch.delenv("NUCLIO_DASHBOARD_URL", raising=False)


def function_config(
    name: str = "hello",
    source: str = HELLO_SOURCE,
    handler: str = "main:handler",
    runtime: str = "python:3.11",
    commands: list[str] | None = None,
) -> dict:
    return {
        "apiVersion": "nuclio.io/v1",
        "kind": "Function",
        "metadata": {"name": name},
        "spec": {
            "runtime": runtime,
            "handler": handler,
            "triggers": {"http": {"kind": "http", "maxWorkers": 1, "attributes": {"port": 0}}},
            "build": {
                "functionSourceCode": base64.b64encode(source.encode()).decode(),
                "commands": commands if commands is not None else ["pip install requests"],
            },
        },
    }


@pytest.fixture
def write_function(tmp_path: Path):
    def write(config: dict | None = None, filename: str = "function.yaml", **kwargs) -> Path:
        path = tmp_path / filename
        path.write_text(yaml.safe_dump(config or function_config(**kwargs), sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")
def docker_daemon():
    """A private dockerd for this test session (skips, printing why, when it cannot start)."""
    from .docker_env import Unavailable, start_dockerd

    try:
        daemon = start_dockerd()
    except Unavailable as exc:
        pytest.skip(f"dockerd cannot start here: {exc}")
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def base_image(docker_daemon):
    from .docker_env import Unavailable, import_busybox_image

    try:
        return import_busybox_image(docker_daemon.client)
    except Unavailable as exc:
        pytest.skip(f"no local base image: {exc}")


@pytest.fixture(scope="session")
def registry():
    from .docker_env import Unavailable, start_registry

    try:
        reg = start_registry()
    except Unavailable as exc:
        pytest.skip(f"no local registry: {exc}")
    yield reg
    reg.stop()
