"""A scikit-learn style model router: two V2 models behind ``/v2/models/<name>/infer``.

- ``iris``: a nearest-centroid classifier **trained at startup** (in ``load()``) on a tiny inline
  data set; pure Python, or scikit-learn's ``NearestCentroid`` when ``use_sklearn=True`` and it is
  installed (it is not a dependency).
- ``price:v1``: a linear regressor whose coefficients ship in the graph as model parameters (or
  in a JSON file at ``model_path``).

Run it: ``python examples/model_router.py``. ``build()`` returns the function for packaging and tests.
"""

from __future__ import annotations

import json
import os

import fnpack
from fnpack.serving import V2ModelServer

# a few rows of the iris data set: sepal length/width, petal length/width -> species
IRIS_X = [
    [5.1, 3.5, 1.4, 0.2],
    [4.9, 3.0, 1.4, 0.2],
    [5.0, 3.6, 1.4, 0.2],
    [5.4, 3.9, 1.7, 0.4],
    [7.0, 3.2, 4.7, 1.4],
    [6.4, 3.2, 4.5, 1.5],
    [6.9, 3.1, 4.9, 1.5],
    [5.5, 2.3, 4.0, 1.3],
    [6.3, 3.3, 6.0, 2.5],
    [5.8, 2.7, 5.1, 1.9],
    [7.1, 3.0, 5.9, 2.1],
    [6.5, 3.0, 5.8, 2.2],
]
IRIS_Y = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
IRIS_NAMES = ["setosa", "versicolor", "virginica"]


class NearestCentroid:
    """The estimator API of scikit-learn (``fit`` / ``predict``) in a few lines of Python."""

    def fit(self, X: list[list[float]], y: list[int]) -> NearestCentroid:
        sums: dict[int, list[float]] = {}
        counts: dict[int, int] = {}
        for row, label in zip(X, y):
            acc = sums.setdefault(label, [0.0] * len(row))
            for i, value in enumerate(row):
                acc[i] += value
            counts[label] = counts.get(label, 0) + 1
        self.classes_ = sorted(sums)
        self.centroids_ = [[v / counts[c] for v in sums[c]] for c in self.classes_]
        return self

    def predict(self, X: list[list[float]]) -> list[int]:
        return [self.classes_[self._nearest(row)] for row in X]

    def _nearest(self, row: list[float]) -> int:
        distances = [sum((a - b) ** 2 for a, b in zip(row, c)) for c in self.centroids_]
        return distances.index(min(distances))


class IrisClassifier(V2ModelServer):
    """Trains on the inline iris rows at load time; ``outputs`` are class ids (``op_names`` gives names)."""

    def load(self):
        estimator = None
        if self.get_param("use_sklearn", False):
            try:
                from sklearn.neighbors import NearestCentroid as SkNearestCentroid
            except ImportError:
                self.context.logger.warn("scikit-learn is not installed, using the built-in estimator")
            else:
                estimator = SkNearestCentroid()
        self.model = (estimator or NearestCentroid()).fit(IRIS_X, IRIS_Y)
        self.inputs = [{"name": n} for n in ("sepal_length", "sepal_width", "petal_length", "petal_width")]
        self.outputs = [{"name": "species"}]

    def predict(self, request):
        rows = request["inputs"]
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != 4:
                raise ValueError(f"inputs[{i}]: expected 4 features, got {row!r}")
        return [int(label) for label in self.model.predict(rows)]

    def op_names(self, event):
        """A custom operation: ``/v2/models/iris/names`` answers species names instead of ids."""
        return {"names": [IRIS_NAMES[i] for i in self.predict(event.body)]}


class LinearRegressor(V2ModelServer):
    """``y = x . coef + intercept``; parameters from a JSON file at ``model_path``, else class args."""

    def load(self):
        params = {"coef": self.get_param("coef"), "intercept": self.get_param("intercept", 0.0)}
        if self.model_path and os.path.isfile(self.model_path):
            path, _ = self.get_model(".json")
            with open(path) as f:
                params.update(json.load(f))
        if not params["coef"]:
            raise ValueError("no coefficients: give coef= or a JSON model file")
        self.model = params

    def predict(self, request):
        coef, intercept = self.model["coef"], self.model["intercept"]
        return [round(sum(c * x for c, x in zip(coef, row)) + intercept, 6) for row in request["inputs"]]


def build(use_sklearn: bool = False) -> fnpack.ServingFunction:
    """The router function: ``iris`` (trained at startup) and ``price:v1`` (pre-fitted)."""
    fn = fnpack.new_function("model-router")
    fn.add_model("iris", class_name=IrisClassifier, use_sklearn=use_sklearn)
    fn.add_model("price:v1", class_name=LinearRegressor, coef=[3.0, 0.5], intercept=10.0)
    fn.with_http(workers=2)
    return fn


if __name__ == "__main__":
    server = build().to_mock_server()
    print(server.test("/v2/models/"))
    print(server.test("/v2/models/iris/infer", {"inputs": [[5.0, 3.4, 1.5, 0.2], [6.7, 3.0, 5.2, 2.3]]}))
    print(server.test("/v2/models/iris/names", {"inputs": [[6.0, 2.9, 4.5, 1.5]]}))
    print(server.test("/v2/models/price/versions/v1/infer", {"inputs": [[100, 2], [80, 1]]}))
    print(server.test("/v2/models/iris"))
