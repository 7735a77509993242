"""``ModelRunnerStep``: run several ``Model`` objects on each event (the reference's newer model API).

The step's serialized form is the reference's (kind ``model_runner``, ``class_args`` holding
``models``, ``execution_mechanism_by_model_name``, ``model_selector`` / ``model_runner_selector``,
``monitoring_data``); :class:`ModelRunner` is what it compiles to. Execution mechanisms map onto
what a worker has: ``asyncio`` models are awaited, ``naive`` ones run inline, and the pooled ones
(``thread_pool``, ``process_pool``, ``dedicated_process``, ``shared_executor``) run in a thread pool
when more than one of them is selected for an event, inline otherwise. No process pools.
"""

from __future__ import annotations

import copy

from ..graph.errors import GraphError
from ..graph.paths import get_in, split_path, update_in
from ..graph.resolve import accepted_params, full_class_name, resolve_class
from ..graph.steps import _TASK_FIELDS, TaskStep

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: it costs cold start
    from typing import Any

EXECUTION_MECHANISMS = (
    "process_pool",
    "dedicated_process",
    "thread_pool",
    "asyncio",
    "shared_executor",
    "naive",
)
_POOLED = frozenset(("process_pool", "dedicated_process", "thread_pool", "shared_executor"))


class ModelRunnerError(Exception):
    """One or more models of a :class:`ModelRunnerStep` raised (``errors``: model name -> error text)."""

    def __init__(self, errors: dict):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name} {error}" for name, error in self.errors.items()))


def _init_fields(cls) -> list[str]:
    """Constructor parameter names along the class chain (what ``to_dict`` saves)."""
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        code = getattr(init, "__code__", None)
        if code is None:
            continue
        for name in code.co_varnames[1 : code.co_argcount + code.co_kwonlyargcount]:
            if name not in names:
                names.append(name)
    return names


def _params_to_dict(obj, skip=()) -> dict:
    return {
        name: value
        for name in _init_fields(type(obj))
        if name not in skip and (value := getattr(obj, name, None)) is not None
    }


def _construct(cls, params: dict, what: str):
    """``cls(**params)``, dropping the params its constructor does not take."""
    accepted, has_kwargs = accepted_params(cls)
    args = params if has_kwargs else {k: v for k, v in params.items() if k in accepted}
    try:
        return cls(**args)
    except Exception as exc:
        raise GraphError(f"{what}: failed to create {cls.__name__}: {type(exc).__name__}: {exc}") from exc


class Model:
    """A model run by a :class:`ModelRunnerStep`: override ``predict`` (or ``predict_async``) and ``load``."""

    kind = "model"

    def __init__(
        self,
        name: str,
        raise_exception: bool = True,
        artifact_uri: str | None = None,
        shared_proxy_mapping: dict | None = None,
        **kwargs,
    ):
        if artifact_uri is not None and not isinstance(artifact_uri, str):
            raise GraphError("'artifact_uri' argument must be a string")
        self.name = name
        self.raise_exception = raise_exception
        self.artifact_uri = artifact_uri
        self.shared_proxy_mapping = shared_proxy_mapping

    def load(self) -> None:
        """Override to load the model; called once, when the graph is initialized."""

    def init(self) -> None:
        self.load()

    def predict(self, body: Any, **kwargs) -> Any:
        """Override with the prediction logic (or ``predict_async`` when it needs asyncio)."""
        raise NotImplementedError("predict() method not implemented")

    async def predict_async(self, body: Any, **kwargs) -> Any:
        """Override with the prediction logic when it needs asyncio (``execution_mechanism="asyncio"``)."""
        raise NotImplementedError("predict_async() method not implemented")

    def run(self, body: Any, path: str, origin_name: str | None = None) -> Any:
        if isinstance(body, list):
            body = self.format_batch(body)
        return self.predict(body)

    def run_async(self, body: Any, path: str, origin_name: str | None = None) -> Any:
        if isinstance(body, list):
            body = self.format_batch(body)
        return self.predict_async(body)

    @staticmethod
    def format_batch(body: Any):
        return body

    def to_dict(self) -> dict:
        """Constructor parameters with a value (the reference's model parameters)."""
        return _params_to_dict(self, skip=("raise_exception",))


