"""The embedded runtime runs on every Python nuclio offers (3.9–3.12), not only on the build's."""

from __future__ import annotations

import glob
import json
import subprocess
import sys

import pytest

from fnpack import code_to_function
from fnpack.package import BuildError
from fnpack.package.loader import load_function
from fnpack.package.validate import run_probe

from .graphs import five_step_function

CODE = """
import json


class Mean:
    def __init__(self, **kwargs):
        pass

    def do(self, body):
        values = body["values"]
        return {"mean": sum(values) / len(values)}
"""


def _find_python(minor: int) -> str | None:
    candidates = glob.glob(f"/root/.pyenv/versions/3.{minor}.*/bin/python3.{minor}")
    candidates += [f"/usr/bin/python3.{minor}", f"/usr/local/bin/python3.{minor}"]
    for path in candidates:
        try:
            out = subprocess.run(
                [path, "-c", "import sys; print(sys.version_info[1])"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == str(minor):
            return path
    return None


@pytest.mark.parametrize("minor", [9, 10, 12])
def test_embedded_function_on_other_python(tmp_path, bare_python, minor):
    python = _find_python(minor)
    if python is None:
        pytest.skip(f"no Python 3.{minor} interpreter on this machine")
    _, args, lib = bare_python
    fn = code_to_function("mean", code=CODE)
    fn.spec.runtime = f"python:3.{minor}"
    fn.set_topology("flow", engine="sync").to("Mean", name="mean")
    fn.export(str(tmp_path / "function.yaml"))
    function = load_function(str(tmp_path / "function.yaml"))
    assert function.config["spec"]["runtime"] == f"python:3.{minor}"
    events = [{"body": {"values": [1, 2, 3, 6]}, "content_type": "application/json"}]
    out = run_probe(function, python=python, python_args=tuple(args), extra_paths=[lib], events=events)
    assert out.get("ok") and "error" not in out, out
    assert json.loads(out["responses"][0]["body"]) == {"mean": 3.0}


def test_by_value_classes_pin_the_python_version():
    fn = five_step_function()
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert fn.build().config["spec"]["runtime"] == f"python:{here}"
    other = "3.12" if here != "3.12" else "3.11"
    fn.spec.runtime = f"python:{other}"
    with pytest.raises(BuildError, match=f"pickled with Python {here} but spec.runtime is python:{other}"):
        fn.build()
    fn.spec.runtime = "python"
    assert any("names no version" in w for w in fn.build().warnings)
