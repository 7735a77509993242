"""Helpers: write a function.yaml around a tiny handler module written by the test."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from kafka_broker import kafka_broker  # noqa: F401  (session fixture: a real Tansu broker)
from polling import wait_for  # noqa: F401  (re-exported for the tests here)


def function_config(
    source: str,
    *,
    handler: str = "main:handler",
    name: str = "fn",
    triggers: dict[str, Any] | None = None,
    env: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "runtime": "python:3.11",
        "handler": handler,
        "build": {"functionSourceCode": base64.b64encode(textwrap.dedent(source).encode()).decode()},
    }
    if triggers is not None:
        spec["triggers"] = triggers
    if env is not None:
        spec["env"] = env
    return {"apiVersion": "nuclio.io/v1", "kind": "Function", "metadata": {"name": name}, "spec": spec}


@pytest.fixture
def write_function(tmp_path: Path) -> Callable[..., Path]:
    """``write_function(source, **kw)`` → path of a function.yaml holding ``source`` as its handler module."""

    def write(source: str, filename: str = "function.yaml", **kw: Any) -> Path:
        path = tmp_path / filename
        path.write_text(yaml.safe_dump(function_config(source, **kw)))
        return path

    return write
