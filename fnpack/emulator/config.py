"""Load and validate a nuclio function.yaml: only what the emulator needs, with one-line errors."""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from fnpack.emulator.errors import FunctionConfigError

# nuclio's Python wrapper accepts exactly this handler form
HANDLER_RE = re.compile(r"^([\w|-]+(\.[\w|-]+)*):(\w+)$")
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

FunctionSource = Union[str, "os.PathLike[str]", Mapping[str, Any]]


@dataclass
class TriggerConfig:
    """One entry of ``spec.triggers``."""

    name: str
    kind: str
    max_workers: int = 1
    attributes: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class FunctionConfig:
    """The parts of a function.yaml the emulator runs."""

    name: str
    handler: str
    source: bytes
    env: dict[str, str] = field(default_factory=dict)
    triggers: list[TriggerConfig] = field(default_factory=list)
    runtime: str = "python"
    event_timeout: float | None = None  # spec.eventTimeout in seconds: a longer event restarts its worker
    env_from: list[str] = field(default_factory=list)  # env names nuclio fills from secrets (valueFrom)
    warnings: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def module(self) -> str:
        return self.handler.split(":", 1)[0]

    @property
    def source_filename(self) -> str:
        """Where the handler source goes, relative to the function directory (dotted → package path)."""
        return self.module.replace(".", "/") + ".py"


def parse_duration(value: Any, what: str) -> float:
    """Seconds from a Go-style duration (``10s``, ``1m30s``, ``500ms``) or a number of seconds."""
    if isinstance(value, bool):
        raise FunctionConfigError(f"{what}: expected a duration like '10s', got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    pos, total = 0, 0.0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise FunctionConfigError(f"{what}: expected a duration like '10s' or '500ms', got {value!r}")
    return total


def load_function(source: FunctionSource) -> FunctionConfig:
    """Read a function.yaml (path, YAML text of a path, or an already-parsed dict) and validate it."""
    if isinstance(source, Mapping):
        doc: Any = dict(source)
        origin = "function config"
    else:
        path = Path(source)
        origin = str(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise FunctionConfigError(f"{origin}: no such file")
        except OSError as exc:
            raise FunctionConfigError(f"{origin}: cannot read: {exc.strerror or exc}")
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise FunctionConfigError(f"{origin}: not valid YAML{where}")
    return parse_function(doc, origin)


def parse_function(doc: Any, origin: str = "function config") -> FunctionConfig:
    """Validate a parsed function config dict."""

    def fail(message: str) -> FunctionConfigError:
        return FunctionConfigError(f"{origin}: {message}")

    if not isinstance(doc, Mapping):
        raise fail("expected a mapping with 'metadata' and 'spec'")
    spec = doc.get("spec")
    if not isinstance(spec, Mapping):
        raise fail("missing 'spec' mapping")
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise fail("'metadata' must be a mapping")
    name = str(metadata.get("name") or "function")

    runtime = str(spec.get("runtime") or "python")
    if not runtime.startswith("python"):
        raise fail(
            f"spec.runtime {runtime!r} is not a Python runtime; the emulator runs Python functions only"
        )

    handler = spec.get("handler")
    if not handler:
        raise fail("missing spec.handler (expected 'module:function')")
    if not isinstance(handler, str) or not HANDLER_RE.match(handler):
        raise fail(
            f"spec.handler {handler!r} is malformed: expected 'module:function' (module may be dotted)"
        )

    build = spec.get("build") or {}
    if not isinstance(build, Mapping):
        raise fail("spec.build must be a mapping")
    entry = build.get("codeEntryType") or "sourceCode"
    encoded = build.get("functionSourceCode")
    if not encoded:
        extra = f" (codeEntryType {entry!r} is not supported locally)" if entry != "sourceCode" else ""
        raise fail(f"missing spec.build.functionSourceCode: the emulator needs the handler source{extra}")
    try:
        source = base64.b64decode(str(encoded), validate=True)
    except (binascii.Error, ValueError):
        raise fail("spec.build.functionSourceCode is not valid base64")

    warnings: list[str] = []
    if build.get("commands"):
        warnings.append(
            "spec.build.commands are not run locally: install what they install into this Python environment"
        )
    env_from: list[str] = []
    env = _parse_env(spec.get("env"), fail, env_from)
    triggers = _parse_triggers(spec.get("triggers"), fail, warnings)
    event_timeout = None
    if spec.get("eventTimeout"):
        event_timeout = parse_duration(spec["eventTimeout"], f"{origin}: spec.eventTimeout")
        if event_timeout <= 0:
            raise fail(f"spec.eventTimeout must be a positive duration, got {spec['eventTimeout']!r}")
    return FunctionConfig(
        name=name,
        handler=handler,
        source=source,
        env=env,
        triggers=triggers,
        runtime=runtime,
        event_timeout=event_timeout,
        env_from=env_from,
        warnings=warnings,
        raw=dict(doc),
    )


def _parse_env(items: Any, fail: Any, env_from: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    if items is None:
        return env
    if not isinstance(items, list):
        raise fail("spec.env must be a list of {name, value}")
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not item.get("name"):
            raise fail(f"spec.env[{i}] must be a mapping with a 'name'")
        if "value" in item:
            value = item["value"]
            env[str(item["name"])] = "" if value is None else str(value)
        elif "valueFrom" in item:  # a secret or config map in nuclio: from --env or the shell locally
            env_from.append(str(item["name"]))
        else:
            env[str(item["name"])] = ""
    return env


def _parse_triggers(triggers: Any, fail: Any, warnings: list[str]) -> list[TriggerConfig]:
    if not triggers:
        # nuclio gives every function a default HTTP trigger with one worker
        return [TriggerConfig(name="default-http", kind="http")]
    if not isinstance(triggers, Mapping):
        raise fail("spec.triggers must be a mapping of name -> trigger")
    out: list[TriggerConfig] = []
    for name, trig in triggers.items():
        if not isinstance(trig, Mapping) or not trig.get("kind"):
            raise fail(f"trigger {name!r} must be a mapping with a 'kind'")
        workers = trig.get("maxWorkers", 1)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise fail(f"trigger {name!r}: maxWorkers must be a positive integer, got {workers!r}")
        attributes = trig.get("attributes") or {}
        if not isinstance(attributes, Mapping):
            raise fail(f"trigger {name!r}: attributes must be a mapping")
        out.append(
            TriggerConfig(
                name=str(name),
                kind=str(trig["kind"]),
                max_workers=workers,
                attributes=dict(attributes),
                raw=dict(trig),
            )
        )
    if sum(t.kind == "http" for t in out) > 1:
        raise fail("more than one http trigger; nuclio allows one per function")
    return out
