"""Fuzzed HTTP against the real emulator serving the example model router (2 workers, 127.0.0.1).

Bodies, paths, query strings, headers, content types, Open Inference Protocol tensors, and raw bytes on
the socket (broken request lines, header bytes, lengths, encodings). Every request must get an
answer within the client timeout (never a hang), the answer must be a 2xx or a 4xx with a one-line
reason, and at the end of every example the same two worker processes are alive and a good infer works.

The 5xx fnpack can produce, and why none is acceptable here: 503 (emulator: no worker free within
``workerAvailabilityTimeoutMilliseconds``, or the worker died holding the event; requests here are
sequential), 500 "failed to encode the graph's result as JSON" (a user step returning something JSON
cannot encode; the example's models never do), 500 "fnpack handler: ..." (the handler's safety net for a
failure before the graph; a bug when reached) and 500 "the handler returned an invalid response".
"""

from __future__ import annotations

import json
import re
import socket
import string
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import INFER, SETOSA, assert_serving

pytestmark = pytest.mark.reliability

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TIMEOUT = 10  # a request without an answer by then counts as hung
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


def _nest(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    if kind == "dict":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"inputs": ' + b"[" * depth + b"1.0" + b"]" * depth + b"}"


# nesting far deeper than any model input, but below the interpreter's recursion limit: depths past it are
# test_deeply_nested_json_is_a_400
nested = st.builds(_nest, st.integers(1, 400), st.sampled_from(["list", "dict", "inputs"]))
bodies = (
    st.binary(max_size=4096)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.fixed_dictionaries({"inputs": json_values}).map(lambda v: json.dumps(v).encode())
    | nested
)

SEGMENTS = ["v2", "models", "iris", "price", "versions", "v1", "infer", "names", "ready", "health",
            "infer_dict", "explain", "..", ".", "%2e%2e", "%2F", "ü", "😀", "", "a b", "__class__"]  # fmt: skip
PATH_CHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@%"
segments = st.sampled_from(SEGMENTS) | st.text(PATH_CHARS, max_size=12) | st.text(max_size=6)
paths = (
    st.lists(segments, max_size=8).map(lambda parts: "/" + "/".join(parts))
    | st.integers(200, 9000).map(lambda n: "/v2/models/" + "a" * n)  # past aiohttp's 8190-byte line
)

TOKEN = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"  # RFC 9110 token characters
VALUE = "".join(chr(c) for c in range(0x20, 0x7F)) + "\t"  # visible ASCII, space and tab
SPECIAL = ["Inference-Header-Content-Length", "Content-Encoding", "fnpack-event-path", "mlrun-event-path", "mlrun-event-id",
           "fnpack-event-id", "Accept", "Accept-Encoding", "Authorization", "Cookie", "X-Forwarded-For"]  # fmt: skip
FORBIDDEN = {"content-length", "transfer-encoding", "host", "expect", "connection"}
header_names = (st.sampled_from(SPECIAL) | st.text(TOKEN, min_size=1, max_size=20)).filter(
    lambda k: k.lower() not in FORBIDDEN
)
header_values = st.text(VALUE, max_size=200).map(str.strip) | st.sampled_from(["0", "-1", "5", "1e9", "/x"])
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "application/octet-stream",
     "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "", "json", ";", "a/b; c=d"]
) | st.text(VALUE, max_size=40).map(str.strip)  # fmt: skip

DATATYPES = ["BOOL", "UINT8", "UINT64", "INT8", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES",
             "BF16", "fp32", "FLOAT", "", None, 7, ["FP32"]]  # fmt: skip
numbers = st.integers(-(2**70), 2**70) | st.floats() | st.booleans() | st.text(max_size=4) | st.none()
tensors = st.fixed_dictionaries(
    {
        "name": st.text(max_size=6) | st.none() | st.integers(),
        "shape": st.lists(st.integers(-3, 10) | st.sampled_from([2**31, 10**12, 2**64]), max_size=4)
        | st.none()
        | st.text(max_size=3),
        "datatype": st.sampled_from(DATATYPES),
        "data": st.lists(numbers, max_size=12)
        | st.lists(st.lists(numbers, max_size=4), max_size=4)
        | numbers
        | json_values,
    },
    optional={
        "parameters": st.dictionaries(
            st.sampled_from(["binary_data_size", "content_type", "x"]), json_values
        ),
    },
)
oip_requests = st.fixed_dictionaries(
    {"inputs": st.lists(tensors, max_size=3)},
    optional={
        "id": json_values,
        "parameters": st.dictionaries(st.text(max_size=8), json_values, max_size=3) | json_values,
        "outputs": st.lists(st.fixed_dictionaries({"name": st.text(max_size=6) | st.integers()}), max_size=2)
        | json_values,
    },
)


def _check(response: requests.Response) -> None:
    status = response.status_code
    assert 200 <= status < 500, f"{status}: {response.text[:300]}"
    if status >= 400:
        reason = response.content.decode("utf-8", "replace").rstrip("\n")
        assert reason and "\n" not in reason, f"{status}: not a one-line reason: {reason[:300]!r}"


