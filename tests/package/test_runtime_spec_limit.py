"""The worker refuses a serving spec over 1 MiB from its env var, with advice (DESIGN contract 2)."""

import json

import pytest

from fnpack.handlers.spec import SPEC_ENV, read_spec


def test_env_spec_over_the_limit_is_refused(monkeypatch):
    monkeypatch.setenv(SPEC_ENV, json.dumps({"graph": None, "parameters": {"blob": "x" * (1024 * 1024)}}))
    with pytest.raises(ValueError, match="over the 1 MiB limit: rebuild with --spec-source file"):
        read_spec(None)


def test_env_spec_under_the_limit_is_read(monkeypatch):
    monkeypatch.setenv(SPEC_ENV, json.dumps({"parameters": {"a": 1}}))
    assert read_spec(None) == ({"parameters": {"a": 1}}, "env")
