"""Worker process entry point: nuclio's Python wrapper, emulated.

Run as a script from the function's work directory (``_fnpack_wrapper.py`` next to the handler module),
so the user's code is imported exactly as nuclio imports it and fnpack itself is never imported here.
Stdlib + ``nuclio_sdk`` only. One event at a time: the trigger process sends the next event only after
the reply to the previous one. Signals as in nuclio: SIGUSR1 terminate, SIGUSR2 drain, SIGCONT continue.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import importlib
import inspect
import json
import logging
import os
import re
import signal
import socket
import sys
import time
import traceback
from typing import Any, Callable

import _fnpack_wire as wire
import nuclio_sdk
import nuclio_sdk.json_encoder

HANDLER_RE = re.compile(r"^([\w|-]+(\.[\w|-]+)*):(\w+)$")
# how long an idle worker polls its socket for the next event before sleeping (FNPACK_WORKER_SPIN_US)
DEFAULT_SPIN_US = 100
_EPOCH = datetime.datetime(1970, 1, 1)
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


class ConsoleFormatter(logging.Formatter):
    """One line per record: human readable, or a JSON object (``--log-format json``)."""

    def __init__(self, worker: str, as_json: bool) -> None:
        super().__init__()
        self._worker = worker
        self._json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "with", None) or {}
        stamp = datetime.datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        level = record.levelname.lower().replace("warning", "warn")
        if self._json:
            line = {"time": stamp, "level": level, "worker": self._worker, "message": record.getMessage()}
            if fields:
                line["with"] = fields
            return json.dumps(line, default=str)
        more = "".join(f" {k}={v!r}" if k != "traceback" else f"\n{v}" for k, v in fields.items())
        return f"{stamp} {level:<5} [{self._worker}] {record.getMessage()}{more}"


LOG_LEVEL_HEADER = "X-Nuclio-Log-Level"  # a request asking for the function's logs in its answer


class LogCapture(logging.Handler):
    """The log records of one event, for a request with ``X-Nuclio-Log-Level`` (nuclio returns them in the
    ``X-Nuclio-Logs`` response header): ``{"datetime", "level", "message", "with"}`` each."""

    def __init__(self, logger: logging.Logger, level: int) -> None:
        super().__init__(level)
        self.records: list[dict[str, Any]] = []
        self._logger = logger
        self._saved_level = logger.level
        logger.addHandler(self)
        if level < logger.level:  # the console handler keeps its own level: only this handler sees more
            logger.setLevel(level)

    def emit(self, record: logging.LogRecord) -> None:
        entry: dict[str, Any] = {
            "datetime": datetime.datetime.fromtimestamp(record.created).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower().replace("warning", "warn"),
            "message": record.getMessage(),
        }
        fields = getattr(record, "with", None)
        if fields:
            entry["with"] = fields
        self.records.append(entry)

    def finish(self) -> list[dict[str, Any]]:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._saved_level)
        return self.records


def load_entrypoint(handler: str) -> Callable[..., Any]:
    """Import ``module:function`` as nuclio's wrapper does."""
    match = HANDLER_RE.match(handler)
    if not match:
        raise ValueError(f"Malformed handler - {handler!r}")
    module_name, name = match.group(1), match.group(3)
    module = importlib.import_module(module_name)
    try:
        return getattr(module, name)
    except AttributeError:
        raise AttributeError(f"handler module {module_name!r} has no function {name!r}") from None


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class WorkerProtocol(asyncio.Protocol):
    """Reads event frames from the trigger process, runs the handler, writes reply frames."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        entrypoint: Callable[..., Any],
        context: Any,
        sock: socket.socket | None = None,
        spin_us: int = 0,
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.spin = spin_us / 1e6 if sock is not None else 0.0
        self._skip = 0  # spins still to skip after one that saw no event
        self._backoff = 1
        self.entrypoint = entrypoint
        self.context = context
        self.logger = context.logger
        self._capture: LogCapture | None = None
        self.trigger = context.trigger
        self.reader = wire.FrameReader()
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[int] = loop.create_future()
        self.busy = False
        self.idle = asyncio.Event()
        self.idle.set()
        self.terminating = False
        self._encode_json = nuclio_sdk.json_encoder.Encoder().encode

    # -- transport -------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        # the trigger process went away: nothing more will come, exit
        if not self.done.done():
            self.done.set_result(0)

    def send(self, header: dict[str, Any], body: bytes = b"") -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.writelines(wire.encode(header, body))

    def data_received(self, data: bytes) -> None:
        self._frames(data)
        if self.spin and not self.busy:
            if self._skip:
                self._skip -= 1
            else:
                self._spin()

    def _spin(self) -> None:
        """Poll the socket for the next event for up to ``spin`` seconds before going back to the event
        loop (and to sleep in epoll). Under load the trigger sends the next event within tens of
        microseconds of a reply, and handing an event to a worker that is not asleep spares the trigger
        process a wake-up (the costliest part of its ``send``). Bounded: back to the loop after ``spin``
        idle seconds and at least every 5 ms (signals, tasks), yielding the CPU between polls; adaptive:
        after a spin that saw no event, the next ones are skipped (1, 2, 4 ... 64), so an idle or
        lightly loaded worker sleeps as before."""
        sock = self.sock
        transport = self.transport
        assert sock is not None and transport is not None
        clock = time.perf_counter
        pause = os.sched_yield
        spin = self.spin
        now = clock()
        deadline = now + spin
        give_back = now + 0.005
        while not transport.get_write_buffer_size():  # a reply still being flushed needs the loop
            try:
                data = sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                now = clock()
                if now > deadline:
                    self._skip = self._backoff
                    self._backoff = min(64, self._backoff * 2)
                    return
                if now > give_back:
                    return
                pause()
                continue
            except OSError:
                return
            if not data:
                return  # EOF: the transport sees it too on its next read
            self._backoff = 1
            self._frames(data)
            if self.busy:
                return
            now = clock()
            if now > give_back:
                return
            deadline = now + spin

    def _frames(self, data: bytes) -> None:
        for header, body in self.reader.feed(data):
            kind = header.get("k")
            if kind == wire.EVENT:
                self.handle(header, body)
            elif kind == wire.BATCH:
                self.busy = True
                self.idle.clear()
                self.loop.create_task(self._handle_batch(header, body))

    # -- events ----------------------------------------------------------------------------------
    def make_event(self, h: dict[str, Any], raw: bytes) -> nuclio_sdk.Event:
        content_type = h.get("content_type")
        body: Any = raw
        if content_type == "application/json":
            try:
                body = json.loads(raw.decode("utf-8"))
            except Exception as exc:
                sys.stderr.write(f"Failed deserializing json body, error message: {exc}\n")
        ts = h.get("timestamp")
        return nuclio_sdk.Event(
            body=body,
            content_type=content_type,
            trigger=self.trigger,
            fields=h.get("fields"),
            headers=h.get("headers"),
            _id=h.get("id"),
            method=h.get("method"),
            path=h.get("path"),
            size=len(raw),
            timestamp=_EPOCH + datetime.timedelta(seconds=ts) if ts is not None else None,
            url=h.get("url"),
            shard_id=h.get("shard_id"),
            num_shards=h.get("num_shards"),
            _type=h.get("type"),
            type_version=h.get("type_version"),
            version=h.get("version"),
            offset=h.get("offset"),
            topic=h.get("topic"),
        )

    def handle(self, h: dict[str, Any], raw: bytes) -> None:
        self.busy = True
        self.idle.clear()
        headers = h.get("headers")
        if headers and LOG_LEVEL_HEADER in headers:
            level = _LEVELS.get(str(headers[LOG_LEVEL_HEADER]).lower())
            if level is not None:
                self._capture = LogCapture(self.logger._logger, level)
        try:
            output = self.entrypoint(self.context, self.make_event(h, raw))
            if inspect.isawaitable(output):
                self.loop.create_task(self._finish_async(output))
                return
            self._reply(output)
        except Exception as exc:
            self._reply_error(exc)

    async def _finish_async(self, pending: Any) -> None:
        try:
            output = await pending
        except Exception as exc:
            self._reply_error(exc)
        else:
            self._reply(output)

    async def _handle_batch(self, h: dict[str, Any], raw: bytes) -> None:
        """Stream events of one topic partition, columnar (``off``/``ts``/``n``, optional ``hd`` headers by
        index): one handler call per event, in order. The reply lists each event's status and, when set,
        its response headers (a stream trigger ignores response bodies, so they are not encoded)."""
        replies: list[dict[str, Any]] = []
        pos = 0
        topic, shard = h["topic"], h["shard"]
        headers = h.get("hd") or {}
        trigger = self.trigger
        Event = nuclio_sdk.Event
        Response = nuclio_sdk.Response
        for i, (offset, ts, size) in enumerate(zip(h["off"], h["ts"], h["n"])):
            body = raw[pos : pos + size]
            pos += size
            try:
                event = Event(
                    body=body,
                    content_type="",
                    trigger=trigger,
                    headers=headers.get(str(i)),
                    path=topic,
                    size=size,
                    timestamp=_EPOCH + datetime.timedelta(seconds=ts),
                    shard_id=shard,
                    offset=offset,
                    topic=topic,
                )
                output = self.entrypoint(self.context, event)
                if inspect.isawaitable(output):
                    output = await output
                if isinstance(output, Response):
                    reply: dict[str, Any] = {"s": output.status_code}
                    if output.headers:
                        reply["h"] = {
                            str(k): v if isinstance(v, str) else json.dumps(v)
                            for k, v in output.headers.items()
                        }
                elif isinstance(output, tuple) and len(output) == 2:
                    reply = {"s": output[0]}
                else:
                    reply = {"s": 200}
            except nuclio_sdk.ExceptionWithResponse as exc:
                reply = {"s": exc.status_code}
            except Exception as exc:
                self.logger.warn_with(
                    "Exception caught in handler", error=one_line(exc), traceback=traceback.format_exc()
                )
                reply = {"s": 500}
            replies.append(reply)
        self._sent({"k": wire.BATCH_REPLY, "r": replies}, b"")

    def _reply(self, output: Any) -> None:
        # fast paths (same result as nuclio-sdk's Response.from_entrypoint_output, without base64 round trips)
        if type(output) is nuclio_sdk.Response and type(output.body) in (bytes, str) and not output.headers:
            body = output.body
            raw = body if type(body) is bytes else body.encode("utf-8", "surrogateescape")
            self._sent({"k": wire.REPLY, "s": output.status_code, "c": output.content_type}, raw)
            return
        if type(output) is str:
            self._sent(
                {"k": wire.REPLY, "s": 200, "c": "text/plain"}, output.encode("utf-8", "surrogateescape")
            )
            return
        if type(output) is bytes:
            self._sent({"k": wire.REPLY, "s": 200, "c": "text/plain"}, output)
            return
        try:
            response = nuclio_sdk.Response.from_entrypoint_output(self._encode_json, output)
            body = response["body"]
            if response.get("body_encoding") == "base64":
                raw = base64.b64decode(body)
            else:
                raw = body.encode("utf-8", "surrogateescape")
            header = {"k": wire.REPLY, "s": response["status_code"], "c": response["content_type"]}
            if response["headers"]:
                header["h"] = {
                    str(k): v if isinstance(v, str) else json.dumps(v) for k, v in response["headers"].items()
                }
        except Exception as exc:
            self._reply_error(exc)
            return
        self._sent(header, raw)

    def _reply_error(self, exc: Exception) -> None:
        if isinstance(exc, nuclio_sdk.ExceptionWithResponse):
            body = exc.body if exc.body is not None else ""
            raw = body if isinstance(body, bytes) else str(body).encode()
            header = {"k": wire.REPLY, "s": exc.status_code, "c": exc.content_type or "text/plain"}
        else:
            tb = traceback.format_exc()
            self.logger.warn_with("Exception caught in handler", error=one_line(exc), traceback=tb)
            raw = f'Exception caught in handler - "{exc}": {tb}'.encode()
            header = {"k": wire.REPLY, "s": 500, "c": "text/plain"}
        self._sent(header, raw)

    def _sent(self, header: dict[str, Any], raw: bytes) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            header = {**header, "g": capture.finish()}  # the event's logs (headers may be shared)
        self.send(header, raw)
        self.busy = False
        self.idle.set()

    # -- signals ---------------------------------------------------------------------------------
    async def _callback(self, kind: str) -> None:
        try:
            result = self.context.platform._on_signal(callback_type=kind)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            self.logger.error_with(
                f"{kind} callback failed", error=one_line(exc), traceback=traceback.format_exc()
            )

    def on_terminate(self) -> None:
        if not self.terminating:
            self.terminating = True
            self.loop.create_task(self._terminate())

    async def _terminate(self) -> None:
        await self._callback("termination")
        await self.idle.wait()  # let the event in flight finish
        if self.transport is not None:
            self.transport.close()
        if not self.done.done():
            self.done.set_result(0)

    def on_drain(self) -> None:
        self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        await self._callback("drain")
        self.send({"k": wire.CONTROL, "msg": {"kind": "drainDone"}})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="fnpack emulator worker (nuclio Python wrapper)")
    parser.add_argument("--handler", required=True)
    parser.add_argument("--fd", type=int, required=True, help="inherited unix socket to the trigger process")
    parser.add_argument("--worker-id", type=int, default=0)
    parser.add_argument("--trigger-kind", default="http")
    parser.add_argument("--trigger-name", default="http")
    parser.add_argument("--function", default="function")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--log-level", default="debug", choices=sorted(_LEVELS))
    parser.add_argument("--log-format", default="text", choices=("text", "json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the trigger process's business
    args = parse_args(argv)
    label = f"{args.function}/{args.trigger_name}/{args.worker_id}"
    logger = nuclio_sdk.Logger(_LEVELS[args.log_level], name=f"fnpack.worker.{label}")
    logger.set_handler("console", sys.stderr, ConsoleFormatter(label, args.log_format == "json"))
    for console in logger._logger.handlers:  # a request asking for debug logs must not flood the console
        console.setLevel(_LEVELS[args.log_level])
    sock = socket.socket(fileno=args.fd)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    holder: list[WorkerProtocol] = []

    async def control(message: dict[str, Any]) -> None:
        holder[0].send({"k": wire.CONTROL, "msg": message})

    try:
        entrypoint = load_entrypoint(args.handler)
        platform = nuclio_sdk.Platform("local", namespace=args.namespace, on_control_callback=control)
        trigger = nuclio_sdk.TriggerInfo(args.trigger_kind, args.trigger_name)
        context = nuclio_sdk.Context(logger, platform, args.worker_id, trigger)
        init = getattr(sys.modules[entrypoint.__module__], "init_context", None)
        if init is not None:
            result = init(context)
            if inspect.isawaitable(result):
                loop.run_until_complete(result)
    except BaseException as exc:
        logger.error_with(
            "Caught unhandled exception while initializing",
            error=one_line(exc),
            traceback=traceback.format_exc(),
        )
        try:
            sock.sendall(b"".join(wire.encode({"k": wire.FATAL, "error": one_line(exc)})))
        except OSError:
            pass
        return 1

    try:
        spin_us = max(0, int(os.environ.get("FNPACK_WORKER_SPIN_US", DEFAULT_SPIN_US)))
    except ValueError:
        spin_us = DEFAULT_SPIN_US
    proto = WorkerProtocol(loop, entrypoint, context, sock, spin_us)
    holder.append(proto)
    loop.run_until_complete(loop.create_unix_connection(lambda: proto, sock=sock))
    loop.add_signal_handler(signal.SIGUSR1, proto.on_terminate)
    loop.add_signal_handler(signal.SIGUSR2, proto.on_drain)
    loop.add_signal_handler(signal.SIGCONT, lambda: None)
    proto.send({"k": wire.READY, "pid": os.getpid()})
    return loop.run_until_complete(proto.done)


if __name__ == "__main__":
    sys.exit(main())
