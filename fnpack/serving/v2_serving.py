"""``V2ModelServer``: the base class of a served model (lifecycle, hooks, per-operation dispatch).

Subclasses implement ``load()`` and ``predict(request)``. The V2 / Open Inference Protocol codec
(:mod:`fnpack.serving.oip`) and the URL scheme (:mod:`fnpack.serving.routers`) live elsewhere: this
class sees an operation name and a request body.

Statuses: bad requests are 400 naming the field; ``ready`` is 200 or 408; an HTTP request to a model
still loading (``load_mode="async"``) is a 408 (stream events wait for the load instead); a raising
``predict`` is the reference's 400 ``"<Exc>: <msg> (step <model>)"``. The caller's body is never
mutated. Open Inference Protocol requests get tensor outputs (binary ones when the client asks and
no ``result_path`` is set).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from ..graph.errors import BadRequestError, RequestTimeoutError, err_to_str
from ..graph.event import Response
from ..graph.paths import get_in, split_path, update_in
from ..graph.steps import StepToDict
from .clock import format_ns
from .oip import InferRequest, binary_response, decode_request, encode_outputs, printable
from .protocol import binary_reply, decode_body
from .tracking import ModelLogger, ModelStats, stream_context

_time_ns = time.time_ns
# which optional hooks a subclass overrides (the default ones are skipped per event)
_PRE, _VALIDATE, _POST = 1, 2, 4
_HTTP_TRIGGERS = frozenset(("", "http"))
_TEXT = (bytes, bytearray, str)
# arguments the graph compiler may pass that are not model parameters
_RUNTIME_ARGS = ("graph_step", "full_event", "routes")


class V2ModelServer(StepToDict):
    """A model served over the V2 protocol: ``infer``/``predict``, ``explain``, metadata, readiness.

    ``name`` may be ``"model:version"``. Extra keyword arguments are model parameters
    (:meth:`get_param`). Passing ``model=`` marks the model ready without calling :meth:`load`.
    """

    _dict_fields = ["model_path", "protocol"]
    # how long a stream event waits for a model that loads asynchronously (HTTP events get a 408)
    stream_ready_timeout = 250.0

    def __init__(
        self,
        context=None,
        name: str | None = None,
        model_path: str | None = None,
        model: Any = None,
        protocol: str | None = None,
        input_path: str | None = None,
        result_path: str | None = None,
        **kwargs,
    ):
        for key in _RUNTIME_ARGS:
            kwargs.pop(key, None)
        self.name = name
        self.version = ""
        if name and ":" in name:
            self.name, self.version = name.split(":", 1)
        self.context = context
        self.ready = False
        self.error = ""
        self.protocol = protocol or "v2"
        self.model_path = str(model_path) if model_path is not None else None
        self.model_spec = None
        self.model = None
        self.inputs: list | None = None  # input schema for metadata and infer_dict (set it in load())
        self.outputs: list | None = None  # output schema for metadata
        self.metrics: dict = {}
        self.labels: dict = {}
        self.stats = ModelStats()
        self._kwargs = kwargs
        self._params = kwargs
        self._input_path = input_path
        self._result_path = result_path
        self._in_keys = split_path(input_path)
        self._out_keys = split_path(result_path)
        self._model_logger: ModelLogger | None = None
        self._ready_event = threading.Event()
        self._validate_v2 = self.protocol == "v2"
        cls = type(self)
        self._hooks = (
            (_PRE if cls.preprocess is not V2ModelServer.preprocess else 0)
            | (_VALIDATE if cls.validate is not V2ModelServer.validate else 0)
            | (_POST if cls.postprocess is not V2ModelServer.postprocess else 0)
        )
        if model is not None:
            self.model = model
            self._set_ready()

    # --- lifecycle --------------------------------------------------------------------------------
    def post_init(self, mode: str | None = "sync", **kwargs) -> None:
        """Called once by the graph at init: start tracking, then load (``mode="async"``: in a thread)."""
        self._init_tracking()
        if self.ready:
            return
        if mode == "async":
            thread = threading.Thread(target=self._load_in_background, name=f"load-{self.name}", daemon=True)
            thread.start()
        else:
            self._load_and_update_state()

    def _init_tracking(self) -> None:
        if self.context is None:
            return
        stream = stream_context(self.context)
        if stream.enabled and stream.output_stream is not None:
            self._model_logger = ModelLogger(self, stream, self.context)

    def _load_and_update_state(self) -> None:
        try:
            self.load()
        except Exception as exc:
            self.error = err_to_str(exc)
            self._ready_event.set()
            raise RuntimeError(f"failed to load model {self.name}: {self.error}") from exc
        self._set_ready()

    def _load_in_background(self) -> None:
        try:
            self._load_and_update_state()
        except RuntimeError as exc:
            if self.context is not None:
                self.context.logger.error(str(exc))

    def _set_ready(self) -> None:
        self.ready = True
        self._ready_event.set()

    def wait_for_ready(self, timeout: float | None = None) -> bool:
        """Block until the model has loaded (or failed to); True when it is ready."""
        self._ready_event.wait(timeout)
        return self.ready

    # --- hooks (override) -----------------------------------------------------------------------
    def load(self) -> None:
        """Load the model (e.g. from :meth:`get_model`) into ``self.model``."""

    def predict(self, request: dict) -> Any:
        """Return the outputs for ``request["inputs"]``."""
        raise NotImplementedError(f"model {self.name}: predict() is not implemented")

    def explain(self, request: dict) -> Any:
        raise NotImplementedError(f"model {self.name}: explain() is not implemented")

    def preprocess(self, request: Any, operation: str) -> Any:
        return request

    def postprocess(self, response: dict) -> dict:
        return response

    def validate(self, request: Any, operation: str) -> Any:
        """Check the request before predict; the V2 protocol needs an ``inputs`` list."""
        if self._validate_v2:
            if request.__class__ is not dict and not isinstance(request, dict):
                raise BadRequestError(
                    f'Expected key "inputs" in request body (model {self.name}), got a {type(request).__name__} body'
                )
            inputs = request.get("inputs", _MISSING)
            if inputs is _MISSING:
                raise BadRequestError(f'Expected key "inputs" in request body (model {self.name})')
            if inputs.__class__ is not list and not isinstance(inputs, list):
                raise BadRequestError(f'Expected "inputs" to be a list (model {self.name})')
        return request

    def logged_results(self, request: dict, response: dict, op: str):
        """Return ``(inputs, outputs)`` to log instead of the whole request and response."""
        return None

    # --- helpers for subclasses -------------------------------------------------------------------
    def get_param(self, key: str, default=None):
        """A model parameter (constructor keyword), else the server parameter, else ``default``."""
        if key in self._params:
            return self._params[key]
        if self.context is not None:
            return self.context.get_param(key, default)
        return default

    def set_metric(self, name: str, value) -> None:
        """Attach a metric to the next tracking record."""
        self.metrics[name] = value

    def get_model(self, suffix: str = "") -> tuple[str, dict[str, str]]:
        """``(model file, {other file name: path})`` from ``model_path`` (a file or a directory).

        In a directory the file is ``model<suffix>`` when present, else the only/first file whose
        name ends with ``suffix``. Only local paths (and ``file://``) are supported.
        """
        path = self.model_path
        if not path:
            raise ValueError(f"model {self.name}: model_path is not set")
        if path.startswith("file://"):
            path = path[len("file://") :]
        elif "://" in path:
            raise ValueError(f"model {self.name}: unsupported model_path {path!r}, use a local path")
        if os.path.isfile(path):
            return path, {}
        if not os.path.isdir(path):
            raise FileNotFoundError(f"model {self.name}: model_path {path!r} does not exist")
        files = sorted(f for f in os.listdir(path) if os.path.isfile(os.path.join(path, f)))
        preferred = f"model{suffix}"
        matches = [f for f in files if f.endswith(suffix)] if suffix else files
        if not matches:
            raise FileNotFoundError(f"model {self.name}: no file ending with {suffix!r} in {path!r}")
        chosen = preferred if preferred in matches else matches[0]
        extra = {f: os.path.join(path, f) for f in files if f != chosen}
        return os.path.join(path, chosen), extra

    # --- events -----------------------------------------------------------------------------------
    def do_event(self, event, *args, **kwargs):
        """Serve one event: the operation is the path (set by a router), ``body["operation"]`` or infer."""
        original = event.body
        body = get_in(original, self._in_keys) if self._in_keys and original is not None else original
        path = event.path
        op = path.strip("/") if path and path != "/" else ""
        event_id = None
        if body.__class__ is dict:
            if not op:
                op = body.get("operation") or ""
            event_id = body.get("id")
        elif body is not None and body.__class__ in _TEXT and event.method != "GET":
            body = decode_body(event, body)
            if body.__class__ is dict:
                op = op or body.get("operation") or ""
                event_id = body.get("id")
        if event_id is None:
            event_id = event.id
        method = event.method
        if not op and method != "GET":
            op = "infer"

        if op == "infer" or op == "predict":
            response = self._infer(event, body, op, event_id, False)
        elif op == "ready" and method == "GET":
            event.body = self._readiness(event_id)
            event.terminated = True
            return event
        elif not op and method == "GET":
            response = self.metadata()
            event.terminated = True
        elif op == "explain":
            response = self._infer(event, body, op, event_id, True)
        elif op == "infer_dict" or op == "predict_dict":
            response = self._infer(event, self._dict_inputs_to_lists(body), op, event_id, False)
        elif op.isidentifier() and hasattr(self, "op_" + op):
            response = getattr(self, "op_" + op)(event)
        else:
            raise BadRequestError(
                f"illegal model operation {printable(op)}, method={printable(str(method))} (model {self.name})"
            )
        event.body = update_in(original, self._out_keys, response) if self._out_keys else response
        return event

    def _infer(self, event, body, op: str, event_id, explain: bool) -> dict:
        start_ns = _time_ns()
        request = body
        try:
            if not self.ready:
                self._wait_ready(event)
            tensors: InferRequest | None = None
            if body.__class__ is dict:
                inputs = body.get("inputs")
                if (
                    inputs.__class__ is list
                    and inputs
                    and inputs[0].__class__ is dict
                    and "datatype" in inputs[0]
                ):
                    tensors = decode_request(body)
                    request = dict(body)
                    request["inputs"] = tensors.v2_inputs()
                    request["tensors"] = tensors.inputs
            hooks = self._hooks
            if hooks:
                if hooks & _PRE:
                    request = self.preprocess(request, op)
                if hooks & _VALIDATE:
                    request = self.validate(request, op)
            elif self._validate_v2 and (
                request.__class__ is not dict or request.get("inputs").__class__ is not list
            ):
                self.validate(request, op)  # raises the precise error
            if explain:
                outputs = self.explain(request)
                response = {"id": event_id, "model_name": self.name, "outputs": outputs}
            else:
                outputs = self.predict(request)
                response = {
                    "id": event_id,
                    "model_name": self.name,
                    "outputs": outputs,
                    "timestamp": format_ns(start_ns),
                }
            if self.version:
                response["model_version"] = self.version
            if hooks & _POST:
                response = self.postprocess(response)
            if tensors is not None and response.__class__ is dict:
                response["outputs"] = encode_outputs(response.get("outputs"), tensors.outputs)
        except Exception as exc:
            self.stats.record((_time_ns() - start_ns) / 1000, error=True)
            if self._model_logger is not None:
                self._model_logger.push_error(request, op, start_ns, err_to_str(exc))
            raise
        microsec = (_time_ns() - start_ns) / 1000
        stats = self.stats
        stats.requests += 1
        stats.total_us += microsec
        if microsec > stats.max_us:
            stats.max_us = microsec
        stats.recent.append(microsec)
        if self._model_logger is not None:
            metrics = self.metrics
            if metrics:
                self.metrics = {}
            self._model_logger.push(request, op, response, start_ns, int(microsec), metrics)
        if tensors is not None and not self._out_keys and response.__class__ is dict:
            packed = binary_response(response, tensors)
            if packed is not None:
                return binary_reply(self.context, *packed)
        return response

    def _wait_ready(self, event) -> None:
        if not self.error:
            trigger = event.trigger
            kind = getattr(trigger, "kind", trigger) or ""
            if kind in _HTTP_TRIGGERS:
                raise RequestTimeoutError(f"model {self.name} is not ready yet")
            if not self._ready_event.wait(self.stream_ready_timeout):
                raise RequestTimeoutError(
                    f"model {self.name} was not ready after {self.stream_ready_timeout:g}s"
                )
        if self.error:
            raise RuntimeError(f"model {self.name} failed to load: {self.error}")

    def _readiness(self, event_id):
        response_class = getattr(self.context, "Response", None) or Response
        if self.ready:
            body = f"Model {self.name} is ready (event_id = {event_id})".encode()
            return response_class(body=body, content_type="text/plain", status_code=200)
        return response_class(body=b"model not ready", content_type="text/plain", status_code=408)

    def metadata(self) -> dict:
        """``{"name", "version", "inputs", "outputs"}`` (what ``GET /v2/models/<m>`` returns)."""
        return {
            "name": self.name,
            "version": self.version or "",
            "inputs": self.inputs or [],
            "outputs": self.outputs or [],
        }

    def _dict_inputs_to_lists(self, body):
        """``infer_dict``: reorder dict inputs into lists by the input schema (``self.inputs``)."""
        names = [f.get("name") if isinstance(f, dict) else f for f in self.inputs or []]
        if not names:
            raise BadRequestError(
                f"model {self.name}: infer_dict needs the model's input schema, set self.inputs in load()"
            )
        if not isinstance(body, dict):
            raise BadRequestError(f'Expected key "inputs" in request body (model {self.name})')
        inputs = body.get("inputs")
        rows = [inputs] if isinstance(inputs, dict) else inputs
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise BadRequestError(
                f'"inputs" must be a dict or a list of dicts for infer_dict (model {self.name})'
            )
        converted = []
        for row in rows:
            missing = [n for n in names if n not in row]
            if missing:
                raise BadRequestError(
                    f"Input dictionary don't contain all the necessary input keys : {missing}"
                )
            converted.append([row[n] for n in names])
        request = dict(body)
        request["inputs"] = converted
        return request


_MISSING = object()
