"""HTTP/1.1 as clients speak it, on raw sockets against the emulator's HTTP trigger and a real worker:
pipelining, keep-alive and close, HEAD, 100-continue, limits, what a handler may not answer."""

from __future__ import annotations

import http.client
import json
import socket

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fnpack.emulator import serve
from fnpack.emulator.triggers.http import normalize_path

HANDLER = """
import time

import nuclio_sdk


def handler(context, event):
    path = event.path
    if path == "/sleep":
        time.sleep(float(event.fields["s"]))
        return "slept " + event.fields["s"]
    if path == "/bad-header":
        return nuclio_sdk.Response(body="x", headers={"X-Split": "a\\r\\nInjected: yes"}, status_code=200)
    if path == "/bad-header-name":
        return nuclio_sdk.Response(body="x", headers={"Bad Name": "v"}, status_code=200)
    if path == "/bad-status":
        return nuclio_sdk.Response(body="x", status_code=99)
    if path == "/own-server":
        return nuclio_sdk.Response(body="x", headers={"server": "mine"}, status_code=200)
    if path == "/no-content":
        return nuclio_sdk.Response(body="ignored", status_code=204)
    if path == "/describe":
        return {"path": event.path, "fields": event.fields, "url": event.url, "method": event.method,
                "headers": event.headers}
    return context.Response(body=event.body, content_type="application/octet-stream", status_code=200)
"""


@pytest.fixture(scope="module", params=["asyncio", "uvloop"])
def fn(request):
    """The function served on each event loop the trigger runs on (``fnpack run --loop``)."""
    from .conftest import function_config

    config = function_config(
        HANDLER,
        triggers={"web": {"kind": "http", "maxWorkers": 1, "attributes": {"maxRequestBodySize": 1024}}},
    )
    with serve(config, workers=1, loop=request.param) as served:
        yield served


def _connect(fn) -> socket.socket:
    host, port = fn.url.split("//", 1)[1].rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


