"""The HTTP trigger: an HTTP/1.1 server in the trigger process handing each request to a free worker.

The protocol is an ``asyncio.Protocol`` over the ``httptools`` parser (llhttp, the parser behind node.js)
rather than aiohttp's server: aiohttp's request and response objects cost about 27 µs per request on this
kind of machine, more than the whole budget the emulator has next to a bare aiohttp server. Here a
request costs a few µs: the parser's callbacks collect the request line, headers and body, the event
goes to the worker pool as a frame header plus the raw body, and the reply is written as one prebuilt
buffer. One request per connection is handled at a time (pipelined requests wait their turn, answered in
order); a malformed request gets a one-line 4xx and the connection is closed.

Events carry what nuclio's trigger (fasthttp) hands its runtime: header names in canonical case
(``content-type`` arrives as ``Content-Type``) and the last of repeated headers and query keys; the path
percent-decoded and normalized (``//``, ``.`` and ``..`` segments resolved).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import time
import uuid
from collections import deque
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote

import httptools

from fnpack.emulator.config import TriggerConfig
from fnpack.emulator.errors import EventTimedOut, FunctionConfigError, NoWorkerAvailable, WorkerDied
from fnpack.emulator.pool import WorkerPool
from fnpack.emulator.triggers.cors import VARY_ORIGIN, Cors
from fnpack.emulator.worker import Reply

log = logging.getLogger("fnpack.emulator")

DEFAULT_MAX_BODY = 4 * 1024 * 1024  # nuclio's (fasthttp's) default request body limit
DEFAULT_AVAILABILITY_TIMEOUT_MS = 10_000
DEFAULT_READ_BUFFER = 16 * 1024  # nuclio's readBufferSize: request line and headers must fit in it
INTERNAL_HEALTH_PATH = "/__internal/health"  # answered 200 by nuclio's trigger itself, never by the function
MAX_QUEUED = 16  # pipelined requests buffered per connection before reading pauses
KEEPALIVE_TIMEOUT = 75.0  # an idle connection is closed after this many seconds
_SWEEP_EVERY = 5.0
LINGER = 2.0  # seconds a closing connection drains what the client still sends before it is dropped

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\r\n\x00]")
# headers the trigger writes itself; a handler's value for them is ignored
_OWN_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding", "connection", "date"})


def _status_line(status: int) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    return f"HTTP/1.1 {status} {reason}\r\n".encode()


_STATUS_LINES: dict[int, bytes] = {}
_PATHS_CACHED = 256  # request targets remembered with their decoded path


class _Date:
    """The Date header, formatted once per second."""

    __slots__ = ("_second", "value")

    def __init__(self) -> None:
        self._second = -1
        self.value = b""

    def get(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self.value = b"Date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return self.value


_DATE = _Date()


class InvalidResponse(ValueError):
    """The handler's reply cannot be sent as HTTP (bad status, header name or value)."""


CLOSE = b"Connection: close\r\n"
KEEP_ALIVE = b"Connection: keep-alive\r\n"  # said to HTTP/1.0 clients that asked for it


def render(
    status: Any,
    content_type: str,
    headers: dict[str, Any] | None,
    body: bytes,
    *,
    head: bool = False,
    connection: bytes = b"",
    extra: bytes = b"",
) -> bytes:
    """The whole HTTP/1.1 response as one buffer; raises InvalidResponse for what HTTP cannot carry.

    ``connection`` is the Connection header line (b"": none, the HTTP/1.1 keep-alive default); ``extra``
    holds header lines the trigger adds (CORS)."""
    if isinstance(status, bool) or not isinstance(status, int):
        try:
            status = int(status)
        except (TypeError, ValueError):
            raise InvalidResponse(f"status {status!r} is not an integer") from None
    if not 200 <= status <= 599:
        raise InvalidResponse(f"status {status} is outside 200-599")
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = _status_line(status)
    if not isinstance(content_type, str):
        content_type = str(content_type)
    if _BAD_VALUE.search(content_type):
        raise InvalidResponse("the content type contains a line break")
    parts = [line, b"Content-Type: ", content_type.encode("latin-1", "replace"), b"\r\n"]
    server = b"Server: nuclio\r\n"  # unless the handler names its own, as in nuclio
    if headers:
        for name, value in headers.items():
            name = str(name)
            lower = name.lower()
            if lower in _OWN_HEADERS:
                continue
            if lower == "server":
                server = b""
            value = value if isinstance(value, str) else str(value)
            if not _TOKEN.match(name):
                raise InvalidResponse(f"header name {name[:40]!r} is not a valid HTTP token")
            if _BAD_VALUE.search(value):
                raise InvalidResponse(f"header {name!r} has a line break in its value")
            parts.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
    bodyless = status in (204, 304)
    if not bodyless:
        parts.append(b"Content-Length: %d\r\n" % len(body))
    parts.append(extra)
    parts.append(_DATE.get())
    parts.append(server)
    parts.append(connection)
    parts.append(b"\r\n")
    if not (head or bodyless):
        parts.append(body)
    return b"".join(parts)


