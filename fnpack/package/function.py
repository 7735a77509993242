"""The serving function object: a graph plus everything needed to run it as a nuclio function."""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path
from typing import Any

from ..graph.errors import GraphError
from ..graph.server import GraphServer, mock_server
from ..graph.steps import BaseStep, RootFlowStep, RouterStep, TaskStep, params_to_step
from . import triggers
from .code import UserCode, load_code
from .config import SPEC_FILE_NAME, BuildResult, build_config, to_yaml
from .errors import BuildError
from .validation import normalize_name

TOPOLOGIES = ("router", "flow")


class ServingSpec:
    """What a serving function is made of, besides its name (reference: ServingSpec)."""

    def __init__(self):
        self.graph: BaseStep | None = None
        self.parameters: dict[str, Any] = {}
        self.load_mode: str | None = None
        self.graph_initializer = None
        self.function_refs: dict[str, dict] = {}
        self.default_content_type: str | None = None
        self.error_stream: str | None = None
        self.default_class: str | None = None
        self.secret_sources: list[dict] = []
        self.track_models: bool | None = None
        self.tracking_policy = None
        # nuclio function settings (written by fnpack.package.config)
        self.runtime: str | None = None  # None: python:3.11, or this Python when classes go by value
        self.image: str | None = None
        self.description: str = ""
        self.env: list[dict] = []
        self.triggers: dict[str, dict] = {}
        self.build = BuildSpec()
        self.requirements: list[str] = []
        self.resources: dict = {}
        self.min_replicas: int = 1
        self.max_replicas: int = 4
        self.volumes: list[dict] = []
        self.readiness_timeout: int | None = None
        self.config: dict[str, Any] = {}  # dotted function.yaml paths -> values (set_config), applied last
        # packaging: "embed" the fnpack runtime in the source, or "pip" install it; where the spec goes
        self.build_runtime: str = "embed"
        self.spec_source: str = "embed"
        self.fnpack_requirement: str | None = None
        self.force_by_value: set = set()
        self.force_by_reference: set = set()

    # the reference spells these fn.spec.base_image and fn.spec.build.commands: both work
    @property
    def base_image(self) -> str | None:
        return self.build.base_image

    @base_image.setter
    def base_image(self, value: str | None) -> None:
        self.build.base_image = value

    @property
    def build_commands(self) -> list[str]:
        return self.build.commands

    @build_commands.setter
    def build_commands(self, value: list[str]) -> None:
        self.build.commands = list(value)


class BuildSpec:
    """Image build settings: nuclio's ``spec.build`` (base image, shell commands run at build)."""

    def __init__(self):
        self.base_image: str | None = None
        self.commands: list[str] = []


