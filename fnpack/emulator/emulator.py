"""The emulator: a function's work directory, one supervised worker pool per trigger, the triggers."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Protocol

from fnpack.emulator.config import FunctionConfig, FunctionSource, TriggerConfig, load_function
from fnpack.emulator.errors import FunctionConfigError
from fnpack.emulator.pool import WorkerPool
from fnpack.emulator.triggers.http import HttpTrigger
from fnpack.emulator.worker import ControlHandler

log = logging.getLogger("fnpack.emulator")

_HERE = Path(__file__).resolve().parent
WRAPPER_NAME = "_fnpack_wrapper.py"


class Trigger(Protocol):
    name: str
    kind: str

    async def start(self, pool: WorkerPool) -> None: ...

    async def stop_accepting(self) -> None: ...

    async def stop(self, grace: float) -> None: ...


def _make_trigger(config: TriggerConfig, host: str, port: int | None) -> Trigger | None:
    if config.kind == "http":
        return HttpTrigger(config, host=host, port=port)
    if config.kind == "kafka-cluster":
        from fnpack.emulator.triggers.kafka import KafkaTrigger

        return KafkaTrigger(config)
    if config.kind == "cron":
        from fnpack.emulator.triggers.cron import CronTrigger

        return CronTrigger(config)
    return None


class Emulator:
    """Runs one nuclio Python function locally: ``await start()``, ``await wait_ready()``, ``await stop()``.

    ``workers`` overrides every trigger's ``maxWorkers``; ``port`` overrides the HTTP trigger's port
    (0 picks a free one). The handler source is written to a private temp directory and imported there
    by each worker process, exactly as nuclio's wrapper imports it.
    """

    def __init__(
        self,
        function: FunctionSource | FunctionConfig,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        workers: int | None = None,
        python: str | None = None,
        log_level: str = "debug",
        log_format: str = "text",
        backoff: tuple[float, float] = (0.2, 10.0),
        env: dict[str, str] | None = None,
    ) -> None:
        self.config = function if isinstance(function, FunctionConfig) else load_function(function)
        if workers is not None and workers < 1:
            raise FunctionConfigError("workers must be at least 1")
        self.workers = workers
        self.python = python or sys.executable
        self.log_level = log_level
        self.log_format = log_format
        self.backoff = backoff
        self.extra_env = dict(env or {})
        self.triggers: dict[str, Trigger] = {}
        self.skipped: list[str] = []
        for tc in self.config.triggers:
            trigger = _make_trigger(tc, host, port)
            if trigger is None:
                self.skipped.append(f"trigger {tc.name!r} of kind {tc.kind!r} is not emulated; skipped")
            else:
                self.triggers[tc.name] = trigger
        if not self.triggers:
            raise FunctionConfigError(
                "none of the function's triggers can be emulated (http, kafka-cluster, cron)"
            )
        self.pools: dict[str, WorkerPool] = {}
        self.workdir: str | None = None
        self._started = False

    # -- introspection ---------------------------------------------------------------------------
    @property
    def http(self) -> HttpTrigger | None:
        for t in self.triggers.values():
            if isinstance(t, HttpTrigger):
                return t
        return None

    @property
    def url(self) -> str | None:
        """The HTTP trigger's base URL (None without an HTTP trigger)."""
        http = self.http
        return http.url if http else None

    def worker_pids(self, trigger: str | None = None) -> list[int]:
        pools = [self.pools[trigger]] if trigger else list(self.pools.values())
        return [pid for p in pools for pid in p.pids]

    # -- lifecycle -------------------------------------------------------------------------------
    def _write_workdir(self) -> str:
        workdir = tempfile.mkdtemp(prefix=f"fnpack-{self.config.name}-")
        target = Path(workdir, self.config.source_filename)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.config.source)
        shutil.copyfile(_HERE / "wire.py", Path(workdir, "_fnpack_wire.py"))
        shutil.copyfile(_HERE / "wrapper.py", Path(workdir, WRAPPER_NAME))
        return workdir

    def _worker_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.config.env)
        env.update(self.extra_env)
        env["PYTHONUNBUFFERED"] = "1"
        env["NUCLIO_FUNCTION_NAME"] = self.config.name
        return env

    async def start(self) -> None:
        """Write the work directory, start every trigger's workers and the triggers themselves."""
        for name in self.config.env_from:
            if name not in self.extra_env and name not in os.environ:
                log.warning(
                    "env %s comes from a secret or config map (valueFrom) in nuclio and is unset here: "
                    "pass --env %s=... (or export it)",
                    name,
                    name,
                )
        for warning in [*self.config.warnings, *self.skipped]:
            log.warning("%s", warning)
        self.workdir = self._write_workdir()
        env = self._worker_env()
        self._started = True
        try:
            for name, trigger in self.triggers.items():
                tc = next(t for t in self.config.triggers if t.name == name)
                size = self.workers or tc.max_workers
                argv = [
                    self.python,
                    str(Path(self.workdir, WRAPPER_NAME)),
                    "--handler", self.config.handler,
                    "--trigger-kind", tc.kind,
                    "--trigger-name", name,
                    "--function", self.config.name,
                    "--log-level", self.log_level,
                    "--log-format", self.log_format,
                ]  # fmt: skip
                on_control: ControlHandler | None = getattr(trigger, "on_control", None)
                pool = WorkerPool(
                    name,
                    size,
                    argv,
                    env=env,
                    cwd=os.getcwd(),
                    on_control=on_control,
                    backoff=self.backoff,
                    event_timeout=self.config.event_timeout,
                )
                self.pools[name] = pool
                await pool.start()
                await trigger.start(pool)
        except BaseException:
            await self.stop(grace=1.0)
            raise

    async def wait_ready(self, timeout: float = 60.0, fail_fast: bool = True) -> None:
        """Wait until every worker finished ``init_context``; then log the readiness line."""
        await asyncio.gather(*(p.wait_ready(timeout, fail_fast) for p in self.pools.values()))
        parts = [
            f"{name} ({self.triggers[name].kind}): {p.size} worker{'s' * (p.size != 1)}"
            for name, p in self.pools.items()
        ]
        where = f" at {self.url}" if self.url else ""
        log.info("function %r ready%s; %s", self.config.name, where, "; ".join(parts))

    async def stop(self, grace: float = 10.0) -> None:
        """Stop the triggers, let in-flight events finish, run termination callbacks, remove the work dir."""
        if not self._started:
            return
        self._started = False
        for trigger in self.triggers.values():
            try:
                await trigger.stop_accepting()
            except Exception as exc:  # keep stopping the rest
                log.warning("trigger %s: error while stopping: %s", trigger.name, exc)
        await asyncio.gather(*(p.stop(grace) for p in self.pools.values()), return_exceptions=True)
        for trigger in self.triggers.values():
            try:
                await trigger.stop(grace=0.2)
            except Exception as exc:
                log.warning("trigger %s: error while stopping: %s", trigger.name, exc)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def describe(self) -> dict[str, Any]:
        return {
            "function": self.config.name,
            "url": self.url,
            "pools": [p.describe() for p in self.pools.values()],
        }
