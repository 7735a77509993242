"""Multi-function graphs (reference 1.16): the checks of the root function and the configs of its children.

A child function carries the parent's whole graph, runs only its own steps (``SERVING_CURRENT_FUNCTION``)
and reads the queue that feeds it through a Kafka trigger built from the queue's ``kafka://`` path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..graph.steps import FlowStep, QueueStep
from .errors import BuildError
from .triggers import kafka_trigger

if TYPE_CHECKING:
    from .function import ServingFunction


def child_functions(fn: ServingFunction) -> list[str]:
    graph = fn.spec.graph
    return graph.list_child_functions() if isinstance(graph, FlowStep) else []


def check_children(fn: ServingFunction) -> None:
    """Every function named by a step must be registered (reference wording)."""
    for name in child_functions(fn):
        if name not in fn.spec.function_refs:
            raise BuildError(
                f"function {name} is used in steps and is not defined, "
                "use the .add_child_function() to specify child function attributes"
            )


def feeding_queue(fn: ServingFunction, child: str) -> QueueStep | None:
    """The queue step whose downstream steps run in ``child``."""
    graph = fn.spec.graph
    if not isinstance(graph, FlowStep):
        return None
    steps = graph.steps
    for step in steps.values():
        if step.function != child:
            continue
        for parent in step.after or []:
            if isinstance(steps.get(parent), QueueStep):
                return steps[parent]
    return None


def _kafka_target(queue: QueueStep) -> tuple[list[str], str] | None:
    path = queue.path or ""
    if not path.startswith("kafka://"):
        return None
    parts = urlsplit(path)
    topic = parts.path.strip("/")
    brokers = parts.netloc if topic else ""
    topic = topic or parts.netloc
    option = (queue.options or {}).get("kafka_brokers")
    if option:
        return ([option] if isinstance(option, str) else list(option)), topic
    return [b for b in brokers.split(",") if b], topic


def child_trigger(fn: ServingFunction, child: str) -> tuple[str, dict] | None:
    """``(trigger name, trigger)`` that feeds ``child`` from its queue, when the queue is a Kafka topic."""
    queue = feeding_queue(fn, child)
    if queue is None:
        return None
    target = _kafka_target(queue)
    if target is None:
        return None
    brokers, topic = target
    if not brokers:
        raise BuildError(
            f"queue step '{queue.name}' ({queue.path}) names no brokers: use kafka://host:port/{topic} "
            "or the kafka_brokers option, so the child function's trigger knows where to read"
        )
    trigger = kafka_trigger(brokers, [topic], f"{child}-consumer-group")
    trigger["attributes"].update((queue.trigger_args or {}).get("attributes", {}))
    extra = {k: v for k, v in (queue.trigger_args or {}).items() if k != "attributes"}
    trigger.update(extra)
    return f"{child}-queue", trigger


def uses_kafka(fn: ServingFunction) -> bool:
    """Whether the graph pushes to Kafka (queue steps, error stream or tracking stream)."""
    spec = fn.spec
    paths = [spec.error_stream or "", str(spec.parameters.get("log_stream") or "")]
    graph = spec.graph
    if isinstance(graph, FlowStep):
        for step in graph.steps.values():
            if isinstance(step, QueueStep):
                paths.append(step.path or "")
                if (step.options or {}).get("kafka_brokers"):
                    return True
    return any(p.startswith("kafka://") for p in paths)
