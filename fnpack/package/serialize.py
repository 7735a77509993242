"""Which classes and handlers of a graph travel by value (cloudpickle) and which by import path.

Rule: objects defined in ``__main__``, a notebook, a local (not installed) module, or inside a function
go by value; objects of installed modules (site-packages, stdlib) and of fnpack go by import path. The
user can force either per object or per module. The pickled payload is made here, at build time, and
only ever loaded by the function's own worker from its own packaged spec.
"""

from __future__ import annotations

import base64
import inspect
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..graph.resolve import import_dotted
from ..graph.steps import BaseStep, FlowStep, RouterStep, TaskStep
from .errors import BuildError

# names the runtime resolves itself (the embedded fnpack runtime, the reference's aliases)
_RUNTIME_PREFIXES = ("fnpack.", "mlrun.serving.", "mlrun.")
_SPECIAL_CLASSES = ("$remote", "$queue", ">>")
_REMOTE_CLASSES = ("$remote", "RemoteStep", "BatchHttpRequests")


@dataclass
class Serialization:
    """The outcome: by-value objects keyed by their name in the spec, and what the function must install."""

    by_value: dict[str, Any] = field(default_factory=dict)
    by_reference: dict[str, str] = field(default_factory=dict)  # name -> module
    embedded: set[str] = field(default_factory=set)  # names defined in embedded user code
    unresolved: list[str] = field(default_factory=list)  # dotted names not importable here (warnings)
    renames: dict[str, str] = field(default_factory=dict)  # short name in the spec -> its import path
    needs_remote: bool = False
    local_modules: set[str] = field(default_factory=set)

    def payload(self) -> str | None:
        """base64 of the cloudpickle of the by-value objects, or None when there are none."""
        if not self.by_value:
            return None
        import cloudpickle

        registered = []
        for name in sorted(self.local_modules):
            module = sys.modules.get(name)
            if module is not None and name not in cloudpickle.list_registry_pickle_by_value():
                cloudpickle.register_pickle_by_value(module)
                registered.append(module)
        try:
            try:
                data = cloudpickle.dumps(self.by_value)
            except Exception:
                for name, obj in self.by_value.items():  # find the culprit, for a one-line error
                    try:
                        cloudpickle.dumps(obj)
                    except Exception as exc:
                        raise BuildError(
                            f"cannot serialize {name!r} by value with cloudpickle: {type(exc).__name__}: {exc}"
                        )
                raise
        finally:
            for module in registered:
                cloudpickle.unregister_pickle_by_value(module)
        return base64.b64encode(data).decode("ascii")


def iter_tasks(step: BaseStep | None) -> Iterator[TaskStep]:
    """Every task/router step of a graph, depth first."""
    if step is None:
        return
    if isinstance(step, TaskStep):
        yield step
    if isinstance(step, RouterStep):
        for route in step.routes.values():
            yield from iter_tasks(route)
    if isinstance(step, FlowStep):
        for child in step.steps.values():
            yield from iter_tasks(child)


def _lookup(name: str, namespaces: list) -> Any:
    for namespace in namespaces:
        if isinstance(namespace, dict):
            if name in namespace:
                return namespace[name]
        elif namespace is not None and hasattr(namespace, name):
            return getattr(namespace, name)
    return None


def _member(obj: Any, items: set) -> bool:
    try:
        return obj in items
    except TypeError:  # an unhashable object cannot have been forced
        return False


def _installed_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots |= {p for p in sys.path if p and ("site-packages" in p or "dist-packages" in p)}
    return tuple(os.path.realpath(p) + os.sep for p in roots if p)


def is_installed_module(module_name: str | None) -> bool:
    """True when the module comes from an installed distribution or the stdlib (so the image can import it)."""
    if not module_name or module_name == "__main__":
        return False
    top = module_name.split(".")[0]
    if top == "fnpack" or top in sys.builtin_module_names:
        return True
    module = sys.modules.get(module_name) or sys.modules.get(top)
    path = getattr(module, "__file__", None)
    if path is None:
        return module is not None and top in getattr(sys, "stdlib_module_names", ())
    return os.path.realpath(path).startswith(_installed_roots())


