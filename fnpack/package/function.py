"""The serving function object: a graph plus everything needed to run it as a nuclio function."""

from __future__ import annotations

import inspect
import sys
from typing import Any

from ..graph.errors import GraphError
from ..graph.server import GraphServer, mock_server
from ..graph.steps import BaseStep, RootFlowStep, RouterStep, TaskStep, params_to_step

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


class ServingFunction:
    """A serving function: build its graph, test it in-process, package and deploy it."""

    kind = "serving"

    def __init__(self, name: str, project: str = "", tag: str = ""):
        self.metadata = _Metadata(name, project, tag)
        self.spec = ServingSpec()
        self._namespace: list = []

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
        namespaces = _namespaces(namespace) + self._namespace + [sys._getframe(1).f_globals]
        return mock_server(server, namespaces, current_function=current_function, track_models=track_models)


class _Metadata:
    def __init__(self, name: str, project: str, tag: str):
        self.name = name
        self.project = project
        self.tag = tag


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
