"""Graph spec objects: what a graph *is*, in the reference's serialized form.

These objects only describe the graph (``to_dict`` / ``from_dict``, builders such as ``to()`` and
``add_step()``); nothing here runs events. :mod:`fnpack.graph.plan` compiles a spec into an execution
plan once, at server init.
"""

from __future__ import annotations

from .errors import GraphError
from .resolve import full_class_name, import_dotted

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: it costs cold start
    from typing import Any, Union

MAX_ALLOWED_STEPS = 4500

# keys of the serialized form, per kind (the reference's field lists)
_TASK_FIELDS = [
    "kind",
    "class_name",
    "class_args",
    "handler",
    "skip_context",
    "after",
    "function",
    "comment",
    "shape",
    "full_event",
    "on_error",
    "responder",
    "input_path",
    "result_path",
]


# the type each serialized field must have (None is always allowed): a clear error, not a crash later
_FIELD_TYPES = {
    "class_name": (str, "a class name (string)"),
    "class_args": (dict, "a mapping of argument names to values"),
    "handler": (str, "a handler name or expression (string)"),
    "after": ((str, list), "a step name or a list of them"),
    "before": (list, "a list of step names"),
    "function": (str, "a function name (string)"),
    "input_path": (str, "a dotted path (string)"),
    "result_path": (str, "a dotted path (string)"),
    "on_error": (str, "a step name (string)"),
    "routes": (dict, "a mapping of route names to steps"),
    "steps": (dict, "a mapping of step names to steps"),
    "engine": (str, "'sync' or 'async'"),
    "path": (str, "a stream path (string)"),
    "options": (dict, "a mapping"),
    "trigger_args": (dict, "a mapping"),
}


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_empty(value) -> bool:
    return value is None or (isinstance(value, (dict, list, tuple)) and not value)


