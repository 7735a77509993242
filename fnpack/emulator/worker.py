"""One worker process as the trigger process sees it: spawn, send an event, read the reply."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from typing import Any, Callable, Optional, Protocol

from fnpack.emulator import wire
from fnpack.emulator.errors import EventTimedOut, WorkerDied

Reply = tuple[dict[str, Any], bytes]


class Answer(Protocol):
    """Where a worker's reply goes: an ``asyncio.Future``, or an object with the same three methods that
    acts on the reply right away (the HTTP trigger's requests) instead of on the next loop pass."""

    def done(self) -> bool: ...

    def set_result(self, result: Reply) -> None: ...

    def set_exception(self, exception: BaseException) -> None: ...


ControlHandler = Callable[["WorkerProcess", dict[str, Any]], None]


class WorkerProcess(asyncio.Protocol):
    """A worker process and its unix-socket channel; at most one event in flight."""

    def __init__(
        self,
        worker_id: int,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: str | None = None,
        on_control: ControlHandler | None = None,
    ) -> None:
        self.worker_id = worker_id
        self._argv = list(argv)
        self._env = env
        self._cwd = cwd
        self._on_control = on_control
        self._reader = wire.FrameReader(shared_headers=True)  # reply headers are only read
        self._transport: asyncio.Transport | None = None
        self._pending: Answer | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.fatal: str | None = None  # the worker's own one-line reason when it could not start
        self.ready: asyncio.Future[None]
        self.exited: asyncio.Future[int]
        self.busy = False
        self.on_free: Callable[[WorkerProcess], None] | None = None  # called once, after the next reply
        # the event in flight: when it was sent (time.monotonic) and how many events it holds (a batch)
        self.event_started: float | None = None
        self.event_count = 1
        self.timed_out: str | None = None  # why the pool killed this worker (spec.eventTimeout)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return not self.exited.done() and self._transport is not None and not self._transport.is_closing()

    async def spawn(self) -> None:
        """Start the process; ``ready`` resolves once init_context is done, ``exited`` when it is gone."""
        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        self.exited = loop.create_future()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                [*self._argv, "--fd", str(theirs.fileno()), "--worker-id", str(self.worker_id)],
                pass_fds=(theirs.fileno(),),
                env=self._env,
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        await loop.create_unix_connection(lambda: self, sock=ours)

    def call(self, header: dict[str, Any], body: bytes = b"", events: int = 1) -> asyncio.Future[Reply]:
        """Send one event (or a batch of ``events``); the future gives ``(reply_header, reply_body)`` or
        raises WorkerDied."""
        fut: asyncio.Future[Reply] = self.exited.get_loop().create_future()
        self.send_event(header, body, fut, events)
        return fut

    def send_event(self, header: dict[str, Any], body: bytes, answer: Answer, events: int = 1) -> None:
        """Send one event (or a batch of ``events``); ``answer`` gets ``(reply_header, reply_body)`` or
        WorkerDied."""
        transport = self._transport
        if transport is None or transport.is_closing():
            raise WorkerDied(f"worker {self.worker_id} is not running")
        self._pending = answer
        self.event_started = time.monotonic()
        self.event_count = events
        transport.writelines(wire.encode(header, body))

    def call_batch(self, header: dict[str, Any], bodies: list[bytes]) -> asyncio.Future[Reply]:
        """Send stream events of one partition (columnar ``header``, see the wrapper) to be handled one
        after the other; the reply header's ``r`` lists each event's result."""
        header["k"] = wire.BATCH
        header["n"] = [len(b) for b in bodies]
        return self.call(header, b"".join(bodies), len(bodies))

    def signal(self, signum: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            try:
                self.proc.send_signal(signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    # -- asyncio.Protocol ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        for header, body in self._reader.feed(data):
            kind = header.get("k")
            if kind == wire.REPLY or kind == wire.BATCH_REPLY:
                self.event_started = None
                fut, self._pending = self._pending, None
                on_free, self.on_free = self.on_free, None
                if on_free is not None:
                    on_free(self)  # first the next queued event to the worker, then the answer
                if fut is not None and not fut.done():
                    fut.set_result((header, body))
            elif kind == wire.CONTROL:
                if self._on_control is not None:
                    self._on_control(self, header.get("msg") or {})
            elif kind == wire.READY:
                if not self.ready.done():
                    self.ready.set_result(None)
            elif kind == wire.FATAL:
                self.fatal = str(header.get("error") or "unknown error")

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        fut, self._pending = self._pending, None
        if fut is not None and not fut.done():
            if self.timed_out:
                fut.set_exception(EventTimedOut(self.timed_out))
            else:
                fut.set_exception(
                    WorkerDied(f"worker {self.worker_id} (pid {self.pid}) died while handling the event")
                )
        on_free, self.on_free = self.on_free, None
        if on_free is not None:
            on_free(self)
        if not self.ready.done():
            self.ready.set_exception(WorkerDied(self.fatal or "exited before it was ready"))
            self.ready.exception()  # mark retrieved; the supervisor reads the exit reason itself
        loop = self.exited.get_loop()
        proc = self.proc
        if proc is None:
            self.exited.set_result(-1)
            return
        waiter = loop.run_in_executor(None, proc.wait)
        waiter.add_done_callback(lambda f: self.exited.done() or self.exited.set_result(_exit_code(f)))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _exit_code(fut: asyncio.Future[int]) -> int:
    try:
        return fut.result()
    except Exception:
        return -1


def describe_exit(code: Optional[int]) -> str:
    """'exit code 1' / 'killed by SIGKILL'."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