class ServingFunction:
    """A serving function: build its graph, test it in-process, package and deploy it."""

    kind = "serving"

    def __init__(self, name: str, project: str = "", tag: str = ""):
        self.metadata = _Metadata(name, project, tag)
        self.spec = ServingSpec()
        self._namespace: list = []
        self._code: UserCode | None = None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def uri(self) -> str:
        project = f"{self.metadata.project}/" if self.metadata.project else ""
        tag = f":{self.metadata.tag}" if self.metadata.tag else ""
        return f"{project}{self.metadata.name}{tag}"

    # --- graph ----------------------------------------------------------------------------------
    def set_topology(
        self,
        topology: str | None = None,
        class_name=None,
        engine: str | None = None,
        exist_ok: bool = False,
        **class_args,
    ) -> RouterStep | RootFlowStep:
        """Start the graph: ``"router"`` (models routed by path) or ``"flow"`` (a DAG of steps)."""
        topology = topology or "router"
        if self.spec.graph is not None and not exist_ok:
            raise GraphError("graph topology is already set, cannot be overwritten")
        if topology == "router":
            if class_name is not None and not isinstance(class_name, str) and not inspect.isclass(class_name):
                _, step = params_to_step(class_name, None)
                if not isinstance(step, RouterStep):
                    raise GraphError(
                        "provided class is not a router step, must provide a router class in router topology"
                    )
                step.class_args.update(class_args)
            else:
                step = RouterStep(class_name=class_name, class_args=class_args)
        elif topology == "flow":
            step = RootFlowStep(engine=engine)
        else:
            raise GraphError(f"unsupported topology {topology}, use 'router' or 'flow'")
        self.spec.graph = step
        return step

    def add_model(
        self,
        key: str,
        model_path: str | None = None,
        class_name=None,
        model_url: str | None = None,
        handler=None,
        router_step: str | None = None,
        child_function: str | None = None,
        **class_args,
    ) -> BaseStep:
        """Add a model route to the router (created when there is no graph yet); ``key`` may be ``name:version``."""
        graph = self.spec.graph
        if graph is None:
            graph = self.set_topology("router")
        router = self._router(graph, router_step)
        if class_name is not None and not isinstance(class_name, str) and not inspect.isclass(class_name):
            _, step = params_to_step(class_name, key)
            if model_path:
                step.class_args["model_path"] = model_path
            step.class_args.update(class_args)
        else:
            if model_url:
                class_name = "$remote"
                class_args["url"] = model_url
            elif not model_path and not handler and not class_name:
                raise GraphError("model_path or model_url must be provided")
            class_name = class_name or self.spec.default_class
            if model_path and not class_name:
                raise GraphError("model_path must be provided with class_name")
            if model_path is not None:
                class_args["model_path"] = str(model_path)
            step = TaskStep(class_name, class_args, handler=handler)
        return router.add_route(key, step, function=child_function)

    @staticmethod
    def _router(graph: BaseStep, router_step: str | None) -> RouterStep:
        if isinstance(graph, RouterStep):
            return graph
        routers = [s for name, s in graph.steps.items() if isinstance(s, RouterStep)]
        if router_step:
            step = graph.steps.get(router_step)
            if not isinstance(step, RouterStep):
                raise GraphError(f"router step '{router_step}' not found in the graph")
            return step
        if not routers:
            raise GraphError(
                "graph does not contain any router, add_model can only be used when there is a router step"
            )
        if len(routers) > 1:
            raise GraphError(
                f"found {len(routers)} routers, please specify the router_step you would like to add this model to"
            )
        return routers[0]

    def add_child_function(
        self, name: str, url: str | None = None, image: str | None = None, requirements=None, kind=None
    ):
        """Register a function that runs part of this graph (steps with ``function=name``)."""
        self.spec.function_refs[name] = {
            "name": name,
            "url": url,
            "image": image,
            "requirements": requirements,
            "kind": kind or "serving",
        }
        return self

    def with_secrets(self, kind: str, source) -> ServingFunction:
        """Add a secret source: ``("env", "A,B")`` or ``("inline", {...})``."""
        self.spec.secret_sources.append({"kind": kind, "source": source})
        return self

    def set_tracking(
        self,
        stream_path: str | None = None,
        batch: int | None = None,
        sample: int | None = None,
        stream_args=None,
        enable_tracking: bool = True,
        **_,
    ):
        """Turn model tracking on; records go to ``stream_path`` (``dummy://`` in tests)."""
        self.spec.track_models = enable_tracking
        for key, value in (
            ("log_stream", stream_path),
            ("log_stream_batch", batch),
            ("log_stream_sample", sample),
            ("stream_args", stream_args),
        ):
            if value is not None:
                self.spec.parameters[key] = value
        return self

    # --- serving spec -------------------------------------------------------------------------
    def serving_spec(self, current_function: str | None = None) -> dict:
        """The serving spec the function's workers rebuild the graph from (DESIGN contract 2)."""
        spec = self.spec
        functions = {name: ref.get("url") or name for name, ref in spec.function_refs.items()}
        return {
            "function_uri": self.uri,
            "version": "v2",
            "parameters": dict(spec.parameters),
            "graph": spec.graph.to_dict() if spec.graph is not None else None,
            "load_mode": spec.load_mode,
            "functions": functions,
            "graph_initializer": spec.graph_initializer,
            "error_stream": spec.error_stream,
            "track_models": spec.track_models,
            "tracking_policy": spec.tracking_policy,
            "default_content_type": spec.default_content_type,
            "secret_sources": list(spec.secret_sources),
            "current_function": current_function,
        }

    def to_mock_server(
        self,
        namespace=None,
        current_function: str = "*",
        track_models: bool = False,
        workdir: str | None = None,
        **kwargs,
    ) -> GraphServer:
        """A GraphServer running this graph in-process, for tests: ``server.test(path, body)``."""
        if self.spec.graph is None:
            raise GraphError("no models or steps were set, use function.set_topology() and add steps")
        spec = self.serving_spec()
        spec.pop("current_function")
        server = GraphServer(
            graph=self.spec.graph, **{k: v for k, v in spec.items() if k != "graph"}, **kwargs
        )
        namespaces = _namespaces(namespace) + self._local_namespaces() + [sys._getframe(1).f_globals]
        return mock_server(server, namespaces, current_function=current_function, track_models=track_models)

    def _local_namespaces(self) -> list:
        """The namespaces of this process: explicit ones, then the embedded user code (run once here)."""
        return self._namespace + ([self._code.load()] if self._code is not None else [])

    # --- nuclio function settings ---------------------------------------------------------------
    def with_http(
        self,
        workers: int = 8,
        port: int | None = None,
        host: str | None = None,
        paths: list[str] | None = None,
        worker_timeout: float | None = None,
        gateway_timeout: int | None = None,
        trigger_name: str | None = None,
        service_type: str | None = None,
        extra_attributes: dict | None = None,
        annotations: dict | None = None,
    ) -> ServingFunction:
        """Configure the HTTP trigger: ``workers`` processes, optional fixed ``port``, ingress host/paths."""
        trigger, timeouts = triggers.http_trigger(
            workers, port, host, paths, worker_timeout, gateway_timeout, service_type, extra_attributes
        )
        self.spec.triggers[trigger_name or "http"] = trigger
        self.metadata.annotations.update(timeouts)
        self.metadata.annotations.update(annotations or {})
        return self

    def add_kafka_trigger(
        self,
        brokers: list[str] | str,
        topics: list[str] | str,
        group: str | None = None,
        initial_offset: str = "earliest",
        max_workers: int = 1,
        name: str = "kafka",
        session_timeout: str | None = None,
        heartbeat_interval: str | None = None,
        worker_allocation_mode: str | None = None,
        explicit_ack_mode: str | None = None,
        extra_attributes: dict | None = None,
    ) -> ServingFunction:
        """Consume ``topics`` from ``brokers`` (group defaults to ``<function>-consumer-group``)."""
        self.spec.triggers[name] = triggers.kafka_trigger(
            brokers,
            topics,
            group or f"{self.metadata.name}-consumer-group",
            initial_offset,
            max_workers,
            session_timeout,
            heartbeat_interval,
            worker_allocation_mode,
            explicit_ack_mode,
            extra_attributes,
        )
        return self

    def add_cron_trigger(
        self,
        interval: str | None = None,
        schedule: str | None = None,
        body=None,
        headers: dict | None = None,
        name: str = "cron",
    ) -> ServingFunction:
        """Invoke the function every ``interval`` (``"10s"``) or on a cron ``schedule``."""
        self.spec.triggers[name] = triggers.cron_trigger(interval, schedule, body, headers)
        return self

    def add_trigger(self, name: str, spec) -> ServingFunction:
        """Add any nuclio trigger: a dict (``{"kind": ..., "attributes": ...}``) or an object with ``to_dict()``."""
        if hasattr(spec, "to_dict"):
            spec = spec.to_dict()
        if not isinstance(spec, dict):
            raise BuildError(f"trigger {name!r} must be a dict or have to_dict(), got {type(spec).__name__}")
        self.spec.triggers[name] = dict(spec)
        return self

    def set_config(self, key: str, value) -> ServingFunction:
        """Set any field of the function.yaml by its dotted path, as the reference's ``set_config``:
        ``fn.set_config("spec.eventTimeout", "30s")``. Applied after fnpack's own fields; the ones that
        make the function work (its handler and source) cannot be replaced."""
        self.spec.config[_config_key(key)] = value
        return self

    def set_env(self, name: str, value) -> ServingFunction:
        """Set an env var of the function (replaces an earlier one of the same name)."""
        return self._put_env({"name": name, "value": str(value)})

    def set_envs(self, env: dict) -> ServingFunction:
        for name, value in env.items():
            self.set_env(name, value)
        return self

    def set_env_from_secret(self, name: str, secret: str, secret_key: str | None = None) -> ServingFunction:
        """An env var read from a Kubernetes secret: the yaml holds only the reference, never the value."""
        ref = {"secretKeyRef": {"name": secret, "key": secret_key or name}}
        return self._put_env({"name": name, "valueFrom": ref})

    def with_k8s_secret(self, secret: str, keys: list[str] | dict) -> ServingFunction:
        """Expose keys of a Kubernetes secret as env vars and as graph secrets (``context.get_secret``)."""
        mapping = dict(keys) if isinstance(keys, dict) else {k: k for k in keys}
        for env_name, key in mapping.items():
            self.set_env_from_secret(env_name, secret, key)
        return self.with_secrets("env", ",".join(mapping))

    def _put_env(self, item: dict) -> ServingFunction:
        self.spec.env = [e for e in self.spec.env if e.get("name") != item["name"]] + [item]
        return self

    def with_requirements(self, requirements: list[str] | str) -> ServingFunction:
        """pip requirements for the function image: a list, or the path of a requirements.txt."""
        if isinstance(requirements, str):
            path = Path(requirements)
            if not path.is_file():
                raise BuildError(f"requirements file {requirements} not found")
            lines = path.read_text(encoding="utf-8").splitlines()
            requirements = [line.split("#", 1)[0].strip() for line in lines]
        for requirement in requirements:
            if requirement and requirement not in self.spec.requirements:
                self.spec.requirements.append(requirement)
        return self

    def with_build_commands(self, *commands: str) -> ServingFunction:
        """Shell lines nuclio runs when it builds the image (after the base image)."""
        self.spec.build_commands.extend(commands)
        return self

    def with_limits(self, mem: str | None = None, cpu: str | None = None, gpus: int | None = None):
        """Resource limits of each replica (``mem="1G"``, ``cpu="2"``, ``gpus=1``)."""
        return self._resources("limits", mem, cpu, gpus)

    def with_requests(self, mem: str | None = None, cpu: str | None = None):
        """Resource requests of each replica."""
        return self._resources("requests", mem, cpu, None)

    def _resources(self, kind: str, mem, cpu, gpus) -> ServingFunction:
        section = self.spec.resources.setdefault(kind, {})
        for key, value in (("memory", mem), ("cpu", cpu), ("nvidia.com/gpu", gpus)):
            if value is not None:
                section[key] = value
        return self

    def with_replicas(self, min_replicas: int = 1, max_replicas: int | None = None) -> ServingFunction:
        if max_replicas is None:
            max_replicas = max(min_replicas, self.spec.max_replicas)
        if min_replicas < 0 or max_replicas < max(min_replicas, 1):
            raise BuildError(
                f"replicas must satisfy 0 <= min <= max, max >= 1 (got {min_replicas}, {max_replicas})"
            )
        self.spec.min_replicas = min_replicas
        self.spec.max_replicas = max_replicas
        return self

    def set_serialization(self, by_value=(), by_reference=()) -> ServingFunction:
        """Force how classes/handlers travel: objects or modules (or module names) by value or by import path."""
        for item in by_value:
            self.spec.force_by_value.add(item.__name__ if isinstance(item, type(sys)) else item)
        for item in by_reference:
            self.spec.force_by_reference.add(item.__name__ if isinstance(item, type(sys)) else item)
        return self

    # --- packaging ------------------------------------------------------------------------------
    def build(
        self,
        namespace=None,
        runtime: str | None = None,
        spec_source: str | None = None,
        current_function: str | None = None,
    ) -> BuildResult:
        """Package the function: the nuclio config plus a report (by-value names, warnings, sizes)."""
        return self._build(namespace, runtime, spec_source, current_function, sys._getframe(1).f_globals)

    def _build(self, namespace, runtime, spec_source, current_function, caller) -> BuildResult:
        main = sys.modules.get("__main__")
        namespaces = [*_namespaces(namespace), *self._namespace, caller]
        if main is not None:
            namespaces.append(vars(main))
        return build_config(self, namespaces, runtime, spec_source, current_function)

    def to_dict(self, namespace=None, runtime: str | None = None, spec_source: str | None = None) -> dict:
        """The nuclio function config (what ``function.yaml`` holds)."""
        return self._build(namespace, runtime, spec_source, None, sys._getframe(1).f_globals).config

    def to_yaml(self, namespace=None, runtime: str | None = None, spec_source: str | None = None) -> str:
        result = self._build(namespace, runtime, spec_source, None, sys._getframe(1).f_globals)
        return to_yaml(result.config)

    def export(
        self,
        target: str = "function.yaml",
        namespace=None,
        runtime: str | None = None,
        spec_source: str | None = None,
    ) -> BuildResult:
        """Write ``function.yaml`` (and ``serving_spec.json`` next to it when the spec source is ``file``)."""
        result = self._build(namespace, runtime, spec_source, None, sys._getframe(1).f_globals)
        write_function(result, target)
        return result

    def deploy(self, dashboard: str | None = None, namespace=None, runtime: str | None = None, **options):
        """Build and deploy to a nuclio dashboard (children first, then this function); returns its status.

        ``options`` go to :func:`fnpack.deploy.deploy` (project, credentials, ``wait``, ``timeout`` ...);
        the dashboard URL and credentials default to the ``NUCLIO_*`` env vars.
        """
        from ..deploy import deploy
        from .children import child_functions

        caller = sys._getframe(1).f_globals
        for child in child_functions(self):
            result = self._build(namespace, runtime, None, child, caller)
            deploy(result.config, dashboard, **options)
        return deploy(self._build(namespace, runtime, None, None, caller).config, dashboard, **options)


