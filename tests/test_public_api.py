"""Every public name is importable from fnpack and fnpack.serving under the reference's names."""

import importlib

import pytest

import fnpack
import fnpack.graph
import fnpack.serving

REFERENCE_NAMES = [
    "GraphServer",
    "GraphContext",
    "TaskStep",
    "RouterStep",
    "QueueStep",
    "FlowStep",
    "RootFlowStep",
    "ErrorStep",
    "MockEvent",
    "Response",
    "StepToDict",
    "create_graph_server",
    "Merge",
]


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_reference_names_from_fnpack_and_fnpack_serving(name):
    assert getattr(fnpack, name) is getattr(fnpack.serving, name)


@pytest.mark.parametrize("name", fnpack.serving.__all__)
def test_every_serving_name_resolves(name):
    assert getattr(fnpack.serving, name) is not None
    assert getattr(fnpack, name) is getattr(fnpack.serving, name)


@pytest.mark.parametrize("name", fnpack.graph.__all__)
def test_every_graph_name_resolves(name):
    assert getattr(fnpack.graph, name) is not None


def test_builder_entry_points():
    assert callable(fnpack.new_function)
    fn = fnpack.new_function("x")
    assert isinstance(fn, fnpack.ServingFunction)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        fnpack.nope  # noqa: B018


def test_runtime_imports_only_the_stdlib():
    """fnpack.graph must not pull third-party modules: its import time is the function's cold start."""
    import subprocess
    import sys

    code = (
        "import sys; before = set(sys.modules); import fnpack.graph, fnpack.serving; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "import sys as s; std = set(s.stdlib_module_names); "
        "print(sorted(m for m in new if m not in std and m != 'fnpack'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_module_paths():
    for module in (
        "fnpack.graph.server",
        "fnpack.graph.steps",
        "fnpack.serving.merger",
        "fnpack.package.function",
    ):
        importlib.import_module(module)
