"""Finding the classes and functions a graph names: namespaces first, then import paths."""

from __future__ import annotations

import importlib

from .errors import GraphError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: it costs cold start
    from typing import Any, Callable

# Names used by serialized graphs of the reference system, mapped to ours so ported graphs load.
_ALIAS_PREFIXES = (
    "mlrun.serving.states.",
    "mlrun.serving.",
    "mlrun.serving.v2_serving.",
    "mlrun.serving.routers.",
)
_ALIAS_MODULES = {
    "mlrun.serving.merger.Merge": "fnpack.serving.merger.Merge",
    "mlrun.serving.remote.RemoteStep": "fnpack.serving.remote.RemoteStep",
    "mlrun.serving.remote.BatchHttpRequests": "fnpack.serving.remote.BatchHttpRequests",
}


def full_class_name(obj_or_class) -> str:
    """``module.QualName`` of a class or instance; the module is dropped for ``__main__`` and builtins."""
    cls = obj_or_class if isinstance(obj_or_class, type) else type(obj_or_class)
    module = cls.__module__
    if module in ("__main__", "builtins", None):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def _lookup(name: str, namespaces: list) -> Any:
    for namespace in namespaces:
        if namespace is None:
            continue
        if isinstance(namespace, dict):
            if name in namespace:
                return namespace[name]
        elif hasattr(namespace, name):
            return getattr(namespace, name)
    return None


def import_dotted(path: str) -> Any:
    """Import ``pkg.module.Attr[.Nested]``, trying the longest importable module prefix."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except ImportError as exc:
            # only swallow "this prefix is not a module", not errors raised inside the module
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                continue
            raise
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _alias(name: str) -> str | None:
    if name in _ALIAS_MODULES:
        return _ALIAS_MODULES[name]
    for prefix in _ALIAS_PREFIXES:
        if name.startswith(prefix):
            return "fnpack.serving." + name[len(prefix) :]
    return None


def _serving_name(name: str):
    """A bare public name of ``fnpack.serving`` (``"VotingEnsemble"``), as the reference resolves them."""
    serving = importlib.import_module("fnpack.serving")
    return getattr(serving, name, None) if name in getattr(serving, "__all__", ()) else None


def resolve_class(name: str, namespaces: list, step: str) -> type:
    """The class ``name`` refers to, or a one-line :class:`GraphError` naming the step."""
    obj = _lookup(name, namespaces)
    if obj is None and "." in name:
        try:
            obj = import_dotted(name)
        except Exception as exc:
            raise GraphError(f"step '{step}': failed to import class '{name}': {type(exc).__name__}: {exc}")
        if obj is None and _alias(name):
            obj = import_dotted(_alias(name))
    if obj is None and "." not in name:
        obj = _serving_name(name)
    if obj is None:
        raise GraphError(
            f"step '{step}': class '{name}' not found (not in the graph namespace, not an importable path)"
        )
    if not callable(obj):
        raise GraphError(f"step '{step}': '{name}' is not a class or callable")
    return obj


def compile_expression_handler(expr: str, step: str) -> Callable:
    """``"(event + 1)"`` -> ``lambda event: (event + 1)``.

    The expression comes from the graph spec written by the function's author (like the rest of the
    function's code), never from request data.
    """
    try:
        code = compile(f"lambda event: {expr}", f"<step {step} handler>", "eval")
    except SyntaxError as exc:
        raise GraphError(f"step '{step}': handler expression {expr!r} is not valid Python: {exc.msg}")
    return eval(code, {"__builtins__": __builtins__})  # author-written spec, see docstring


def resolve_handler(handler, namespaces: list, step: str) -> Callable:
    """A callable for ``handler``: a callable, ``"(expr)"``, a name in the namespaces or a dotted path."""
    if callable(handler):
        return handler
    if not isinstance(handler, str) or not handler:
        raise GraphError(f"step '{step}': handler must be a callable or a string, got {handler!r}")
    if handler.startswith("(") and handler.endswith(")"):
        return compile_expression_handler(handler, step)
    obj = _lookup(handler, namespaces)
    if obj is None and "." in handler:
        try:
            obj = import_dotted(handler)
        except Exception as exc:
            raise GraphError(
                f"step '{step}': failed to import handler '{handler}': {type(exc).__name__}: {exc}"
            )
    if obj is None or not callable(obj):
        raise GraphError(
            f"step '{step}': handler '{handler}' not found (not in the graph namespace, not an importable path)"
        )
    return obj


def accepted_params(func) -> tuple[set, bool]:
    """(parameter names of ``func``, whether it takes ``**kwargs``)."""
    import inspect  # lazy: only used while a graph is compiled

    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return set(), True
    has_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return set(params), has_kwargs
