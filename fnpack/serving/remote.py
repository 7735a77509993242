"""``RemoteStep`` and ``BatchHttpRequests``: call HTTP endpoints from a graph, in both engines.

The sync engine uses a pooled ``requests`` session; the async engine an ``aiohttp`` client with a
bound on requests in flight. Both clients are imported only when a graph uses these steps.
Retries: timeouts, connection errors and 5xx are retried with exponential backoff (``retries=0``
means exactly one attempt); 4xx answers are not retried. The final error names the URL and the step.
"""

from __future__ import annotations

import json
import re
import threading
import time

from ..graph.errors import GraphError
from ..graph.paths import get_in, split_path, update_in
from ..graph.steps import StepToDict
from .expressions import compile_expression

DEFAULT_RETRIES = 6
DEFAULT_MAX_IN_FLIGHT = 8
MAX_BACKOFF = 120.0


class RemoteCallError(RuntimeError):
    """A remote call failed for good (after its retries). URL credentials never appear in the message."""

    def __init__(self, message: str):
        super().__init__(redact(message))


_USERINFO = re.compile(r"(//)[^/@\s]+@")


def redact(text: str) -> str:
    """``http://user:secret@host/`` -> ``http://***@host/`` wherever a URL with credentials appears."""
    return _USERINFO.sub(r"\1***@", text)


class _Retryable(Exception):
    """An attempt failed in a way worth retrying (timeout, connection error, 5xx)."""


