"""Step classes and handlers for packager tests (this module is a local file: it goes by value)."""

from __future__ import annotations


def describe(event):
    """A full-event handler: what the graph saw, as JSON-ready data."""
    body = event.body
    return {
        "body": body if not isinstance(body, bytes) else {"bytes": body.decode("latin-1")},
        "body_type": type(body).__name__,
        "path": event.path,
        "method": event.method,
        "content_type": event.content_type,
        "stream_path": event.stream_path,
        "trigger": event.trigger.kind,
        "id": event.id,
        "header_x": event.headers.get("X-Test"),
        "header_types": sorted({type(k).__name__ for k in event.headers}),
    }


class Scale:
    """Multiply ``body["x"]`` (a plain class with a context-free constructor)."""

    def __init__(self, factor: int = 2, **kwargs):
        self.factor = factor

    def do(self, body):
        body["x"] = body["x"] * self.factor
        return body


def add_one(body):
    body["x"] = body["x"] + 1
    return body


def tag(body):
    body["tagged"] = True
    return body


def five_step_function(name: str = "five"):
    """A 5-step sync flow used by the fresh-interpreter tests and the cold-start bench."""
    from fnpack import new_function

    fn = new_function(name, project="tests")
    graph = fn.set_topology("flow", engine="sync")
    (
        graph.to(name="s1", handler=add_one)
        .to(Scale, name="s2", factor=3)
        .to(name="s3", handler=add_one)
        .to(Scale, name="s4", factor=2)
        .to(name="s5", handler=tag)
    )
    return fn
