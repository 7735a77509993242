"""function.yaml loading: what the emulator accepts, and one-line errors for what it cannot run."""

from __future__ import annotations

import pytest
import yaml

from fnpack.cli import main
from fnpack.emulator import FunctionConfigError, load_function, parse_function
from fnpack.emulator.config import parse_duration

from .conftest import function_config

SOURCE = "def handler(context, event):\n    return 'ok'\n"


def _broken(mutate):
    doc = function_config(SOURCE)
    mutate(doc)
    return doc


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["spec"]["build"].pop("functionSourceCode"), "missing spec.build.functionSourceCode"),
        (lambda d: d["spec"]["build"].update(functionSourceCode="not base64!!"), "not valid base64"),
        (lambda d: d["spec"].pop("handler"), "missing spec.handler"),
        (lambda d: d["spec"].update(handler="main.handler"), "spec.handler 'main.handler' is malformed"),
        (lambda d: d["spec"].update(handler="main:hand-ler"), "is malformed"),
        (lambda d: d["spec"].update(handler="a..b:h"), "is malformed"),
        (lambda d: d["spec"].update(runtime="golang"), "not a Python runtime"),
        (lambda d: d.pop("spec"), "missing 'spec'"),
        (lambda d: d["spec"].update(env={"A": "1"}), "spec.env must be a list"),
        (lambda d: d["spec"].update(triggers={"t": {"kind": "http", "maxWorkers": 0}}), "maxWorkers must be"),
        (
            lambda d: d["spec"].update(triggers={"a": {"kind": "http"}, "b": {"kind": "http"}}),
            "more than one http trigger",
        ),
    ],
)
def test_invalid_config_is_a_one_line_error(mutate, message):
    with pytest.raises(FunctionConfigError) as info:
        parse_function(_broken(mutate))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_handler_forms_nuclio_accepts():
    for handler in ("main:handler", "pkg.mod:run", "my-mod:h", "a.b-c.d:fn_1"):
        doc = function_config(SOURCE, handler=handler)
        assert parse_function(doc).handler == handler
    assert parse_function(function_config(SOURCE, handler="pkg.mod:run")).source_filename == "pkg/mod.py"


def test_defaults_env_and_default_http_trigger(tmp_path):
    doc = function_config(
        SOURCE, env=[{"name": "A", "value": 1}, {"name": "S", "valueFrom": {"secretKeyRef": {}}}]
    )
    path = tmp_path / "function.yaml"
    path.write_text(yaml.safe_dump(doc))
    config = load_function(path)
    assert config.env == {"A": "1"}
    assert config.env_from == ["S"]  # nuclio fills it from a secret; locally --env or the shell does
    assert [(t.name, t.kind, t.max_workers) for t in config.triggers] == [("default-http", "http", 1)]
    assert config.source == SOURCE.encode()


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(FunctionConfigError, match="no such file"):
        load_function(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec: [unclosed\n")
    with pytest.raises(FunctionConfigError, match="not valid YAML"):
        load_function(bad)


@pytest.mark.parametrize(
    ("text", "seconds"), [("10s", 10), ("500ms", 0.5), ("1m30s", 90), ("1h", 3600), (2, 2), ("1.5s", 1.5)]
)
def test_parse_duration(text, seconds):
    assert parse_duration(text, "x") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["10", "ten seconds", "", "5d", "1s2"])
def test_parse_duration_rejects(text):
    with pytest.raises(FunctionConfigError):
        parse_duration(text, "interval")


def test_cli_run_reports_config_errors_in_one_line(tmp_path, capsys):
    path = tmp_path / "function.yaml"
    path.write_text(yaml.safe_dump(_broken(lambda d: d["spec"].update(handler="nocolon"))))
    assert main(["run", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("fnpack run: error: ")
    assert "spec.handler 'nocolon' is malformed" in err
    assert len(err.splitlines()) == 1


def test_unknown_trigger_kinds_are_skipped_but_something_must_run():
    from fnpack.emulator import Emulator

    only_v3io = function_config(SOURCE, triggers={"s": {"kind": "v3ioStream"}})
    with pytest.raises(FunctionConfigError, match="none of the function's triggers"):
        Emulator(only_v3io)
    mixed = function_config(SOURCE, triggers={"s": {"kind": "v3ioStream"}, "h": {"kind": "http"}})
    emulator = Emulator(mixed)
    assert list(emulator.triggers) == ["h"]
    assert "not emulated" in emulator.skipped[0]
