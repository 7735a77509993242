"""Malformed serving specs and function.yaml files: they work, or fail with a one-line error of a known type.

Serving specs (the JSON every worker rebuilds its graph from) go through ``GraphServer.from_dict`` +
``init_states`` + ``init_object``: the only exceptions allowed are GraphError, ValueError and TypeError, with
a one-line message; a spec that initializes must then answer an event without raising. function.yaml
files go through ``fnpack validate --no-run`` (in-process for the fuzz: BuildError, one line; as the CLI
for a fixed set: exit 1, one line on stderr, no traceback).
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys

import flow_basics
import model_router
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fnpack.graph import GraphError, MockEvent
from fnpack.graph.server import GraphServer
from fnpack.package.errors import BuildError
from fnpack.package.validate import validate_file

pytestmark = pytest.mark.reliability

ALLOWED = (GraphError, ValueError, TypeError)

NAMESPACES = [vars(model_router), vars(flow_basics)]

SYNC_FLOW = {
    "graph": {
        "kind": "flow",
        "engine": "sync",
        "steps": {
            "double": {"kind": "task", "handler": "(event * 2)"},
            "call": {
                "kind": "task",
                "class_name": "fnpack.serving.remote.RemoteStep",
                "class_args": {"url_expression": 'event["url"]', "retries": 0},
                "after": ["double"],
            },
            "last": {"kind": "task", "handler": "(event)", "after": ["call"], "responder": True},
        },
    },
    "parameters": {},
}
BASE_SPECS = [model_router.build().serving_spec(), flow_basics.build().serving_spec(), SYNC_FLOW]

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
interesting = st.sampled_from(
    ["router", "flow", "task", "queue", "remote", "error_step", "model_router.IrisClassifier",
     "no.such.Class", "NoSuchName", "fnpack.serving.ModelRouter", "(event", "(event)", "()", "sync",
     "async", "$path", "*", "", "iris", "validate", "total", 0, -1, 4500, [], {}, None, True, ["validate"],
     {"kind": "task"}, {"kind": "router", "routes": {}}, {"steps": {}}]
)  # fmt: skip
values = interesting | json_values


def _paths(obj, prefix=()):
    """Every location in a JSON document, as key/index tuples."""
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _paths(value, (*prefix, i))


@st.composite
def malformed(draw, base_documents):
    """A base document with a few random edits: a value replaced, a key deleted, a key added."""
    doc = copy.deepcopy(draw(st.sampled_from(base_documents)))
    for _ in range(draw(st.integers(1, 4))):
        locations = list(_paths(doc))
        path = draw(st.sampled_from(locations))
        if not path:
            if draw(st.integers(0, 9)) == 0:
                doc = copy.deepcopy(draw(values))
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        op = draw(st.sampled_from(["set", "delete", "add"]))
        if op == "set":
            parent[path[-1]] = copy.deepcopy(draw(values))
        elif op == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent[path[-1]], dict):
            key = draw(texts | interesting.filter(lambda v: isinstance(v, str)))
            parent[path[-1]][key] = copy.deepcopy(draw(values))
    return doc


def _one_line(exc: BaseException) -> None:
    assert isinstance(exc, ALLOWED), (
        f"{type(exc).__name__} is not one of GraphError/ValueError/TypeError: {exc}"
    )
    message = str(exc)
    assert message and "\n" not in message, f"not a one-line message: {message!r}"


@settings(max_examples=300, deadline=None)
@given(spec=malformed(BASE_SPECS))
def test_malformed_serving_spec_works_or_fails_in_one_line(spec):
    try:
        server = GraphServer.from_dict(spec)
        server.init_states(None, NAMESPACES, is_mock=True)
        server.init_object(NAMESPACES)
    except Exception as exc:
        _one_line(exc)
        return
    try:
        for path, body in (("/", {"inputs": [[1, 2, 3, 4]]}), ("/v2/models/iris/infer", {"items": []})):
            server.run(MockEvent(body=body, path=path, method="POST"))  # the graph answers, never raises
    finally:
        try:
            server.close(timeout=5)
        except RuntimeError as exc:  # documented: close() re-raises what failed after the response was sent
            assert "failed after its response was sent" in str(exc)


def test_the_spec_fuzz_bases_are_valid():
    """The fuzz starts from specs that work, so an edit that breaks them is what is tested."""
    for spec in BASE_SPECS:
        server = GraphServer.from_dict(copy.deepcopy(spec))
        server.init_states(None, NAMESPACES, is_mock=True)
        server.init_object(NAMESPACES)
        server.close(timeout=5)


# --- function.yaml ----------------------------------------------------------------------------------


def _source(spec_literal) -> str:
    return f"_FNPACK_SPEC = {spec_literal!r}\n_FNPACK_MODULES = None\n\n\ndef handler(context, event):\n    pass\n"


def _config(source: str | None = None, spec=SYNC_FLOW) -> dict:
    source = source if source is not None else _source(json.dumps(spec))
    return {
        "apiVersion": "nuclio.io/v1",
        "kind": "Function",
        "metadata": {"name": "fuzzed"},
        "spec": {
            "runtime": "python:3.11",
            "handler": "main:handler",
            "env": [{"name": "A", "value": "1"}],
            "triggers": {"http": {"kind": "http", "maxWorkers": 2, "attributes": {"port": 8080}}},
            "build": {"functionSourceCode": base64.b64encode(source.encode()).decode(), "commands": []},
        },
    }


BASE_CONFIGS = [_config(), _config(spec=BASE_SPECS[0])]
source_literals = (
    malformed([SYNC_FLOW, BASE_SPECS[0]]).map(lambda spec: repr(json.dumps(spec)))
    | json_values.map(repr)
    | st.text(max_size=20).map(repr)
)


@st.composite
def malformed_configs(draw):
    if draw(st.booleans()):  # edit the serving spec inside the source
        config = copy.deepcopy(BASE_CONFIGS[0])
        literal = draw(source_literals)
        modules = draw(st.sampled_from(["None", "'@@'", "'eJwDAAAAAAE='", "1", "[]", "'x' * 3"]))
        source = f"_FNPACK_SPEC = {literal}\n_FNPACK_MODULES = {modules}\n"
        config["spec"]["build"]["functionSourceCode"] = base64.b64encode(source.encode()).decode()
        return config
    return draw(malformed(BASE_CONFIGS))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=malformed_configs())
def test_malformed_function_yaml_is_valid_or_one_line_build_error(tmp_path, config):
    path = tmp_path / "function.yaml"
    try:
        path.write_text(yaml.safe_dump(config))
    except yaml.YAMLError:
        assume(False)
    try:
        validate_file(str(path), run=False)
    except Exception as exc:
        assert isinstance(exc, BuildError), f"{type(exc).__name__} (not a BuildError): {exc}"
        message = str(exc)
        assert message and "\n" not in message, f"not a one-line message: {message!r}"


CLI_CASES = {
    "not-yaml": "spec: [unclosed\n",
    "a-list": "- 1\n- 2\n",
    "empty": "",
    "no-spec": "metadata: {name: x}\n",
    "bad-base64": yaml.safe_dump(
        {**_config(), "spec": {**_config()["spec"], "build": {"functionSourceCode": "@@"}}}
    ),
    "source-syntax-error": yaml.safe_dump(_config(source="def (:\n")),
    "spec-not-json": yaml.safe_dump(_config(source=_source("{not json"))),
    "graph-malformed": yaml.safe_dump(_config(spec={"graph": {"kind": "nope"}})),
    "spec-over-1mib": yaml.safe_dump(
        _config(spec={**SYNC_FLOW, "parameters": {"blob": "x" * (1024 * 1024)}})
    ),
    "binary": b"\x00\xff\xfe",
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_validate_cli_on_a_malformed_file_is_one_line_and_exit_1(tmp_path, case):
    lines = _check_cli_rejects(tmp_path, CLI_CASES[case])
    if case == "spec-over-1mib":
        assert "over the 1 MiB limit" in lines[0]


def _check_cli_rejects(tmp_path, text: str | bytes) -> list[str]:
    path = tmp_path / "function.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    done = subprocess.run(
        [sys.executable, "-m", "fnpack.cli", "validate", "--no-run", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines


def test_validate_cli_accepts_the_built_router(router_yaml):
    """The CLI cases above fail for their own reason: the real function passes the same command."""
    done = subprocess.run(
        [sys.executable, "-m", "fnpack.cli", "validate", "--no-run", router_yaml],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def _router_spec(**edits) -> dict:
    spec = copy.deepcopy(BASE_SPECS[0])
    spec.update(edits)
    return spec


def _bug(case: str, document, where: str):
    """A malformed input the fuzzers found (``where`` it used to crash), kept as a regression test."""
    return pytest.param(document, id=case)


ROUTER_WITH_STR_CLASS_ARGS = {
    "graph": {
        "kind": "router",
        "routes": {"iris": {"class_name": "model_router.IrisClassifier", "class_args": "x"}},
    }
}
SPEC_REGRESSIONS = [
    _bug("routes-not-a-mapping", {"graph": {"kind": "router", "routes": "iris"}},
         "AttributeError from fnpack/graph/steps.py _field_from_dict ((value or {}).items() on a str), "
         "not a GraphError"),
    _bug("steps-not-a-mapping", {"graph": {"kind": "flow", "steps": [["a"]]}},
         "AttributeError from fnpack/graph/steps.py _field_from_dict ((value or {}).items() on a list)"),
    _bug("class-args-not-a-mapping", ROUTER_WITH_STR_CLASS_ARGS,
         "AttributeError from fnpack/graph/plan.py Compiler._instantiate ((step.class_args or {}).items())"),
    _bug("secret-source-not-a-mapping", _router_spec(secret_sources=["env"]),
         "AttributeError from fnpack/graph/context.py SecretsStore.__init__ (source.get on a str)"),
    _bug("step-name-with-a-line-break", {"graph": {"kind": "router", "routes": {"a\nb": "x"}}},
         "multi-line GraphError: names from the spec are quoted as '{name}' instead of {name!r} "
         "(e.g. fnpack/graph/steps.py:607 \"step '{name}': expected a dict\")"),
    _bug("class-name-with-a-line-break", {"graph": {"kind": "router", "routes": {"m": {"class_name": "No\nSuch"}}}},
         "multi-line GraphError: fnpack/graph/resolve.py resolve_class quotes the class name as '{name}'"),
    _bug("parameters-not-a-mapping", {**copy.deepcopy(BASE_SPECS[1]), "parameters": "x"},
         "AttributeError from fnpack/graph/server.py GraphServer.init_object (self.parameters.get, async flow)"),
]  # fmt: skip


def test_spec_accepted_at_init_answers_events_without_raising():
    spec = _router_spec(default_content_type=-1)
    try:
        server = GraphServer.from_dict(spec)
        server.init_states(None, NAMESPACES, is_mock=True)
        server.init_object(NAMESPACES)
    except Exception as exc:  # rejecting it at init, in one line, is a fix too
        _one_line(exc)
        return
    try:
        response = server.run(
            MockEvent(body=b'{"inputs": [[5.0, 3.4, 1.5, 0.2]]}', path="/v2/models/iris/infer")
        )
        assert getattr(response, "status_code", 200) < 500
    finally:
        server.close(timeout=5)


@pytest.mark.parametrize("spec", SPEC_REGRESSIONS)
def test_malformed_spec_regressions(spec):
    """Specs the fuzz found: each must fail with a one-line GraphError/ValueError/TypeError."""
    try:
        server = GraphServer.from_dict(copy.deepcopy(spec))
        server.init_states(None, NAMESPACES, is_mock=True)
        server.init_object(NAMESPACES)
    except Exception as exc:
        _one_line(exc)
    else:
        server.close(timeout=5)
        pytest.fail("the malformed spec was accepted")


def _yaml_with_source(source: str) -> str:
    return yaml.safe_dump(_config(source=source))


def _yaml_with_spec(**spec) -> str:
    config = _config()
    config["spec"].update(spec)
    return yaml.safe_dump(config)


YAML_REGRESSIONS = [
    _bug("spec-is-text", "metadata: {name: x}\nspec: hello\n",
         "AttributeError from fnpack/package/loader.py decode_source (config['spec'].get on a str)"),
    _bug("build-is-a-list", _yaml_with_spec(build=["x"]),
         "AttributeError from fnpack/package/loader.py decode_source (spec.build.get on a list)"),
    _bug("env-is-a-number", _yaml_with_spec(env=5),
         "TypeError from fnpack/package/loader.py load_function (iterating spec.env)"),
    _bug("env-name-is-a-mapping", _yaml_with_spec(env=[{"name": {"a": 1}, "value": "1"}]),
         "TypeError (unhashable) from fnpack/package/loader.py load_function"),
    _bug("spec-literal-not-text", _yaml_with_source("_FNPACK_SPEC = []\n"),
         "AttributeError from fnpack/package/validate.py check_static (spec_json.encode on a list)"),
    _bug("spec-json-not-an-object", _yaml_with_source("_FNPACK_SPEC = '[1]'\n"),
         "TypeError/AttributeError from fnpack/package/loader.py LoadedFunction.serving_spec (spec.pop on a non-dict)"),
    _bug("modules-blob-invalid", _yaml_with_source("_FNPACK_SPEC = None\n_FNPACK_MODULES = '@@'\n"),
         "zlib.error/binascii.Error/TypeError from fnpack/package/embed.py unpack_modules"),
    _bug("graph-routes-not-a-mapping", _yaml_with_source(_source(json.dumps({"graph": {"kind": "router", "routes": "x"}}))),
         "AttributeError from fnpack/graph/steps.py _field_from_dict escapes validate.check_static, which "
         "catches GraphError/TypeError/ValueError only"),
]  # fmt: skip


@pytest.mark.parametrize("text", YAML_REGRESSIONS)
def test_validate_regressions_are_one_line_cli_errors(tmp_path, text):
    """function.yaml files the fuzz found: ``fnpack validate --no-run`` must exit 1 with one line."""
    _check_cli_rejects(tmp_path, text)
