"""A trigger's worker processes: start them, hand out free ones, restart the ones that die."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from fnpack.emulator.errors import EmulatorError, NoWorkerAvailable, WorkerDied
from fnpack.emulator.worker import Answer, ControlHandler, WorkerProcess, describe_exit

log = logging.getLogger("fnpack.emulator")

# a worker that dies before it is ready, or within this many seconds of it, counts toward a crash loop
CRASH_LOOP_WINDOW = 2.0


class _Job:
    """An event waiting for a free worker until ``deadline`` (loop time; None: forever)."""

    __slots__ = ("body", "deadline", "header", "result", "timeout")

    def __init__(
        self, header: dict[str, Any], body: bytes, result: Answer, timeout: float | None, now: float
    ) -> None:
        self.header = header
        self.body = body
        self.result = result
        self.timeout = timeout
        self.deadline = None if timeout is None else now + timeout


def _expire(fut: Answer, timeout: float) -> None:
    if not fut.done():
        fut.set_exception(NoWorkerAvailable(f"no worker became available within {timeout * 1000:g} ms"))


class WorkerPool:
    """``size`` supervised worker processes of one trigger; one event per worker at a time."""

    def __init__(
        self,
        name: str,
        size: int,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: str | None = None,
        on_control: ControlHandler | None = None,
        backoff: tuple[float, float] = (0.2, 10.0),
        event_timeout: float | None = None,
    ) -> None:
        self.name = name
        self.size = size
        self._argv = list(argv)
        self._env = env
        self._cwd = cwd
        self._on_control = on_control
        self._backoff = backoff
        self.event_timeout = event_timeout  # spec.eventTimeout: a worker holding an event longer is restarted
        self._idle: deque[WorkerProcess] = deque()
        self._queue: deque[_Job | asyncio.Future[WorkerProcess]] = deque()  # events / acquirers waiting
        self._slots: list[WorkerProcess | None] = [None] * size
        self._tasks: list[asyncio.Task[None]] = []
        self._ever_ready = [False] * size
        self._ready_changed = asyncio.Event()
        self._stopping = False
        self._wake = asyncio.Event()
        # one timer for all queued events, armed for the earliest deadline
        self._timer: asyncio.TimerHandle | None = None
        self.restarts = 0
        self.crashes = 0
        self.startup_error: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._supervise(i), name=f"{self.name}/{i}") for i in range(self.size)
        ]
        if self.event_timeout:
            self._tasks.append(asyncio.create_task(self._watch_event_time(self.event_timeout)))

    async def wait_ready(self, timeout: float, fail_fast: bool = True) -> None:
        """Return once every worker finished init_context; raise if one could not start (fail_fast)."""
        deadline = time.monotonic() + timeout
        while not all(self._ever_ready):
            if fail_fast and self.startup_error:
                raise EmulatorError(f"trigger {self.name!r}: worker failed to start: {self.startup_error}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise EmulatorError(f"trigger {self.name!r}: workers not ready after {timeout:g}s")
            self._ready_changed.clear()
            try:
                await asyncio.wait_for(self._ready_changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    @property
    def workers(self) -> list[WorkerProcess]:
        return [w for w in self._slots if w is not None]

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self._slots if w is not None and w.pid is not None and not w.exited.done()]

    @property
    def busy_count(self) -> int:
        return sum(1 for w in self._slots if w is not None and w.busy)

    def signal_all(self, signum: int) -> None:
        for w in self.workers:
            w.signal(signum)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop handing out workers, let events in flight finish, then terminate (SIGUSR1) and reap."""
        self._stopping = True
        self._wake.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._queue:
            item = self._queue.popleft()
            fut = item.result if isinstance(item, _Job) else item
            if not fut.done():
                fut.set_exception(NoWorkerAvailable("the function is shutting down"))
        deadline = time.monotonic() + grace
        while self.busy_count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        live = [w for w in self.workers if not w.exited.done()]
        for w in live:
            w.signal(signal.SIGUSR1)
        if live:
            await asyncio.wait([w.exited for w in live], timeout=max(0.1, deadline - time.monotonic()))
        for w in live:
            if not w.exited.done():
                log.warning(
                    "worker %s/%d did not exit after its termination callback; killing it",
                    self.name,
                    w.worker_id,
                )
                w.kill()
        if live:
            await asyncio.wait([w.exited for w in live], timeout=5)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # a worker spawned by a restart while we were stopping must not outlive the pool
        stragglers = [w for w in self.workers if not w.exited.done()]
        for w in stragglers:
            w.kill()
        if stragglers:
            await asyncio.wait([w.exited for w in stragglers], timeout=5)

    # -- dispatch --------------------------------------------------------------------------------
    def submit(
        self, header: dict[str, Any], body: bytes, timeout: float | None, answer: Answer | None = None
    ) -> Answer:
        """Send one event to the first free worker, queueing it up to ``timeout`` seconds (None: forever).

        The future (``answer`` when given: any object with a future's ``done``/``set_result``/
        ``set_exception``, called synchronously) gives ``(reply_header, reply_body)``, or raises
        NoWorkerAvailable (timeout, shutdown) or WorkerDied. A queued event is written to a worker the
        moment that worker's previous reply arrives, so a worker does not sit idle while the trigger
        process catches up.
        """
        idle = self._idle
        while idle:
            w = idle.popleft()
            if w.alive:
                return self._dispatch(w, header, body, answer)
        if self._stopping:
            raise NoWorkerAvailable("the function is shutting down")
        loop = asyncio.get_running_loop()
        job = _Job(header, body, answer or loop.create_future(), timeout, loop.time())
        self._queue.append(job)
        if job.deadline is not None:
            timer = self._timer
            if timer is None:
                self._timer = loop.call_at(job.deadline, self._expire_jobs)
            elif job.deadline < timer.when():  # a shorter timeout than the events before it
                timer.cancel()
                self._timer = loop.call_at(job.deadline, self._expire_jobs)
        return job.result

    def _expire_jobs(self) -> None:
        """Answer the queued events whose deadline passed, drop finished ones, re-arm for the earliest
        remaining deadline. One timer per pool rather than one per queued event: under load nearly every
        event waits briefly in the queue, and a timer each (set, then cancelled) costs more than this walk
        once per deadline."""
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        earliest: float | None = None
        kept: deque[_Job | asyncio.Future[WorkerProcess]] = deque()
        for item in self._queue:
            if isinstance(item, _Job):
                if item.result.done():
                    continue
                if item.deadline is not None:
                    if item.deadline <= now:
                        _expire(item.result, item.timeout or 0.0)
                        continue
                    if earliest is None or item.deadline < earliest:
                        earliest = item.deadline
            kept.append(item)
        self._queue.clear()
        self._queue.extend(kept)
        if earliest is not None:
            self._timer = loop.call_at(earliest, self._expire_jobs)

    def _dispatch(
        self, w: WorkerProcess, header: dict[str, Any], body: bytes, result: Answer | None
    ) -> Answer:
        if result is None:
            result = asyncio.get_running_loop().create_future()
        w.busy = True
        try:
            w.send_event(header, body, result)
        except WorkerDied as exc:
            w.busy = False
            result.set_exception(exc)
            return result
        w.on_free = self.release  # called from the reply frame, before the answer is delivered
        return result

    async def acquire(self, timeout: float | None = None) -> WorkerProcess:
        """A free worker for the caller to use and ``release``; waits up to ``timeout`` → NoWorkerAvailable."""
        idle = self._idle
        while idle:
            w = idle.popleft()
            if w.alive:
                w.busy = True
                return w
        if self._stopping:
            raise NoWorkerAvailable("the function is shutting down")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[WorkerProcess] = loop.create_future()
        self._queue.append(fut)
        timer = None if timeout is None else loop.call_later(timeout, _expire, fut, timeout)
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self.release(fut.result())
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def release(self, worker: WorkerProcess) -> None:
        """A worker finished its event: give it the next queued one, or mark it idle (dead ones are skipped)."""
        worker.busy = False
        if not worker.alive or self._stopping:
            return
        queue = self._queue
        while queue:
            item = queue.popleft()
            if isinstance(item, _Job):
                if item.result.done():  # expired or abandoned
                    continue
                self._dispatch(worker, item.header, item.body, item.result)
                return
            if not item.done():
                worker.busy = True
                item.set_result(worker)
                return
        self._idle.append(worker)

    # -- supervision -----------------------------------------------------------------------------
    async def _watch_event_time(self, timeout: float) -> None:
        """nuclio's event timeout watcher: a worker whose event runs longer than ``timeout`` is killed and
        restarted; its event is answered with EventTimedOut (a stream event is redelivered). A batch of n
        stream events is one call here, so it gets n timeouts. Checked every quarter timeout (at least
        every second), so it fires at most that much after the timeout."""
        period = min(max(timeout / 4, 0.01), 1.0)
        while not self._stopping:
            await asyncio.sleep(period)
            now = time.monotonic()
            for w in self.workers:
                started = w.event_started
                if started is None or w.timed_out or now - started <= timeout * w.event_count:
                    continue
                w.timed_out = (
                    f"the handler ran longer than spec.eventTimeout ({timeout:g}s); "
                    f"worker {w.worker_id} was restarted"
                )
                log.warning(
                    "worker %s/%d (pid %s): event running for %.1fs, over spec.eventTimeout (%gs); restarting it",
                    self.name, w.worker_id, w.pid, now - started, timeout,
                )  # fmt: skip
                w.kill()

    async def _supervise(self, slot: int) -> None:
        failures = 0
        while not self._stopping:
            worker = WorkerProcess(
                slot, self._argv, env=self._env, cwd=self._cwd, on_control=self._on_control
            )
            started = time.monotonic()
            try:
                await worker.spawn()
            except OSError as exc:
                self.startup_error = f"cannot start the worker process: {exc}"
                log.error("trigger %s: %s", self.name, self.startup_error)
                self._ready_changed.set()
                return
            self._slots[slot] = worker
            became_ready = False
            try:
                await worker.ready
                became_ready = True
            except EmulatorError:
                pass
            if became_ready:
                if not self._ever_ready[slot]:
                    self._ever_ready[slot] = True
                    self._ready_changed.set()
                self.release(worker)
            code = await worker.exited
            worker.busy = False
            try:
                self._idle.remove(worker)
            except ValueError:
                pass
            if self._stopping:
                return
            if worker.timed_out:  # killed by the event timeout watcher: not a crash, restart now
                self.restarts += 1
                failures = 0
                continue
            uptime = time.monotonic() - started
            why = describe_exit(code)
            if not became_ready:
                reason = worker.fatal or why
                if not self._ever_ready[slot]:
                    self.startup_error = reason
                    self._ready_changed.set()
                where = "during import/init_context"
            else:
                reason = why
                where = f"after {uptime:.1f}s"
            crash_loop = not became_ready or uptime < CRASH_LOOP_WINDOW
            failures = failures + 1 if crash_loop else 0
            self.crashes += 1
            delay = 0.0
            if failures:
                base, cap = self._backoff
                delay = min(cap, base * 2 ** (failures - 1))
            self.restarts += 1
            if failures > 1:
                log.error(
                    "worker %s/%d crashed %s (%s, pid %s); crash loop: %d failures in a row, restarting in %.2fs",
                    self.name, slot, where, reason, worker.pid, failures, delay,
                )  # fmt: skip
            else:
                log.error(
                    "worker %s/%d died %s (%s, pid %s); restarting in %.2fs",
                    self.name, slot, where, reason, worker.pid, delay,
                )  # fmt: skip
            if delay:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass

    def describe(self) -> dict[str, Any]:
        return {"trigger": self.name, "workers": self.size, "pids": self.pids, "restarts": self.restarts}
