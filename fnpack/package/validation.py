"""Checks of a nuclio function config: name, handler, runtime, triggers, env, spec size.

Every check raises :class:`BuildError` with one line; the same checks run at build and in ``fnpack validate``.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import BuildError

# nuclio's Python wrapper accepts exactly this handler form
HANDLER_RE = re.compile(r"^([\w|-]+(\.[\w|-]+)*):(\w+)$")
DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME = 63
RUNTIMES = ("python", "python:3.9", "python:3.10", "python:3.11", "python:3.12")
SPEC_LIMIT = 1024 * 1024  # DESIGN contract 2: 1 MiB
TRIGGER_KINDS = (
    "http",
    "kafka-cluster",
    "kafka",
    "cron",
    "v3ioStream",
    "rabbit-mq",
    "nats",
    "mqtt",
)


def check_name(name: Any, what: str = "function name") -> str:
    """A DNS-1123 label (lowercase alphanumerics and '-', ≤ 63 chars), as nuclio requires."""
    if not isinstance(name, str) or not name:
        raise BuildError(f"{what} is missing")
    if len(name) > MAX_NAME:
        raise BuildError(
            f"{what} {name!r} is {len(name)} characters long, the limit is {MAX_NAME} (DNS-1123 label)"
        )
    if not DNS1123_LABEL_RE.match(name):
        raise BuildError(
            f"{what} {name!r} is not a DNS-1123 label: use lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return name


def normalize_name(name: str) -> str:
    """A best-effort DNS-1123 form of ``name`` (``My_Model`` → ``my-model``)."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")


def check_handler(handler: Any) -> str:
    if not isinstance(handler, str) or not HANDLER_RE.match(handler):
        raise BuildError(
            f"spec.handler {handler!r} is malformed: expected 'module:function' (module may be dotted)"
        )
    return handler


def check_runtime(runtime: Any) -> str:
    if runtime not in RUNTIMES:
        raise BuildError(f"spec.runtime {runtime!r} is not supported: use one of {', '.join(RUNTIMES)}")
    return runtime


def check_spec_size(size: int, where: str) -> None:
    """The serving spec limit (1 MiB) for a spec delivered in the source or an env var."""
    if size > SPEC_LIMIT:
        raise BuildError(
            f"the serving spec is {size / SPEC_LIMIT:.2f} MiB, over the 1 MiB limit for a spec in {where}: "
            "build with --spec-source file (fn.spec.spec_source = 'file') and mount serving_spec.json, "
            "or shrink the graph (load large data from model_path instead of class_args)"
        )


def check_trigger(name: str, trigger: Any) -> None:
    if not isinstance(trigger, dict):
        raise BuildError(f"trigger {name!r} must be a mapping, got {type(trigger).__name__}")
    kind = trigger.get("kind")
    if kind not in TRIGGER_KINDS:
        raise BuildError(f"trigger {name!r} has unknown kind {kind!r}: use one of {', '.join(TRIGGER_KINDS)}")
    attributes = trigger.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise BuildError(f"trigger {name!r}: attributes must be a mapping")
    workers = trigger.get("maxWorkers")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise BuildError(f"trigger {name!r}: maxWorkers must be a positive integer, got {workers!r}")
    if kind == "http":
        port = attributes.get("port")
        if port is not None and (not isinstance(port, int) or not 0 < port < 65536):
            raise BuildError(f"trigger {name!r}: port must be an integer in 1..65535, got {port!r}")
    elif kind in ("kafka-cluster", "kafka"):
        for key in ("brokers", "topics"):
            value = attributes.get(key)
            if not value or not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise BuildError(f"trigger {name!r}: attributes.{key} must be a non-empty list of strings")
        if not attributes.get("consumerGroup"):
            raise BuildError(f"trigger {name!r}: attributes.consumerGroup is missing")
    elif kind == "cron" and not (attributes.get("interval") or attributes.get("schedule")):
        raise BuildError(f"trigger {name!r}: a cron trigger needs attributes.interval or attributes.schedule")


def check_env(env: Any) -> None:
    if not isinstance(env, list):
        raise BuildError("spec.env must be a list of {name, value} / {name, valueFrom}")
    for item in env:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise BuildError(f"spec.env entry {item!r} needs a name")
        if "value" in item and "valueFrom" in item:
            raise BuildError(f"spec.env {item['name']!r} has both value and valueFrom")


def check_build(build) -> None:
    if not isinstance(build, dict):
        raise BuildError("spec.build must be a mapping")
    commands = build.get("commands") or []
    if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
        raise BuildError("spec.build.commands must be a list of shell lines")
    entry = build.get("codeEntryType", "sourceCode")
    if entry not in ("sourceCode", "image", "archive", "github", "s3"):
        raise BuildError(f"spec.build.codeEntryType {entry!r} is not one nuclio knows")


def check_event_timeout(value) -> None:
    """``spec.eventTimeout``: a positive Go duration (``30s``, ``1m30s``), or absent."""
    if value in (None, ""):
        return
    from ..emulator.config import parse_duration  # the emulator enforces it: one parser for both
    from ..emulator.errors import FunctionConfigError

    try:
        seconds = parse_duration(value, "spec.eventTimeout")
    except FunctionConfigError as exc:
        raise BuildError(str(exc)) from None
    if seconds <= 0:
        raise BuildError(f"spec.eventTimeout must be a positive duration, got {value!r}")


def check_replicas(min_replicas, max_replicas) -> None:
    for key, value in (("minReplicas", min_replicas), ("maxReplicas", max_replicas)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise BuildError(f"spec.{key} must be a non-negative integer, got {value!r}")
    if isinstance(min_replicas, int) and isinstance(max_replicas, int) and max_replicas < min_replicas:
        raise BuildError(f"spec.maxReplicas ({max_replicas}) is below spec.minReplicas ({min_replicas})")
