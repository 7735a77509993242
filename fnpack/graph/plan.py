"""Compiling a graph spec into an execution plan, once, at server init.

Each step becomes a :class:`Node` whose ``call(event)`` is a closure specialised for that step
(body or full event, with or without paths), linked to its downstream nodes. Validation happens
here, so a malformed graph fails with a one-line error naming the step before the first event.
"""

from __future__ import annotations

import copy
from types import CoroutineType

from .errors import GraphError, StepError, err_to_str
from .event import Event
from .paths import get_in, split_path, update_in
from .resolve import accepted_params, resolve_class, resolve_handler
from .steps import BaseStep, ErrorStep, FlowStep, QueueStep, RootFlowStep, RouterStep, TaskStep
from .streams import get_stream_pusher

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: it costs cold start
    from typing import Any, Callable


class _Drop:
    """Returned by a step to end this event's branch here (e.g. a merge holding a partial key)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DROP"


DROP = _Drop()

_COMMON_INIT_ARGS = ("name", "context", "input_path", "result_path", "full_event", "graph_step")


class Node:
    """One compiled step: ``call(event)`` returns the event, :data:`DROP`, or a coroutine."""

    __slots__ = (
        "name",
        "step",
        "object",
        "call",
        "next",
        "next1",
        "recovery",
        "responder",
        "is_error_step",
        "local",
        "_loop",
    )

    def __init__(self, name: str, step: BaseStep | None, call: Callable, obj: Any = None, local: bool = True):
        self.name = name
        self.step = step
        self.object = obj
        self.call = call
        self.next: tuple[Node, ...] = ()
        self.next1: Node | None = None
        self.recovery: Node | None = None
        self.responder = False
        self.is_error_step = isinstance(step, ErrorStep)
        self.local = local
        self._loop = None

    # what a router sees of its routes (reference: route.run(event), route.object, route.name ...)
    @property
    def function(self):
        return getattr(self.step, "function", None)

    @property
    def class_args(self) -> dict:
        return getattr(self.step, "class_args", None) or {}

    def run(self, event):
        """Run this step alone on ``event`` (synchronously); errors come out as :class:`StepError`."""
        try:
            result = self.call(event)
            if result.__class__ is CoroutineType:
                result = self._loop.run(result)
        except StepError:
            raise
        except Exception as exc:
            raise StepError(self.name, exc) from exc
        return event if result is DROP else result

    def __repr__(self) -> str:
        return f"Node({self.name})"


# --- call closures -------------------------------------------------------------------------------


def _is_event(value) -> bool:
    return isinstance(value, Event) or (
        hasattr(value, "body") and hasattr(value, "path") and hasattr(value, "id")
    )


def make_call(fn: Callable, full_event: bool, input_path=None, result_path=None) -> Callable:
    """A closure running ``fn`` on one event, specialised for the step's options."""
    in_keys = split_path(input_path)
    out_keys = split_path(result_path)

    if full_event:

        async def _afull(event, coro):
            out = await coro
            return _full_result(event, out)

        def _full_result(event, out):
            if out is DROP or out is event or _is_event(out):
                return out
            event.body = out  # a full-event handler that returns a plain value sets the body
            return event

        def call_full(event):
            out = fn(event)
            if out.__class__ is CoroutineType:
                return _afull(event, out)
            if out is event:
                return out
            return _full_result(event, out)

        return call_full

    if not in_keys and not out_keys:

        async def _abody(event, coro):
            out = await coro
            if out is DROP:
                return out
            event.body = out
            return event

        def call_body(event):
            out = fn(event.body)
            if out.__class__ is CoroutineType:
                return _abody(event, out)
            if out is DROP:
                return out
            event.body = out
            return event

        return call_body

    async def _apath(event, coro):
        out = await coro
        if out is DROP:
            return out
        event.body = update_in(event.body, out_keys, out)
        return event

    def call_path(event):
        out = fn(get_in(event.body, in_keys))
        if out.__class__ is CoroutineType:
            return _apath(event, out)
        if out is DROP:
            return out
        event.body = update_in(event.body, out_keys, out)
        return event

    return call_path


def _passthrough(event):
    return event


# --- building nodes ------------------------------------------------------------------------------


