"""Fuzzed paths, headers and bodies: always an HTTP answer, never a hung request or a dead worker."""

from __future__ import annotations

import string

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fnpack.emulator import serve

from .conftest import function_config
from .handlers import ECHO

PATH_CHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/%?"
HEADER_CHARS = string.ascii_letters + string.digits + " -_.,;:=/\"'()[]{}<>@?!#$%&*+^`|~"
ROUTES = ["/describe", "/echo", "/ret/dict", "/ret/response", "/raise", "/whoami"]


@pytest.fixture(scope="module")
def fuzz_fn():
    with serve(function_config(ECHO, triggers={"h": {"kind": "http", "maxWorkers": 2}})) as fn:
        yield fn


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(ROUTES) | st.text(PATH_CHARS, max_size=40).map(lambda p: "/" + p),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/octet-stream", "", "x/y; a=b"]
    ),
    body=st.binary(max_size=2048) | st.just(b'{"a": [1, 2, {"b": null}]}'),
    headers=st.dictionaries(
        st.text(string.ascii_letters + "-", min_size=1, max_size=12).filter(
            lambda k: (
                k.lower() not in ("content-length", "transfer-encoding", "host", "content-type", "expect")
            )
        ),
        st.text(HEADER_CHARS, max_size=40).map(str.strip),
        max_size=5,
    ),
)
def test_fuzzed_requests_always_get_an_answer(fuzz_fn, route, method, content_type, body, headers):
    pids = set(fuzz_fn.worker_pids())
    if content_type:
        headers = {**headers, "Content-Type": content_type}
    r = requests.request(method, fuzz_fn.url + route, data=body, headers=headers, timeout=10)
    assert 200 <= r.status_code < 600
    if r.status_code == 500:
        assert "Exception caught in handler" in r.text
    assert set(fuzz_fn.worker_pids()) == pids  # no worker died or restarted
