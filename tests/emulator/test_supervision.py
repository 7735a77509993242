"""Workers that die or cannot start: reported, restarted with backoff, no request left hanging."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from fnpack.emulator import EmulatorError, serve

from .conftest import wait_for
from .handlers import CRASH_AT_IMPORT, CRASH_IN_INIT, ECHO


@pytest.fixture
def emulator_log():
    """Records of the ``fnpack.emulator`` logger (attached directly: independent of propagation)."""
    records: list[logging.LogRecord] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("fnpack.emulator")
    handler = ListHandler(logging.DEBUG)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def _hold_fn(write_function, tmp_path, **trigger):
    return write_function(
        ECHO,
        env=[{"name": "MARKER_DIR", "value": str(tmp_path)}],
        triggers={"h": {"kind": "http", "maxWorkers": 1, **trigger}},
    )


def test_busy_worker_gives_503_after_availability_timeout(write_function, tmp_path):
    path = _hold_fn(write_function, tmp_path, workerAvailabilityTimeoutMilliseconds=200)
    with serve(path) as fn, ThreadPoolExecutor(1) as pool:
        held = pool.submit(requests.get, fn.url + "/hold", timeout=20)
        wait_for(lambda: (tmp_path / "holding").exists(), what="the worker to hold the event")
        t0 = time.monotonic()
        r = requests.get(fn.url + "/ret/str", timeout=10)
        waited = time.monotonic() - t0
        assert r.status_code == 503
        assert 0.15 <= waited < 3
        (tmp_path / "release").touch()
        assert held.result().text == "released"
        assert requests.get(fn.url + "/ret/str", timeout=10).status_code == 200


def test_killed_worker_answers_its_event_503_and_is_restarted(write_function, tmp_path, emulator_log):
    path = _hold_fn(write_function, tmp_path)
    with serve(path) as fn, ThreadPoolExecutor(1) as pool:
        held = pool.submit(requests.get, fn.url + "/hold", timeout=20)
        wait_for(lambda: (tmp_path / "holding").exists(), what="the worker to hold the event")
        [pid] = fn.worker_pids()
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        r = held.result()
        assert r.status_code == 503
        assert time.monotonic() - t0 < 5
        new = wait_for(lambda: [p for p in fn.worker_pids() if p != pid], what="a restarted worker")
        assert requests.get(fn.url + "/whoami", timeout=10).json()["pid"] == new[0]
    reports = [r.getMessage() for r in emulator_log if r.levelno >= logging.ERROR]
    assert any("killed by SIGKILL" in m and str(pid) in m for m in reports), reports


def test_sigkill_under_load_no_hung_request_then_served(write_function, tmp_path):
    path = write_function(ECHO, triggers={"h": {"kind": "http", "maxWorkers": 2}})
    stop = threading.Event()
    statuses: list[int] = []
    errors: list[BaseException] = []

    def client():
        with requests.Session() as s:
            while not stop.is_set():
                try:
                    statuses.append(s.get(fn.url + "/sleep?s=0.01", timeout=10).status_code)
                except BaseException as exc:  # a hung or reset request is a failure
                    errors.append(exc)
                    return

    with serve(path) as fn:
        threads = [threading.Thread(target=client) for _ in range(6)]
        for t in threads:
            t.start()
        wait_for(lambda: len(statuses) > 30, what="load to build up")
        victim = fn.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(fn.worker_pids()) == 2 and victim not in fn.worker_pids(), what="restart")
        served_before = len(statuses)
        wait_for(lambda: len(statuses) > served_before + 30, what="requests after the restart")
        stop.set()
        for t in threads:
            t.join(15)
        assert not any(t.is_alive() for t in threads), "a client request hung"
        assert not errors, errors
        assert set(statuses) <= {200, 503}
        assert statuses.count(503) <= 1  # only the event the killed worker held
        assert statuses[-6:] == [200] * 6
        assert all(requests.get(fn.url + "/ret/str", timeout=10).status_code == 200 for _ in range(4))


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (CRASH_AT_IMPORT, "ZeroDivisionError: broken at import on purpose"),
        (CRASH_IN_INIT, "RuntimeError: init_context"),
    ],
)
def test_worker_that_cannot_start_is_a_one_line_error(write_function, source, reason):
    path = write_function(source)
    with pytest.raises(EmulatorError) as info, serve(path, ready_timeout=20):
        pass
    message = str(info.value)
    assert reason in message
    assert "\n" not in message


def test_crash_loop_backs_off_and_is_reported(write_function, emulator_log):
    path = write_function(
        CRASH_AT_IMPORT, triggers={"h": {"kind": "http", "workerAvailabilityTimeoutMilliseconds": 300}}
    )
    with serve(path, wait_ready=False, backoff=(0.05, 0.2)) as fn:
        pool = fn.emulator.pools["h"]
        wait_for(lambda: pool.crashes >= 5, timeout=20, what="five crashes")
        r = requests.get(fn.url, timeout=20)  # no worker ever frees: 503, not a hang
        assert r.status_code == 503
    reports = [r.getMessage() for r in emulator_log if "during import/init_context" in r.getMessage()]
    assert len(reports) >= 5
    assert all("ZeroDivisionError: broken at import on purpose" in m for m in reports)
    assert any("crash loop" in m for m in reports)
    # exponential backoff, capped
    delays = [float(m.rsplit("restarting in ", 1)[1].rstrip("s")) for m in reports]
    assert delays[:4] == [0.05, 0.1, 0.2, 0.2]


def test_termination_callback_runs_on_stop(write_function, tmp_path):
    path = write_function(
        ECHO,
        env=[{"name": "MARKER_DIR", "value": str(tmp_path)}],
        triggers={"h": {"kind": "http", "maxWorkers": 2}},
    )
    with serve(path) as fn:
        pids = sorted(fn.worker_pids())
        assert requests.get(fn.url + "/ret/str", timeout=10).status_code == 200
    got = sorted(int((tmp_path / f"terminated-{i}").read_text()) for i in range(2))
    assert got == pids
