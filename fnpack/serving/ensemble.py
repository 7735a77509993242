"""``VotingEnsemble``: run every model route and vote (classification) or average (regression).

Decisions that differ from the reference (its latent quirks, fixed deliberately):

- **Vote type.** An explicit ``vote_type`` ("classification" or "regression") always wins. When it is
  not set it is inferred on every event from the *type* of the predictions, never from their values:
  any float (Python float or a numpy float array, even ``2.0``) means regression; ints, bools and
  strings mean classification. A regression model that returns Python ints must say
  ``vote_type="regression"``; it is then averaged, never voted.
- **Weights** (a dict by model, or a list in route order) are validated at init (known models,
  finite, non-negative, positive sum) and normalized to sum 1; models missing from a dict weigh 0.
- **Path-less requests** go where they go in every router: ``body["model"]``, else the default
  model, i.e. the first entry of ``GET /v2/models/`` -- for the ensemble that is the ensemble itself.
- **Column outputs.** Models answering ``{prediction_col_name: [...]}`` are read from that column and the
  vote is answered in the same form, per event (the reference switched a flag on for good).
- **Failures.** A failing model fails the request, naming the model (``ignore_errors=True`` leaves it
  out and renormalizes the remaining weights).
"""

from __future__ import annotations

import math
import time
from typing import Any

from ..graph.errors import BadRequestError, NotFoundError, err_to_str
from ..graph.event import Response
from .oip import binary_response, decode_request, encode_outputs, is_tensor_request, printable
from .protocol import binary_reply, server_metadata
from .routers import ParallelRun
from .tracking import ModelLogger, ModelStats, stream_context

VOTE_TYPES = ("classification", "regression")
_ENSEMBLE_OPS = ("infer", "predict", "explain")
_time_ns = time.time_ns
_perf_ns = time.perf_counter_ns


