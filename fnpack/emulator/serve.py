"""``serve()``: run a function in the emulator on a background thread for the length of a ``with`` block."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from fnpack.emulator.config import FunctionConfig, FunctionSource
from fnpack.emulator.emulator import Emulator
from fnpack.emulator.errors import EmulatorError

T = TypeVar("T")


class ServedFunction:
    """A running emulator owned by a background thread with its own event loop."""

    def __init__(self, emulator: Emulator, loop: str = "asyncio") -> None:
        self.emulator = emulator
        self._loop = _new_loop(loop)
        self._thread = threading.Thread(target=self._loop.run_forever, name="fnpack-emulator", daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the HTTP trigger, e.g. ``http://127.0.0.1:40123``."""
        url = self.emulator.url
        if url is None:
            raise EmulatorError("the function has no HTTP trigger")
        return url

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the emulator's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def worker_pids(self, trigger: str | None = None) -> list[int]:
        """Process ids of the live workers (of one trigger, or all)."""
        return self.run(_call(self.emulator.worker_pids, trigger), 5)

    def start(self, ready_timeout: float, wait_ready: bool) -> None:
        self._thread.start()
        try:
            self.run(self.emulator.start())
            if wait_ready:
                self.run(self.emulator.wait_ready(ready_timeout))
        except BaseException:
            self.stop()
            raise

    def stop(self, grace: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        try:
            self.run(self.emulator.stop(grace))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            if not self._thread.is_alive():
                self._loop.close()


def _new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "asyncio":
        return asyncio.new_event_loop()
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:
            raise EmulatorError("loop='uvloop' needs the uvloop package: pip install uvloop") from None
        return uvloop.new_event_loop()
    raise EmulatorError(f"loop must be 'asyncio' or 'uvloop', got {kind!r}")


async def _call(fn: Any, *args: Any) -> Any:
    return fn(*args)


@contextmanager
def serve(
    function: FunctionSource | FunctionConfig,
    *,
    workers: int | None = None,
    port: int = 0,
    host: str = "127.0.0.1",
    ready_timeout: float = 60.0,
    wait_ready: bool = True,
    loop: str = "asyncio",
    **options: Any,
) -> Iterator[ServedFunction]:
    """Run ``function`` (function.yaml path, parsed dict or FunctionConfig) until the block exits.

    Waits until every worker ran ``init_context`` (raising EmulatorError with the worker's one-line reason
    if one cannot start), unless ``wait_ready=False``. ``loop="uvloop"`` runs the triggers on uvloop, as
    ``fnpack run --loop uvloop``. Other options go to :class:`Emulator`.
    """
    served = ServedFunction(Emulator(function, host=host, port=port, workers=workers, **options), loop)
    served.start(ready_timeout, wait_ready)
    try:
        yield served
    finally:
        served.stop()
