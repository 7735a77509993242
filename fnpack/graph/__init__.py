"""The serving-graph runtime: spec objects, compiled plans, the sync and async engines, GraphServer.

Standard library only: this package goes inside every function, and its import time is the
function's cold start.
"""

from .context import GraphContext, Logger, SecretsStore
from .errors import BadRequestError, ClientError, GraphError, NotFoundError, RequestTimeoutError, StepError
from .event import Event, MockEvent, Response, TriggerInfo, new_event_id
from .plan import DROP
from .server import GraphServer, create_graph_server, mock_server
from .steps import (
    BaseStep,
    ErrorStep,
    FlowStep,
    QueueStep,
    RootFlowStep,
    RouterStep,
    StepToDict,
    TaskStep,
    graph_from_dict,
    params_to_step,
    step_from_dict,
)
from .streams import DummyStream, get_stream_pusher, register_stream

__all__ = [
    "DROP",
    "BadRequestError",
    "BaseStep",
    "ClientError",
    "DummyStream",
    "ErrorStep",
    "Event",
    "FlowStep",
    "GraphContext",
    "GraphError",
    "GraphServer",
    "Logger",
    "MockEvent",
    "NotFoundError",
    "QueueStep",
    "RequestTimeoutError",
    "Response",
    "RootFlowStep",
    "RouterStep",
    "SecretsStore",
    "StepError",
    "StepToDict",
    "TaskStep",
    "TriggerInfo",
    "create_graph_server",
    "get_stream_pusher",
    "graph_from_dict",
    "mock_server",
    "new_event_id",
    "params_to_step",
    "register_stream",
    "step_from_dict",
]