class VotingEnsemble(ParallelRun):
    """A router whose own operation runs all its models and combines their ``outputs`` per sample.

    ``/v2/models/<name>/<op>`` (``name`` defaults to ``VotingEnsemble``), ``/v2/models/infer`` and
    path-less requests vote; ``/v2/models/<model>/...`` reaches one model. The response is
    ``{"id", "model_name", "outputs", "model_version", "model_outputs": {model: its outputs}}``.
    """

    _dict_fields = [
        *ParallelRun._dict_fields,
        "vote_type",
        "weights",
        "prediction_col_name",
        "format_response_with_col_name_flag",
        "version",
    ]

    def __init__(
        self,
        context=None,
        name: str | None = None,
        routes: dict | None = None,
        protocol: str | None = None,
        url_prefix: str | None = None,
        health_prefix: str | None = None,
        vote_type: str | None = None,
        executor_type: str | None = None,
        prediction_col_name: str | None = None,
        format_response_with_col_name_flag: bool = False,
        weights: dict | list | None = None,
        input_path: str | None = None,
        result_path: str | None = None,
        **kwargs,
    ):
        graph_step = kwargs.get("graph_step")
        if graph_step is not None:
            # the graph names a root router "router"; the ensemble's own default name is the reference's
            name = graph_step.name
        version = kwargs.pop("version", "v1")
        super().__init__(
            context,
            name or "VotingEnsemble",
            routes,
            protocol,
            url_prefix,
            health_prefix,
            executor_type=executor_type,
            input_path=input_path,
            result_path=result_path,
            **kwargs,
        )
        if vote_type is not None and vote_type not in VOTE_TYPES:
            raise ValueError(f"vote_type {vote_type!r} must be 'classification' or 'regression'")
        self.version = version
        self.vote_type = vote_type
        self.prediction_col_name = prediction_col_name
        self.format_response_with_col_name_flag = format_response_with_col_name_flag or None
        self._column = prediction_col_name or "prediction"
        self.weights = weights
        self._weights = normalize_weights(weights, list(self.routes))
        self.stats = ModelStats()
        self.labels: dict = {}
        self._model_logger: ModelLogger | None = None

    def post_init(self, mode: str | None = "sync", **kwargs) -> None:
        super().post_init(mode, **kwargs)
        if self.context is not None:
            stream = stream_context(self.context)
            if stream.enabled and stream.output_stream is not None:
                self._model_logger = ModelLogger(self, stream, self.context)

    def logged_results(self, request: dict, response: dict, op: str):
        return None

    def model_list(self) -> list[str]:
        return [self.name, *self.routes]

    # --- routing ------------------------------------------------------------------------------------
    def _handle_event(self, event):
        method = event.method or "POST"
        kind, model, version, op = self._classify(event)
        if kind == "server":
            return self._finish(event, server_metadata(type(self).__name__))
        if kind == "list":
            return self._finish(event, {"models": self.model_list(), "weights": dict(self._weights)})
        body = self._decoded_body(event, method)
        if kind == "stream":
            model = (body.get("model") if body.__class__ is dict else None) or self.default_route_key()
            op = (body.get("operation") if body.__class__ is dict else None) or "infer"
        elif model in _ENSEMBLE_OPS and not version and not op:
            model, op = self.name, model  # /v2/models/infer: the ensemble (reference form)
        elif body.__class__ is dict:
            op = body.get("operation") or op
        if model == self.name:
            return self._ensemble_op(event, op, method, body)
        route = self.routes.get(f"{model}:{version}" if version else model)
        if route is None:
            raise self._unknown(model, version)
        event.path = op
        return route.run(event)

    def _ensemble_op(self, event, op: str, method: str, body):
        if not op and method == "GET":
            return self._finish(event, self.metadata())
        if op == "ready" and method == "GET":
            ready = all(getattr(route.object, "ready", True) for route in self.routes.values())
            response_class = getattr(self.context, "Response", None) or Response
            text = (
                f"Model {self.name} is ready (event_id = {event.id})".encode()
                if ready
                else b"model not ready"
            )
            return self._finish(
                event, response_class(body=text, content_type="text/plain", status_code=200 if ready else 408)
            )
        if op and op not in _ENSEMBLE_OPS:
            raise BadRequestError(
                f"illegal model operation {printable(op)}, method={method} (model {self.name})"
            )
        event.body = self._vote_request(event, op or "infer", body)
        return event

    def metadata(self) -> dict:
        """Name and version of the ensemble, inputs/outputs of the first model that declares them."""
        for route in self.routes.values():
            meta = route.object.metadata() if hasattr(route.object, "metadata") else {}
            if meta.get("inputs") or meta.get("outputs"):
                return {
                    "name": self.name,
                    "version": self.version,
                    "inputs": meta["inputs"],
                    "outputs": meta["outputs"],
                }
        return {"name": self.name, "version": self.version, "inputs": [], "outputs": []}

    # --- voting ---------------------------------------------------------------------------------------
    def _vote_request(self, event, op: str, body):
        start_ns = _time_ns()
        t0 = _perf_ns()
        try:
            tensors = None
            if is_tensor_request(body):
                tensors = decode_request(body)
                child_body = {"inputs": tensors.v2_inputs()}
                if "id" in body:
                    child_body["id"] = body["id"]
            else:
                if body.__class__ is not dict or "inputs" not in body:
                    raise BadRequestError(f'Expected key "inputs" in request body (model {self.name})')
                if not isinstance(body["inputs"], list):
                    raise BadRequestError(f'Expected "inputs" to be a list (model {self.name})')
                child_body = body
            results = self.fan_out(event, op, child_body)
            per_model = {}
            in_column = bool(self.format_response_with_col_name_flag)
            for key, result in results:
                per_model[key], from_column = self._model_outputs(key, result)
                in_column = in_column or from_column
            votes = self.vote(per_model)
            event_id = body.get("id") if body.__class__ is dict else None
            outputs: Any = encode_outputs(votes, tensors.outputs) if tensors is not None else votes
            if in_column and tensors is None:
                outputs = {self._column: votes}
            response = {
                "id": event_id if event_id is not None else event.id,
                "model_name": self.name,
                "outputs": outputs,
                "model_version": self.version,
                "model_outputs": per_model,
            }
        except Exception as exc:
            self.stats.record((_perf_ns() - t0) / 1000, error=True)
            if self._model_logger is not None:
                self._model_logger.push_error(body, op, start_ns, err_to_str(exc))
            raise
        microsec = (_perf_ns() - t0) / 1000
        self.stats.record(microsec)
        if self._model_logger is not None:
            self._model_logger.push(body, op, response, start_ns, int(microsec), None)
        if tensors is not None and not self._out_keys:
            packed = binary_response(response, tensors)
            if packed is not None:
                return binary_reply(self.context, *packed)
        return response

    def _model_outputs(self, key: str, result: Any) -> tuple[list, bool]:
        """(predictions of one model, whether they came under ``prediction_col_name`` in a dict)."""
        outputs = result.get("outputs") if isinstance(result, dict) else None
        if outputs is None:
            raise ValueError(f"model {key} returned no outputs")
        in_column = isinstance(outputs, dict)
        if in_column:
            if self._column not in outputs:
                raise ValueError(
                    f"model {key}: prediction_col_name {self._column!r} is not in its outputs {sorted(outputs)}"
                )
            outputs = outputs[self._column]
        if hasattr(outputs, "tolist"):
            outputs = outputs.tolist()
        if not isinstance(outputs, (list, tuple)):
            raise ValueError(
                f"model {key} returned outputs of type {type(outputs).__name__}, expected a list"
            )
        return list(outputs), in_column

    def vote(self, per_model: dict[str, list]) -> list:
        """Combine ``{model: [prediction per sample]}`` into one prediction per sample."""
        if not per_model:
            raise NotFoundError(f"ensemble {self.name}: no model returned a result")
        keys = list(per_model)
        columns = [per_model[k] for k in keys]
        count = len(columns[0])
        for key, column in zip(keys, columns):
            if len(column) != count:
                raise ValueError(
                    f"model {key} returned {len(column)} predictions, model {keys[0]} returned {count}"
                )
        weights = [self._weights.get(k, 0.0) for k in keys]
        total = sum(weights)
        if total <= 0:
            raise ValueError(f"ensemble {self.name}: the models that answered all have weight 0")
        if total != 1.0:
            weights = [w / total for w in weights]
        vote_type = self.vote_type or infer_vote_type(columns)
        if vote_type == "regression":
            return [_weighted_mean([c[i] for c in columns], weights, keys) for i in range(count)]
        return [_weighted_vote([c[i] for c in columns], weights) for i in range(count)]


