"""Load a generated function in a fresh interpreter, as nuclio's Python wrapper would, and send it events.

Run as a script (``python -I probe.py FUNCTION_DIR MODULE [--events FILE]``): it imports the handler module,
calls ``init_context`` with real ``nuclio_sdk`` objects, then ``handler`` per event, and prints one JSON line.
Standard library + nuclio-sdk only, so it also runs where fnpack is not installed (``--path`` adds a dir).

An event in the events file: ``{"body": ..., "body_b64": "...", "content_type", "path", "method", "headers",
"trigger": [kind, name], "id", "topic", "raw": true}`` (``raw``: every string field as bytes, like nuclio's raw
event mode); ``{"batch": [event, ...]}`` sends a list of events in one call.
"""

from __future__ import annotations

import base64
import importlib
import json
import sys
import time

MARKER = "FNPACK-PROBE "


def _b(value):
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, dict):
        return {_b(k): _b(v) for k, v in value.items()}
    return value


def make_event(nuclio_sdk, spec: dict):
    body = base64.b64decode(spec["body_b64"]) if "body_b64" in spec else spec.get("body")
    kind, name = spec.get("trigger") or ("http", "http")
    fields = {
        "content_type": spec.get("content_type"),
        "path": spec.get("path", "/"),
        "method": spec.get("method", "POST"),
        "headers": spec.get("headers") or {},
        "id": spec.get("id"),
        "topic": spec.get("topic"),
        "url": spec.get("url"),
        "kind": kind,
        "name": name,
    }
    if spec.get("raw"):
        fields = {k: _b(v) for k, v in fields.items()}
    return nuclio_sdk.Event(
        body=body,
        content_type=fields["content_type"],
        trigger=nuclio_sdk.TriggerInfo(fields["kind"], fields["name"]),
        headers=fields["headers"],
        _id=fields["id"],
        method=fields["method"],
        path=fields["path"],
        url=fields["url"],
        topic=fields["topic"],
        offset=spec.get("offset", 0),
        shard_id=spec.get("shard_id"),
    )


def _response(response) -> dict:
    body = getattr(response, "body", response)
    if isinstance(body, bytes):
        body = {"b64": base64.b64encode(body).decode()}
    return {
        "status": getattr(response, "status_code", None),
        "body": body,
        "content_type": getattr(response, "content_type", None),
        "event_id": getattr(response, "event_id", None),
        "type": f"{type(response).__module__}.{type(response).__name__}",
    }


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="probe")
    parser.add_argument("function_dir")
    parser.add_argument("module")
    parser.add_argument("--entry", default="handler", help="the handler function's name")
    parser.add_argument("--events")
    parser.add_argument("--path", action="append", default=[], help="prepend to sys.path")
    parser.add_argument("--worker-id", type=int, default=0)
    args = parser.parse_args(argv)
    sys.path[:0] = [*args.path, args.function_dir]
    started = time.perf_counter()
    result: dict = {"ok": False}
    try:
        import nuclio_sdk

        module = importlib.import_module(args.module)
        imported = time.perf_counter()
        logger = nuclio_sdk.Logger(30)
        logger.set_handler(
            "default", sys.stderr, __import__("logging").Formatter("%(levelname)s %(message)s")
        )
        trigger = nuclio_sdk.TriggerInfo("http", "http")
        context = nuclio_sdk.Context(logger, nuclio_sdk.Platform("local"), args.worker_id, trigger)
        # as nuclio's wrapper: init_context is looked up in the module that defines the handler function
        entrypoint = getattr(module, args.entry)
        init = getattr(sys.modules[entrypoint.__module__], "init_context", None)
        if init is not None:
            init(context)
        ready = time.perf_counter()
        fnpack = sys.modules.get("fnpack")
        result.update(
            ok=True,
            import_ms=(imported - started) * 1000,
            init_ms=(ready - imported) * 1000,
            fnpack_file=getattr(fnpack, "__file__", None),
            has_server=hasattr(context.user_data, "server"),
            drain_callback=context.platform._drain_callback is not None,
        )
        responses = []
        if args.events:
            with open(args.events, encoding="utf-8") as fp:
                events = json.load(fp)
            for spec in events:
                if "batch" in spec:
                    batch = [make_event(nuclio_sdk, item) for item in spec["batch"]]
                    responses.append([_response(r) for r in entrypoint(context, batch)])
                else:
                    responses.append(_response(entrypoint(context, make_event(nuclio_sdk, spec))))
        result["responses"] = responses
        server = getattr(context.user_data, "server", None)
        if server is not None:
            context.platform._termination_callback()
    except BaseException as exc:  # report, in one line, whatever stopped the function
        result["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    print(MARKER + json.dumps(result, default=str), flush=True)
    return 0 if result.get("ok") and "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
