"""``attributes.cors`` of the HTTP trigger, answered as nuclio's trigger answers it (real worker, real HTTP)."""

from __future__ import annotations

import pytest
import requests

from fnpack.emulator import FunctionConfigError, serve

from .conftest import function_config

HANDLER = """
def handler(context, event):
    return context.Response(body="called " + event.method, headers={"X-Out": "1"}, status_code=200)
"""
UI = "http://ui.local:3000"


def _served(cors: dict):
    config = function_config(HANDLER, triggers={"web": {"kind": "http", "attributes": {"cors": cors}}})
    return serve(config, workers=1)


@pytest.fixture(scope="module")
def defaults():
    with _served({"enabled": True}) as fn:
        yield fn


@pytest.fixture(scope="module")
def strict():
    cors = {
        "enabled": True,
        "allowOrigins": [UI],
        "allowMethods": ["POST"],
        "allowHeaders": ["Content-Type", "X-Token"],
        "allowCredentials": True,
        "preflightMaxAgeSeconds": 600,
        "exposeHeaders": ["X-Out"],
    }
    with _served(cors) as fn:
        yield fn


def _preflight(fn, origin=UI, method="POST", headers="content-type"):
    extra = {"Access-Control-Request-Headers": headers} if headers else {}
    return requests.options(
        fn.url + "/", headers={"Origin": origin, "Access-Control-Request-Method": method, **extra}, timeout=10
    )


def test_preflight_with_nuclio_defaults_is_answered_by_the_trigger(defaults):
    r = _preflight(defaults)
    assert r.status_code == 200 and r.content == b""  # the function was not called
    assert r.headers["Access-Control-Allow-Origin"] == UI
    assert r.headers["Access-Control-Allow-Methods"] == "HEAD, GET, POST, PUT, DELETE, OPTIONS"
    assert r.headers["Access-Control-Allow-Headers"] == (
        "Accept, Content-Length, Content-Type, Authorization, X-nuclio-log-level"
    )
    assert r.headers["Access-Control-Max-Age"] == "-1"
    assert "Access-Control-Allow-Credentials" not in r.headers
    assert r.raw.headers.getlist("Vary") == [
        "Origin",
        "Access-Control-Request-Method",
        "Access-Control-Request-Headers",
    ]


def test_request_from_an_allowed_origin_reaches_the_function(defaults):
    r = requests.post(defaults.url + "/", data=b"x", headers={"Origin": UI}, timeout=10)
    assert r.text == "called POST" and r.headers["X-Out"] == "1"
    assert r.headers["Access-Control-Allow-Origin"] == UI and r.headers["Vary"] == "Origin"


def test_without_an_origin_the_function_is_not_called_as_in_nuclio(defaults):
    # nuclio answers a request with no Origin (curl, a server-side client) with an empty 200 once CORS is on
    r = requests.post(defaults.url + "/", data=b"x", timeout=10)
    assert (r.status_code, r.content, r.headers["Vary"]) == (200, b"", "Origin")


def test_strict_settings_allow_only_what_they_name(strict):
    ok = _preflight(strict, headers="Content-Type, x-token")
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Methods"] == "POST"
    assert ok.headers["Access-Control-Allow-Headers"] == "Content-Type, X-Token"
    assert ok.headers["Access-Control-Allow-Credentials"] == "true"
    assert ok.headers["Access-Control-Max-Age"] == "600"
    for bad in (
        _preflight(strict, origin="http://evil.local"),
        _preflight(strict, method="DELETE"),
        _preflight(strict, headers="content-type, x-other"),
    ):
        assert bad.status_code == 400 and "Access-Control-Allow-Origin" not in bad.headers
    r = requests.post(strict.url + "/", data=b"x", headers={"Origin": UI}, timeout=10)
    assert r.text == "called POST"
    assert r.headers["Access-Control-Expose-Headers"] == "X-Out"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    other = requests.post(strict.url + "/", data=b"x", headers={"Origin": "http://evil.local"}, timeout=10)
    assert other.content == b"" and "Access-Control-Allow-Origin" not in other.headers


def test_without_cors_options_reaches_the_function():
    with serve(function_config(HANDLER), workers=1) as fn:
        r = requests.options(
            fn.url + "/", headers={"Origin": UI, "Access-Control-Request-Method": "POST"}, timeout=10
        )
    assert r.text == "called OPTIONS" and "Access-Control-Allow-Origin" not in r.headers


@pytest.mark.parametrize(
    ("cors", "message"),
    [
        ("yes", "attributes.cors must be a mapping"),
        ({"enabled": True, "allowOrigins": 5}, "attributes.cors.allowOrigins must be a list of strings"),
        ({"enabled": True, "preflightMaxAgeSeconds": "10"}, "preflightMaxAgeSeconds must be an integer"),
    ],
)
def test_bad_cors_settings_are_one_line_errors(cors, message):
    with pytest.raises(FunctionConfigError, match=message), _served(cors):
        pass
