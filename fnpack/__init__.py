"""fnpack: package serving graphs into nuclio functions, run them locally, deploy them.

Public names are resolved lazily so that ``import fnpack`` stays cheap: a function worker only
pays for what its graph uses.
"""

from __future__ import annotations

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    # runtime core
    "GraphServer": "fnpack.graph.server",
    "GraphContext": "fnpack.graph.context",
    "create_graph_server": "fnpack.graph.server",
    "MockEvent": "fnpack.graph.event",
    "Response": "fnpack.graph.event",
    "GraphError": "fnpack.graph.errors",
    "BaseStep": "fnpack.graph.steps",
    "TaskStep": "fnpack.graph.steps",
    "RouterStep": "fnpack.graph.steps",
    "QueueStep": "fnpack.graph.steps",
    "FlowStep": "fnpack.graph.steps",
    "RootFlowStep": "fnpack.graph.steps",
    "ErrorStep": "fnpack.graph.steps",
    "StepToDict": "fnpack.graph.steps",
    "graph_from_dict": "fnpack.graph.steps",
    # function builder
    "new_function": "fnpack.package.function",
    "ServingFunction": "fnpack.package.function",
    "code_to_function": "fnpack.package.function",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        # model-serving names live in fnpack.serving; delegate so both import paths work
        if not name.startswith("_"):
            import fnpack.serving as serving

            if name in getattr(serving, "__all__", ()):
                return getattr(serving, name)
        raise AttributeError(f"module 'fnpack' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