class Serializer:
    """Walks a graph and decides, for each class and handler it names, how it reaches the worker."""

    def __init__(
        self,
        namespaces: list,
        embedded_names: set[str] | None = None,
        force_value: set | None = None,
        force_reference: set | None = None,
    ):
        self.namespaces = [ns for ns in namespaces if ns is not None]
        self.embedded_names = embedded_names or set()
        self.force_value = force_value or set()
        self.force_reference = force_reference or set()
        self.result = Serialization()

    def run(self, graph: BaseStep | None, graph_initializer=None) -> Serialization:
        for step in iter_tasks(graph):
            name = step.name or step.kind
            class_name = step.class_name
            if class_name and any(class_name.endswith(c) for c in _REMOTE_CLASSES):
                self.result.needs_remote = True
            if step.class_object is not None or (class_name and class_name not in _SPECIAL_CLASSES):
                self._add(class_name, step.class_object, name, "class")
            elif not class_name and step.handler and not isinstance(step, RouterStep):
                handler = step.handler
                if not (handler.startswith("(") and handler.endswith(")")):
                    self._add(handler, step.handler_object, name, "handler")
            for key, value in (step.class_args or {}).items():
                if key.startswith("_") and isinstance(value, str) and not value.startswith("("):
                    self._add(value, None, name, "handler")
            for ref, obj in getattr(step, "nested_classes", list)():  # e.g. a ModelRunnerStep's models
                self._add(ref, obj, name, "class")
        if graph_initializer is not None:
            if callable(graph_initializer):
                qualname = getattr(graph_initializer, "__qualname__", "graph_initializer")
                self._add(qualname, graph_initializer, "graph_initializer", "handler")
            elif isinstance(graph_initializer, str):
                self._add(graph_initializer, None, "graph_initializer", "handler")
        return self.result

    def _add(self, name: str, obj: Any, step: str, what: str) -> None:
        result = self.result
        if name in result.by_value or name in result.by_reference or name in result.embedded:
            return
        if name in self.embedded_names:
            result.embedded.add(name)  # defined by the user code embedded in the function
            return
        if obj is None:
            obj = _lookup(name, self.namespaces)
        if obj is None and "." in name:
            if name.startswith(_RUNTIME_PREFIXES):
                result.by_reference[name] = name.rsplit(".", 1)[0]
                return
            try:
                obj = import_dotted(name)
            except Exception:
                obj = None
            if obj is None:
                result.unresolved.append(name)  # may come from the function's requirements
                result.by_reference[name] = name.rsplit(".", 1)[0]
                return
        if obj is None:
            raise BuildError(
                f"step '{step}': {what} '{name}' not found: define it in the module you build, "
                "import it there, or give its import path (package.module.Name)"
            )
        if self._by_value(obj):
            result.by_value[name] = obj
            module = getattr(obj, "__module__", None)
            if module and module != "__main__":
                result.local_modules.add(module)
        else:
            full = self._check_reference(name, obj, step, what)
            result.by_reference[full] = getattr(obj, "__module__", "")
            if full != name:
                result.renames[name] = full

    def _by_value(self, obj: Any) -> bool:
        module = getattr(obj, "__module__", None)
        if _member(obj, self.force_reference) or module in self.force_reference:
            return False
        if _member(obj, self.force_value) or module in self.force_value:
            return True
        qualname = getattr(obj, "__qualname__", "")
        return "<locals>" in qualname or not is_installed_module(module)

    @staticmethod
    def _check_reference(name: str, obj: Any, step: str, what: str) -> str:
        """The import path of ``obj`` (checked to import back to it)."""
        module = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None)
        if not module or module == "__main__" or not qualname or "<locals>" in qualname:
            raise BuildError(
                f"step '{step}': {what} '{name}' cannot go by import path (it is defined in {module or 'no module'}); "
                "let it go by value"
            )
        full = f"{module}.{qualname}"
        try:
            target = import_dotted(full)
        except Exception:
            target = None
        if target is not obj and not inspect.ismethod(obj):
            raise BuildError(
                f"step '{step}': {what} '{name}' is not importable as {full}; let it go by value"
            )
        return full


def reference_imports(serialization: Serialization) -> list[str]:
    """Top-level modules the by-reference names need in the function (excluding fnpack and the stdlib)."""
    tops = set()
    stdlib = getattr(sys, "stdlib_module_names", ())
    for module in serialization.by_reference.values():
        top = module.split(".")[0]
        if top and top not in ("fnpack", "mlrun") and top not in stdlib:
            tops.add(top)
    return sorted(tops)
