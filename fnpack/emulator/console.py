"""Console logging for ``fnpack run``: the emulator's own lines, in the workers' format."""

from __future__ import annotations

import datetime
import json
import logging
import sys


class ConsoleFormatter(logging.Formatter):
    """``HH:MM:SS.mmm level [emulator] message`` or one JSON object per line."""

    def __init__(self, as_json: bool = False) -> None:
        super().__init__()
        self._json = as_json

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        level = record.levelname.lower().replace("warning", "warn")
        if self._json:
            return json.dumps(
                {"time": stamp, "level": level, "worker": "emulator", "message": record.getMessage()}
            )
        return f"{stamp} {level:<5} [emulator] {record.getMessage()}"


def setup_console(level: int = logging.INFO, as_json: bool = False) -> None:
    """Send the ``fnpack.emulator`` logger to stderr (idempotent)."""
    logger = logging.getLogger("fnpack.emulator")
    for handler in list(logger.handlers):
        if getattr(handler, "_fnpack_console", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter(as_json))
    handler._fnpack_console = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
