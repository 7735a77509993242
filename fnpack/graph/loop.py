"""A private asyncio loop on a daemon thread, started on first use.

The engines run every step they can inline in the caller's thread; only awaitables (``async def``
handlers, concurrent I/O steps) go to this loop.
"""

from __future__ import annotations

import threading


class LoopThread:
    def __init__(self, name: str = "fnpack-graph-loop"):
        self._name = name
        self._loop = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    @property
    def loop(self):
        if self._loop is None:
            with self._start_lock:
                if self._loop is None:
                    import asyncio  # lazy: graphs without awaitables never pay for it

                    loop = asyncio.new_event_loop()
                    ready = threading.Event()

                    def _run():
                        asyncio.set_event_loop(loop)
                        loop.call_soon(ready.set)
                        loop.run_forever()

                    self._thread = threading.Thread(target=_run, name=self._name, daemon=True)
                    self._thread.start()
                    ready.wait()
                    self._loop = loop
        return self._loop

    @property
    def started(self) -> bool:
        return self._loop is not None

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def run(self, coro, timeout: float | None = None):
        """Run ``coro`` on the loop and wait for its result (from any other thread)."""
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("cannot wait for a coroutine from inside the graph's own event loop")
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        if not loop.is_running():
            loop.close()
        self._loop = None
        self._thread = None
