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


def model_router_function(name: str = "models"):
    """A router topology with two V2 models (a by-value subclass of fnpack.serving.V2ModelServer)."""
    from fnpack import new_function
    from fnpack.serving import V2ModelServer

    class Multiplier(V2ModelServer):
        def load(self):
            self.model = self.get_param("multiplier", 1)

        def predict(self, request):
            return [x * self.model for x in request["inputs"]]

    fn = new_function(name, project="tests")
    fn.add_model("m1", class_name=Multiplier, model_path="/models/m1", multiplier=3)
    fn.add_model("m2:v2", class_name=Multiplier, model_path="/models/m2", multiplier=10)
    fn.with_http(workers=2)
    return fn


def async_flow_function(name: str = "async-flow"):
    """The 5 steps on the async engine (drained by the termination callback)."""
    fn = five_step_function(name)
    fn.spec.graph.engine = "async"
    fn.spec.graph.steps["s5"].respond()
    return fn
