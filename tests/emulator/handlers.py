"""Handler modules the emulator tests package into function.yaml files (as source text)."""

from __future__ import annotations

# Describes the event it got, and returns every handler return form nuclio supports.
ECHO = """
import base64
import json
import os
import time
from pathlib import Path

import nuclio_sdk

INIT_CALLS = 0


def init_context(context):
    global INIT_CALLS
    INIT_CALLS += 1
    context.user_data.requests = 0
    context.logger.info_with("initialised", worker_id=context.worker_id)
    marker_dir = os.environ.get("MARKER_DIR")
    if marker_dir:
        def on_termination():
            Path(marker_dir, f"terminated-{context.worker_id}").write_text(str(os.getpid()))
        context.platform.set_termination_callback(on_termination)


def _hold(event):
    # signal that we hold the event, then wait until the test releases us (bounded)
    marker_dir = Path(os.environ["MARKER_DIR"])
    Path(marker_dir, "holding").write_text(str(os.getpid()))
    deadline = time.monotonic() + 20
    while not Path(marker_dir, "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return "released"


def handler(context, event):
    context.user_data.requests += 1
    route = event.path
    if route == "/describe":
        body = event.body
        return {
            "body_type": type(body).__name__,
            "body": base64.b64encode(body).decode() if isinstance(body, bytes) else body,
            "method": event.method,
            "path": event.path,
            "fields": event.fields,
            "headers": {k.lower(): v for k, v in event.headers.items()},
            "content_type": event.content_type,
            "url": event.url,
            "size": event.size,
            "id": event.id,
            "trigger": [event.trigger.kind, event.trigger.name],
            "timestamp_type": type(event.timestamp).__name__,
            "event_class": type(event).__module__ + "." + type(event).__name__,
            "context_class": type(context).__module__ + "." + type(context).__name__,
            "worker_id": context.worker_id,
            "greeting": os.environ.get("GREETING"),
        }
    if route == "/echo":
        return context.Response(body=event.body, content_type=event.content_type, status_code=200)
    if route == "/whoami":
        return {"pid": os.getpid(), "init_calls": INIT_CALLS, "requests": context.user_data.requests}
    if route == "/ret/str":
        return "hello"
    if route == "/ret/bytes":
        return b"\\x00\\xffraw"
    if route == "/ret/dict":
        return {"a": 1, "b": [1, 2]}
    if route == "/ret/list":
        return [1, "two", None]
    if route == "/ret/tuple":
        return 201, {"created": True}
    if route == "/ret/tuple-str":
        return 202, "accepted"
    if route == "/ret/response":
        return nuclio_sdk.Response(
            body=b"\\x01\\x02", headers={"X-Custom": "yes"}, content_type="application/octet-stream", status_code=207
        )
    if route == "/ret/response-dict":
        return context.Response(body={"k": "v"}, status_code=200)
    if route == "/raise":
        raise ValueError("the handler failed on purpose")
    if route == "/raise-with-response":
        raise nuclio_sdk.ExceptionWithResponse(418, "I am a teapot", "text/plain")
    if route == "/hold":
        return _hold(event)
    if route == "/sleep":
        time.sleep(float(event.fields.get("s", "0.02")))
        return "slept"
    return 404, "no route " + route
"""

# Coroutine init_context and handler: both must be awaited by the worker.
ASYNC = """
import asyncio


async def init_context(context):
    await asyncio.sleep(0)
    context.user_data.ready = "async-init"


async def handler(context, event):
    await asyncio.sleep(0.001)
    return {"init": context.user_data.ready, "body": event.body}
"""

CRASH_AT_IMPORT = """
raise ZeroDivisionError("broken at import on purpose")


def handler(context, event):
    return "never"
"""

CRASH_IN_INIT = """
def init_context(context):
    raise RuntimeError("init_context refuses to start")


def handler(context, event):
    return "never"
"""

# Stream handler: records every event it sees (one JSON line per event, a file per worker process);
# "noack*" bodies are left unacknowledged, an "ack" body explicitly acks them all.
STREAM = """
import json
import os
import time
from pathlib import Path

import nuclio_sdk


def init_context(context):
    out = Path(os.environ["OUT_DIR"])
    context.user_data.out = open(out / f"seen-{os.getpid()}.jsonl", "a", buffering=1)
    context.user_data.pending = []

    def on_drain():
        Path(out, f"drained-{os.getpid()}").write_text("drained")

    context.platform.set_drain_callback(on_drain)


async def handler(context, event):
    body = event.body.decode()
    context.user_data.out.write(json.dumps({
        "v": body, "topic": event.topic, "path": event.path, "shard": event.shard_id, "offset": event.offset,
        "trigger": [event.trigger.kind, event.trigger.name], "headers": event.headers, "pid": os.getpid(),
    }) + "\\n")
    delay = float(os.environ.get("DELAY", "0"))
    if delay:
        time.sleep(delay)
    if body.startswith("noack"):
        response = context.Response(body="later")
        response.ensure_no_ack()
        context.user_data.pending.append(nuclio_sdk.QualifiedOffset.from_event(event))
        return response
    if body == "ack":
        for qualified in context.user_data.pending:
            await context.platform.explicit_ack(qualified)
        context.user_data.pending.clear()
    if body == "fail":
        raise RuntimeError("stream handler failure")
    return "ok"
"""