# written by fnpack: replacing them would give a function without its handler or source
_OWN_CONFIG = ("spec.handler", "spec.build.functionSourceCode", "spec.build.codeEntryType")


def _config_key(key) -> str:
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise BuildError(f"set_config: expected a dotted path like 'spec.eventTimeout', got {key!r}")
    if key.split(".", 1)[0] not in ("spec", "metadata") or "." not in key:
        raise BuildError(f"set_config({key!r}): the path must be inside 'spec.' or 'metadata.'")
    for own in _OWN_CONFIG:
        if key == own or own.startswith(key + "."):
            raise BuildError(f"set_config({key!r}): {own} is written by fnpack and cannot be replaced")
    return key


class _Metadata:
    def __init__(self, name: str, project: str, tag: str):
        self.name = name
        self.project = project
        self.tag = tag
        self.namespace: str | None = None
        self.labels: dict[str, str] = {}
        self.annotations: dict[str, str] = {}


def _namespaces(namespace) -> list:
    if namespace is None:
        return []
    return list(namespace) if isinstance(namespace, (list, tuple)) else [namespace]


def new_function(
    name: str, project: str = "", tag: str = "", kind: str = "serving", **kwargs
) -> ServingFunction:
    """A new serving function named ``name``: then ``set_topology()`` / ``add_model()``."""
    if kind not in ("serving", "serving_v2"):
        raise ValueError(f"unsupported function kind {kind!r}: fnpack builds serving functions")
    return ServingFunction(name, project=project, tag=tag)


