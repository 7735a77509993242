"""Model serving on top of the graph runtime.

Every public name of the reference's serving module is importable from here (and from ``fnpack``).
"""

from ..graph import (
    GraphContext,
    GraphError,
    GraphServer,
    MockEvent,
    QueueStep,
    Response,
    RootFlowStep,
    RouterStep,
    StepToDict,
    TaskStep,
    create_graph_server,
)
from ..graph.steps import ErrorStep, FlowStep
from .merger import Merge
from .remote import BatchHttpRequests, RemoteStep

__all__ = [
    "BatchHttpRequests",
    "RemoteStep",
    "ErrorStep",
    "FlowStep",
    "GraphContext",
    "GraphError",
    "GraphServer",
    "Merge",
    "MockEvent",
    "QueueStep",
    "Response",
    "RootFlowStep",
    "RouterStep",
    "StepToDict",
    "TaskStep",
    "create_graph_server",
]
