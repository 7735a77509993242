"""A voting ensemble: three small classifiers trained at startup vote on each sample.

``/v2/models/VotingEnsemble/infer`` (or a path-less POST, e.g. from a stream) runs all three and
answers the weighted majority class per sample, with each model's own answer in ``model_outputs``;
``/v2/models/<model>/infer`` asks one model. Run it: ``python examples/ensemble.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_router import IRIS_X, IRIS_Y, NearestCentroid

import fnpack
from fnpack.serving import V2ModelServer


class KNearest:
    """k-nearest neighbours, majority vote (ties to the lowest class)."""

    def __init__(self, k: int = 3):
        self.k = k

    def fit(self, X, y):
        self.X, self.y = X, y
        return self

    def predict(self, X):
        out = []
        for row in X:
            order = sorted(
                range(len(self.X)), key=lambda i: sum((a - b) ** 2 for a, b in zip(row, self.X[i]))
            )
            votes: dict[int, int] = {}
            for i in order[: self.k]:
                votes[self.y[i]] = votes.get(self.y[i], 0) + 1
            out.append(min(votes, key=lambda c: (-votes[c], c)))
        return out


class PetalRule:
    """A one-feature decision rule on petal length, thresholds learned as midpoints between classes."""

    def fit(self, X, y):
        lengths: dict[int, list[float]] = {}
        for row, label in zip(X, y):
            lengths.setdefault(label, []).append(row[2])
        self.classes_ = sorted(lengths, key=lambda c: sum(lengths[c]) / len(lengths[c]))
        self.cuts_ = [
            (max(lengths[a]) + min(lengths[b])) / 2 for a, b in zip(self.classes_, self.classes_[1:])
        ]
        return self

    def predict(self, X):
        return [self.classes_[sum(row[2] > cut for cut in self.cuts_)] for row in X]


ESTIMATORS = {"centroid": NearestCentroid, "knn": KNearest, "petal": PetalRule}


class TrainedClassifier(V2ModelServer):
    """Fits the estimator named by the ``estimator`` parameter on the inline iris rows at load time."""

    def load(self):
        self.model = ESTIMATORS[self.get_param("estimator")]().fit(IRIS_X, IRIS_Y)

    def predict(self, request):
        return [int(label) for label in self.model.predict(request["inputs"])]


def build(weights: dict | None = None) -> fnpack.ServingFunction:
    """The ensemble function: three classifiers, voting as classes with the given weights."""
    fn = fnpack.new_function("iris-ensemble")
    fn.set_topology(
        "router",
        "fnpack.serving.VotingEnsemble",
        vote_type="classification",
        weights=weights or {"centroid": 2, "knn": 3, "petal": 2},
    )
    for name in ESTIMATORS:
        fn.add_model(name, class_name=TrainedClassifier, estimator=name)
    return fn


if __name__ == "__main__":
    server = build().to_mock_server()
    print(server.test("/v2/models/"))
    print(
        server.test(
            "/v2/models/VotingEnsemble/infer", {"inputs": [[5.0, 3.4, 1.5, 0.2], [6.2, 2.8, 4.8, 1.8]]}
        )
    )
    print(server.test("/v2/models/petal/infer", {"inputs": [[6.2, 2.8, 4.8, 1.8]]}))