class ModelSelector:
    """Chooses the models to run on each event: ``select()`` returns names or models (None: all)."""

    def __init__(self, **kwargs):
        pass

    def select(self, event, available_models: list) -> list | None:
        return None

    def to_dict(self) -> dict:
        return _params_to_dict(self)


class ModelRunnerSelector:
    """Chooses the models to run on each event: ``select_models()`` returns names or models (None: all).

    ``select_outlets()`` is part of the reference's interface; fnpack does not route by it (a step's
    downstream steps all receive the event).
    """

    def __init__(self, **kwargs):
        pass

    def select_models(self, event, available_models: list) -> list | None:
        return None

    def select_outlets(self, event) -> list | None:
        return None

    def to_dict(self) -> dict:
        return _params_to_dict(self)


def _selector_arg(selector, parameters, arg: str) -> tuple[Any, list]:
    """(the selector class object when given one, ``[name, parameters]`` for class_args)."""
    if selector is None:
        return None, [None, parameters]
    if isinstance(selector, str):
        return None, [selector, parameters or {}]
    if parameters:
        raise GraphError(
            f"Cannot provide a selector object as argument to `{arg}` and also provide its parameters."
        )
    if isinstance(selector, type):
        return selector, [full_class_name(selector), {}]
    return type(selector), [
        full_class_name(selector),
        selector.to_dict() if hasattr(selector, "to_dict") else {},
    ]


class ModelRunnerStep(TaskStep):
    """Runs the models added with :meth:`add_model` on each event.

    With one model the step's output is that model's result; with more, a dict keyed by model name.
    A model that raises fails the step (``raise_exception=True``) or puts ``{"error": "<Exc>: <msg>"}``
    in its place.
    """

    kind = "model_runner"
    _dict_fields = [*_TASK_FIELDS, "raise_exception", "max_processes", "max_threads", "pool_factor"]

    def __init__(
        self,
        name: str | None = None,
        model_runner_selector=None,
        model_runner_selector_parameters: dict | None = None,
        model_selector=None,
        model_selector_parameters: dict | None = None,
        raise_exception: bool = True,
        **kwargs,
    ):
        if (model_selector or model_selector_parameters) and (
            model_runner_selector or model_runner_selector_parameters
        ):
            raise GraphError(
                "Cannot provide both `model_selector`/`model_selector_parameters` "
                "and `model_runner_selector`/`model_runner_selector_parameters`."
            )
        selector_class, selector = _selector_arg(model_selector, model_selector_parameters, "model_selector")
        runner_selector_class, runner_selector = _selector_arg(
            model_runner_selector,
            model_runner_selector_parameters,
            "model_runner_selector",
        )
        class_args = {"model_selector": selector, "model_runner_selector": runner_selector}
        super().__init__("mlrun.serving.ModelRunner", class_args, name=name, **kwargs)
        self.raise_exception = raise_exception
        self.shape = "folder"
        self.max_processes = None
        self.max_threads = None
        self.pool_factor = None
        # classes given as objects (not by name): used before the namespaces when the graph is compiled
        self.class_objects: dict[str, type] = {}
        for key, cls in (
            ("model_selector", selector_class),
            ("model_runner_selector", runner_selector_class),
        ):
            if cls is not None:
                self.class_objects[class_args[key][0]] = cls

    def add_model(
        self,
        endpoint_name: str,
        model_class,
        execution_mechanism: str,
        model_artifact: str | None = None,
        labels: list | dict | None = None,
        model_endpoint_creation_strategy: str | None = "inplace",
        inputs: list | None = None,
        outputs: list | None = None,
        input_path: str | None = None,
        result_path: str | None = None,
        override: bool = False,
        **model_parameters,
    ) -> None:
        """Add a model: a class name, a :class:`Model` subclass, or an instance (its parameters saved)."""
        if isinstance(model_class, Model) and model_parameters:
            raise GraphError(
                "Cannot provide a model object as argument to `model_class` and also provide `model_parameters`."
            )
        if execution_mechanism not in EXECUTION_MECHANISMS:
            raise GraphError(
                f"Execution mechanism '{execution_mechanism}' is invalid. "
                f"It must be one of: [{', '.join(EXECUTION_MECHANISMS)}]"
            )
        if isinstance(model_class, Model):
            model_parameters = model_class.to_dict()
        if model_parameters.get("name", endpoint_name) != endpoint_name:
            raise GraphError("Inconsistent name for model added to ModelRunnerStep.")
        models = self.class_args.setdefault("models", {})
        if endpoint_name in models and not override:
            raise GraphError(f"Model with name {endpoint_name} already exists in this ModelRunnerStep.")
        if isinstance(model_class, str):
            class_name = model_class
        else:
            cls = model_class if isinstance(model_class, type) else type(model_class)
            class_name = full_class_name(cls)
            self.class_objects[class_name] = cls
        model_parameters = dict(model_parameters)
        model_parameters.setdefault("artifact_uri", model_artifact)
        model_parameters["name"] = endpoint_name
        self.class_args.setdefault("execution_mechanism_by_model_name", {})[endpoint_name] = (
            execution_mechanism
        )
        models[endpoint_name] = [class_name, model_parameters]
        self.class_args.setdefault("monitoring_data", {})[endpoint_name] = {
            "inputs": inputs,
            "outputs": outputs,
            "input_path": input_path,
            "result_path": result_path,
            "creation_strategy": model_endpoint_creation_strategy,
            "labels": labels,
            "model_path": model_artifact,
            "model_class": class_name,
        }

    def nested_classes(self) -> list[tuple[str, type | None]]:
        """(name, class object or None) of every model and selector class: what the packager ships."""
        args = self.class_args or {}
        pairs = [
            *(args.get("models") or {}).values(),
            args.get("model_selector"),
            args.get("model_runner_selector"),
        ]
        names = [p[0] for p in pairs if isinstance(p, (list, tuple)) and p and isinstance(p[0], str)]
        return [(n, self.class_objects.get(n)) for n in dict.fromkeys(names)]

    def configure_pool_resource(
        self, max_processes: int | None = None, max_threads: int | None = None, pool_factor: int | None = None
    ) -> None:
        """Pool limits; fnpack uses ``max_threads`` for its thread pool (there are no process pools)."""
        self.max_processes = max_processes
        self.max_threads = max_threads
        self.pool_factor = pool_factor


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: str):
        self.error = error