class BaseStep:
    """Common spec of every step: name, ``after`` links, error handler, parent."""

    kind = "BaseStep"
    _dict_fields = ["kind", "comment", "after", "on_error"]

    def __init__(self, name: str | None = None, after: list | None = None, shape: str | None = None):
        self.name = name
        self._parent: FlowStep | RouterStep | None = None
        self.comment = None
        self.after = list(after) if after else []
        self.on_error = None
        self.shape = shape
        self.function = None
        self.responder = None

    # --- identity --------------------------------------------------------------------------
    @property
    def parent(self):
        return self._parent

    def set_parent(self, parent) -> None:
        self._parent = parent

    @property
    def fullname(self) -> str:
        if self._parent is not None and self._parent.name:
            return f"{self._parent.fullname}.{self.name}"
        return self.name or ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"

    # --- serialization ---------------------------------------------------------------------
    def to_dict(self, fields: list | None = None, exclude: list | None = None) -> dict:
        """The serialized form: plain JSON, empty values dropped, the name kept by the parent."""
        struct: dict[str, Any] = {}
        for field in fields or self._dict_fields:
            if exclude and field in exclude:
                continue
            value = self.kind if field == "kind" else getattr(self, field, None)
            value = self._field_to_dict(field, value)
            if not _is_empty(value):
                struct[field] = value
        return struct

    def _field_to_dict(self, field: str, value):
        if isinstance(value, (list, tuple)):
            return list(value)
        if isinstance(value, dict):
            return dict(value)
        return value

    @classmethod
    def from_dict(cls, struct: dict | None = None, name: str | None = None):
        """Rebuild a step from its serialized form; unknown keys are ignored."""
        step = cls()
        step.name = name
        for field in cls._dict_fields:
            if field == "kind" or field not in (struct or {}):
                continue
            step._field_from_dict(field, struct[field])
        return step

    def _field_from_dict(self, field: str, value) -> None:
        expected = _FIELD_TYPES.get(field)
        if expected is not None and value is not None and not isinstance(value, expected[0]):
            raise GraphError(
                f"step '{self.name}': '{field}' must be {expected[1]}, got {type(value).__name__} {_short(value)}"
            )
        if field == "after":
            value = [value] if isinstance(value, str) else list(value or [])
            if not all(isinstance(a, str) for a in value):
                raise GraphError(f"step '{self.name}': 'after' must list step names, got {_short(value)}")
        setattr(self, field, value)

    # --- building --------------------------------------------------------------------------
    def after_step(self, *after, append: bool = True) -> BaseStep:
        """Run this step after the named steps."""
        names = [a.name if isinstance(a, BaseStep) else a for a in after]
        self.after = [*self.after, *(n for n in names if n not in self.after)] if append else names
        return self

    def respond(self) -> BaseStep:
        """Mark this step as the one whose output is the response (async engine)."""
        self.responder = True
        return self

    def _flow(self) -> FlowStep:
        if isinstance(self, FlowStep):
            return self
        if isinstance(self._parent, FlowStep):
            return self._parent
        raise GraphError(f"step '{self.name}' is not part of a flow, cannot chain steps after it")

    def to(
        self,
        class_name: Union[str, type, Any] = None,
        name: str | None = None,
        handler=None,
        graph_shape: str | None = None,
        function: str | None = None,
        full_event: bool | None = None,
        input_path: str | None = None,
        result_path: str | None = None,
        **class_args,
    ) -> BaseStep:
        """Add a step after this one (or a start step, when called on a flow); returns the new step."""
        flow = self._flow()
        if isinstance(self, QueueStep) and not function:
            raise GraphError(
                f"step '{name or class_name}' must specify a function, because it follows a queue step"
            )
        name, step = params_to_step(
            class_name,
            name,
            handler,
            graph_shape=graph_shape,
            function=function,
            full_event=full_event,
            input_path=input_path,
            result_path=result_path,
            class_args=class_args,
        )
        after = None if flow is self else [self.name]
        return flow.insert_step(name, step, after=after)

    def error_handler(
        self,
        name: str | None = None,
        class_name=None,
        handler=None,
        before=None,
        function: str | None = None,
        full_event: bool | None = None,
        input_path: str | None = None,
        result_path: str | None = None,
        **class_args,
    ) -> BaseStep:
        """Attach an error handler that runs when this step raises; returns this step.

        With ``before``, the flow continues from the handler into those steps; without it the
        handler's output is the response.
        """
        if not (class_name or handler):
            raise GraphError("error_handler() needs a class_name or a handler")
        flow = self._flow()
        is_graph_handler = flow is self
        if is_graph_handler and before:
            raise GraphError("`before` arg can't be specified for graph error handler")
        name = name or _default_name(class_name, handler)
        if isinstance(before, str):
            before = [before]
        step = ErrorStep(
            class_name,
            class_args,
            handler,
            name=name,
            function=function,
            full_event=full_event,
            input_path=input_path,
            result_path=result_path,
        )
        step.before = list(before or [])
        step.base_step = None if is_graph_handler else self.name
        flow._add(name, step)
        self.on_error = name
        return self


def _default_name(class_name, handler) -> str:
    if isinstance(class_name, str) and class_name:
        return class_name.split(".")[-1]
    if isinstance(class_name, type):
        return class_name.__name__
    if class_name is not None:
        return getattr(class_name, "name", None) or type(class_name).__name__
    if callable(handler):
        return handler.__name__
    if isinstance(handler, str) and handler:
        return handler.split(".")[-1]
    raise GraphError("class_name or handler must be provided")


