"""build → yaml → load gives the same graph; by-value classes from a script run as ``__main__``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from fnpack import new_function
from fnpack.graph.steps import graph_from_dict
from fnpack.package.loader import load_function
from fnpack.package.validate import run_probe

from .graphs import five_step_function

SCRIPT = """
import json, sys
from fnpack import new_function


class Greeter:
    def __init__(self, greeting="hi", **kwargs):
        self.greeting = greeting

    def do(self, body):
        return {"text": f"{self.greeting} {body['name']}", "shout": shout(body["name"])}


def shout(text):
    return text.upper()


def lower_first(event):
    event.body["name"] = event.body["name"].lower()
    return event


fn = new_function("greeter", project="demo")
graph = fn.set_topology("flow", engine="sync")
graph.to(name="lower", handler=lower_first, full_event=True).to(Greeter, name="greet", greeting="hello")
result = fn.export(sys.argv[1])
print(json.dumps({"graph": fn.spec.graph.to_dict(), "by_value": result.by_value}))
"""


def test_round_trip_same_graph_dict(tmp_path):
    fn = five_step_function()
    fn.with_http(workers=1)
    fn.export(str(tmp_path / "function.yaml"))
    loaded = load_function(str(tmp_path / "function.yaml"))
    assert loaded.graph == fn.spec.graph.to_dict()
    assert graph_from_dict(loaded.graph).to_dict() == loaded.graph
    spec = loaded.serving_spec
    assert spec["function_uri"] == "tests/five" and "fnpack" not in spec


def test_main_script_classes_by_value(tmp_path, bare_python):
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(SCRIPT))
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "function.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout.strip().splitlines()[-1])
    assert printed["by_value"] == ["Greeter", "lower_first"]
    loaded = load_function(str(tmp_path / "function.yaml"))
    assert loaded.graph == printed["graph"]
    python, args, lib = bare_python
    result = run_probe(
        loaded,
        python=python,
        python_args=tuple(args),
        extra_paths=[lib],
        events=[{"body": {"name": "ADA"}, "content_type": "application/json"}],
    )
    assert result.get("ok") and "error" not in result, result
    assert json.loads(result["responses"][0]["body"]) == {"text": "hello ada", "shout": "ADA"}


def test_mock_server_and_packaged_function_agree(tmp_path, bare_python):
    fn = five_step_function()
    expected = fn.to_mock_server().test(body={"x": 2})
    fn.export(str(tmp_path / "function.yaml"))
    python, args, lib = bare_python
    result = run_probe(
        load_function(str(tmp_path / "function.yaml")),
        python=python,
        python_args=tuple(args),
        extra_paths=[lib],
        events=[{"body": {"x": 2}, "content_type": "application/json"}],
    )
    assert json.loads(result["responses"][0]["body"]) == expected


def test_router_topology_round_trip(tmp_path):
    fn = new_function("router-fn")
    fn.add_model("m1", class_name="package.graphs.Scale", model_path="/models/m1", factor=3)
    fn.add_model("m2:v2", class_name="package.graphs.Scale", model_path="/models/m2")
    fn.export(str(tmp_path / "function.yaml"))
    graph = load_function(str(tmp_path / "function.yaml")).graph
    assert graph == fn.spec.graph.to_dict()
    assert graph["kind"] == "router" and set(graph["routes"]) == {"m1", "m2:v2"}


def test_sibling_module_classes_go_by_value(tmp_path, bare_python):
    (tmp_path / "helpers.py").write_text(
        textwrap.dedent(
            """
            FACTOR = 4

            def scale(value):
                return value * FACTOR

            class Model:
                def __init__(self, **kwargs):
                    pass

                def do(self, body):
                    return {"y": scale(body["x"])}
            """
        )
    )
    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            """
            import sys
            from fnpack import new_function
            from helpers import Model

            fn = new_function("sibling")
            fn.set_topology("flow", engine="sync").to(Model, name="model")
            print(fn.export(sys.argv[1]).by_value)
            """
        )
    )
    out = subprocess.run(
        [sys.executable, "app.py", "function.yaml"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['helpers.Model']"
    python, args, lib = bare_python
    result = run_probe(
        load_function(str(tmp_path / "function.yaml")),
        python=python,
        python_args=tuple(args),
        extra_paths=[lib],
        events=[{"body": {"x": 3}, "content_type": "application/json"}],
    )
    assert result.get("ok") and "error" not in result, result
    assert json.loads(result["responses"][0]["body"]) == {"y": 12}
