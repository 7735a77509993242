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
from .ensemble import VotingEnsemble
from .merger import Merge
from .model_runner import (
    Model,
    ModelRunner,
    ModelRunnerError,
    ModelRunnerSelector,
    ModelRunnerStep,
    ModelSelector,
)
from .oip import InferRequest, Tensor
from .remote import BatchHttpRequests, RemoteStep
from .routers import BaseModelRouter, ModelRouter, ParallelRun
from .tracking import ModelStats, server_stats
from .v2_serving import V2ModelServer

__all__ = [
    "BaseModelRouter",
    "BatchHttpRequests",
    "ErrorStep",
    "FlowStep",
    "GraphContext",
    "GraphError",
    "GraphServer",
    "InferRequest",
    "Merge",
    "MockEvent",
    "Model",
    "ModelRouter",
    "ModelRunner",
    "ModelRunnerError",
    "ModelRunnerSelector",
    "ModelRunnerStep",
    "ModelSelector",
    "ModelStats",
    "ParallelRun",
    "QueueStep",
    "RemoteStep",
    "Response",
    "RootFlowStep",
    "RouterStep",
    "StepToDict",
    "TaskStep",
    "Tensor",
    "V2ModelServer",
    "VotingEnsemble",
    "create_graph_server",
    "server_stats",
]
