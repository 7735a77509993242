"""The nuclio function config writer: a ServingFunction → ``function.yaml`` (as a dict).

It serializes the graph's classes (:mod:`.serialize`), puts the serving spec where the function reads it
(source, env var or mounted file), writes the self-contained source (:mod:`.embed`) and validates the
result (:mod:`.validation`). Every failure is a one-line :class:`BuildError`.
"""

from __future__ import annotations

import base64
import copy
import json
import shlex
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import yaml

from .. import __version__
from ..graph.steps import RootFlowStep
from . import children, validation
from .embed import HANDLER, function_source
from .errors import BuildError
from .resources import read_template
from .serialize import Serializer

if TYPE_CHECKING:
    from .function import ServingFunction

SPEC_SOURCES = ("embed", "env", "file")
RUNTIME_MODES = ("embed", "pip")
SPEC_ENV = "SERVING_SPEC_ENV"
SPEC_FILE_ENV = "FNPACK_SERVING_SPEC_FILE"
SPEC_MOUNT_DIR = "/etc/fnpack"
SPEC_FILE_NAME = "serving_spec.json"
PROJECT_LABEL = "nuclio.io/project-name"
PACKAGING_KEY = "fnpack"
DEFAULT_RUNTIME = "python:3.11"


@dataclass
class BuildResult:
    """A packaged function: the nuclio config plus what the CLI reports."""

    config: dict
    spec_json: str
    spec_source: str
    runtime: str
    by_value: list[str] = field(default_factory=list)
    by_reference: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source_size: int = 0

    @property
    def spec_file(self) -> str | None:
        """The content of ``serving_spec.json`` to ship next to function.yaml (spec source ``file``)."""
        return self.spec_json if self.spec_source == "file" else None


def _rename(struct, renames: dict) -> None:
    """Replace short class/handler names by their import paths, in place, through the graph dict."""
    if isinstance(struct, dict):
        # a step with a class names a method in "handler": only class-less handlers are renamed
        keys = ("class_name",) if struct.get("class_name") else ("handler",)
        for key in keys:
            value = struct.get(key)
            if isinstance(value, str) and value in renames:
                struct[key] = renames[value]
        args = struct.get("class_args")
        if isinstance(args, dict):
            for key, value in args.items():
                if key.startswith("_") and isinstance(value, str) and value in renames:
                    args[key] = renames[value]
            if struct.get("kind") == "model_runner":  # [class name, parameters] pairs, copied not mutated
                if isinstance(args.get("models"), dict):
                    args["models"] = {k: _rename_pair(v, renames) for k, v in args["models"].items()}
                for key in ("model_selector", "model_runner_selector"):
                    if key in args:
                        args[key] = _rename_pair(args[key], renames)
        for child in ("routes", "steps"):
            for sub in (struct.get(child) or {}).values():
                _rename(sub, renames)


def _rename_pair(pair, renames: dict):
    if isinstance(pair, list) and pair and isinstance(pair[0], str) and pair[0] in renames:
        return [renames[pair[0]], *pair[1:]]
    return pair