class _HttpStep(StepToDict):
    """What RemoteStep and BatchHttpRequests share: the endpoint, request building, retries, clients."""

    def __init__(
        self,
        url: str | None = None,
        subpath: str | None = None,
        method: str | None = None,
        headers: dict | None = None,
        url_expression: str | None = None,
        body_expression: str | None = None,
        return_json: bool = True,
        input_path: str | None = None,
        result_path: str | None = None,
        retries: int | None = None,
        backoff_factor: float | None = None,
        timeout: float | None = None,
        context=None,
        name: str | None = None,
        **kwargs,
    ):
        if url and url_expression:
            raise GraphError("cannot set both url and url_expression")
        if not url and not url_expression:
            raise GraphError("a url or a url_expression is required")
        self.url = url
        self.subpath = subpath
        self.method = method
        self.headers = headers
        self.url_expression = url_expression
        self.body_expression = body_expression
        self.return_json = return_json
        self.retries = retries
        self.backoff_factor = backoff_factor
        self.timeout = timeout
        self.context = context
        self.name = name or type(self).__name__
        self._input_path = input_path
        self._result_path = result_path
        self._in_keys = split_path(input_path)
        self._out_keys = split_path(result_path)
        self._attempts = 1 + (DEFAULT_RETRIES if retries is None else max(0, int(retries)))
        self._backoff = 1.0 if backoff_factor is None else float(backoff_factor)
        self._url_fn = (
            compile_expression(url_expression, ("event", "endpoint"), "url_expression")
            if url_expression
            else None
        )
        self._body_fn = (
            compile_expression(body_expression, ("event",), "body_expression") if body_expression else None
        )
        self._endpoint = ""
        self._append_path = subpath == "$path"
        self._session = None
        self._session_lock = threading.Lock()
        self._async_session = None
        self._semaphore = None
        self._async = _engine_is_async(context)

    def post_init(self, mode=None) -> None:
        if self.url:
            resolve = getattr(self.context, "get_remote_endpoint", None)
            endpoint = resolve(self.url) if resolve else self.url
            endpoint = endpoint.strip("/")
            if self.subpath and not self._append_path:
                endpoint = f"{endpoint}/{self.subpath.strip('/')}"
            self._endpoint = endpoint

    def close(self) -> None:
        """Release the pooled HTTP connections (called by ``GraphServer.close()``)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    async def aclose(self) -> None:
        if self._async_session is not None and not self._async_session.closed:
            await self._async_session.close()
        self._async_session = None

    # --- request building ----------------------------------------------------------------------
    def _request(self, body, event) -> tuple[str, str, dict, bytes | None]:
        method = (self.method or _text(getattr(event, "method", None)) or "POST").upper()
        path = _text(getattr(event, "path", None)) or ""
        if self._url_fn is not None:
            url = self._url_fn(event=body, endpoint=self._endpoint)
        else:
            url = self._endpoint
            if self._append_path and path.strip("/"):
                url = f"{url}/{path.strip('/')}"
        headers = dict(self.headers or {})  # never mutate the configured headers
        if self._url_fn is None and path.lstrip("/"):
            headers["MLRUN-EVENT-PATH"] = path
        event_id = getattr(event, "id", None)
        if event_id:
            headers["MLRUN-EVENT-ID"] = str(event_id)
        data = None
        if method != "GET" and body is not None:
            if isinstance(body, (str, bytes)):
                data = body.encode() if isinstance(body, str) else body
            else:
                payload = self._body_fn(event=body) if self._body_fn is not None else body
                data = json.dumps(payload).encode()
                headers.setdefault("Content-Type", "application/json")
        return method, url, headers, data

    def _decode(self, content: bytes, content_type: str):
        if self.return_json or content_type.startswith("application/json"):
            try:
                return json.loads(content) if content else None
            except ValueError as exc:
                raise RemoteCallError(f"step {self.name}: response is not JSON: {exc}") from None
        return content

    def _delay(self, attempt: int) -> float:
        return min(MAX_BACKOFF, self._backoff * (2 ** (attempt - 1)))

    # --- sync client -----------------------------------------------------------------------------
    def _sync_session(self):
        if self._session is None:
            with self._session_lock:
                if self._session is None:
                    import requests  # lazy: only graphs with remote steps pay for it

                    session = requests.Session()
                    adapter = requests.adapters.HTTPAdapter(
                        pool_connections=4, pool_maxsize=32, max_retries=0
                    )
                    session.mount("http://", adapter)
                    session.mount("https://", adapter)
                    self._session = session
        return self._session

    def _call_sync(self, body, event):
        import requests

        method, url, headers, data = self._request(body, event)
        session = self._sync_session()
        last = ""
        for attempt in range(1, self._attempts + 1):
            try:
                resp = session.request(method, url, headers=headers, data=data, timeout=self.timeout)
            except requests.Timeout:
                last = f"http request to {url} timed out after {self.timeout}s"
            except requests.RequestException as exc:
                last = f"cannot invoke url {url}: {type(exc).__name__}: {exc}"
            else:
                if resp.status_code < 400:
                    return self._decode(resp.content, resp.headers.get("Content-Type", ""))
                last = f"bad http response {resp.status_code} from {url}: {resp.text[:200]}"
                if resp.status_code < 500:
                    break
            if attempt < self._attempts:
                time.sleep(self._delay(attempt))
        raise RemoteCallError(f"step {self.name}: {method} {url} failed after {attempt} attempt(s): {last}")

    # --- async client ----------------------------------------------------------------------------
    async def _aiohttp_session(self):
        if self._async_session is None or self._async_session.closed:
            import asyncio

            import aiohttp  # lazy

            self._semaphore = asyncio.Semaphore(getattr(self, "max_in_flight", None) or DEFAULT_MAX_IN_FLIGHT)
            connector = aiohttp.TCPConnector(limit=0, ssl=False)
            self._async_session = aiohttp.ClientSession(connector=connector)
        return self._async_session

    async def _call_async(self, body, event):
        import asyncio

        import aiohttp

        method, url, headers, data = self._request(body, event)
        session = await self._aiohttp_session()
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        last = ""
        for attempt in range(1, self._attempts + 1):
            try:
                async with (
                    self._semaphore,
                    session.request(method, url, headers=headers, data=data, timeout=timeout) as resp,
                ):
                    content = await resp.read()
                    if resp.status < 400:
                        return self._decode(content, resp.headers.get("Content-Type", ""))
                    last = f"bad http response {resp.status} from {url}: {content[:200].decode(errors='replace')}"
                    if resp.status < 500:
                        break
            except asyncio.TimeoutError:
                last = f"http request to {url} timed out after {self.timeout}s"
            except aiohttp.ClientError as exc:
                last = f"cannot invoke url {url}: {type(exc).__name__}: {exc}"
            if attempt < self._attempts:
                await asyncio.sleep(self._delay(attempt))
        raise RemoteCallError(f"step {self.name}: {method} {url} failed after {attempt} attempt(s): {last}")


class RemoteStep(_HttpStep):
    """Send the event body to a URL and put the answer in the body (``result_path``), or replace it."""

    def __init__(
        self,
        url: str | None = None,
        subpath: str | None = None,
        method: str | None = None,
        headers: dict | None = None,
        url_expression: str | None = None,
        body_expression: str | None = None,
        return_json: bool = True,
        input_path: str | None = None,
        result_path: str | None = None,
        max_in_flight: int | None = None,
        retries: int | None = None,
        backoff_factor: float | None = None,
        timeout: float | None = None,
        **kwargs,
    ):
        super().__init__(
            url,
            subpath,
            method,
            headers,
            url_expression,
            body_expression,
            return_json,
            input_path,
            result_path,
            retries,
            backoff_factor,
            timeout,
            **kwargs,
        )
        self.max_in_flight = max_in_flight
        if self._async:
            self.do_event = self._do_event_async

    def do_event(self, event):
        body = event.body
        event.body = update_in(body, self._out_keys, self._call_sync(get_in(body, self._in_keys), event))
        return event

    async def _do_event_async(self, event):
        body = event.body
        result = await self._call_async(get_in(body, self._in_keys), event)
        event.body = update_in(body, self._out_keys, result)
        return event


class BatchHttpRequests(_HttpStep):
    """One request per item of a list body, run concurrently; the answers, in input order."""

    def __init__(self, *args, max_concurrency: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_concurrency = max_concurrency
        if self._async:
            self.do_event = self._do_event_async

    def _items(self, event) -> list:
        items = get_in(event.body, self._in_keys)
        if not isinstance(items, list):
            raise TypeError(
                f"step {self.name}: BatchHttpRequests needs a list input, got {type(items).__name__}"
            )
        return items

    def do_event(self, event):
        from concurrent.futures import ThreadPoolExecutor

        items = self._items(event)
        if not items:
            results = []
        else:
            workers = min(len(items), self.max_concurrency or DEFAULT_MAX_IN_FLIGHT)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(lambda item: self._call_sync(item, event), items))
        event.body = update_in(event.body, self._out_keys, results)
        return event

    async def _do_event_async(self, event):
        import asyncio

        items = self._items(event)
        self.max_in_flight = self.max_concurrency
        results = await asyncio.gather(
            *(self._call_async(item, event) for item in items), return_exceptions=True
        )
        for result in results:  # every request has finished: report the first failure
            if isinstance(result, BaseException):
                raise result
        event.body = update_in(event.body, self._out_keys, list(results))
        return event


def _engine_is_async(context) -> bool:
    root = getattr(context, "root", None)
    engine_kind = getattr(root, "engine_kind", None)
    return engine_kind == "async"


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