def text_response(status: int, message: str, *, connection: bytes = b"", head: bool = False) -> bytes:
    """A one-line text answer (the trigger's own errors)."""
    body = (message + "\n").encode()
    return render(status, "text/plain; charset=utf-8", None, body, head=head, connection=connection)


class _Reject(Exception):
    """Raised in a parser callback: answer ``status``/``message`` and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Request:
    """One parsed request, and where the worker's answer to it goes (the pool calls ``set_result`` or
    ``set_exception`` as on a future, and the answer is written right away)."""

    __slots__ = (
        "body",
        "conn",
        "connection",
        "content_type",
        "extra",
        "finished",
        "headers",
        "host",
        "method",
        "target",
    )

    def __init__(
        self,
        conn: _Connection,
        method: str,
        target: str,
        headers: dict[str, str],
        host: str,
        content_type: str,
        body: bytes,
        connection: bytes,
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.host = host
        self.content_type = content_type
        self.body = body
        self.connection = connection  # the Connection header line of the answer (b"": keep-alive, 1.1)
        self.conn = conn
        self.finished = False
        self.extra = b""  # header lines the trigger adds to the answer (CORS)

    def done(self) -> bool:
        return self.finished

    def set_result(self, result: Reply) -> None:
        if not self.finished:
            self.finished = True
            self.conn.answer(self, result, None)

    def set_exception(self, exception: BaseException) -> None:
        if not self.finished:
            self.finished = True
            self.conn.answer(self, None, exception)


class HttpTrigger:
    """Serves HTTP on ``host:port`` (port 0: any free port; ``port`` holds the real one after start)."""

    kind = "http"

    def __init__(self, config: TriggerConfig, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        attrs = config.attributes
        self.name = config.name
        self.config = config
        self.host = host
        self.port = int(port if port is not None else attrs.get("port", 8080))
        timeout_ms = config.raw.get("workerAvailabilityTimeoutMilliseconds", DEFAULT_AVAILABILITY_TIMEOUT_MS)
        max_body = attrs.get("maxRequestBodySize", DEFAULT_MAX_BODY)
        read_buffer = attrs.get("readBufferSize", DEFAULT_READ_BUFFER)
        for what, value in (
            ("workerAvailabilityTimeoutMilliseconds", timeout_ms),
            ("maxRequestBodySize", max_body),
            ("readBufferSize", read_buffer),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise FunctionConfigError(f"trigger {self.name!r}: {what} must be a non-negative integer")
        self.availability_timeout = timeout_ms / 1000.0
        self.max_body = max_body
        self.max_head = read_buffer or DEFAULT_READ_BUFFER  # 0: nuclio's default
        self.cors = Cors.from_attributes(attrs, self.name)
        self.keepalive_timeout = KEEPALIVE_TIMEOUT
        self.pool: WorkerPool | None = None
        # event ids: UUID-shaped, a random uuid4 prefix per trigger and a counter (no syscall per event)
        self._id_prefix = str(uuid.uuid4())[:24]
        self._ids = itertools.count(1)
        self._listener: asyncio.AbstractServer | None = None
        self._connections: set[_Connection] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self._closing = False
        # request target as sent -> (path, url without scheme and host): paths repeat, decoding them does not
        self._paths: dict[str, tuple[str, str]] = {}

    @property
    def _authority(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self, pool: WorkerPool) -> None:
        loop = asyncio.get_running_loop()
        self.pool = pool
        try:
            self._listener = await loop.create_server(
                lambda: _Connection(self), self.host, self.port, backlog=1024
            )
        except OSError as exc:
            raise FunctionConfigError(
                f"trigger {self.name!r}: cannot listen on {self.host}:{self.port}: {exc.strerror}"
            )
        self.port = self._listener.sockets[0].getsockname()[1]
        self._sweeper = loop.call_later(_SWEEP_EVERY, self._sweep)

    async def stop_accepting(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    async def stop(self, grace: float) -> None:
        """Stop accepting; close idle connections now, busy ones after their answer or after ``grace``."""
        await self.stop_accepting()
        self._closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self._connections):
            conn.close_when_idle()
        deadline = time.monotonic() + grace
        while self._connections and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self._connections):
            conn.abort()

    def _sweep(self) -> None:
        """Close keep-alive connections idle for longer than ``keepalive_timeout``."""
        loop = asyncio.get_running_loop()
        cutoff = loop.time() - self.keepalive_timeout
        for conn in list(self._connections):
            if conn.last_active < cutoff and conn.idle:
                conn.abort()
        self._sweeper = loop.call_later(_SWEEP_EVERY, self._sweep)

    def event_header(self, request: _Request) -> dict[str, Any]:
        """The frame header of one event: every field nuclio's HTTP trigger sets."""
        target = request.target
        known = self._paths.get(target)
        if known is None:
            known = _split_target(target)
            if "?" not in target and len(target) <= 256:
                if len(self._paths) >= _PATHS_CACHED:
                    self._paths.clear()
                self._paths[target] = known
        path, path_qs = known
        header = {
            "k": "e",
            "id": f"{self._id_prefix}{next(self._ids):012x}",
            "method": request.method,
            "path": path,
            "url": f"http://{request.host or self._authority}{path_qs}",
            "headers": request.headers,
            "content_type": request.content_type,
            "timestamp": time.time(),
        }
        if "?" in path_qs:
            query = path_qs.split("?", 1)[1].split("#", 1)[0]
            if query:  # a repeated key: the last value, as nuclio's fields
                header["fields"] = dict(parse_qsl(query, keep_blank_values=True))
        return header


