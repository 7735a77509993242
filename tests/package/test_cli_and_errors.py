"""``fnpack build / validate / show`` and the one-line errors for bad input."""

from __future__ import annotations

import textwrap

import pytest

from fnpack.cli import main

MODULE = """
from fnpack import new_function


class Doubler:
    def __init__(self, **kwargs):
        pass

    def do(self, body):
        return {"y": body["x"] * 2}


def make():
    fn = new_function("from-factory")
    fn.set_topology("flow", engine="sync").to(Doubler, name="double")
    return fn


fn = new_function("doubler", project="demo")
fn.set_topology("flow", engine="sync").to("Doubler", name="double").to(name="done", handler="(event)")
fn.with_http(workers=2)
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _one_line_error(capsys, argv, contains):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 1, err
    assert len(err.splitlines()) == 1, err
    assert contains in err, err
    return err


def test_build_validate_show(tmp_path, capsys):
    module = _write(tmp_path, "doubler.py", MODULE)
    out = tmp_path / "function.yaml"
    assert main(["build", str(module), "-o", str(out)]) == 0
    assert "by value: Doubler" in capsys.readouterr().out
    assert main(["validate", str(out)]) == 0
    report = capsys.readouterr().out
    assert "ok" in report and "init ok in a fresh interpreter" in report
    assert main(["show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "doubler: flow topology, sync engine" in text
    assert "double: Doubler()" in text and "done: handler (event)  (after double)" in text
    assert main(["show", str(out), "--format", "dot"]) == 0
    assert capsys.readouterr().out.startswith('digraph "doubler"')


def test_build_named_factory_and_overrides(tmp_path, capsys):
    module = _write(tmp_path, "doubler.py", MODULE)
    out = tmp_path / "f.yaml"
    argv = [
        "build",
        f"{module}:make",
        "-o",
        str(out),
        "--name",
        "renamed",
        "--spec-source",
        "env",
        "--validate",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "function renamed" in printed and "spec in env" in printed and "init ok" in printed


def test_help_explains_commands(capsys):
    for command in ("build", "validate", "show"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "usage: fnpack " + command in capsys.readouterr().out


def test_unknown_class(tmp_path, capsys):
    module = _write(
        tmp_path,
        "bad.py",
        """
        from fnpack import new_function
        fn = new_function("bad")
        fn.set_topology("flow", engine="sync").to("NoSuchClass", name="step1")
        """,
    )
    _one_line_error(
        capsys, ["build", str(module), "-o", str(tmp_path / "f.yaml")], "class 'NoSuchClass' not found"
    )


def test_unpicklable_class(tmp_path, capsys):
    module = _write(
        tmp_path,
        "locked.py",
        """
        import threading
        from fnpack import new_function

        class Locked:
            lock = threading.Lock()
            def do(self, body):
                return body

        fn = new_function("locked")
        fn.set_topology("flow", engine="sync").to(Locked, name="locked")
        """,
    )
    err = _one_line_error(capsys, ["build", str(module), "-o", str(tmp_path / "f.yaml")], "cannot serialize")
    assert "lock" in err


def test_name_too_long_and_not_dns(tmp_path, capsys):
    module = _write(tmp_path, "doubler.py", MODULE)
    out = str(tmp_path / "f.yaml")
    _one_line_error(capsys, ["build", str(module), "-o", out, "--name", "x" * 64], "the limit is 63")
    _one_line_error(capsys, ["build", str(module), "-o", out, "--name", "Bad_Name"], "not a DNS-1123 label")


def test_spec_too_large_says_what_to_use(tmp_path, capsys):
    module = _write(
        tmp_path,
        "big.py",
        """
        from fnpack import new_function
        fn = new_function("big")
        fn.set_topology("flow", engine="sync").to(name="s", handler="(event)", blob="x" * (1024 * 1024 + 10))
        """,
    )
    # class_args on a handler step are ignored by the runtime, but they still travel in the spec
    out = str(tmp_path / "f.yaml")
    _one_line_error(capsys, ["build", str(module), "-o", out], "over the 1 MiB limit")
    err = _one_line_error(
        capsys, ["build", str(module), "-o", out, "--spec-source", "env"], "over the 1 MiB limit"
    )
    assert "--spec-source file" in err
    assert main(["build", str(module), "-o", out, "--spec-source", "file"]) == 0
    assert (tmp_path / "serving_spec.json").stat().st_size > 1024 * 1024


def test_validate_malformed_yaml_and_bad_configs(tmp_path, capsys):
    bad = _write(tmp_path, "bad.yaml", "metadata: {name: x\nspec: [")
    _one_line_error(capsys, ["validate", str(bad)], "not valid YAML at line")
    _one_line_error(capsys, ["validate", str(tmp_path / "missing.yaml")], "no such file")
    handler = _write(
        tmp_path,
        "handler.yaml",
        "apiVersion: nuclio.io/v1\nkind: Function\nmetadata: {name: ok}\nspec: {handler: 'main.handler'}\n",
    )
    _one_line_error(capsys, ["validate", str(handler)], "spec.handler 'main.handler' is malformed")
    nosource = _write(
        tmp_path,
        "nosource.yaml",
        "metadata: {name: ok}\nspec: {handler: 'main:handler', runtime: 'python:3.11'}\n",
    )
    _one_line_error(capsys, ["validate", str(nosource)], "functionSourceCode is missing")
    replicas = _write(
        tmp_path,
        "replicas.yaml",
        "metadata: {name: ok}\nspec: {handler: 'main:handler', minReplicas: 3, maxReplicas: 1}\n",
    )
    _one_line_error(capsys, ["validate", str(replicas)], "spec.maxReplicas (1) is below spec.minReplicas (3)")
    timeout = _write(
        tmp_path,
        "timeout.yaml",
        "metadata: {name: ok}\nspec: {handler: 'main:handler', eventTimeout: soon}\n",
    )
    _one_line_error(capsys, ["validate", str(timeout)], "spec.eventTimeout: expected a duration like '10s'")


def test_validate_catches_init_failure(tmp_path, capsys):
    module = _write(tmp_path, "doubler.py", MODULE)
    out = tmp_path / "function.yaml"
    assert main(["build", str(module), "-o", str(out), "--spec-source", "env"]) == 0
    capsys.readouterr()
    text = out.read_text().replace('"class_name":"Doubler"', '"class_name":"Gone"')
    out.write_text(text)
    err = _one_line_error(capsys, ["validate", str(out)], "init_context failed in a fresh interpreter")
    assert "class 'Gone' not found" in err


def test_build_pip_runtime(tmp_path, capsys):
    import base64

    import yaml

    module = _write(tmp_path, "doubler.py", MODULE)
    out = tmp_path / "f.yaml"
    argv = [
        "build",
        str(module),
        "-o",
        str(out),
        "--runtime",
        "pip",
        "--fnpack-requirement",
        "fnpack @ file:///w/fnpack.whl",
    ]
    assert main(argv) == 0
    assert "runtime pip" in capsys.readouterr().out
    config = yaml.safe_load(out.read_text())
    assert config["spec"]["build"]["commands"][0] == "pip install 'fnpack @ file:///w/fnpack.whl'"
    assert (
        "_FNPACK_MODULES = None" in base64.b64decode(config["spec"]["build"]["functionSourceCode"]).decode()
    )
    assert main(["validate", str(out)]) == 0  # here fnpack is installed, as the build command would do
