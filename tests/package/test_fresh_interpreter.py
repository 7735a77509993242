"""A built function.yaml runs in a fresh interpreter WITHOUT fnpack, under real nuclio-sdk objects."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from fnpack import new_function
from fnpack.package.loader import load_function
from fnpack.package.validate import run_probe

from .graphs import describe, five_step_function

JSON = "application/json"


def _describe_function(tmp_path, spec_source="embed"):
    fn = new_function("describe", project="tests")
    fn.set_topology("flow", engine="sync").to(name="describe", handler=describe, full_event=True)
    fn.with_http(workers=2)
    path = tmp_path / "function.yaml"
    fn.export(str(path), spec_source=spec_source)
    return load_function(str(path))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# every form nuclio hands a Python handler (reference nuclio.md), with what the graph must see
EVENTS = [
    # JSON bodies nuclio already decoded
    ({"body": {"x": 1}, "content_type": JSON, "id": "dict"}, {"body": {"x": 1}, "body_type": "dict"}),
    ({"body": [1, 2], "content_type": JSON, "id": "list"}, {"body": [1, 2], "body_type": "list"}),
    ({"body": "hello", "content_type": JSON, "id": "str"}, {"body": "hello", "body_type": "str"}),
    ({"body": 7, "content_type": JSON, "id": "num"}, {"body": 7, "body_type": "int"}),
    ({"body": 2.5, "content_type": JSON, "id": "float"}, {"body": 2.5, "body_type": "float"}),
    # bytes bodies: undecoded JSON (charset parameter), text, binary
    (
        {"body_b64": _b64(b'{"a": 2}'), "content_type": "application/json; charset=utf-8", "id": "jbytes"},
        {"body": {"a": 2}, "body_type": "dict", "content_type": JSON},
    ),
    (
        {"body_b64": _b64(b"plain text"), "content_type": "text/plain", "id": "text"},
        {"body": {"bytes": "plain text"}, "body_type": "bytes"},
    ),
    (
        {"body_b64": _b64(b"\x00\xff"), "content_type": "application/octet-stream", "id": "bin"},
        {"body": {"bytes": "\x00\xff"}, "body_type": "bytes"},
    ),
    # an empty HTTP body is no body
    (
        {"body_b64": "", "content_type": "text/plain", "method": "GET", "id": "empty"},
        {"body_type": "NoneType"},
    ),
    # raw event mode: every string field (path, method, content type, header keys/values, trigger) as bytes
    (
        {
            "body_b64": _b64(b"raw"),
            "content_type": "text/plain",
            "path": "/some/path",
            "method": "PUT",
            "headers": {"X-Test": "hv"},
            "id": "raw",
            "raw": True,
        },
        {"path": "/some/path", "method": "PUT", "header_x": "hv", "header_types": ["str"], "trigger": "http"},
    ),
    # a stream trigger: the path holds the topic; routing uses "/" and stream_path keeps the topic
    (
        {
            "body": {"k": 1},
            "content_type": JSON,
            "trigger": ["kafka-cluster", "k"],
            "topic": "orders",
            "id": "kafka",
        },
        {"path": "/", "stream_path": "orders", "trigger": "kafka-cluster"},
    ),
]


def _check(response, want: dict, event_id: str):
    assert response["status"] == 200, response
    assert response["type"] == "nuclio_sdk.response.Response"
    seen = json.loads(response["body"])
    for key, value in want.items():
        assert seen[key] == value, (event_id, key, seen)
    assert seen["id"] == event_id


def test_two_workers_serve_every_event_form_without_fnpack(tmp_path, bare_python):
    python, args, lib = bare_python
    function = _describe_function(tmp_path)
    events = [spec for spec, _ in EVENTS]
    batch = {"batch": [dict(spec, id=f"b{i}") for i, spec in enumerate(events[:3])]}
    events.append(batch)
    bad_json = {"body_b64": _b64(b"{nope"), "content_type": JSON, "id": "bad"}
    events.append(bad_json)

    def worker(worker_id):
        return run_probe(
            function,
            python=python,
            python_args=tuple(args),
            extra_paths=[lib],
            events=events,
            worker_id=worker_id,
        )

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(worker, [0, 1]))
    for result in results:
        assert result.get("ok") and "error" not in result, result
        assert result["fnpack_file"].startswith("fnpack-embedded/"), result["fnpack_file"]
        assert result["has_server"] and result["drain_callback"]
        responses = result["responses"]
        for (spec, want), response in zip(EVENTS, responses):
            _check(response, want, spec["id"])
        batch_out = responses[len(EVENTS)]
        assert [r["event_id"] for r in batch_out] == ["b0", "b1", "b2"]
        for i, response in enumerate(batch_out):
            _check(response, EVENTS[i][1], f"b{i}")
        bad = responses[-1]
        assert bad["status"] == 400 and "json" in bad["body"].lower()


@pytest.mark.parametrize("spec_source", ["env", "file"])
def test_spec_from_env_or_mounted_file(tmp_path, bare_python, spec_source):
    python, args, lib = bare_python
    function = _describe_function(tmp_path, spec_source)
    assert function.spec_origin == spec_source
    assert "_FNPACK_SPEC = None" in function.source
    result = run_probe(
        function,
        python=python,
        python_args=tuple(args),
        extra_paths=[lib],
        events=[{"body": {"x": 1}, "content_type": JSON, "id": "e"}],
    )
    assert result.get("ok") and "error" not in result, result
    _check(result["responses"][0], {"body": {"x": 1}}, "e")


def test_five_step_graph_with_by_value_classes(tmp_path, bare_python):
    python, args, lib = bare_python
    fn = five_step_function()
    result = fn.build()
    assert result.by_value == ["package.graphs.Scale", "package.graphs.add_one", "package.graphs.tag"]
    assert any(c.startswith("pip install cloudpickle==") for c in result.config["spec"]["build"]["commands"])
    path = tmp_path / "function.yaml"
    fn.export(str(path))
    out = run_probe(
        load_function(str(path)),
        python=python,
        python_args=tuple(args),
        extra_paths=[lib],
        events=[{"body": {"x": 1}, "content_type": JSON}],
    )
    assert out.get("ok") and "error" not in out, out
    assert json.loads(out["responses"][0]["body"]) == {"x": 14, "tagged": True}


def test_missing_spec_is_a_clear_init_error(tmp_path, bare_python):
    python, args, lib = bare_python
    function = _describe_function(tmp_path, "env")
    function.config["spec"]["env"] = []  # the env var is gone
    out = run_probe(function, python=python, python_args=tuple(args), extra_paths=[lib])
    assert not out.get("ok") or "error" in out
    assert "no serving spec found" in out["error"]


def test_async_flow_without_fnpack(tmp_path, bare_python):
    from .graphs import async_flow_function

    python, args, lib = bare_python
    fn = async_flow_function()
    expected = fn.to_mock_server().test(body={"x": 1})
    path = tmp_path / "function.yaml"
    fn.export(str(path))
    assert load_function(str(path)).graph["engine"] == "async"
    events = [{"body": {"x": i}, "content_type": JSON, "id": f"a{i}"} for i in range(1, 4)]
    out = run_probe(
        load_function(str(path)), python=python, python_args=tuple(args), extra_paths=[lib], events=events
    )
    assert out.get("ok") and "error" not in out, out
    bodies = [json.loads(r["body"]) for r in out["responses"]]
    assert bodies[0] == expected == {"x": 14, "tagged": True}
    assert [b["x"] for b in bodies] == [14, 20, 26]


@pytest.mark.parametrize(
    "queue_path",
    [
        "dummy://orders",
        "kafka://127.0.0.1:9092/orders",
    ],
)
def test_child_function_serves_its_queue_without_fnpack(tmp_path, bare_python, queue_path):
    from fnpack.package.function import write_function

    from .graphs import Scale, add_one

    python, args, lib = bare_python
    fn = new_function("parent")
    graph = fn.set_topology("flow", engine="sync")
    graph.to(name="pre", handler=add_one).to(">>", "q", path=queue_path).to(
        Scale, name="score", function="child", factor=5
    )
    fn.add_child_function("child")
    write_function(fn.build(current_function="child"), str(tmp_path / "function.yaml"))
    function = load_function(str(tmp_path / "function.yaml"))
    record = {"full_event_wrapper": True, "body": {"x": 2}, "id": "orig-id", "key": ""}
    event = {
        "body": record,
        "content_type": JSON,
        "trigger": ["kafka-cluster", "child-queue"],
        "topic": "orders",
    }
    out = run_probe(function, python=python, python_args=tuple(args), extra_paths=[lib], events=[event])
    assert out.get("ok") and "error" not in out, out
    assert json.loads(out["responses"][0]["body"]) == {"x": 10}