def _empty(status: int, connection: bytes, extra: bytes, head: bool = False) -> bytes:
    """An answer without a body (fasthttp's default content type), from the trigger itself."""
    return render(
        status, "text/plain; charset=utf-8", None, b"", head=head, connection=connection, extra=extra
    )


def _split_target(target: str) -> tuple[str, str]:
    """(decoded path, path and query as sent) of a request target in origin or absolute form."""
    if target.startswith("/"):
        path_qs = target
    elif target.startswith(("http://", "https://")):
        # absolute form: what follows the authority (no URL parser: a malformed authority is not our business)
        rest = target.split("://", 1)[1]
        cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        path_qs = rest[cut:]
        if not path_qs.startswith("/"):
            path_qs = "/" + path_qs
    else:  # "*" (OPTIONS) or an authority (CONNECT): no path to decode
        return target, target
    raw_path = path_qs.split("?", 1)[0].split("#", 1)[0]
    return normalize_path(unquote(raw_path, errors="replace")), path_qs


def normalize_path(path: str) -> str:
    """The path as nuclio's trigger (fasthttp) normalizes it: repeated slashes collapsed, ``.`` and ``..``
    segments resolved (never above the root), a trailing slash kept."""
    if "//" not in path and "/." not in path:
        return path
    trailing = path.endswith(("/", "/.", "/.."))
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    normal = "/" + "/".join(kept)
    return normal + "/" if trailing and kept else normal


_CANONICAL: dict[bytes, str] = {}


def canonical_header(name: bytes) -> str:
    """``content-type`` -> ``Content-Type``: fasthttp's header name normalization (ASCII letters only)."""
    known = _CANONICAL.get(name)
    if known is None:
        known = b"-".join(part[:1].upper() + part[1:].lower() for part in name.split(b"-")).decode("latin-1")
        if len(_CANONICAL) < 1024:  # header names repeat; a client inventing new ones is not cached
            _CANONICAL[name] = known
    return known


