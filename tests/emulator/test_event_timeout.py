"""``spec.eventTimeout``: an event running longer gets its worker killed and restarted, as nuclio's
processor does; the HTTP caller gets a 500 saying so, and the function keeps serving."""

from __future__ import annotations

import time

import pytest
import requests

from fnpack.emulator import FunctionConfigError, parse_function, serve

from .conftest import function_config, wait_for

HANDLER = """
import os
import time


def handler(context, event):
    if event.path == "/hang":
        time.sleep(60)
    if event.path == "/slow":
        time.sleep(0.1)
    return str(os.getpid())
"""


def _config(timeout):
    config = function_config(HANDLER, triggers={"web": {"kind": "http", "maxWorkers": 1}})
    config["spec"]["eventTimeout"] = timeout
    return config


def test_an_event_over_the_timeout_restarts_its_worker_and_is_a_500():
    with serve(_config("1s")) as fn:
        first = fn.worker_pids()
        start = time.monotonic()
        r = requests.get(fn.url + "/hang", timeout=30)
        waited = time.monotonic() - start
        assert r.status_code == 500
        assert "the handler ran longer than spec.eventTimeout (1s); worker 0 was restarted" in r.text
        assert 1.0 <= waited < 10  # fired after the timeout, long before the handler's 60 s
        # a fresh worker process serves the next request
        pid = wait_for(
            lambda: requests.get(fn.url + "/", timeout=10).text, timeout=20, what="a served request"
        )
        assert int(pid) not in first
        assert fn.emulator.pools["web"].crashes == 0  # a timeout is not a crash: no backoff


def test_events_within_the_timeout_are_untouched():
    with serve(_config("1s")) as fn:
        pid = fn.worker_pids()[0]
        answers = {requests.get(fn.url + "/slow", timeout=10).text for _ in range(5)}
        assert answers == {str(pid)}


@pytest.mark.parametrize("value", ["soon", "-1s", "10 s"])
def test_a_bad_event_timeout_is_a_one_line_error(value):
    with pytest.raises(FunctionConfigError) as info:
        parse_function(_config(value))
    assert "spec.eventTimeout" in str(info.value) and "\n" not in str(info.value)