def _check_pickle_version(runtime: str, warnings: list[str]) -> None:
    """cloudpickle's by-value code only loads on the Python version that pickled it."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    target = runtime.split(":", 1)[1] if ":" in runtime else None
    if target is None:
        warnings.append(
            f"spec.runtime {runtime!r} names no version: the by-value classes were pickled with Python {here} "
            "and load only on that version (set fn.spec.runtime)"
        )
    elif target != here:
        raise BuildError(
            f"the graph's by-value classes are pickled with Python {here} but spec.runtime is {runtime}: "
            f"build with Python {target}, set spec.runtime to python:{here}, or move the classes into a "
            "module the function installs (they then go by import path) or embed it with code_to_function"
        )


def _pip(requirement: str) -> str:
    return f"pip install {shlex.quote(requirement)}"


def build_config(
    fn: ServingFunction,
    namespaces: list,
    runtime: str | None = None,
    spec_source: str | None = None,
    current_function: str | None = None,
) -> BuildResult:
    """Package ``fn``; ``namespaces`` resolve the graph's class and handler names."""
    spec = fn.spec
    runtime = runtime or spec.build_runtime
    spec_source = spec_source or spec.spec_source
    if runtime not in RUNTIME_MODES:
        raise BuildError(f"unknown runtime mode {runtime!r}: use 'embed' (self-contained) or 'pip'")
    if spec_source not in SPEC_SOURCES:
        raise BuildError(f"unknown spec source {spec_source!r}: use one of {', '.join(SPEC_SOURCES)}")
    if spec.graph is None:
        raise BuildError("nothing to build: the function has no graph, use set_topology() / add_model()")
    children.check_children(fn)
    is_child = current_function not in (None, "", "*")
    if is_child and current_function not in spec.function_refs:
        raise BuildError(
            f"--current-function {current_function!r} is not a child function of this graph "
            f"(children: {', '.join(children.child_functions(fn)) or 'none'})"
        )
    name = validation.check_name(
        f"{fn.metadata.name}-{current_function}" if is_child else fn.metadata.name,
        "child function name" if is_child else "function name",
    )
    for source in spec.secret_sources:
        if source.get("kind") != "env":
            raise BuildError(
                f"secret source kind {source.get('kind')!r} would write secret values into function.yaml: "
                "use fn.set_env_from_secret(...) and fn.with_secrets('env', names) instead"
            )

    code = fn._code
    serializer = Serializer(
        namespaces,
        embedded_names=code.names if code else set(),
        force_value=spec.force_by_value,
        force_reference=spec.force_by_reference,
    )
    outcome = serializer.run(spec.graph, spec.graph_initializer)
    warnings = [
        f"'{n}' is not importable here; the function must install it (fn.with_requirements)"
        for n in outcome.unresolved
    ]

    serving_spec = fn.serving_spec(current_function)
    if callable(serving_spec.get("graph_initializer")):
        initializer = serving_spec["graph_initializer"]
        serving_spec["graph_initializer"] = getattr(initializer, "__qualname__", None)
    _rename(serving_spec["graph"], outcome.renames)
    packaging: dict = {"version": __version__}
    payload = outcome.payload()
    if payload:
        packaging["namespace"] = payload
        python_runtime = spec.runtime or _local_runtime()
        _check_pickle_version(python_runtime, warnings)
    else:
        python_runtime = spec.runtime or DEFAULT_RUNTIME
    if code:
        packaging["modules"] = [code.module]
    serving_spec[PACKAGING_KEY] = packaging
    try:
        spec_json = json.dumps(serving_spec, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise BuildError(
            f"the serving spec is not JSON serializable ({exc}): class_args must be plain data; "
            "pass objects through a class defined in your code instead"
        )
    if spec_source != "file":
        validation.check_spec_size(
            len(spec_json.encode("utf-8")),
            "the function source" if spec_source == "embed" else f"env var {SPEC_ENV}",
        )

    config = yaml.safe_load(read_template("function.yaml"))
    _fill_metadata(config["metadata"], fn, name, is_child)

    nuclio = config["spec"]
    nuclio["runtime"] = validation.check_runtime(python_runtime)
    nuclio["handler"] = HANDLER
    nuclio["description"] = spec.description or f"fnpack serving function {fn.uri}"
    env = copy.deepcopy(spec.env)
    if current_function is not None:
        env = [e for e in env if e.get("name") != "SERVING_CURRENT_FUNCTION"]
        env.append({"name": "SERVING_CURRENT_FUNCTION", "value": current_function})
    volumes = copy.deepcopy(spec.volumes)
    embedded_spec = _deliver_spec(spec_source, spec_json, name, env, volumes)
    validation.check_env(env)
    nuclio["env"] = env
    if volumes:
        nuclio["volumes"] = volumes
    nuclio["triggers"] = _triggers(fn, current_function if is_child else None, warnings)
    nuclio["minReplicas"] = spec.min_replicas
    nuclio["maxReplicas"] = spec.max_replicas
    if spec.resources:
        nuclio["resources"] = copy.deepcopy(spec.resources)
    else:
        nuclio.pop("resources", None)
    if spec.readiness_timeout is not None:
        nuclio["readinessTimeoutSeconds"] = spec.readiness_timeout
    if spec.image:
        nuclio["image"] = spec.image

    source = function_source(
        name,
        embedded_spec,
        user_modules={code.module: code.source} if code else None,
        embed_runtime=runtime == "embed",
    )
    build = nuclio["build"]
    build["functionSourceCode"] = base64.b64encode(source.encode("utf-8")).decode("ascii")
    if spec.base_image:
        build["baseImage"] = spec.base_image
    build["commands"] = _commands(fn, runtime, bool(payload), outcome.needs_remote, children.uses_kafka(fn))
    for key, value in spec.config.items():
        _set_path(config, key, copy.deepcopy(value))
    return BuildResult(
        config=config,
        spec_json=spec_json,
        spec_source=spec_source,
        runtime=runtime,
        by_value=sorted(outcome.by_value),
        by_reference=sorted(outcome.by_reference),
        warnings=warnings,
        source_size=len(source.encode("utf-8")),
    )


def _set_path(config: dict, key: str, value) -> None:
    """``config["spec"]["eventTimeout"] = value`` for ``spec.eventTimeout`` (mappings made on the way)."""
    node = config
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parts[: i + 1])
            raise BuildError(f"set_config({key!r}): {where} is a {type(child).__name__}, not a mapping")
        node = child
    node[parts[-1]] = value