class _Connection(asyncio.Protocol):
    """One client connection: parse requests, hand them to the pool one at a time, write the answers."""

    def __init__(self, trigger: HttpTrigger) -> None:
        self.trigger = trigger
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.loop = asyncio.get_running_loop()
        self.last_active = self.loop.time()
        self.queue: deque[_Request | bytes] = deque()  # parsed requests, or a last answer (bytes)
        self.current: _Request | None = None  # the request whose answer is being waited for
        self.write_paused = False
        self.read_paused = False
        self.closing = False  # close once the queued requests are answered
        self.broken = False  # nothing more is read: the parser stopped, or the client asked to close
        self.eof = False  # the client has closed its side
        # the request being parsed
        self._target: list[bytes] = []
        self._head_size = 0  # request target and header bytes so far
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._body_size = 0

    @property
    def idle(self) -> bool:
        return self.current is None and not self.queue

    # -- asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.trigger._connections.add(self)
        if self.trigger._closing:
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.trigger._connections.discard(self)
        self.transport = None
        self.queue.clear()
        current, self.current = self.current, None
        if current is not None:
            current.finished = True  # a queued event is dropped; one a worker holds finishes, unanswered

    def data_received(self, data: bytes) -> None:
        if self.broken:
            return
        self.last_active = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # no protocol switch (Upgrade, CONNECT): the request itself is answered, then the connection closed
            self._stop_reading(None)
        except httptools.HttpParserCallbackError as exc:
            reject = exc.__context__
            if isinstance(reject, _Reject):
                self._stop_reading(text_response(reject.status, reject.message, connection=CLOSE))
            else:  # a bug in a callback below: still one line to the client
                log.error("trigger %s: request parsing failed: %r", self.trigger.name, reject)
                self._stop_reading(text_response(400, "malformed request", connection=CLOSE))
        except httptools.HttpParserError as exc:
            # when broken: data after a "Connection: close" request, neither read nor answered
            if not self.broken:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self._stop_reading(text_response(400, f"malformed request: {reason}", connection=CLOSE))
        if len(self.queue) >= MAX_QUEUED and not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()
        self._next()

    def eof_received(self) -> bool:
        self.eof = True
        self.broken = True
        if self.idle:
            return False  # nothing left to answer: close
        self.closing = True
        return True  # keep the write side open for the answers still due

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._next()

    # -- httptools callbacks -----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._target = []
        self._head_size = 0
        self._headers = {}
        self._body = []
        self._body_size = 0

    def _count_head(self, size: int) -> None:
        self._head_size += size
        limit = self.trigger.max_head
        if self._head_size > limit:
            raise _Reject(431, f"the request line and headers are larger than readBufferSize ({limit} bytes)")

    def on_url(self, part: bytes) -> None:
        self._target.append(part)
        self._count_head(len(part) + 16)  # with the method and version

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)  # with ": " and CRLF
        # canonical name, and the last of repeated headers: what nuclio's event.headers hold
        self._headers[canonical_header(name)] = value.decode("utf-8", "replace")

    def on_headers_complete(self) -> None:
        headers = self._headers
        length = headers.get("Content-Length")
        limit = self.trigger.max_body
        if length is not None and length.isdigit() and int(length) > limit:
            raise _Reject(413, f"request body of {int(length)} bytes exceeds the limit of {limit} bytes")
        expect = headers.get("Expect")
        if (
            expect is not None
            and expect.lower() == "100-continue"
            and self.idle
            and self.transport is not None
        ):
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # the body is wanted: say so now

    def on_body(self, part: bytes) -> None:
        self._body_size += len(part)
        limit = self.trigger.max_body
        if self._body_size > limit:
            raise _Reject(413, f"request body exceeds the limit of {limit} bytes")
        self._body.append(part)

    def on_message_complete(self) -> None:
        parser = self.parser
        body = self._body
        target = self._target
        if parser.should_keep_alive():
            connection = KEEP_ALIVE if parser.get_http_version() == "1.0" else b""
        else:
            connection = CLOSE
        self.queue.append(
            _Request(
                self,
                parser.get_method().decode("latin-1"),
                (target[0] if len(target) == 1 else b"".join(target)).decode("utf-8", "replace"),
                self._headers,
                self._headers.get("Host", ""),
                self._headers.get("Content-Type", ""),
                body[0] if len(body) == 1 else b"".join(body),
                connection,
            )
        )
        if connection is CLOSE:  # what the client sends after this is not read
            self._stop_reading(None)

    # -- answering ---------------------------------------------------------------------------------
    def _stop_reading(self, answer: bytes | None) -> None:
        """Nothing more is read: answer what was parsed (then ``answer``), then close."""
        self.broken = True
        self.closing = True
        if answer is not None:
            self.queue.append(answer)

    def _next(self) -> None:
        """Start on the next queued request unless one is in flight or the client is not reading."""
        while self.current is None and not self.write_paused and self.transport is not None:
            if not self.queue:
                if self.closing:
                    self._finish()
                elif self.read_paused:
                    self.read_paused = False
                    self.transport.resume_reading()
                return
            item = self.queue.popleft()
            if isinstance(item, bytes):  # the answer to a request that could not be parsed
                self.queue.clear()
                self._write(item)
                continue
            trigger = self.trigger
            pool = trigger.pool
            assert pool is not None
            if item.target.startswith(INTERNAL_HEALTH_PATH):
                self._write(_empty(200, item.connection, b""))
                continue
            cors = trigger.cors
            if cors is not None:  # answered by the trigger, as nuclio's: a preflight, a disallowed origin
                if cors.is_preflight(item.method, item.headers):
                    status, lines = cors.preflight(item.headers)
                    self._write(_empty(status, item.connection, lines))
                    continue
                lines = cors.actual(item.headers)
                if lines is None:
                    self._write(_empty(200, item.connection, VARY_ORIGIN, head=item.method == "HEAD"))
                    continue
                item.extra = lines
            try:
                header = trigger.event_header(item)
            except Exception as exc:  # a bug here costs this request, never the connection
                log.exception("trigger %s: cannot build the event for %r", trigger.name, item.target[:200])
                self._write(text_response(500, f"fnpack emulator: cannot build the event: {exc!r}"[:300]))
                continue
            self.current = item  # before submit: a dead worker answers within it
            try:
                pool.submit(header, item.body, trigger.availability_timeout, item)
            except (NoWorkerAvailable, WorkerDied) as exc:
                self.current = None
                self._write(
                    text_response(503, str(exc), connection=item.connection, head=item.method == "HEAD")
                )
                continue
            return  # answer() writes the answer and comes back here

    def answer(self, request: _Request, result: Reply | None, error: BaseException | None) -> None:
        """The worker answered ``request`` (or the pool gave up on it): write the answer, start the next."""
        if request is not self.current:  # the connection is gone: nothing to answer
            return
        self.current = None
        head = request.method == "HEAD"
        connection = request.connection
        if result is None:  # 503, or 500 for an event timeout as nuclio's processor answers it
            status = 500 if isinstance(error, EventTimedOut) else 503
            answer = text_response(status, str(error), connection=connection, head=head)
        else:
            reply, out = result
            try:
                extra = request.extra
                logs = reply.get("g")
                if logs is not None:  # asked for with X-Nuclio-Log-Level; nuclio drops them past 4 KiB
                    encoded = json.dumps(logs, separators=(",", ":"), default=str)
                    if len(encoded) < 4096:
                        extra += b"X-Nuclio-Logs: " + encoded.encode() + b"\r\n"
                answer = render(
                    reply.get("s", 200),
                    reply.get("c") or "text/plain",
                    reply.get("h"),
                    out,
                    head=head,
                    connection=connection,
                    extra=extra,
                )
            except InvalidResponse as exc:
                message = f"the handler returned an invalid response: {exc}"
                answer = text_response(500, message, connection=connection, head=head)
            except Exception as exc:  # a bug here must not break the worker's channel this runs on
                log.exception("trigger %s: cannot write the answer", self.trigger.name)
                message = f"fnpack emulator: cannot write the answer: {exc!r}"[:300]
                answer = text_response(500, message, connection=connection, head=head)
        self._write(answer)
        self._next()

    def _write(self, answer: bytes) -> None:
        if self.transport is not None:
            self.transport.write(answer)
            self.last_active = self.loop.time()

    def _finish(self) -> None:
        """Close after the answers are written. While the client has not closed its side it may still be
        sending (a body answered 413 before it was read, requests after a ``Connection: close``): closing
        a socket with unread data resets the connection, and the client would see the reset instead of
        the answer. So half-close, drain until the client closes, and drop the connection after LINGER."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not self.eof and transport.can_write_eof():
            self.eof = True  # once
            transport.write_eof()
            if self.read_paused:
                self.read_paused = False
                transport.resume_reading()
            self.loop.call_later(LINGER, self.abort)
        else:
            transport.close()

    def close_when_idle(self) -> None:
        """Stop reading; close now when nothing is due, else after the answers still due."""
        self._stop_reading(None)
        if self.idle:
            self._finish()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
