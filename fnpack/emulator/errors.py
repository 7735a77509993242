"""Errors the emulator raises; each message is one line a user can act on."""

from __future__ import annotations


class EmulatorError(Exception):
    """The emulator could not do what was asked (start, reach readiness, ...)."""


class FunctionConfigError(EmulatorError, ValueError):
    """The function.yaml cannot be run: missing or malformed field."""


class WorkerDied(EmulatorError):
    """The worker process holding an event exited before replying."""


class EventTimedOut(WorkerDied):
    """The handler ran longer than ``spec.eventTimeout``: its worker was killed and restarted, as nuclio does."""


class NoWorkerAvailable(EmulatorError):
    """No worker became free within the trigger's worker availability timeout."""