def infer_vote_type(columns: list[list]) -> str:
    """``regression`` when any prediction is a float (whatever its value), else ``classification``."""
    for column in columns:
        for value in column:
            if _has_float(value):
                return "regression"
    return "classification"


def _has_float(value: Any) -> bool:
    if value.__class__ is float:
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_float(v) for v in value)
    dtype = getattr(value, "dtype", None)
    return dtype is not None and getattr(dtype, "kind", "") in "fc"


def _weighted_mean(values: list, weights: list[float], keys: list[str]) -> Any:
    first = values[0]
    if isinstance(first, (list, tuple)):  # multi-output regression: element-wise
        width = len(first)
        if any(not isinstance(v, (list, tuple)) or len(v) != width for v in values):
            raise ValueError(f"models {keys} returned predictions of different shapes")
        return [_weighted_mean([v[j] for v in values], weights, keys) for j in range(width)]
    try:
        return sum(w * float(v) for w, v in zip(weights, values))
    except (TypeError, ValueError):
        raise ValueError(f"regression vote needs numeric predictions, got {values!r} from {keys}")


def _weighted_vote(values: list, weights: list[float]) -> Any:
    if any(isinstance(v, (list, tuple, dict)) for v in values):
        if all(isinstance(v, (list, tuple)) and len(v) == 1 for v in values):
            values = [v[0] for v in values]
        else:
            raise ValueError(f"classification vote needs one label per sample, got {values!r}")
    tally: dict = {}
    for value, weight in zip(values, weights):
        tally[value] = tally.get(value, 0.0) + weight
    try:
        # most weight wins; ties go to the lowest label
        return min(tally, key=lambda label: (-round(tally[label], 9), label))
    except TypeError:  # labels of mixed types: ties go to the first seen
        return max(tally, key=lambda label: round(tally[label], 9))


def normalize_weights(weights: dict | list | tuple | None, models: list[str]) -> dict[str, float]:
    """Validated weights by model, summing to 1 (equal when ``weights`` is None)."""
    if not models:
        return {}
    if weights is None:
        return {m: 1.0 / len(models) for m in models}
    if isinstance(weights, (list, tuple)):
        if len(weights) != len(models):
            raise ValueError(f"weights: {len(weights)} values given for {len(models)} models {models}")
        weights = dict(zip(models, weights))
    if not isinstance(weights, dict):
        raise ValueError(f"weights must be a dict by model name or a list, got {type(weights).__name__}")
    unknown = [k for k in weights if k not in models]
    if unknown:
        raise ValueError(f"weights: unknown model(s) {unknown}, the models are {models}")
    for key, value in weights.items():
        if (
            value.__class__ is bool
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            raise ValueError(f"weights[{key!r}]: expected a finite number >= 0, got {value!r}")
    total = float(sum(weights.values()))
    if total <= 0:
        raise ValueError("weights: must sum to a positive number")
    return {m: weights.get(m, 0) / total for m in models}
