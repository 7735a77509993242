"""Send one request to a function (by URL, or a function.yaml run in the emulator for the call)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import requests

from fnpack.emulator.errors import EmulatorError


@dataclass
class InvokeResult:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def render(self) -> str:
        """Status line, headers, blank line, body (pretty JSON when it parses)."""
        lines = [f"HTTP {self.status} {self.reason}".rstrip()]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        lines.append("")
        lines.append(render_body(self.body, self.headers.get("Content-Type", "")))
        logs = self.logs()
        if logs:
            lines += ["", "function logs:"]
            for entry in logs:
                fields = "".join(f" {k}={v!r}" for k, v in (entry.get("with") or {}).items())
                lines.append(f"  {entry.get('level', ''):<5} {entry.get('message', '')}{fields}")
        return "\n".join(lines)

    def logs(self) -> list[dict[str, Any]]:
        """The function's logs returned in ``X-Nuclio-Logs`` (asked for with ``X-Nuclio-Log-Level``)."""
        raw = next((v for k, v in self.headers.items() if k.lower() == "x-nuclio-logs"), None)
        try:
            logs = json.loads(raw) if raw else []
        except ValueError:
            return []
        return [e for e in logs if isinstance(e, dict)] if isinstance(logs, list) else []


def render_body(body: bytes, content_type: str = "") -> str:
    if not body:
        return ""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(body)} bytes of binary data ({content_type or 'no content type'})>"


def read_body(value: str | None) -> bytes | None:
    """``--body`` value: ``@path`` reads a file (``@-`` is not supported), anything else is sent as text."""
    if value is None:
        return None
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            return path.read_bytes()
        except OSError as exc:
            raise EmulatorError(f"cannot read body file {str(path)!r}: {exc.strerror or exc}")
    return value.encode()


def invoke(
    url: str,
    *,
    path: str = "/",
    method: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> InvokeResult:
    """One HTTP request to ``url`` + ``path``; the method defaults to POST with a body, GET without."""
    method = (method or ("POST" if body is not None else "GET")).upper()
    target = url if path in ("", "/") and url.count("/") > 2 else url.rstrip("/") + "/" + path.lstrip("/")
    try:
        resp = requests.request(method, target, data=body, headers=headers or {}, timeout=timeout)
    except requests.ConnectionError as exc:
        reason = "connection refused" if "refused" in str(exc) else _first_line(exc)
        raise EmulatorError(f"{method} {target}: cannot connect ({reason}); is the function running?")
    except requests.Timeout:
        raise EmulatorError(f"{method} {target}: no answer within {timeout:g}s (raise --timeout)")
    except requests.RequestException as exc:
        raise EmulatorError(f"{method} {target} failed: {type(exc).__name__}: {_first_line(exc)}")
    try:
        reason = resp.reason or HTTPStatus(resp.status_code).phrase
    except ValueError:
        reason = ""
    return InvokeResult(resp.status_code, reason, dict(resp.headers), resp.content)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""
