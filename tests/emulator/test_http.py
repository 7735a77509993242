"""The HTTP trigger against real worker processes: events as nuclio builds them, every return form."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from fnpack.emulator import serve

from .conftest import function_config
from .handlers import ASYNC, ECHO


@pytest.fixture
def echo_fn(write_function, tmp_path):
    path = write_function(
        ECHO,
        env=[{"name": "GREETING", "value": "hi"}, {"name": "MARKER_DIR", "value": str(tmp_path)}],
        triggers={"web": {"kind": "http", "maxWorkers": 2}},
    )
    with serve(path) as fn:
        yield fn


def test_json_body_is_decoded_and_event_fields_are_set(echo_fn):
    r = requests.post(
        echo_fn.url + "/describe?model=m1&v=2", json={"x": [1, 2]}, headers={"X-Test": "t1"}, timeout=10
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    got = r.json()
    assert got["body_type"] == "dict" and got["body"] == {"x": [1, 2]}
    assert got["method"] == "POST"
    assert got["path"] == "/describe"
    assert got["fields"] == {"model": "m1", "v": "2"}
    assert got["headers"]["x-test"] == "t1"
    assert got["content_type"] == "application/json"
    assert got["url"].endswith("/describe?model=m1&v=2")
    assert got["size"] == len(b'{"x": [1, 2]}')
    assert got["trigger"] == ["http", "web"]
    assert got["timestamp_type"] == "datetime"
    assert got["event_class"] == "nuclio_sdk.event.Event"
    assert got["context_class"] == "nuclio_sdk.context.Context"
    assert got["greeting"] == "hi"  # spec.env reaches the worker
    assert got["id"]


def test_event_ids_are_unique_uuids(echo_fn):
    import uuid

    ids = {requests.get(echo_fn.url + "/describe", timeout=10).json()["id"] for _ in range(5)}
    assert len(ids) == 5
    assert all(uuid.UUID(i) for i in ids)


def test_content_encoded_body_is_passed_as_sent(echo_fn):
    # nuclio's trigger does not decompress: the handler sees the bytes and the Content-Encoding header
    import gzip

    packed = gzip.compress(b'{"a": 1}')
    for data in (packed, b"not compressed at all"):
        r = requests.post(
            echo_fn.url + "/describe",
            data=data,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/octet-stream"},
            timeout=10,
        )
        assert r.status_code == 200
        got = r.json()
        assert base64.b64decode(got["body"]) == data
        assert got["headers"]["content-encoding"] == "gzip"


def test_binary_body_round_trips_unchanged(echo_fn):
    payload = bytes(range(256)) * 4
    r = requests.post(
        echo_fn.url + "/echo", data=payload, headers={"Content-Type": "application/octet-stream"}, timeout=10
    )
    assert r.status_code == 200
    assert r.content == payload
    assert r.headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("content_type", "body", "body_type"),
    [
        ("application/json", b"{not json", "bytes"),  # decoding fails -> bytes, as nuclio-sdk does
        ("application/json; charset=utf-8", b'{"a": 1}', "bytes"),  # only the exact type is decoded
        ("text/plain", b"plain text", "bytes"),
        ("application/json", b"[1, 2]", "list"),
    ],
)
def test_body_decoding_follows_nuclio(echo_fn, content_type, body, body_type):
    r = requests.post(
        echo_fn.url + "/describe", data=body, headers={"Content-Type": content_type}, timeout=10
    )
    got = r.json()
    assert got["body_type"] == body_type
    if body_type == "bytes":
        assert base64.b64decode(got["body"]) == body


@pytest.mark.parametrize(
    ("route", "status", "content_type", "body"),
    [
        ("/ret/str", 200, "text/plain", b"hello"),
        ("/ret/bytes", 200, "text/plain", b"\x00\xffraw"),
        ("/ret/dict", 200, "application/json", b'{"a": 1, "b": [1, 2]}'),
        ("/ret/list", 200, "application/json", b'[1, "two", null]'),
        ("/ret/tuple", 201, "application/json", b'{"created": true}'),
        ("/ret/tuple-str", 202, "text/plain", b"accepted"),
        ("/ret/response", 207, "application/octet-stream", b"\x01\x02"),
        ("/ret/response-dict", 200, "application/json", b'{"k": "v"}'),
        ("/raise-with-response", 418, "text/plain", b"I am a teapot"),
    ],
)
def test_handler_return_forms(echo_fn, route, status, content_type, body):
    r = requests.get(echo_fn.url + route, timeout=10)
    assert r.status_code == status
    assert r.headers["Content-Type"] == content_type
    assert r.content == body


def test_response_headers_reach_the_client(echo_fn):
    r = requests.get(echo_fn.url + "/ret/response", timeout=10)
    assert r.headers["X-Custom"] == "yes"


def test_exception_is_500_with_message_and_worker_keeps_serving(echo_fn):
    before = set(echo_fn.worker_pids())
    r = requests.get(echo_fn.url + "/raise", timeout=10)
    assert r.status_code == 500
    assert r.headers["Content-Type"] == "text/plain"
    assert "the handler failed on purpose" in r.text
    for _ in range(4):
        assert requests.get(echo_fn.url + "/ret/str", timeout=10).text == "hello"
    assert set(echo_fn.worker_pids()) == before  # no restart was needed


def test_init_context_runs_once_per_worker_process(echo_fn):
    seen = {}
    for _ in range(10):
        got = requests.get(echo_fn.url + "/whoami", timeout=10).json()
        seen[got["pid"]] = got
    assert set(seen) == set(echo_fn.worker_pids())
    assert len(seen) == 2  # two processes, not threads
    assert all(w["init_calls"] == 1 for w in seen.values())
    assert sum(w["requests"] for w in seen.values()) >= 9  # state kept in context.user_data between events


def test_async_init_context_and_handler_are_awaited(write_function):
    path = write_function(ASYNC)
    with serve(path) as fn:
        r = requests.post(fn.url + "/", json={"n": 1}, timeout=10)
    assert r.status_code == 200
    assert r.json() == {"init": "async-init", "body": {"n": 1}}


def test_serve_accepts_a_parsed_config_dict():
    with serve(function_config(ASYNC), workers=1) as fn:
        assert requests.post(fn.url, json=[1], timeout=10).json() == {"init": "async-init", "body": [1]}


def test_dotted_handler_module(write_function):
    path = write_function("def run(context, event):\n    return __name__\n", handler="pkg.sub.mod:run")
    with serve(path) as fn:
        assert requests.get(fn.url, timeout=10).text == "pkg.sub.mod"


def test_body_over_the_limit_is_413(write_function):
    path = write_function(ECHO, triggers={"h": {"kind": "http", "attributes": {"maxRequestBodySize": 1024}}})
    with serve(path) as fn:
        ok = requests.post(fn.url + "/echo", data=b"a" * 1024, timeout=10)
        assert ok.status_code == 200 and len(ok.content) == 1024
        big = requests.post(fn.url + "/echo", data=b"a" * 4096, timeout=10)
        assert big.status_code == 413

        def chunks():  # no Content-Length: the limit applies while reading
            for _ in range(8):
                yield b"b" * 512

        chunked = requests.post(fn.url + "/echo", data=chunks(), timeout=10)
        assert chunked.status_code == 413
        # the worker is fine afterwards
        assert requests.get(fn.url + "/ret/str", timeout=10).status_code == 200


def test_worker_count_override_and_port_zero(write_function):
    path = write_function(ECHO, triggers={"h": {"kind": "http", "maxWorkers": 1, "attributes": {"port": 1}}})
    with serve(path, workers=3, port=0) as fn:
        assert len(fn.worker_pids()) == 3
        assert not fn.url.endswith(":0") and not fn.url.endswith(":1")
        assert fn.url.startswith("http://127.0.0.1:")
        assert json.loads(requests.get(fn.url + "/ret/dict", timeout=10).content) == {"a": 1, "b": [1, 2]}