class _StepMap:
    """A step holding named child steps (a flow's ``steps``, a router's ``routes``)."""

    _children_field = ""
    _children: dict

    def _place(self, key: str, step: BaseStep) -> BaseStep:
        if key not in self._children and len(self._children) >= MAX_ALLOWED_STEPS:
            raise GraphError(
                f"Cannot create the serving graph: the maximum number of steps is {MAX_ALLOWED_STEPS}"
            )
        step.name = key
        step.set_parent(self)
        self._children[key] = step
        return step

    def _adopt(self, key: str, struct: dict) -> None:
        """Add a child from its serialized form."""
        self._place(key, step_from_dict(struct, key))

    def __getitem__(self, key: str) -> BaseStep:
        return self._children[key]

    def __delitem__(self, key: str) -> None:
        del self._children[key]

    def __iter__(self):
        return iter(self._children)

    def get_children(self):
        return self._children.values()

    def clear_children(self, keys: list | None = None) -> None:
        for key in list(keys if keys is not None else self._children):
            self._children.pop(key, None)

    def _field_to_dict(self, field, value):
        if field == self._children_field:
            return {key: step.to_dict() for key, step in self._children.items()}
        return super()._field_to_dict(field, value)

    def _field_from_dict(self, field, value) -> None:
        if field == self._children_field:
            if value is not None and not isinstance(value, dict):
                what = _FIELD_TYPES[field][1]
                raise GraphError(f"step '{self.name}': '{field}' must be {what}, got {type(value).__name__}")
            self._children = {}
            for key, struct in (value or {}).items():
                self._adopt(key, struct)
        else:
            super()._field_from_dict(field, value)


class TaskStep(BaseStep):
    """A step that runs a class instance's handler, or a plain function, on each event."""

    kind = "task"
    _dict_fields = _TASK_FIELDS

    def __init__(
        self,
        class_name: Union[str, type, None] = None,
        class_args: dict | None = None,
        handler=None,
        name: str | None = None,
        after: list | None = None,
        full_event: bool | None = None,
        function: str | None = None,
        responder: bool | None = None,
        input_path: str | None = None,
        result_path: str | None = None,
    ):
        super().__init__(name, after)
        self._class_object = None
        self._handler_object = None
        self.class_name = class_name  # through the setter: keeps a class object aside
        self.class_args = dict(class_args or {})
        self.handler = handler
        self.function = function
        self.full_event = full_event
        self.responder = responder
        self.input_path = input_path
        self.result_path = result_path
        self.skip_context = None

    @property
    def class_name(self):
        return self._class_name

    @class_name.setter
    def class_name(self, value) -> None:
        if isinstance(value, type):
            self._class_object = value
            value = full_class_name(value)
        self._class_name = value

    @property
    def handler(self):
        return self._handler

    @handler.setter
    def handler(self, value) -> None:
        if callable(value):
            self._handler_object = value
            module = getattr(value, "__module__", None)
            qualname = getattr(value, "__qualname__", getattr(value, "__name__", repr(value)))
            value = qualname if module in (None, "__main__", "builtins") else f"{module}.{qualname}"
            if self.class_name:
                value = qualname.split(".")[-1]  # a method of the step's class
        self._handler = value

    @property
    def class_object(self):
        """The class given as an object (not by name), when there was one."""
        return self._class_object

    @property
    def handler_object(self):
        return self._handler_object


