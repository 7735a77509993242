"""``fnpack validate``: check a function.yaml statically, then load it in a fresh interpreter.

The static part checks the schema, name, handler, runtime, triggers, env and the spec (size, JSON, graph
form). The live part writes the handler source to a temp dir and runs :mod:`.probe` in a new
``python -I`` process: the source must import and ``init_context`` must succeed with nuclio-sdk objects.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..graph.errors import GraphError
from ..graph.server import GraphServer
from . import validation
from .config import SPEC_FILE_ENV, SPEC_FILE_NAME
from .errors import BuildError
from .loader import LoadedFunction, load_function

PROBE = Path(__file__).with_name("probe.py")
PROBE_MARKER = "FNPACK-PROBE "


@dataclass
class Report:
    """What validate found: facts for the summary line and the probe's result."""

    function: LoadedFunction
    facts: list[str] = field(default_factory=list)
    probe: dict | None = None


def check_static(function: LoadedFunction) -> list[str]:
    """Schema-level checks; returns summary facts, raises BuildError on the first problem."""
    config = function.config
    path = function.path
    if config.get("apiVersion") not in (None, "nuclio.io/v1"):
        raise BuildError(f"{path}: apiVersion must be nuclio.io/v1, got {config.get('apiVersion')!r}")
    if config.get("kind") not in (None, "Function", "NuclioFunction"):
        raise BuildError(f"{path}: kind must be Function, got {config.get('kind')!r}")
    metadata = config.get("metadata")
    spec = config.get("spec")
    if not isinstance(metadata, dict) or not isinstance(spec, dict):
        raise BuildError(f"{path}: metadata and spec must be mappings")
    try:
        validation.check_name(metadata.get("name"), "metadata.name")
        validation.check_handler(spec.get("handler"))
        validation.check_runtime(spec.get("runtime", "python"))
        triggers = spec.get("triggers") or {}
        if not isinstance(triggers, dict):
            raise BuildError("spec.triggers must be a mapping of name -> trigger")
        for name, trigger in triggers.items():
            validation.check_trigger(name, trigger)
        validation.check_env(spec.get("env") or [])
        validation.check_build(spec.get("build") or {})
        validation.check_replicas(spec.get("minReplicas"), spec.get("maxReplicas"))
        validation.check_event_timeout(spec.get("eventTimeout"))
    except BuildError as exc:
        raise BuildError(f"{path}: {exc}")
    if function.source is None:
        raise BuildError(
            f"{path}: spec.build.functionSourceCode is missing (fnpack functions carry their source)"
        )
    try:
        compile(function.source, f"{function.handler_module}.py", "exec")
    except SyntaxError as exc:
        raise BuildError(f"{path}: the function source has a syntax error at line {exc.lineno}: {exc.msg}")
    facts = [f"name {metadata['name']}", f"handler {spec['handler']}", f"{len(triggers)} trigger(s)"]
    if function.spec_json is not None:
        size = len(function.spec_json.encode("utf-8"))
        if function.spec_origin != "file":
            try:
                validation.check_spec_size(size, function.spec_origin)
            except BuildError as exc:
                raise BuildError(f"{path}: {exc}")
        try:
            serving_spec = function.serving_spec
        except ValueError as exc:
            raise BuildError(f"{path}: the serving spec is not valid JSON: {exc}")
        try:
            GraphServer.from_dict(serving_spec)
        except (GraphError, TypeError, ValueError, AttributeError, KeyError) as exc:
            raise BuildError(f"{path}: the serving spec's graph is malformed: {exc}")
        facts.append(f"spec {size / 1024:.1f} KiB from {function.spec_origin}")
    else:
        facts.append("spec read at start from env/file")
    facts.append(f"source {len(function.source.encode('utf-8')) / 1024:.0f} KiB")
    if function.modules is not None:
        facts.append(f"{len(function.modules)} embedded modules")
    return facts


def run_probe(
    function: LoadedFunction,
    python: str | None = None,
    extra_paths: list[str] | None = None,
    events: list | None = None,
    timeout: float = 120,
    python_args: tuple[str, ...] = ("-I",),
    worker_id: int = 0,
) -> dict:
    """Load the function in a fresh interpreter and return the probe's result dict."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    for item in (function.config.get("spec") or {}).get("env") or []:
        if isinstance(item, dict) and "value" in item:
            env[str(item["name"])] = str(item["value"])
    if SPEC_FILE_ENV in env and function.spec_origin == "file":
        env[SPEC_FILE_ENV] = str(Path(function.path).parent / SPEC_FILE_NAME)
    with tempfile.TemporaryDirectory(prefix="fnpack-probe-") as tmp:
        module = function.handler_module
        target = Path(tmp, *module.split(".")).with_suffix(".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(function.source or "", encoding="utf-8")
        command = [
            python or sys.executable,
            *python_args,
            str(PROBE),
            tmp,
            module,
            "--worker-id",
            str(worker_id),
        ]
        for path in extra_paths or []:
            command += ["--path", path]
        if events is not None:
            events_file = Path(tmp, "_events.json")
            events_file.write_text(json.dumps(events), encoding="utf-8")
            command += ["--events", str(events_file)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp)
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": f"the function did not finish init within {timeout:.0f}s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(PROBE_MARKER):
            result = json.loads(line[len(PROBE_MARKER) :])
            result["stderr"] = done.stderr
            return result
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {
        "ok": False,
        "error": f"the probe process failed (exit {done.returncode}): {tail}",
        "stderr": done.stderr,
    }


def validate_file(path: str, run: bool = True, python: str | None = None) -> Report:
    """Validate ``path``; raises BuildError (one line) on the first problem."""
    function = load_function(path)
    report = Report(function, check_static(function))
    if run:
        result = run_probe(function, python=python)
        report.probe = result
        if not result.get("ok") or "error" in result:
            raise BuildError(f"{path}: init_context failed in a fresh interpreter: {result.get('error')}")
        report.facts.append(
            f"init ok in a fresh interpreter ({result['import_ms'] + result['init_ms']:.0f} ms)"
        )
    return report
