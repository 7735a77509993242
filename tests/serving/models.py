"""Model classes shared by the serving tests."""

from __future__ import annotations

import threading

from fnpack.serving import V2ModelServer


class Multiplier(V2ModelServer):
    """``outputs = inputs * multiplier`` (a model parameter), with an explain and a custom op."""

    def load(self):
        self.model = self.get_param("multiplier", 1)

    def predict(self, request):
        return [x * self.model for x in request["inputs"]]

    def explain(self, request):
        return {"explained": len(request["inputs"])}

    def op_echo(self, event):
        return {"echo": event.body}


class FloatModel(V2ModelServer):
    """Returns floats (``inputs * multiplier`` as float)."""

    def load(self):
        self.model = float(self.get_param("multiplier", 1))

    def predict(self, request):
        return [x * self.model for x in request["inputs"]]


class Classifier(V2ModelServer):
    """Returns a fixed label per sample (the ``label`` parameter)."""

    def predict(self, request):
        return [self.get_param("label") for _ in request["inputs"]]

    def load(self):
        pass


class Failing(V2ModelServer):
    def load(self):
        pass

    def predict(self, request):
        raise ValueError("predict went wrong")


class FailingLoad(V2ModelServer):
    def load(self):
        raise OSError("no such model file")

    def predict(self, request):  # pragma: no cover - never ready
        return []


class GatedLoad(V2ModelServer):
    """``load()`` blocks until the test opens the class gate (async load tests)."""

    gate = threading.Event()

    def load(self):
        if not self.gate.wait(10):
            raise TimeoutError("gate never opened")
        self.model = 1

    def predict(self, request):
        return request["inputs"]


class Hooked(V2ModelServer):
    """Every hook leaves a trace in the response."""

    def load(self):
        pass

    def preprocess(self, request, operation):
        return {"inputs": [x + 1 for x in request["inputs"]], "op": operation}

    def validate(self, request, operation):
        if any(x < 0 for x in request["inputs"]):
            raise ValueError("negative input")
        return request

    def predict(self, request):
        return request["inputs"]

    def postprocess(self, response):
        response["post"] = True
        return response