class ErrorStep(TaskStep):
    """An error handler: runs when the step it guards (``base_step``) raises."""

    kind = "error_step"
    _dict_fields = [*_TASK_FIELDS, "before", "base_step"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.before: list = []
        self.base_step: str | None = None


class RouterStep(_StepMap, TaskStep):
    """A step whose class routes each event to one (or all) of its ``routes``."""

    kind = "router"
    default_class = "fnpack.serving.routers.ModelRouter"
    _dict_fields = [*_TASK_FIELDS, "routes"]
    _children_field = "routes"

    def __init__(
        self,
        class_name=None,
        class_args: dict | None = None,
        handler=None,
        routes: dict | None = None,
        name: str | None = None,
        function: str | None = None,
        input_path: str | None = None,
        result_path: str | None = None,
    ):
        super().__init__(
            class_name,
            class_args,
            handler,
            name=name,
            function=function,
            input_path=input_path,
            result_path=result_path,
        )
        self._children: dict[str, BaseStep] = {}
        if routes:
            self.routes = routes

    @property
    def routes(self) -> dict:
        return self._children

    @routes.setter
    def routes(self, routes: dict) -> None:
        self._children = {}
        for key, route in (routes or {}).items():
            self.add_route(key, route)

    def add_route(self, key: str, route=None, class_name=None, handler=None, function=None, **class_args):
        """Add (or replace) a route; returns the route step."""
        if route is None and not class_name and not handler:
            raise GraphError("route or class_name must be specified")
        if route is None:
            route = TaskStep(class_name, class_args, handler=handler)
        elif isinstance(route, dict):
            route = step_from_dict(route, key)
        elif not isinstance(route, BaseStep):
            _, route = params_to_step(route, key, None)
        route.function = function or route.function
        return self._place(key, route)

    def _adopt(self, key: str, struct: dict) -> None:
        self.add_route(key, step_from_dict(struct, key))


class QueueStep(BaseStep):
    """Where the graph crosses a stream: the steps after it run in another function."""

    kind = "queue"
    # "function" is ours (the reference drops it): a queue inside a child function must stay there
    _dict_fields = [
        "kind",
        "path",
        "shards",
        "retention_in_hours",
        "trigger_args",
        "options",
        "after",
        "function",
        "comment",
        "on_error",
    ]

    def __init__(
        self,
        name: str | None = None,
        path: str | None = None,
        after: list | None = None,
        shards: int | None = None,
        retention_in_hours: int | None = None,
        trigger_args: dict | None = None,
        **options,
    ):
        super().__init__(name, after)
        self.path = path
        self.shards = shards
        self.retention_in_hours = retention_in_hours
        self.trigger_args = trigger_args
        self.options = options

    @property
    def stream_path(self):
        return self.path


class FlowStep(_StepMap, BaseStep):
    """A DAG of steps linked by ``after``."""

    kind = "flow"
    _dict_fields = [*BaseStep._dict_fields, "steps", "engine", "final_step"]
    _children_field = "steps"

    def __init__(
        self,
        name: str | None = None,
        steps: dict | None = None,
        after: list | None = None,
        engine: str | None = None,
        final_step: str | None = None,
    ):
        super().__init__(name, after)
        self._children: dict[str, BaseStep] = {}
        self.engine = engine
        self.final_step = final_step
        self._last_added: BaseStep | None = None
        if steps:
            self.steps = steps

    @property
    def steps(self) -> dict:
        return self._children

    @steps.setter
    def steps(self, steps: dict) -> None:
        self._children = {}
        for key, step in (steps or {}).items():
            self._place(key, step if isinstance(step, BaseStep) else step_from_dict(step, key))

    _add = _StepMap._place  # the name the builders use

    def add_step(
        self,
        class_name=None,
        name: str | None = None,
        handler=None,
        after=None,
        before=None,
        graph_shape: str | None = None,
        function: str | None = None,
        full_event: bool | None = None,
        input_path: str | None = None,
        result_path: str | None = None,
        **class_args,
    ) -> BaseStep:
        """Add a step; ``after`` is a name, a list, or ``"$prev"`` (the step added last)."""
        name, step = params_to_step(
            class_name,
            name,
            handler,
            graph_shape=graph_shape,
            function=function,
            full_event=full_event,
            input_path=input_path,
            result_path=result_path,
            class_args=class_args,
        )
        return self.insert_step(name, step, after, before)

    def insert_step(self, key: str, step: BaseStep, after=None, before=None) -> BaseStep:
        """Add ``step`` under ``key`` after (or before) the named steps; returns it."""
        if after == "$prev":
            after = [self._last_added.name] if self._last_added is not None else []
        elif isinstance(after, str):
            after = [after]
        elif isinstance(after, BaseStep):
            after = [after.name]
        after = [a.name if isinstance(a, BaseStep) else a for a in (after or [])]
        for name in after:
            if name not in self._children:
                raise GraphError(f"cant set after, there is no step named {name}")
        if before is not None:
            before = before.name if isinstance(before, BaseStep) else before
            if before == key or (
                self._last_added is not None and before == self._last_added.name and before in after
            ):
                raise GraphError(f"graph loop, step '{before}' cannot be both before and after step '{key}'")
            if before not in self._children:
                raise GraphError(f"cant set before, there is no step named {before}")
            target = self._children[before]
            after = [*after, *(a for a in target.after if a not in after)]
            target.after = [key]
        step.after = after
        self._add(key, step)
        self._last_added = step
        return step

    def set_flow(self, steps: list, force: bool = False) -> BaseStep:
        """Replace all steps with a chain made from names, dicts or step objects."""
        if self._children and not force:
            raise GraphError(
                "set_flow() called on a step that already has downstream steps. "
                "If you want to overwrite existing steps, set force=True."
            )
        self._children = {}
        self._last_added = None
        last = self
        for item in steps:
            if isinstance(item, dict):
                kind = item.get("kind", "task")
                name = item.get("name") or _default_name(item.get("class_name"), item.get("handler"))
                step = step_from_dict({**item, "kind": kind}, name)
                last = self.insert_step(name, step, after="$prev")
            else:
                last = last.to(item)
        return last

    def __setitem__(self, name: str, step: BaseStep) -> None:
        self._place(name, step)

    def path_to_step(self, path: str) -> BaseStep:
        """The step at ``"a/b"`` (a route ``b`` of router ``a``, or a step of a nested flow)."""
        step: Any = self
        for part in path.strip("/").split("/"):
            children = getattr(step, "steps", None) or getattr(step, "routes", None) or {}
            if part not in children:
                raise GraphError(f"step {part} not found in path {path}")
            step = children[part]
        return step

    def list_child_functions(self) -> list[str]:
        """Names of the other functions this graph's steps run in."""
        functions = []
        for step in self._children.values():
            if step.function and step.function != "*" and step.function not in functions:
                functions.append(step.function)
        return functions


class RootFlowStep(FlowStep):
    """The root of a flow topology (serialized without a ``kind``)."""

    kind = "root"
    _dict_fields = ["steps", "engine", "final_step", "on_error"]

    @property
    def engine_kind(self) -> str:
        """``sync`` or ``async`` (anything but ``"sync"``, including ``None``, is async)."""
        return "sync" if self.engine == "sync" else "async"


STEP_KINDS: dict[str, type] = {
    "task": TaskStep,
    "router": RouterStep,
    "flow": FlowStep,
    "queue": QueueStep,
    "error_step": ErrorStep,
    "root": RootFlowStep,
    "monitoring_application": TaskStep,
}

# kinds whose spec class lives outside the runtime core, imported when a graph uses them
_LAZY_KINDS = {"model_runner": "fnpack.serving.model_runner.ModelRunnerStep"}


def step_from_dict(struct: dict, name: str | None = None) -> BaseStep:
    """A child step from its dict (a missing ``kind`` means ``task``)."""
    if not isinstance(struct, dict):
        raise GraphError(f"step '{name}': expected a dict, got {type(struct).__name__}")
    kind = struct.get("kind") or "task"
    cls = STEP_KINDS.get(kind)
    if cls is None and kind in _LAZY_KINDS:
        cls = STEP_KINDS[kind] = import_dotted(_LAZY_KINDS[kind])
    if cls is None:
        known = ", ".join(dict.fromkeys([*STEP_KINDS, *_LAZY_KINDS]))
        raise GraphError(f"step '{name}': unknown step kind '{kind}' (known: {known})")
    return cls.from_dict(struct, name)


def graph_from_dict(struct: dict) -> BaseStep:
    """The root step from its dict: ``kind: router`` gives a router, no kind or ``root`` a flow."""
    if isinstance(struct, BaseStep):
        return struct
    if not isinstance(struct, dict):
        raise GraphError(f"graph must be a dict, got {type(struct).__name__}")
    kind = struct.get("kind")
    if kind == "router":
        return RouterStep.from_dict(struct)
    if kind in (None, "", "root", "flow"):
        return RootFlowStep.from_dict(struct)
    raise GraphError(f"illegal root step kind '{kind}', use 'router' or a flow (no kind)")


def params_to_step(
    class_name,
    name: str | None,
    handler=None,
    graph_shape: str | None = None,
    function: str | None = None,
    full_event: bool | None = None,
    input_path: str | None = None,
    result_path: str | None = None,
    class_args: dict | None = None,
) -> tuple[str, BaseStep]:
    """Turn the arguments of ``to()`` / ``add_step()`` into ``(name, step)``; shortcuts as the reference."""
    class_args = dict(class_args or {})
    if class_name is not None and not isinstance(class_name, str) and not isinstance(class_name, type):
        if isinstance(class_name, BaseStep):
            step = class_name
            name = name or step.name
        elif hasattr(class_name, "to_dict"):
            struct = class_name.to_dict()
            step = step_from_dict(struct, struct.get("name"))
            if isinstance(step, TaskStep):
                step._class_object = type(class_name)
            name = name or struct.get("name") or type(class_name).__name__
        else:
            raise GraphError(
                f"class_name must be a string, a class or a step object, got {type(class_name).__name__}"
            )
    elif class_name in (">>", "$queue"):
        if not name:
            raise GraphError("queue steps need a name")
        if "path" not in class_args:
            raise GraphError("path=<stream path or None> must be specified for queues")
        path = class_args.pop("path")
        step = QueueStep(name, path, **class_args)
    elif isinstance(class_name, str) and class_name.startswith("*"):
        name = name or "router"
        step = RouterStep(class_name[1:] or None, class_args, handler)
    elif class_name or handler:
        if class_name == "$remote":
            class_args.setdefault("url", class_args.pop("model_url", None) or class_args.get("url"))
        name = name or _default_name(class_name, handler)
        step = TaskStep(class_name, class_args, handler)
    else:
        raise GraphError("class_name or handler must be provided")

    if graph_shape:
        step.shape = graph_shape
    if function:
        step.function = function
    if isinstance(step, TaskStep):
        if full_event is not None:
            step.full_event = full_event
        if input_path:
            step.input_path = input_path
        if result_path:
            step.result_path = result_path
    step.name = name
    return name, step


class StepToDict:
    """Mixin for step classes: an instance serializes to a step dict by introspection (reference 1.5)."""

    def to_dict(self, fields: list | None = None, exclude: list | None = None) -> dict:
        import inspect

        params = inspect.signature(self.__init__).parameters
        fields = fields or getattr(self, "_dict_fields", None) or list(params)
        skip = {
            "self",
            "context",
            "name",
            "input_path",
            "result_path",
            "full_event",
            "kwargs",
            *(exclude or []),
        }
        args = {}
        for field in fields:
            if (
                field in skip
                or params.get(field, None) is not None
                and params[field].kind
                in (
                    inspect.Parameter.VAR_POSITIONAL,
                    inspect.Parameter.VAR_KEYWORD,
                )
            ):
                continue
            value = getattr(self, field, None)
            if value is not None:
                args[field] = value
        extra = getattr(self, "kwargs", None) or getattr(self, "_kwargs", None)
        if isinstance(extra, dict):
            args.update({k: v for k, v in extra.items() if v is not None})
        struct: dict[str, Any] = {
            "class_name": full_class_name(self),
            "name": getattr(self, "name", None) or type(self).__name__,
        }
        kind = getattr(self, "_STEP_KIND", None)
        if kind and kind != "task":
            struct["kind"] = kind
        if args:
            struct["class_args"] = args
        for attr, key in (
            ("_input_path", "input_path"),
            ("_result_path", "result_path"),
            ("_full_event", "full_event"),
        ):
            value = getattr(self, attr, None)
            if value is not None:
                struct[key] = value
        return struct
