"""The HTTP trigger: an aiohttp low-level server handing each request to a free worker."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from aiohttp.web_request import BaseRequest
from multidict import CIMultiDict

from fnpack.emulator.config import TriggerConfig
from fnpack.emulator.errors import FunctionConfigError, NoWorkerAvailable, WorkerDied
from fnpack.emulator.pool import WorkerPool

log = logging.getLogger("fnpack.emulator")

DEFAULT_MAX_BODY = 4 * 1024 * 1024  # nuclio's (fasthttp's) default request body limit
DEFAULT_AVAILABILITY_TIMEOUT_MS = 10_000
_CONTENT_TYPE = "Content-Type"


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


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
        for what, value in (
            ("workerAvailabilityTimeoutMilliseconds", timeout_ms),
            ("maxRequestBodySize", max_body),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise FunctionConfigError(f"trigger {self.name!r}: {what} must be a non-negative integer")
        self.availability_timeout = timeout_ms / 1000.0
        self.max_body = max_body
        self.pool: WorkerPool | None = None
        # event ids: UUID-shaped, a random uuid4 prefix per trigger and a counter (no syscall per event)
        self._id_prefix = str(uuid.uuid4())[:24]
        self._ids = itertools.count(1)
        self._server: web.Server | None = None
        self._listener: asyncio.AbstractServer | None = None
        # request target as sent -> (path, path_qs) as aiohttp/yarl decode them: paths repeat, decoding is ~1.5 us
        self._paths: dict[str, tuple[str, str]] = {}
        self._cl_digits = len(str(max_body))  # a shorter Content-Length value is within the limit

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
        max_body = self.max_body

        def make_request(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> BaseRequest:
            return BaseRequest(message, payload, protocol, writer, task, loop, client_max_size=max_body)

        # auto_decompress=False: like nuclio's trigger, hand the body over as sent (Content-Encoding and all)
        self._server = web.Server(
            self._handle, request_factory=make_request, access_log=None, auto_decompress=False
        )
        try:
            self._listener = await loop.create_server(self._server, self.host, self.port)
        except OSError as exc:
            raise FunctionConfigError(
                f"trigger {self.name!r}: cannot listen on {self.host}:{self.port}: {exc.strerror}"
            )
        self.port = self._listener.sockets[0].getsockname()[1]

    async def stop_accepting(self) -> None:
        if self._listener is not None:
            self._listener.close()

    async def stop(self, grace: float) -> None:
        await self.stop_accepting()
        if self._server is not None:
            await self._server.shutdown(grace)

    async def _handle(self, request: BaseRequest) -> web.StreamResponse:
        headers = request.headers
        declared = headers.get("Content-Length")
        if declared is not None and len(declared) >= self._cl_digits:
            length = request.content_length
            if length is not None and length > self.max_body:
                return _text(
                    413, f"request body of {length} bytes exceeds the limit of {self.max_body} bytes"
                )
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _text(413, f"request body exceeds the limit of {self.max_body} bytes")
        except (RequestPayloadError, HttpProcessingError) as exc:
            return _text(400, f"malformed request body: {_first_line(exc)}")
        target = request.raw_path
        known = self._paths.get(target)
        if known is None:
            known = (request.path, request.path_qs)
            if "?" not in target and len(target) <= 256:
                if len(self._paths) >= 256:
                    self._paths.clear()
                self._paths[target] = known
        path, path_qs = known
        header = {
            "k": "e",
            "id": f"{self._id_prefix}{next(self._ids):012x}",
            "method": request.method,
            "path": path,
            "url": f"http://{headers.get('Host', self._authority)}{path_qs}",
            "headers": dict(headers),
            "content_type": headers.get("Content-Type", ""),
            "timestamp": time.time(),
        }
        if "?" in target and request.query_string:
            header["fields"] = dict(request.query)
        pool = self.pool
        assert pool is not None
        try:
            reply, out = await pool.submit(header, body, self.availability_timeout)
        except (NoWorkerAvailable, WorkerDied) as exc:
            return _text(503, str(exc))
        return _response(reply, out)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _response(reply: dict[str, Any], body: bytes) -> web.Response:
    extra = reply.get("h")
    if extra:
        headers = CIMultiDict((k, v if isinstance(v, str) else str(v)) for k, v in extra.items())
        headers["Content-Type"] = reply.get("c") or "text/plain"
    else:
        headers = CIMultiDict(((_CONTENT_TYPE, reply.get("c") or "text/plain"),))
    try:
        return web.Response(status=int(reply.get("s", 200)), body=body, headers=headers)
    except (TypeError, ValueError) as exc:
        return _text(500, f"the handler returned an invalid response: {exc}")