class Compiler:
    """Builds nodes from steps for one server (its context, namespaces and current function)."""

    def __init__(
        self,
        context,
        namespaces: list,
        current_function: str | None,
        is_mock: bool,
        load_mode=None,
        loop=None,
    ):
        self.context = context
        self.namespaces = namespaces
        self.current_function = current_function
        self.is_mock = is_mock
        self.load_mode = load_mode
        self.loop = loop

    def is_local(self, step: BaseStep) -> bool:
        """Whether this function runs ``step``: a child function runs only its own steps."""
        function = getattr(step, "function", None)
        current = self.current_function
        if current in (None, "", "*"):
            return current == "*" or not function or function == "*"
        return function == current or function == "*"

    def node(self, step: BaseStep, downstream: bool = False) -> Node:
        if isinstance(step, FlowStep):
            raise GraphError(
                f"step '{step.name}': nested flows are not supported, add the steps to the root flow"
            )
        if not self.is_local(step):
            node = Node(step.name, step, _passthrough, local=False)
        elif isinstance(step, QueueStep):
            node = self._queue(step, downstream)
        elif isinstance(step, RouterStep):
            node = self._task(step, routes=self._routes(step))
        elif isinstance(step, TaskStep):
            node = self._task(step)
        else:
            raise GraphError(f"step '{step.name}': unsupported step kind '{step.kind}'")
        node._loop = self.loop
        return node

    def _routes(self, router: RouterStep) -> dict:
        if not router.routes:
            raise GraphError(
                f"router step '{router.name or 'router'}' has no routes, add models with add_model() or add_route()"
            )
        routes = {}
        for key, route in router.routes.items():
            if not route.function and router.function:
                route.function = router.function
            routes[key] = self.node(route)
        return routes

    def _queue(self, step: QueueStep, downstream: bool) -> Node:
        if not step.path or (self.is_mock and downstream):
            return Node(step.name, step, _passthrough)
        options = dict(step.options or {})
        wrap = options.pop("full_event", None)
        if wrap is None:
            wrap = downstream
        try:
            pusher = get_stream_pusher(
                step.path, shards=step.shards, retention_in_hours=step.retention_in_hours, **options
            )
        except Exception as exc:
            raise GraphError(f"queue step '{step.name}': cannot open stream {step.path!r}: {exc}")

        def push(event):
            body = event.body
            if body is None or body == b"" or body == "":
                return event
            record = (
                {"full_event_wrapper": True, "body": body, "id": event.id, "key": event.key} if wrap else body
            )
            pusher.push(record)
            event.body = None
            return DROP  # this function's part of the event ends here

        return Node(step.name, step, push, obj=pusher)

    def _task(self, step: TaskStep, routes: dict | None = None) -> Node:
        name = step.name or (step.kind if isinstance(step, RouterStep) else "step")
        class_name = step.class_name
        if isinstance(step, RouterStep) and not class_name and not step.class_object:
            class_name = RouterStep.default_class
        if class_name == "$remote":
            class_name = "fnpack.serving.remote.RemoteStep"
        if step.class_object is not None or class_name:
            cls = step.class_object or resolve_class(class_name, self.namespaces, name)
            obj, paths_applied = self._instantiate(cls, step, name, routes)
            fn, full = self._method(obj, step, name, cls)
        else:
            obj = None
            paths_applied = False
            fn = step.handler_object or resolve_handler(step.handler, self.namespaces, name)
            params, has_kwargs = accepted_params(fn)
            if "context" in params and not step.skip_context:
                context = self.context
                inner = fn
                fn = lambda arg, _f=inner, _c=context: _f(arg, context=_c)  # noqa: E731
            full = bool(step.full_event)
        if paths_applied or full:
            call = make_call(fn, full)
        else:
            call = make_call(fn, False, step.input_path, step.result_path)
        if obj is not None and hasattr(obj, "post_init"):
            try:
                obj.post_init(self.load_mode)
            except Exception as exc:
                raise GraphError(f"step '{name}': post_init failed: {err_to_str(exc)}") from exc
        return Node(name, step, call, obj=obj)

    def _instantiate(self, cls, step: TaskStep, name: str, routes: dict | None):
        args = {}
        if not isinstance(step.class_args or {}, dict):
            raise GraphError(
                f"step '{name}': class_args must be a mapping, got {type(step.class_args).__name__}"
            )
        for key, value in (step.class_args or {}).items():
            if key.startswith("_"):
                # "_fn": a function given by name or expression, passed as "fn"
                args[key[1:]] = resolve_handler(value, self.namespaces, name)
            else:
                args[key] = value
        params, has_kwargs = accepted_params(cls)
        extra = {
            "name": name,
            "context": self.context,
            "input_path": step.input_path,
            "result_path": step.result_path,
            "full_event": step.full_event,
            "graph_step": step,
        }
        if step.skip_context:
            extra.pop("context")
        if routes is not None:
            extra["routes"] = routes
        if "namespaces" in params:  # a step class that resolves names itself (ModelRunner's models)
            args.setdefault("namespaces", self.namespaces)
        for key, value in extra.items():
            if key not in args and (key in params or has_kwargs):
                if key in ("input_path", "result_path", "full_event") and value is None:
                    continue
                args[key] = value
        paths_applied = "input_path" in params or "result_path" in params
        try:
            obj = cls(**args)
        except GraphError:
            raise  # already one line naming the step (a class that validates its own arguments)
        except Exception as exc:
            shown = {k: v for k, v in args.items() if k not in ("context", "graph_step", "routes")}
            raise GraphError(
                f"step '{name}': failed to create {cls.__name__}({_short(shown)}): {err_to_str(exc)}"
            ) from exc
        return obj, paths_applied

    @staticmethod
    def _method(obj, step: TaskStep, name: str, cls) -> tuple[Callable, bool]:
        handler = step.handler
        if handler:
            fn = getattr(obj, handler, None)
            if fn is None or not callable(fn):
                raise GraphError(
                    f"step '{name}': handler ({handler}) specified but doesnt exist in class {cls.__name__}"
                )
            return fn, bool(step.full_event)
        if hasattr(obj, "do_event"):
            return obj.do_event, True
        if hasattr(obj, "do"):
            return obj.do, bool(step.full_event)
        if callable(obj) and not isinstance(obj, type):
            return obj, bool(step.full_event)
        raise GraphError(
            f"step '{name}': class {cls.__name__} has no do_event() or do() method, name one with handler="
        )


