"""RemoteStep and BatchHttpRequests against a real local HTTP server, in both engines."""

from __future__ import annotations

import json

import pytest

import fnpack
from fnpack.graph import GraphError
from fnpack.serving.remote import BatchHttpRequests, RemoteStep

ENGINES = ["sync", "async"]


def _server(engine, step_args, klass="fnpack.serving.remote.RemoteStep", **to_args):
    fn = fnpack.new_function("remote")
    graph = fn.set_topology("flow", engine=engine)
    step = graph.to(klass, name="remote", **step_args, **to_args)
    if engine == "async":
        step.respond()
    return fn.to_mock_server()


@pytest.mark.parametrize("engine", ENGINES)
def test_posts_body_and_returns_json(remote, engine):
    server = _server(engine, {"url": remote.url, "subpath": "predict"})
    result = server.test(path="/v2/x", body={"a": 1}, event_id="ev1")
    assert result == {"path": "/predict", "method": "POST", "got": {"a": 1}}
    (request,) = remote.recorder.requests
    assert request["headers"]["MLRUN-EVENT-ID"] == "ev1"
    assert request["headers"]["MLRUN-EVENT-PATH"] == "/v2/x"
    assert request["headers"]["Content-Type"] == "application/json"
    server.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_paths_and_path_passthrough(remote, engine):
    server = _server(
        engine,
        {"url": remote.url, "subpath": "$path", "input_path": "req", "result_path": "resp"},
        method="PUT",
    )
    result = server.test(path="/models/m1", body={"req": {"x": 1}, "keep": True})
    assert result == {
        "req": {"x": 1},
        "keep": True,
        "resp": {"path": "/models/m1", "method": "PUT", "got": {"x": 1}},
    }
    server.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_incoming_headers_are_not_forwarded_and_config_is_not_mutated(remote, engine):
    headers = {"X-Api": "k"}
    server = _server(engine, {"url": remote.url, "headers": headers})
    server.test(body={"a": 1}, headers={"Authorization": "secret"})
    server.test(body={"a": 2})
    assert headers == {"X-Api": "k"}
    for request in remote.recorder.requests:
        assert request["headers"]["X-Api"] == "k"
        assert "Authorization" not in request["headers"]
    server.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_url_and_body_expressions(remote, engine):
    server = _server(
        engine,
        {
            "url_expression": "f'" + remote.url + '/users/{event["user"]}\'',
            "body_expression": "{'inputs': [event['x']]}",
        },
    )
    result = server.test(body={"user": "ann", "x": 5})
    assert result["path"] == "/users/ann"
    assert result["got"] == {"inputs": [5]}
    assert "MLRUN-EVENT-PATH" not in remote.recorder.requests[0]["headers"]
    server.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_retries_on_5xx_then_succeeds(remote, engine):
    remote.recorder.fail_first = 1
    server = _server(engine, {"url": remote.url, "retries": 1, "backoff_factor": 0.01})
    assert server.test(body={"a": 1})["got"] == {"a": 1}
    assert len(remote.recorder.requests) == 2
    server.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_retries_zero_means_exactly_one_attempt(remote, engine):
    remote.recorder.fail_first = 5
    server = _server(engine, {"url": remote.url, "retries": 0})
    resp = server.test(body={"a": 1}, silent=True, get_body=False)
    assert resp.status_code == 400
    assert "failed after 1 attempt(s): bad http response 500" in resp.body
    assert remote.url in resp.body and "(step remote)" in resp.body
    assert len(remote.recorder.requests) == 1
    server.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_4xx_is_not_retried(remote, engine):
    server = _server(engine, {"url": remote.url + "/status/404", "retries": 3, "backoff_factor": 0.01})
    resp = server.test(body={"a": 1}, silent=True, get_body=False)
    assert "bad http response 404" in resp.body
    assert len(remote.recorder.requests) == 1
    server.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_timeout_is_reported_with_the_url(remote, engine):
    remote.recorder.delay = 1.0
    server = _server(engine, {"url": remote.url, "retries": 0, "timeout": 0.2})
    resp = server.test(body={"a": 1}, silent=True, get_body=False)
    assert resp.status_code == 400
    assert f"http request to {remote.url} timed out" in resp.body
    server.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_connection_refused_is_a_clear_error(engine):
    server = _server(engine, {"url": "http://127.0.0.1:9", "retries": 0})
    resp = server.test(body={"a": 1}, silent=True, get_body=False)
    assert "cannot invoke url http://127.0.0.1:9" in resp.body
    server.close()