def _call(model, body, path):
    try:
        return model.run(body, path)
    except Exception as exc:
        return _Failed(f"{type(exc).__name__}: {exc}")


async def _acall(model, body, path):
    try:
        return await model.run_async(body, path)
    except Exception as exc:
        return _Failed(f"{type(exc).__name__}: {exc}")


class ModelRunner:
    """What a :class:`ModelRunnerStep` compiles to: selects, runs and collects the models per event."""

    def __init__(
        self,
        models: dict | None = None,
        execution_mechanism_by_model_name: dict | None = None,
        model_selector: list | None = None,
        model_runner_selector: list | None = None,
        name: str | None = None,
        graph_step=None,
        namespaces: list | None = None,
        input_path: str | None = None,
        result_path: str | None = None,
        raise_exception: bool | None = None,
        max_threads: int | None = None,
        **kwargs,
    ):
        self.name = name or "model_runner"
        step_classes = getattr(graph_step, "class_objects", None) or {}
        spaces = [step_classes, *(namespaces or [])]
        if raise_exception is None:
            raise_exception = getattr(graph_step, "raise_exception", True)
        self.raise_exception = raise_exception is not False
        self.max_threads = max_threads or getattr(graph_step, "max_threads", None)
        self._in_keys = split_path(input_path)
        self._out_keys = split_path(result_path)
        if not isinstance(models, dict) or not models:
            raise GraphError(f"step '{self.name}': no models, add them with add_model()")
        mechanisms = execution_mechanism_by_model_name or {}
        self.models: dict[str, Model] = {}
        self.mechanism: dict[str, str] = {}
        for key, spec in models.items():
            self.models[key] = self._model(key, spec, mechanisms.get(key, "naive"), spaces)
        self.available = list(self.models.values())
        self.single = len(self.models) == 1
        self._select = self._selector(model_selector, model_runner_selector, spaces)
        self._pool = None

    def _model(self, key: str, spec, mechanism: str, spaces: list):
        what = f"step '{self.name}': model '{key}'"
        if not isinstance(spec, (list, tuple)) or len(spec) != 2 or not isinstance(spec[0], str):
            raise GraphError(f"{what}: expected [class name, parameters], got {spec!r}")
        if mechanism not in EXECUTION_MECHANISMS:
            raise GraphError(
                f"{what}: execution mechanism '{mechanism}' is invalid, use one of {', '.join(EXECUTION_MECHANISMS)}"
            )
        cls = resolve_class(spec[0], spaces, self.name)
        model = _construct(cls, {**(spec[1] or {}), "name": key}, what)
        self.mechanism[key] = mechanism
        method = "predict_async" if mechanism == "asyncio" else "predict"
        own = getattr(type(model), method, None)
        if own is None or own is getattr(Model, method):
            raise GraphError(
                f"{what} runs with {mechanism} execution_mechanism but {method}() is not implemented"
            )
        init = getattr(model, "init", None) or getattr(model, "load", None)
        if init is not None:
            try:
                init()
            except Exception as exc:
                raise GraphError(f"{what}: load failed: {type(exc).__name__}: {exc}") from exc
        return model

    def _selector(self, model_selector, model_runner_selector, spaces: list):
        for spec, method in ((model_selector, "select"), (model_runner_selector, "select_models")):
            if not spec or not spec[0]:
                continue
            cls = resolve_class(spec[0], spaces, self.name)
            selector = _construct(cls, dict(spec[1] or {}) if len(spec) > 1 else {}, f"step '{self.name}'")
            fn = getattr(selector, method, None)
            if not callable(fn):
                raise GraphError(f"step '{self.name}': selector {cls.__name__} has no {method}() method")
            return fn
        return None

    def selected(self, event) -> list[str]:
        """The names of the models to run on ``event`` (all of them without a selector)."""
        if self._select is None:
            return list(self.models)
        chosen = self._select(event, self.available)
        if chosen is None:
            return list(self.models)
        names = [getattr(m, "name", m) for m in chosen]
        unknown = [str(n) for n in names if n not in self.models]
        if unknown:
            raise ValueError(
                f"selector returned unknown model(s) {', '.join(unknown)} (known: {', '.join(self.models)})"
            )
        if len(set(names)) != len(names):
            raise ValueError(f"selector returned a model more than once: {names}")
        return names

    def do_event(self, event):
        names = self.selected(event)
        if not names:  # the reference never answers such an event; here: no outputs
            event.body = update_in(event.body, self._out_keys, None if self.single else {})
            return event
        body = get_in(event.body, self._in_keys)
        if any(self.mechanism[n] == "asyncio" for n in names):
            return self._run_async(event, names, body)
        pooled = [n for n in names if self.mechanism[n] in _POOLED]
        if len(pooled) > 1:
            pool = self._thread_pool()
            futures = {
                n: pool.submit(_call, self.models[n], self._input(body, names), event.path) for n in pooled
            }
            results = [
                futures[n].result()
                if n in futures
                else _call(self.models[n], self._input(body, names), event.path)
                for n in names
            ]
        else:
            results = [_call(self.models[n], self._input(body, names), event.path) for n in names]
        return self._finish(event, names, results)

    async def _run_async(self, event, names: list[str], body):
        import asyncio

        loop = asyncio.get_running_loop()
        jobs = []
        for n in names:
            model, data, mechanism = self.models[n], self._input(body, names), self.mechanism[n]
            if mechanism == "asyncio":
                jobs.append(_acall(model, data, event.path))
            elif mechanism in _POOLED:
                jobs.append(loop.run_in_executor(self._thread_pool(), _call, model, data, event.path))
            else:
                jobs.append(_done(_call(model, data, event.path)))
        results = await asyncio.gather(*jobs)
        return self._finish(event, names, results)

    @staticmethod
    def _input(body, names):
        # each model gets its own copy when several run on one event
        return copy.deepcopy(body) if len(names) > 1 and isinstance(body, (dict, list)) else body

    def _thread_pool(self):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(
                max_workers=self.max_threads or min(32, len(self.models)), thread_name_prefix=self.name
            )
        return self._pool

    def close(self) -> None:
        """Stop the thread pool (the server calls this when it closes)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _finish(self, event, names: list[str], results: list):
        errors = {n: r.error for n, r in zip(names, results) if r.__class__ is _Failed}
        if errors and self.raise_exception:
            raise ModelRunnerError(errors)
        outputs = [{"error": r.error} if r.__class__ is _Failed else r for r in results]
        out = outputs[0] if self.single else dict(zip(names, outputs))
        event.body = update_in(event.body, self._out_keys, out) if self._out_keys else out
        return event


async def _done(value):
    return value