def _short(args: dict) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return text if len(text) < 200 else text[:200] + "..."


# --- whole-graph compilation ---------------------------------------------------------------------


class FlowPlan:
    """The compiled DAG of a root flow: start nodes, node links, recovery, responder."""

    def __init__(self, starts: list[Node], nodes: dict[str, Node], has_responder: bool):
        self.starts = starts
        self.nodes = nodes
        self.has_responder = has_responder


def all_nodes(roots) -> list[Node]:
    """Every node reachable from ``roots``, routes included (each once)."""
    seen: dict[int, Node] = {}
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        stack.extend(node.next)
        if node.recovery is not None:
            stack.append(node.recovery)
        routes = getattr(node.object, "routes", None)
        if isinstance(routes, dict):
            stack.extend(r for r in routes.values() if isinstance(r, Node))
    return list(seen.values())


def compile_flow(root: RootFlowStep, compiler: Compiler, engine: str) -> FlowPlan:
    steps = root.steps
    if not steps:
        raise GraphError("no models or steps were set, use function.set_topology() and add steps")
    downstream: dict[str, list[str]] = {name: [] for name in steps}
    for name, step in steps.items():
        for parent in step.after:
            if parent not in steps:
                raise GraphError(f"step '{name}' is after unknown step '{parent}'")
            downstream[parent].append(name)
        if isinstance(step, ErrorStep):
            for target in step.before:
                if target not in steps:
                    raise GraphError(f"error handler '{name}' is before unknown step '{target}'")
                if target not in downstream[name]:
                    downstream[name].append(target)
    _check_acyclic(steps, downstream)

    handlers = {s.on_error for s in steps.values() if s.on_error} | (
        {root.on_error} if root.on_error else set()
    )
    for handler in handlers:
        if handler not in steps:
            raise GraphError(f"error handler step '{handler}' is not in the graph")

    responders = [n for n, s in steps.items() if s.responder and not isinstance(s, ErrorStep)]
    if len(responders) > 1:
        raise GraphError(f"there are more than one responder steps in the graph ({','.join(responders)})")

    nodes = {name: compiler.node(step, downstream=bool(downstream[name])) for name, step in steps.items()}
    listed_after = {a for s in steps.values() for a in s.after}
    for name, node in nodes.items():
        node.next = tuple(nodes[n] for n in downstream[name])
        node.next1 = node.next[0] if node.next else None
        step = steps[name]
        node.responder = bool(step.responder) and node.local
        if isinstance(step, ErrorStep) and not step.before and name not in listed_after:
            node.responder = True
        handler = step.on_error or (root.on_error if name != root.on_error else None)
        if handler and not isinstance(step, ErrorStep):
            node.recovery = nodes[handler]

    starts = [
        nodes[n]
        for n, s in steps.items()
        if not s.after and not isinstance(s, ErrorStep) and n not in handlers
    ]
    current = compiler.current_function
    if current not in (None, "", "*"):
        starts = _first_of_function(starts, current)
    if not starts:
        raise GraphError("the graph has no start step (every step is after another one)")

    if engine == "sync":
        if len(starts) > 1:
            names = ",".join(n.name for n in starts)
            raise GraphError(f"sync engine can only have one starting step (without .after), found {names}")
        for node in nodes.values():
            if len(node.next) > 1:
                names = ",".join(n.name for n in node.next)
                raise GraphError(
                    f"step '{node.name}' branches to {names}: the sync engine runs a single chain, use engine='async'"
                )
    return FlowPlan(starts, nodes, has_responder=bool(responders))


def _check_acyclic(steps: dict, downstream: dict) -> None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    for start in steps:
        if state.get(start):
            continue
        stack = [(start, iter(downstream[start]))]
        state[start] = 1
        while stack:
            name, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[name] = 2
                stack.pop()
            elif state.get(child) == 1:
                raise GraphError(f"Error, loop detected in step {child}, graph must be acyclic (DAG)")
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(downstream[child])))


def _first_of_function(starts: list[Node], function: str) -> list[Node]:
    seen, queue = set(), list(starts)
    while queue:
        node = queue.pop(0)
        if node.name in seen:
            continue
        seen.add(node.name)
        if getattr(node.step, "function", None) == function:
            return [node]
        queue.extend(node.next)
    raise GraphError(f"did not find steps pointing to current function ({function})")


def copy_for_branch(event: Event) -> Event:
    """An independent event for a fan-out branch (its own body, so branches cannot race)."""
    new = event.copy()
    body = event.body
    if isinstance(body, (dict, list)):
        new.body = copy.deepcopy(body)
    return new