def test_async_in_flight_requests_are_bounded(remote):
    remote.recorder.delay = 0.25  # long enough that all 12 are queued before the first finishes
    fn = fnpack.new_function("remote")
    graph = fn.set_topology("flow", engine="async")
    graph.to("fnpack.serving.remote.RemoteStep", name="remote", url=remote.url, max_in_flight=3)
    server = fn.to_mock_server()
    for i in range(12):
        server.test(body={"i": i})  # no responder: acknowledged at once, calls run concurrently
    server.wait_for_completion(timeout=30)
    assert len(remote.recorder.requests) == 12
    assert remote.recorder.peak_in_flight == 3
    server.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_batch_requests_keep_input_order(remote, engine):
    server = _server(
        engine,
        {
            "url_expression": "f'" + remote.url + '/item/{event["id"]}\'',
            "input_path": "items",
            "result_path": "out",
        },
        klass="fnpack.serving.remote.BatchHttpRequests",
    )
    items = [{"id": i} for i in range(6)]
    result = server.test(body={"items": items})
    assert [r["path"] for r in result["out"]] == [f"/item/{i}" for i in range(6)]
    assert [r["got"] for r in result["out"]] == items
    server.close()


def test_batch_requests_retries_zero_is_one_attempt(remote):
    remote.recorder.fail_first = 10
    server = _server(
        "async", {"url": remote.url, "retries": 0}, klass="fnpack.serving.remote.BatchHttpRequests"
    )
    resp = server.test(body=[{"a": 1}, {"a": 2}], silent=True, get_body=False)
    assert resp.status_code == 400
    assert len(remote.recorder.requests) == 2
    server.close()


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "event.__class__.__mro__",
        "[c for c in ().__class__.__base__.__subclasses__()]",
        "(lambda: 1)()",
        "open('/etc/passwd').read()",
        "event['a'] * 1000000000",
        "f'{event!r}'",
        "globals()",
    ],
)
def test_expressions_outside_the_whitelist_are_rejected_at_init(expression):
    fn = fnpack.new_function("remote")
    graph = fn.set_topology("flow", engine="sync")
    graph.to("fnpack.serving.remote.RemoteStep", name="remote", url_expression=expression)
    with pytest.raises(GraphError, match="is not allowed|not a valid expression"):
        fn.to_mock_server()


def test_request_data_is_never_evaluated(remote):
    """A body holding Python code is sent as data, never run."""
    server = _server("sync", {"url_expression": "f'" + remote.url + '/{event["name"]}\''})
    payload = "__import__('os').system('touch /tmp/fnpack-pwned')"
    result = server.test(body={"name": payload})
    assert result["got"]["name"] == payload
    import os

    assert not os.path.exists("/tmp/fnpack-pwned")
    server.close()


def test_url_and_url_expression_conflict():
    with pytest.raises(GraphError, match="cannot set both url and url_expression"):
        BatchHttpRequests(url="http://a", url_expression="event['u']")


def test_serialized_form(remote):
    step = RemoteStep(url="http://h/p", method="POST", retries=6, timeout=3, name="rs")
    struct = step.to_dict()
    assert struct["class_name"] == "fnpack.serving.remote.RemoteStep"
    assert struct["class_args"] == {
        "url": "http://h/p",
        "method": "POST",
        "return_json": True,
        "retries": 6,
        "timeout": 3,
    }
    assert json.loads(json.dumps(struct)) == struct


def test_url_credentials_are_redacted_from_errors():
    from fnpack.serving.remote import RemoteCallError, redact

    assert redact("GET http://svc:s3cret@h:1/p failed") == "GET http://***@h:1/p failed"
    assert "s3cret" not in str(RemoteCallError("cannot invoke url https://u:s3cret@x/y"))
    assert redact("http://plain/host") == "http://plain/host"