def _fill_metadata(metadata: dict, fn: ServingFunction, name: str, is_child: bool) -> None:
    metadata["name"] = name
    labels = dict(fn.metadata.labels)
    if fn.metadata.project:
        labels[PROJECT_LABEL] = validation.check_name(fn.metadata.project, "project name")
    if fn.metadata.tag:
        labels.setdefault("fnpack.io/tag", fn.metadata.tag)
    if is_child:
        labels["fnpack.io/parent-function"] = fn.metadata.name
    metadata["labels"] = labels
    metadata["annotations"] = dict(fn.metadata.annotations)
    if fn.metadata.namespace:
        metadata["namespace"] = fn.metadata.namespace


def _deliver_spec(spec_source: str, spec_json: str, name: str, env: list, volumes: list) -> str | None:
    """Route the spec: returns it for embedding, or adds the env var / the mounted file's volume."""
    if spec_source == "embed":
        return spec_json
    if spec_source == "env":
        env.append({"name": SPEC_ENV, "value": spec_json})
        return None
    env.append({"name": SPEC_FILE_ENV, "value": f"{SPEC_MOUNT_DIR}/{SPEC_FILE_NAME}"})
    volumes.append(
        {
            "volume": {"name": "fnpack-serving-spec", "configMap": {"name": f"{name}-serving-spec"}},
            "volumeMount": {"name": "fnpack-serving-spec", "mountPath": SPEC_MOUNT_DIR, "readOnly": True},
        }
    )
    return None


def _triggers(fn: ServingFunction, child: str | None, warnings: list[str]) -> dict:
    """The function's triggers; a child function gets the Kafka trigger of the queue that feeds it."""
    triggers = copy.deepcopy(fn.spec.triggers)
    if child is not None:
        queue_trigger = children.child_trigger(fn, child)
        triggers = {}
        if queue_trigger is not None:
            triggers[queue_trigger[0]] = queue_trigger[1]
        else:
            warnings.append(f"child function {child!r} is not fed by a kafka:// queue: add its trigger")
    if not triggers:
        warnings.append(
            "no triggers: nuclio adds a default HTTP trigger (use fn.with_http() to configure it)"
        )
    for trigger_name, trigger in triggers.items():
        validation.check_trigger(trigger_name, trigger)
    return triggers


def _commands(
    fn: ServingFunction, runtime: str, has_payload: bool, needs_remote: bool, needs_kafka: bool
) -> list[str]:
    """Build commands: the user's, then pip installs of what the graph needs (deduplicated, in order)."""
    commands = list(fn.spec.build_commands)
    requirements = []
    if runtime == "pip":
        requirements.append(fn.spec.fnpack_requirement or f"fnpack=={__version__}")
    if has_payload:
        import cloudpickle

        # the same version that pickled the classes loads them
        requirements.append(f"cloudpickle=={cloudpickle.__version__}")
    if needs_remote:
        graph = fn.spec.graph
        async_engine = isinstance(graph, RootFlowStep) and graph.engine_kind != "sync"
        requirements.append("aiohttp" if async_engine else "requests")
    if needs_kafka:
        requirements.append("confluent-kafka")
    requirements.extend(fn.spec.requirements)
    for requirement in requirements:
        command = _pip(requirement)
        if command not in commands:
            commands.append(command)
    return commands


def to_yaml(config: dict) -> str:
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=False, width=120)


def _local_runtime() -> str:
    """``python:3.X`` of this interpreter when nuclio supports it (by-value pickles need the same version)."""
    local = f"python:{sys.version_info.major}.{sys.version_info.minor}"
    return local if local in validation.RUNTIMES else DEFAULT_RUNTIME
