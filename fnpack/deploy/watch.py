"""Waiting for a deploy: poll the function's ``status.state``, print each new ``status.logs`` entry once."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from rich.console import Console
from rich.markup import escape

from fnpack.deploy.dashboard import DashboardClient
from fnpack.deploy.errors import DashboardUnavailable, DeployError

READY_STATES = frozenset({"ready"})
FAILED_STATES = frozenset({"error", "unhealthy"})
MAX_POLL_FAILURES = 5  # consecutive unreachable/5xx polls tolerated (an ingress restarting, a network blip)
_LEVEL_STYLE = {"debug": "dim", "info": "", "warn": "yellow", "warning": "yellow", "error": "bold red"}
_ENTRY_KEYS = ("time", "level", "name", "message")


class LogTracker:
    """Remembers which ``status.logs`` entries were already shown, by content.

    nuclio returns the whole log list on every GET, and may replace it when a redeploy starts, so an
    index into the list is not enough: an entry is new when an identical one was never shown.
    """

    def __init__(self, already_seen: Iterable[dict] = ()) -> None:
        self._seen: set[str] = {_key(e) for e in already_seen if isinstance(e, dict)}

    def new(self, entries: Iterable[Any]) -> list[dict]:
        fresh = []
        for entry in entries or ():
            if not isinstance(entry, dict):
                entry = {"message": str(entry)}
            key = _key(entry)
            if key not in self._seen:
                self._seen.add(key)
                fresh.append(entry)
        return fresh


def format_log(entry: dict, redact: Callable[[str], str] = lambda s: s) -> str:
    """One log entry as ``HH:MM:SS.mmm level message {extra context}`` (rich markup, user text escaped)."""
    stamp = ""
    when = entry.get("time")
    if isinstance(when, (int, float)):
        stamp = datetime.fromtimestamp(when / 1000.0, tz=timezone.utc).strftime("%H:%M:%S.%f")[:-3] + " "
    level = str(entry.get("level") or "info").lower()
    extra = {k: v for k, v in entry.items() if k not in _ENTRY_KEYS}
    text = str(entry.get("message", ""))
    if extra:
        text += " " + json.dumps(extra, sort_keys=True, default=str)
    style = _LEVEL_STYLE.get(level, "")
    body = f"{stamp}{level:<5} {escape(redact(text))}"
    return f"[{style}]{body}[/]" if style else body


def wait_for_function(
    client: DashboardClient,
    name: str,
    namespace: str | None,
    *,
    timeout: float,
    poll_interval: float,
    console: Console,
    tracker: LogTracker,
) -> dict:
    """Poll until the function is ready (returned) or failed / timed out (DeployError)."""
    started = time.monotonic()
    deadline = started + timeout
    redact = _redactor(client)
    state = "unknown"
    failures = 0
    spinner = console.status(f"deploying {name}") if console.is_terminal else contextlib.nullcontext()
    with spinner as live:
        while True:
            try:
                function = client.get_function(name, namespace)
                failures = 0
            except DashboardUnavailable as exc:
                failures += 1
                if failures >= MAX_POLL_FAILURES or time.monotonic() >= deadline:
                    raise
                console.print(f"[yellow]poll failed ({escape(str(exc))}); retrying[/]", highlight=False)
                time.sleep(min(poll_interval * failures, max(deadline - time.monotonic(), 0)))
                continue
            if function is None:
                raise DeployError(f"function {name} disappeared from the dashboard during the deploy")
            status = function.get("status") or {}
            for entry in tracker.new(status.get("logs") or []):
                console.print(format_log(entry, redact), highlight=False)
            state = status.get("state") or "unknown"
            if live is not None:
                live.update(f"deploying {name}: {state} ({time.monotonic() - started:.0f}s)")
            if state in READY_STATES:
                return function
            if state in FAILED_STATES:
                message = redact(
                    str(status.get("message") or _last_error(status) or "no message from the dashboard")
                )
                lines = message.strip().splitlines() or [message]
                if len(lines) > 1:
                    console.print(escape(message), highlight=False)
                raise DeployError(f"function {name} failed to deploy ({state}): {lines[0].strip()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                message = status.get("message")
                suffix = f"; last message: {redact(str(message)).splitlines()[0]}" if message else ""
                raise DeployError(
                    f"timed out after {timeout:g}s waiting for function {name} (state {state}){suffix}"
                )
            time.sleep(min(poll_interval, remaining))


def _key(entry: dict) -> str:
    return json.dumps(entry, sort_keys=True, default=str)


def _last_error(status: dict) -> str | None:
    for entry in reversed(status.get("logs") or []):
        if isinstance(entry, dict) and str(entry.get("level", "")).lower() == "error":
            return str(entry.get("message") or "")
    return None


def _redactor(client: DashboardClient) -> Callable[[str], str]:
    secrets = client.credentials.secrets()

    def redact(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    return redact
