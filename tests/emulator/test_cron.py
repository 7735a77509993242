"""The cron trigger: interval and schedule fire events with the configured body and headers."""

from __future__ import annotations

import datetime
import json

import pytest

from fnpack.emulator import FunctionConfigError, parse_function, serve
from fnpack.emulator.emulator import Emulator
from fnpack.emulator.schedule import parse_schedule

from .conftest import function_config, wait_for

RECORDER = """
import json
import os


def handler(context, event):
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({
            "body": event.body if not isinstance(event.body, bytes) else event.body.decode(),
            "headers": event.headers,
            "trigger": [event.trigger.kind, event.trigger.name],
            "content_type": event.content_type,
        }) + "\\n")
    return "ok"
"""


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_interval_fires_with_event_body_and_headers(write_function, tmp_path):
    out = tmp_path / "fired.jsonl"
    path = write_function(
        RECORDER,
        env=[{"name": "OUT", "value": str(out)}],
        triggers={
            "tick": {
                "kind": "cron",
                "attributes": {
                    "interval": "200ms",
                    "event": {
                        "body": '{"job": "refresh"}',
                        "headers": {"Content-Type": "application/json", "X-Job": "r"},
                    },
                },
            }
        },
    )
    with serve(path) as fn:
        wait_for(lambda: len(_lines(out)) >= 3, timeout=15, what="three cron events")
        assert fn.emulator.triggers["tick"].fired >= 3
    first = _lines(out)[0]
    assert first["body"] == {"job": "refresh"}  # JSON content type: decoded as for any event
    assert first["headers"]["X-Job"] == "r"
    assert first["trigger"] == ["cron", "tick"]


def test_schedule_with_seconds_field_fires(write_function, tmp_path):
    out = tmp_path / "fired.jsonl"
    path = write_function(
        RECORDER,
        env=[{"name": "OUT", "value": str(out)}],
        triggers={
            "every-second": {
                "kind": "cron",
                "attributes": {"schedule": "* * * * * *", "event": {"body": "b"}},
            }
        },
    )
    with serve(path):
        wait_for(lambda: len(_lines(out)) >= 2, timeout=15, what="two scheduled events")
    assert _lines(out)[0]["body"] == "b"


@pytest.mark.parametrize(
    ("spec", "now", "expected"),
    [
        ("*/15 * * * *", "2026-01-05 10:07:30", "2026-01-05 10:15:00"),
        ("0 9 * * MON", "2026-01-05 10:00:00", "2026-01-12 09:00:00"),  # 2026-01-05 is a Monday
        ("30 0 0 1 * *", "2026-01-31 23:59:59", "2026-02-01 00:00:30"),
        ("@hourly", "2026-01-05 10:00:00", "2026-01-05 11:00:00"),
        ("0 0 29 2 *", "2026-03-01 00:00:00", "2028-02-29 00:00:00"),
        ("0 12 1 * 0", "2026-01-02 00:00:00", "2026-01-04 12:00:00"),  # day-of-month OR day-of-week
        ("*/20 * * * * *", "2026-01-05 10:00:41", "2026-01-05 10:01:00"),
    ],
)
def test_next_firing_time(spec, now, expected):
    fmt = "%Y-%m-%d %H:%M:%S"
    schedule = parse_schedule(spec)
    got = schedule.next_after(datetime.datetime.strptime(now, fmt))
    assert got == datetime.datetime.strptime(expected, fmt)


def test_every_descriptor_is_an_interval():
    assert parse_schedule("@every 1m30s") == 90.0


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({}, "exactly one of interval or schedule"),
        ({"interval": "10s", "schedule": "* * * * *"}, "exactly one of interval or schedule"),
        ({"interval": "often"}, "expected a duration"),
        ({"schedule": "* * *"}, "expected 5 or 6 cron fields"),
        ({"schedule": "61 * * * *"}, "out of range"),
        ({"schedule": "* * * * FUNDAY"}, "bad day of week value"),
    ],
)
def test_bad_cron_attributes_are_one_line_errors(attributes, message):
    doc = function_config(
        "def handler(c, e):\n    return ''\n", triggers={"c": {"kind": "cron", "attributes": attributes}}
    )
    with pytest.raises(FunctionConfigError, match=message) as info:
        Emulator(parse_function(doc))
    assert "\n" not in str(info.value)
