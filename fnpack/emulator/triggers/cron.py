"""The cron trigger: fires an event every ``attributes.interval`` or on ``attributes.schedule``."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import time
import uuid
from typing import Any

from fnpack.emulator.config import TriggerConfig, parse_duration
from fnpack.emulator.errors import FunctionConfigError, NoWorkerAvailable, WorkerDied
from fnpack.emulator.pool import WorkerPool
from fnpack.emulator.schedule import CronSchedule, parse_schedule

log = logging.getLogger("fnpack.emulator")


class CronTrigger:
    """Fires at a fixed rate (``interval``, first event one interval after start) or on a cron schedule
    (local time). ``attributes.event.body`` / ``.headers`` shape the event. A tick that finds every worker
    busy for a whole period is skipped and reported."""

    kind = "cron"

    def __init__(self, config: TriggerConfig) -> None:
        self.name = config.name
        attrs = config.attributes
        interval, schedule = attrs.get("interval"), attrs.get("schedule")
        if bool(interval) == bool(schedule):
            raise FunctionConfigError(
                f"trigger {self.name!r}: cron needs exactly one of interval or schedule"
            )
        self.interval: float | None = None
        self.schedule: CronSchedule | None = None
        if interval:
            self.interval = parse_duration(interval, f"trigger {self.name!r}: interval")
            if self.interval <= 0:
                raise FunctionConfigError(f"trigger {self.name!r}: interval must be positive")
        else:
            parsed = parse_schedule(str(schedule))
            if isinstance(parsed, float):
                self.interval = parsed
            else:
                self.schedule = parsed
        event = attrs.get("event") or {}
        if not isinstance(event, dict):
            raise FunctionConfigError(f"trigger {self.name!r}: attributes.event must be a mapping")
        body = event.get("body", "")
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        self.body = body if isinstance(body, bytes) else str(body).encode()
        self.headers = {str(k): str(v) for k, v in (event.get("headers") or {}).items()}
        self.content_type = next((v for k, v in self.headers.items() if k.lower() == "content-type"), "")
        self.fired = 0
        self.skipped = 0
        self.pool: WorkerPool | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, pool: WorkerPool) -> None:
        self.pool = pool
        self._task = asyncio.create_task(self._run(), name=f"cron-{self.name}")

    async def stop_accepting(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def stop(self, grace: float) -> None:
        await self.stop_accepting()

    def _delay(self, loop: asyncio.AbstractEventLoop, anchor: float) -> tuple[float, float]:
        """Seconds to sleep until the next tick, and that tick's anchor (loop time)."""
        now = loop.time()
        if self.interval is not None:
            ticks = max(1, int((now - anchor) / self.interval) + 1)
            nxt = anchor + ticks * self.interval
            return nxt - now, nxt
        assert self.schedule is not None
        wall = datetime.datetime.now()
        when = self.schedule.next_after(wall)
        delay = (when - wall).total_seconds()
        return delay, now + delay

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        anchor = loop.time()
        while True:
            delay, anchor = self._delay(loop, anchor)
            await asyncio.sleep(max(0.0, delay))
            await self._fire(max(self.interval or 0.0, 1.0))

    async def _fire(self, patience: float) -> None:
        pool = self.pool
        assert pool is not None
        header: dict[str, Any] = {
            "k": "e",
            "id": str(uuid.uuid4()),
            "headers": self.headers,
            "content_type": self.content_type,
            "timestamp": time.time(),
        }
        try:
            worker = await pool.acquire(patience)
        except NoWorkerAvailable:
            self.skipped += 1
            log.warning("trigger %s: no free worker for the cron tick; skipped", self.name)
            return
        try:
            reply, body = await worker.call(header, self.body)
        except WorkerDied as exc:
            log.warning("trigger %s: %s", self.name, exc)
            return
        finally:
            pool.release(worker)
        self.fired += 1
        if int(reply.get("s", 200)) >= 500:
            log.warning("trigger %s: the handler answered %s: %s", self.name, reply.get("s"), body[:200])