def code_to_function(
    name: str = "",
    project: str = "",
    tag: str = "",
    filename: str | None = None,
    code: str | None = None,
    kind: str = "serving",
    image: str | None = None,
    base_image: str | None = None,
    requirements: list[str] | str | None = None,
    description: str = "",
) -> ServingFunction:
    """A serving function whose classes and handlers come from a .py file or a notebook (.ipynb).

    The code is embedded in the function as its own module; notebooks go through nuclio-jupyter (cells
    marked ``# nuclio: ignore`` are skipped, ``%nuclio env``/``cmd`` magics become env and build commands).
    """
    user_code = load_code(filename, code, name)
    if not name:
        name = normalize_name(Path(filename).stem if filename else "function")
    fn = new_function(name, project=project, tag=tag, kind=kind)
    fn._code = user_code
    for item in user_code.env:
        if isinstance(item, dict) and item.get("name"):
            fn._put_env(dict(item))
    fn.spec.build_commands.extend(user_code.commands)
    _apply_notebook_config(fn, user_code.nuclio_spec)
    fn.spec.image = image or fn.spec.image
    fn.spec.base_image = base_image or fn.spec.base_image
    fn.spec.description = description
    if requirements:
        fn.with_requirements(requirements)
    return fn


def _apply_notebook_config(fn: ServingFunction, nuclio_spec: dict) -> None:
    """What ``%nuclio config`` set in a notebook: base image, triggers, replicas, resources, volumes."""
    build = nuclio_spec.get("build") or {}
    if build.get("baseImage"):
        fn.spec.base_image = build["baseImage"]
    if nuclio_spec.get("image"):
        fn.spec.image = nuclio_spec["image"]
    for name, trigger in (nuclio_spec.get("triggers") or {}).items():
        fn.add_trigger(name, trigger)
    if isinstance(nuclio_spec.get("minReplicas"), int):
        fn.spec.min_replicas = nuclio_spec["minReplicas"]
    if isinstance(nuclio_spec.get("maxReplicas"), int):
        fn.spec.max_replicas = nuclio_spec["maxReplicas"]
    if isinstance(nuclio_spec.get("resources"), dict):
        fn.spec.resources.update(nuclio_spec["resources"])
    fn.spec.volumes.extend(v for v in nuclio_spec.get("volumes") or [] if isinstance(v, dict))
    if nuclio_spec.get("description"):
        fn.spec.description = nuclio_spec["description"]


def write_function(result: BuildResult, target: str) -> str:
    """Write a build result to ``target`` (plus ``serving_spec.json`` beside it for a file spec source)."""
    path = Path(target)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_yaml(result.config), encoding="utf-8")
    if result.spec_file is not None:
        (path.parent / SPEC_FILE_NAME).write_text(result.spec_file, encoding="utf-8")
    return os.fspath(path)
