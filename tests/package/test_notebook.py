"""Notebooks: nuclio-jupyter's code extraction (``# nuclio: ignore``, ``%nuclio`` magics) on a real file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fnpack import code_to_function
from fnpack.cli import main
from fnpack.package.loader import load_function
from fnpack.package.validate import run_probe

pytest.importorskip("nuclio.build", reason="nuclio-jupyter is not installed")

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebook_function.ipynb"


def test_code_extraction_honours_ignore_and_magics():
    fn = code_to_function("nb-model", filename=str(NOTEBOOK))
    code = fn._code
    assert code.module == "notebook_function"
    assert "class ScaleModel" in code.source and "def finish" in code.source
    assert "SCRATCH" not in code.source and "code_to_function" not in code.source
    assert "%nuclio" not in code.source
    assert {"name": "MODEL_FACTOR", "value": "3"} in fn.spec.env
    fn.set_topology("flow", engine="sync").to("ScaleModel", name="model")
    assert fn.to_mock_server().test(body={"x": 1})["x"] == 1


def test_build_notebook_runs_without_fnpack(tmp_path, capsys, bare_python):
    out = tmp_path / "function.yaml"
    assert main(["build", str(NOTEBOOK), "-o", str(out)]) == 0
    assert "by value" not in capsys.readouterr().out  # the notebook's classes travel as embedded source
    function = load_function(str(out))
    assert function.name == "notebook-model"
    assert "notebook_function" in function.modules
    assert {"name": "MODEL_FACTOR", "value": "3"} in function.config["spec"]["env"]
    python, args, lib = bare_python
    result = run_probe(
        function,
        python=python,
        python_args=tuple(args),
        extra_paths=[lib],
        events=[{"body": {"x": 2}, "content_type": "application/json"}],
    )
    assert result.get("ok") and "error" not in result, result
    assert json.loads(result["responses"][0]["body"]) == {"x": 2, "y": 6, "done": True}


def test_nuclio_config_magics_reach_the_function(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            '%nuclio config spec.build.baseImage = "python:3.11-slim"\n'
            "%nuclio config spec.maxReplicas = 3\n"
            "%nuclio cmd pip install six"
        ),
        nbformat.v4.new_code_cell("def echo(body):\n    return body"),
    ]
    path = tmp_path / "cfg.ipynb"
    nbformat.write(notebook, str(path))
    fn = code_to_function("cfg", filename=str(path))
    fn.set_topology("flow", engine="sync").to(name="echo", handler="echo")
    config = fn.to_dict()
    assert config["spec"]["build"]["baseImage"] == "python:3.11-slim"
    assert config["spec"]["maxReplicas"] == 3
    assert "pip install six" in config["spec"]["build"]["commands"]
