"""The drain/termination callbacks the handler registers drain the graph and never raise into nuclio."""

from __future__ import annotations

import asyncio
import json
import types

import nuclio_sdk

import fnpack
from fnpack.handlers import serving


class Platform:
    def __init__(self):
        self.callbacks = {}

    def set_drain_callback(self, callback):
        self.callbacks["drain"] = callback

    def set_termination_callback(self, callback):
        self.callbacks["termination"] = callback


class Logger:
    def __init__(self):
        self.errors = []

    def info(self, message, *args, **kwargs):
        pass

    def error(self, message, *args, **kwargs):
        self.errors.append(message)


async def late_fail(body):
    await asyncio.sleep(0)
    raise ValueError("failed after the response")


def test_callbacks_drain_and_report_late_errors():
    fn = fnpack.new_function("late")
    fn.set_topology("flow", engine="async").to(name="a", handler="(event)").respond().to(
        name="late", handler=late_fail
    )
    spec = fn.serving_spec()
    context = types.SimpleNamespace(
        logger=Logger(), platform=Platform(), user_data=types.SimpleNamespace(), Response=nuclio_sdk.Response
    )
    serving.init_context(context, spec=json.dumps(spec), namespace={"late_fail": late_fail})
    event = nuclio_sdk.Event(body={"x": 1}, content_type="application/json", path="/", method="POST")
    response = serving.handler(context, event)
    assert response.status_code == 200
    context.platform.callbacks["drain"]()  # must not raise
    assert any("failed after the response" in e for e in context.logger.errors)
    context.platform.callbacks["termination"]()
    assert context.user_data.server.plan.in_flight == 0