def _send(fn, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    response = requests.request(method, fn.url + path, data=body, headers=headers, timeout=TIMEOUT)
    _check(response)
    return response


@pytest.fixture(scope="module")
def pids(router):
    return router.worker_pids()


@FUZZ
@given(body=bodies, content_type=content_types, method=st.sampled_from(["POST", "PUT", "PATCH"]))
def test_fuzzed_bodies(router, pids, body, content_type, method):
    headers = {"Content-Type": content_type} if content_type else {}
    for path in (INFER, "/v2/models/price/versions/v1/infer", "/v2/models/iris/names"):
        _send(router, method, path, body, headers)
    assert_serving(router, pids)


@FUZZ
@given(
    path=paths,
    method=st.sampled_from(METHODS),
    body=st.none() | st.just(json.dumps({"inputs": [SETOSA]})),
    query=st.just("") | st.text(PATH_CHARS + "=&?/", max_size=60).map(lambda q: "?" + q),
)
def test_fuzzed_paths(router, pids, path, method, body, query):
    _send(router, method, path + query, body.encode() if body else None)
    assert_serving(router, pids)


@FUZZ
@given(headers=st.dictionaries(header_names, header_values, max_size=8), method=st.sampled_from(METHODS))
def test_fuzzed_headers(router, pids, headers, method):
    _send(router, method, INFER, json.dumps({"inputs": [SETOSA]}).encode(), headers)
    assert_serving(router, pids)


@FUZZ
@given(request=oip_requests, binary_header=st.none() | st.integers(-5, 10**6))
def test_fuzzed_oip_tensors(router, pids, request, binary_header):
    headers = {"Content-Type": "application/json"}
    if binary_header is not None:  # JSON header + raw tensor bytes (KServe binary extension)
        headers["Inference-Header-Content-Length"] = str(binary_header)
    body = json.dumps(request).encode()
    if binary_header is not None:
        body += b"\x00\x01\x02\x03" * 8
    _send(router, "POST", INFER, body, headers)
    _send(router, "POST", "/v2/models/price/versions/v1/infer", body, headers)
    assert_serving(router, pids)


def test_well_formed_oip_tensor_is_answered_as_a_tensor(router, pids):
    """The fuzz above would pass on a server that rejects every tensor: pin the good path too."""
    tensor = {"name": "x", "shape": [1, 4], "datatype": "FP32", "data": SETOSA}
    r = _send(router, "POST", INFER, json.dumps({"inputs": [tensor]}).encode())
    assert r.status_code == 200
    assert r.json()["outputs"] == [{"name": "output0", "datatype": "INT64", "shape": [1], "data": [0]}]


@pytest.mark.parametrize("kind", ["list", "inputs"])
def test_deeply_nested_json_is_a_400(router, pids, kind):
    r = requests.post(
        router.url + INFER,
        data=_nest(100_000, kind),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    try:
        assert r.status_code == 400, r.text
    finally:
        assert_serving(router, pids)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_undecodable_content_encoding_is_a_400(router, pids, encoding):
    """Found by this suite (was aiohttp's 500); bodies now reach the function as sent, so the graph's 400."""
    r = requests.post(
        router.url + INFER, data=b"not compressed at all", headers={"Content-Encoding": encoding}, timeout=10
    )
    try:
        assert r.status_code == 400, r.text
    finally:
        assert_serving(router, pids)


# --- raw HTTP bytes: what no well-behaved client sends -----------------------------------------------

raw_tokens = st.binary(min_size=0, max_size=12) | st.sampled_from(
    [b"GET", b"POST", b"PUT", b"PRI", b"CONNECT", b"get", b"", b"G\x00T", b"POST /x"]
)
raw_targets = st.binary(max_size=60).map(lambda b: b"/" + b) | st.sampled_from(
    [b"*", b"http://example.com/v2/models/iris/infer", b"//", b"/v2/models/iris/infer", b"/%", b"/%zz", b""]
)
raw_versions = st.sampled_from(
    [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1.1x", b"", b"http/1.1"]
)
raw_headers = st.lists(
    st.tuples(st.binary(max_size=16), st.binary(max_size=40))
    | st.sampled_from(
        [(b"Content-Length", b"-1"), (b"Content-Length", b"abc"), (b"Content-Length", b"5"),
         (b"Content-Length", b"99999999999999999999"), (b"Transfer-Encoding", b"chunked"),
         (b"Transfer-Encoding", b"gzip, chunked"), (b"Host", b""), (b"Connection", b"upgrade"),
         (b"Upgrade", b"websocket"), (b"Expect", b"100-continue"), (b"Content-Type", b"application/json")]
    ),
    max_size=6,
)  # fmt: skip


def _exchange(url: str, raw: bytes, timeout: float = TIMEOUT) -> bytes:
    """Send ``raw`` on a fresh connection, half-close it and read until the server closes (or times out)."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server already answered and closed
            pass
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                raise AssertionError(f"no answer and no close within {timeout}s: a hung request") from None
            if not data:
                break
            chunks.append(data)
        else:
            raise AssertionError(f"the connection stayed open for {timeout}s")
    return b"".join(chunks)


@FUZZ
@given(
    method=raw_tokens,
    target=raw_targets,
    version=raw_versions,
    headers=raw_headers,
    body=st.binary(max_size=64),
)
def test_fuzzed_raw_http_bytes(router, pids, method, target, version, headers, body):
    head = method + b" " + target + b" " + version + b"\r\n"
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    answer = _exchange(router.url, head + b"\r\n" + body)
    for status in re.findall(rb"^HTTP/1\.[01] (\d{3})", answer, re.M):
        assert int(status) < 500, answer[:500]
    assert_serving(router, pids)