class _Stream:
    """Lets http.client read several responses, one after the other, from one socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.file = _KeepOpen(sock.makefile("rb"))

    def makefile(self, mode: str):
        return self.file

    def response(self, method: str = "GET") -> tuple[http.client.HTTPResponse, bytes]:
        r = http.client.HTTPResponse(self, method=method)
        r.begin()
        return r, r.read()


class _KeepOpen:
    """A socket file that http.client cannot close after one response (the next one follows on it)."""

    def __init__(self, file) -> None:
        self._file = file

    def __getattr__(self, name: str):
        return getattr(self._file, name)

    def close(self) -> None:
        pass


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_pipelined_requests_are_answered_in_order(fn):
    with _connect(fn) as sock:
        sock.sendall(
            b"GET /sleep?s=0.2 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecond"
            b"GET /sleep?s=0 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        stream = _Stream(sock)
        bodies = [stream.response()[1] for _ in range(3)]
    assert bodies == [b"slept 0.2", b"second", b"slept 0"]


def test_keep_alive_serves_many_requests_on_one_connection(fn):
    with requests.Session() as session:
        for i in range(20):
            r = session.post(fn.url + "/echo", data=str(i), timeout=10)
            assert r.text == str(i)
            assert "Date" in r.headers and r.headers["Content-Length"] == str(len(str(i)))


def test_http_1_0_is_answered_and_closed(fn):
    with _connect(fn) as sock:
        sock.sendall(b"POST /echo HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi")
        response, body = _Stream(sock).response()
        assert (response.status, body) == (200, b"hi")
        assert _closed(sock)


def test_http_1_0_keep_alive_is_honoured(fn):
    with _connect(fn) as sock:
        stream = _Stream(sock)
        for body in (b"one", b"two"):
            sock.sendall(b"POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n" + body)
            response, got = stream.response()
            assert got == body
            assert response.getheader("Connection") == "keep-alive"


def test_connection_close_is_honoured_and_nothing_after_it_is_read(fn):
    with _connect(fn) as sock:
        sock.sendall(
            b"GET /sleep?s=0 HTTP/1.1\r\nConnection: close\r\n\r\nGET /sleep?s=0.01 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        response, body = _Stream(sock).response()
        assert body == b"slept 0" and response.getheader("Connection") == "close"
        assert _closed(sock)


def test_head_gets_the_length_but_no_body(fn):
    with _connect(fn) as sock:
        sock.sendall(b"HEAD /sleep?s=0 HTTP/1.1\r\nHost: x\r\n\r\nGET /sleep?s=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        stream = _Stream(sock)
        head, body = stream.response("HEAD")
        assert head.status == 200 and body == b""
        assert head.getheader("Content-Length") == str(len("slept 0"))
        assert stream.response()[1] == b"slept 0"  # the next answer starts right after the head


def test_expect_100_continue_is_answered_before_the_body(fn):
    with _connect(fn) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"body")
        response, body = _Stream(sock).response()
        assert (response.status, body) == (200, b"body")


def test_no_content_answer_has_no_body(fn):
    with _connect(fn) as sock:
        sock.sendall(b"GET /no-content HTTP/1.1\r\nHost: x\r\n\r\nGET /sleep?s=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        stream = _Stream(sock)
        response, body = stream.response()
        assert response.status == 204 and body == b"" and response.getheader("Content-Length") is None
        assert stream.response()[1] == b"slept 0"


@pytest.mark.parametrize(
    ("raw", "status", "reason"),
    [
        (
            b"GET /" + b"a" * 17000 + b" HTTP/1.1\r\n\r\n",
            431,
            "request line and headers are larger than readBufferSize (16384 bytes)",
        ),
        (
            b"GET / HTTP/1.1\r\n"
            + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(20))
            + b"\r\n",
            431,
            "request line and headers are larger than readBufferSize (16384 bytes)",
        ),
        (
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
            "malformed request",
        ),
        (b"GET /\x01 HTTP/1.1\r\n\r\n", 400, "malformed request"),
    ],
)
def test_bad_requests_get_a_one_line_reason_and_the_connection_closes(fn, raw, status, reason):
    with _connect(fn) as sock:
        sock.sendall(raw)
        response, body = _Stream(sock).response()
        assert response.status == status
        text = body.decode()
        assert reason in text and text.count("\n") == 1
        assert _closed(sock)
    assert requests.get(fn.url + "/sleep?s=0", timeout=10).text == "slept 0"


def test_large_body_over_the_limit_reaches_the_client_as_413_not_a_reset(fn):
    # the client is still sending when the 413 is written: the trigger must drain before closing, or the
    # client gets a connection reset instead of the answer
    body = b"x" * (8 * 1024 * 1024)
    with _connect(fn) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        sock.sendall(body)
        response, text = _Stream(sock).response()
    assert response.status == 413
    assert b"request body of 8388608 bytes exceeds the limit of 1024 bytes" in text


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/bad-header", "header 'X-Split' has a line break in its value"),
        ("/bad-header-name", "header name 'Bad Name' is not a valid HTTP token"),
        ("/bad-status", "status 99 is outside 200-599"),
    ],
)
def test_an_answer_http_cannot_carry_is_a_500_with_the_reason(fn, path, reason):
    r = requests.get(fn.url + path, timeout=10)
    assert r.status_code == 500
    assert r.text == f"the handler returned an invalid response: {reason}\n"
    assert "Injected" not in r.headers


def test_upgrade_is_not_switched_the_request_is_answered(fn):
    with _connect(fn) as sock:
        sock.sendall(
            b"GET /sleep?s=0 HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
        )
        response, body = _Stream(sock).response()
        assert (response.status, body) == (200, b"slept 0")
        assert _closed(sock)


@pytest.mark.parametrize(
    ("target", "fields"),
    [
        (b"/d%65scribe?a=1&a=2&b=", {"a": "2", "b": ""}),  # percent-decoded path; the last of repeated keys
        (b"//x/./../describe?c=%2B+", {"c": "+ "}),  # a normalized path, as nuclio's
        (b"http://example.com/describe?x=%2F", {"x": "/"}),  # absolute form: its path and query
        (b"http://[bad/describe?x=1", {"x": "1"}),  # a malformed authority does not matter
        (b"http://example.com?x=1", None),  # no path: "/"
    ],
)
def test_request_targets_are_decoded_as_nuclio_does(fn, target, fields):
    with _connect(fn) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: h.test\r\n\r\n")
        got = _Stream(sock).response()[1]
    if fields is None:
        assert got == b""  # "/" is the echo route: a GET echoes its empty body
    else:
        described = json.loads(got)
        assert (described["path"], described["fields"]) == ("/describe", fields)


def test_event_url_fields_and_headers_as_nuclio_sets_them(fn):
    with _connect(fn) as sock:
        sock.sendall(
            b"GET /describe?q=c&q=a+b HTTP/1.1\r\nhost: h.test:81\r\nx-trace-ID: 1\r\nX-Trace-Id: 2\r\n\r\n"
        )
        response, body = _Stream(sock).response()
    got = json.loads(body)
    assert got == {
        "path": "/describe",
        "fields": {"q": "a b"},  # the last of a repeated key
        "url": "http://h.test:81/describe?q=c&q=a+b",
        "method": "GET",
        "headers": {"Host": "h.test:81", "X-Trace-Id": "2"},  # canonical names, the last of repeated ones
    }
    assert response.getheader("Server") == "nuclio"


def test_bytes_that_are_not_utf8_arrive_as_replacement_characters(fn):
    # nuclio hands the runtime Go strings, JSON-encoded: invalid UTF-8 becomes U+FFFD, never a lone surrogate
    with _connect(fn) as sock:
        sock.sendall(b"GET /describe?v=%FF HTTP/1.1\r\nHost: h\r\nX-Raw: caf\xe9\r\n\r\n")
        got = json.loads(_Stream(sock).response()[1])
    assert got["headers"]["X-Raw"] == "caf\ufffd"
    assert got["fields"] == {"v": "\ufffd"}


def test_a_handler_may_name_its_own_server(fn):
    with _connect(fn) as sock:
        sock.sendall(b"GET /own-server HTTP/1.1\r\nHost: h\r\n\r\n")
        response, _ = _Stream(sock).response()
    assert response.msg.get_all("Server") == ["mine"]


def test_internal_health_path_is_answered_by_the_trigger(fn):
    r = requests.get(fn.url + "/__internal/health", timeout=10)
    assert (r.status_code, r.content) == (200, b"")


def test_a_client_gone_before_its_answer_does_not_disturb_the_next(fn):
    for _ in range(3):
        with _connect(fn) as sock:
            sock.sendall(b"GET /sleep?s=0.05 HTTP/1.1\r\nHost: x\r\n\r\n")
    # the abandoned answers are dropped; the worker is free again and answers the next client
    assert requests.get(fn.url + "/sleep?s=0", timeout=10).text == "slept 0"


def test_idle_keep_alive_connections_are_closed(fn):
    trigger = fn.emulator.http
    saved = trigger.keepalive_timeout
    trigger.keepalive_timeout = 0.0  # the next sweep (every 5 s) closes every idle connection
    try:
        with _connect(fn) as sock:
            sock.sendall(b"GET /sleep?s=0 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _Stream(sock).response()[1] == b"slept 0"
            sock.settimeout(15)
            assert _closed(sock)
    finally:
        trigger.keepalive_timeout = saved


# -- any byte split: what the parser sees in one read or in many must not matter ---------------------------

_requests = st.lists(
    st.tuples(
        st.sampled_from(["echo", "describe"]),
        st.binary(max_size=300),
        st.booleans(),  # chunked transfer encoding
        st.text("abcxyz019", min_size=1, max_size=6),  # a query value
    ),
    min_size=1,
    max_size=4,
)


def _wire(route: str, body: bytes, chunked: bool, value: str) -> bytes:
    target = f"/describe?v={value}" if route == "describe" else "/echo"
    head = f"POST {target} HTTP/1.1\r\nHost: h\r\nContent-Type: application/octet-stream\r\n"
    if not chunked:
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    pieces = [body[i : i + 64] for i in range(0, len(body), 64)]
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)
    return f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + encoded + b"0\r\n\r\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests_=_requests, cuts=st.lists(st.integers(1, 400), max_size=12))
def test_requests_split_anywhere_are_answered_the_same(fn, requests_, cuts):
    raw = b"".join(_wire(*r) for r in requests_)
    points = sorted({c % len(raw) for c in cuts} - {0})
    with _connect(fn) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for start, end in zip([0, *points], [*points, len(raw)]):
            sock.sendall(raw[start:end])  # each piece its own segment: the trigger reads them apart
        stream = _Stream(sock)
        for route, body, _, value in requests_:
            response, got = stream.response()
            assert response.status == 200
            if route == "echo":
                assert got == body
            else:
                described = json.loads(got)
                assert (described["path"], described["fields"], described["method"]) == (
                    "/describe",
                    {"v": value},
                    "POST",
                )


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("/v2/models/m/infer", "/v2/models/m/infer"),
        ("/v2//models///m/infer", "/v2/models/m/infer"),
        ("/v2/models/./m/infer", "/v2/models/m/infer"),
        ("/v2/x/../models/m/infer", "/v2/models/m/infer"),
        ("/../../etc/passwd", "/etc/passwd"),  # never above the root
        ("/a/b/..", "/a/"),
        ("/a/", "/a/"),
        ("/", "/"),
        ("/..", "/"),
    ],
)
def test_paths_are_normalized_as_nuclio_does(raw, normal):
    assert normalize_path(raw) == normal
