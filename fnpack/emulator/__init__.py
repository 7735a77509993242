"""Local nuclio: run a function.yaml with real worker processes, HTTP/Kafka/cron triggers, nuclio-sdk objects.

with fnpack.emulator.serve("function.yaml", workers=2) as fn:
    requests.post(fn.url + "/v2/models/m/infer", json=...)
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
