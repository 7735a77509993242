"""Local nuclio: run any nuclio Python function.yaml with real worker processes and real nuclio-sdk objects.

Library first::

    from fnpack.emulator import serve

    with serve("function.yaml", workers=2) as fn:          # or a parsed dict / FunctionConfig
        requests.post(fn.url + "/v2/models/m/infer", json=...)
        fn.worker_pids()                                  # live worker processes (all triggers)

``serve`` runs an :class:`Emulator` on a background thread and waits until every worker ran
``init_context`` (EmulatorError with the worker's one-line reason when one cannot start). In asyncio code
use the Emulator directly: ``await em.start(); await em.wait_ready(); ...; await em.stop()``.

What runs: the base64 ``spec.build.functionSourceCode`` is written as ``<module>.py`` into a private work
directory; each worker is a fresh ``python`` process started there that imports it as nuclio's wrapper does,
calls ``init_context(context)`` once and ``handler(context, event)`` per event, one event at a time.
``spec.env`` is applied. Triggers: ``http`` (HTTP/1.1 on the httptools parser, ``workerAvailabilityTimeoutMilliseconds`` → 503,
``attributes.maxRequestBodySize`` → 413), ``kafka-cluster`` (at-least-once, explicit ack, drain on
rebalance) and ``cron`` (``interval`` / ``schedule``). Dead workers are reported and restarted with
backoff; SIGUSR1 / SIGUSR2 reach the termination / drain callbacks as in nuclio. Trigger process and
workers talk over a unix socket pair in length-prefixed frames: a small JSON header and raw body bytes.

CLI: ``fnpack run function.yaml`` and ``fnpack invoke URL|function.yaml`` (see ``fnpack.emulator.cli``).
"""

from __future__ import annotations

from fnpack.emulator.config import FunctionConfig, TriggerConfig, load_function, parse_function
from fnpack.emulator.emulator import Emulator
from fnpack.emulator.errors import EmulatorError, FunctionConfigError, NoWorkerAvailable, WorkerDied
from fnpack.emulator.serve import ServedFunction, serve

__all__ = [
    "Emulator",
    "EmulatorError",
    "FunctionConfig",
    "FunctionConfigError",
    "NoWorkerAvailable",
    "ServedFunction",
    "TriggerConfig",
    "WorkerDied",
    "load_function",
    "parse_function",
    "serve",
]
