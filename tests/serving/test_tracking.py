"""Tracking: model log records (reference 1.19), per-model counters, and the error-stream event shape."""

from __future__ import annotations

import json
import re

import pytest

import fnpack
from fnpack.serving import V2ModelServer, VotingEnsemble, server_stats

from .models import Failing, Multiplier

WHEN = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$")
BASE_KEYS = {"class", "worker", "model", "version", "host", "function_uri"}


def tracked(models=(("m1:v2", Multiplier, {"multiplier": 2}),), track_models=True, router=None, **tracking):
    fn = fnpack.new_function("tracked", project="proj")
    if router:
        fn.set_topology("router", router)
    for key, cls, args in models:
        fn.add_model(key, class_name=cls, model_path=".", **args)
    if tracking:
        fn.set_tracking(**tracking)
    server = fn.to_mock_server(track_models=track_models)
    return server


def records(server):
    return server.context.stream.output_stream.event_list


def test_success_record_shape():
    server = tracked()
    server.test("/v2/models/m1/versions/v2/infer", {"inputs": [1, 2]}, event_id="e1")
    (record,) = records(server)
    assert set(record) == BASE_KEYS | {"request", "op", "resp", "when", "microsec"}
    assert record["class"] == "Multiplier"
    assert (record["model"], record["version"]) == ("m1", "v2")
    assert record["function_uri"] == "proj/tracked"
    assert record["worker"] == 0
    assert record["op"] == "infer"
    assert record["request"] == {"inputs": [1, 2]}
    assert record["resp"]["outputs"] == [2, 4]
    assert record["resp"]["id"] == "e1"
    assert WHEN.match(record["when"])
    assert isinstance(record["microsec"], int)


def test_metrics_go_with_the_next_record_only():
    class Metered(Multiplier):
        def predict(self, request):
            if request["inputs"][0] == 1:
                self.set_metric("accuracy", 0.9)
            return super().predict(request)

    server = tracked((("m", Metered, {}),))
    server.test("/v2/models/m/infer", {"inputs": [1]})
    server.test("/v2/models/m/infer", {"inputs": [2]})
    first, second = records(server)
    assert first["metrics"] == {"accuracy": 0.9}
    assert "metrics" not in second


def test_sampling_logs_every_nth_event():
    server = tracked(stream_path="dummy://", sample=2)
    for i in range(5):
        server.test("/v2/models/m1/versions/v2/infer", {"inputs": [i]})
    assert [r["request"]["inputs"] for r in records(server)] == [[1], [3]]


def test_batching_groups_records():
    server = tracked(stream_path="dummy://", batch=2)
    for i in range(5):
        server.test("/v2/models/m1/versions/v2/infer", {"inputs": [i]})
    batches = records(server)
    assert len(batches) == 2
    assert set(batches[0]) == BASE_KEYS | {"headers", "values"}
    assert batches[0]["headers"] == ["request", "op", "resp", "when", "microsec", "metrics"]
    assert [row[0]["inputs"] for row in batches[0]["values"]] == [[0], [1]]
    assert [row[0]["inputs"] for row in batches[1]["values"]] == [[2], [3]]


def test_error_record_is_pushed_immediately():
    server = tracked((("bad", Failing, {}),), stream_path="dummy://", batch=10)
    server.test("/v2/models/bad/infer", {"inputs": [1]}, silent=True)
    (record,) = records(server)
    assert set(record) == BASE_KEYS | {"request", "op", "when", "error"}
    assert record["error"] == "ValueError: predict went wrong"
    assert record["op"] == "infer"


def test_logged_results_substitute_the_request_and_response():
    class Custom(Multiplier):
        def logged_results(self, request, response, op):
            return [[9]], [[99]]

    server = tracked((("c", Custom, {}),))
    server.test("/v2/models/c/infer", {"id": "x", "inputs": [1]})
    (record,) = records(server)
    assert record["request"] == {"id": "x", "inputs": [[9]]}
    assert record["resp"] == {"outputs": [[99]]}


def test_labels_are_carried():
    class Labelled(Multiplier):
        def load(self):
            super().load()
            self.labels = {"team": "a"}

    server = tracked((("l", Labelled, {}),))
    server.test("/v2/models/l/infer", {"inputs": [1]})
    assert records(server)[0]["labels"] == {"team": "a"}


def test_log_stream_parameter_is_formatted_with_the_project():
    server = tracked(track_models=False, stream_path="dummy://{project}/stream")
    server.test("/v2/models/m1/versions/v2/infer", {"inputs": [1]})
    assert server.context.stream.stream_uri == "dummy://proj/stream"
    assert len(records(server)) == 1


def test_no_tracking_no_records_but_counters():
    server = tracked(track_models=False)
    assert server.context.stream.enabled is False
    server.test("/v2/models/m1/versions/v2/infer", {"inputs": [1]})
    server.test("/v2/models/m1/versions/v2/infer", {"inputs": "bad"}, silent=True)
    stats = server_stats(server)["m1:v2"]
    assert stats["requests"] == 2
    assert stats["errors"] == 1
    assert 0 < stats["p50_us"] <= stats["max_us"]
    assert set(stats) == {"requests", "errors", "mean_us", "max_us", "p50_us", "p99_us"}


def test_ensemble_is_tracked_as_a_model():
    server = tracked(
        (("a", Multiplier, {"multiplier": 1}), ("b", Multiplier, {"multiplier": 3})),
        router="fnpack.serving.VotingEnsemble",
    )
    server.test("/v2/models/VotingEnsemble/infer", {"inputs": [1]})
    models = [r["model"] for r in records(server)]
    assert sorted(models) == ["VotingEnsemble", "a", "b"]
    assert set(server_stats(server)) == {"VotingEnsemble:v1", "a", "b"}


def test_stats_of_a_model_in_a_flow():
    fn = fnpack.new_function("flow-stats")
    fn.set_topology("flow", engine="sync").to(Multiplier, name="m", model_path=".")
    server = fn.to_mock_server()
    server.test("/", {"inputs": [1]})
    assert server_stats(server)["m"]["requests"] == 1


def test_error_stream_event_shape():
    fn = fnpack.new_function("errs", project="proj")
    fn.add_model("bad", class_name=Failing, model_path=".")
    fn.spec.error_stream = "dummy://errors"
    server = fn.to_mock_server()
    server.test("/v2/models/bad/infer", {"inputs": [1]}, event_id="ev1", silent=True)
    (record,) = server.error_stream_pusher.event_list
    assert set(record) == {"function_uri", "worker", "host", "source", "event", "message", "args"}
    assert record["source"] == "bad"
    assert record["event"] == {"id": "ev1", "body": {"inputs": [1]}}
    assert record["message"].startswith("ValueError: predict went wrong")
    assert record["function_uri"] == "proj/errs"


def test_plain_model_without_context_has_stats():
    model = V2ModelServer(name="m", model=object())
    assert model.stats.snapshot()["requests"] == 0


def test_ensemble_tracking_records_every_model_and_the_vote():
    np = pytest.importorskip("numpy")

    class ArrayModel(V2ModelServer):
        def predict(self, request):
            return np.array([row[0] * self.get_param("multiplier", 1) for row in request["inputs"]])

    fn = fnpack.new_function("tests")
    fn.set_topology("router", VotingEnsemble(vote_type="regression"))
    fn.add_model("1", ".", class_name=ArrayModel(multiplier=2))
    fn.add_model("2", ".", class_name=ArrayModel(multiplier=3))
    fn.set_tracking("dummy://")
    server = fn.to_mock_server()
    resp = server.test("/v2/models/infer", {"inputs": [[5, 6]]}, get_body=False)
    assert json.loads(resp.body)["outputs"] == [12.5]
    results = {}
    for record in records(server):
        outputs = record["resp"]["outputs"]
        results[record["model"]] = [record["class"], record["request"]["inputs"], list(outputs)]
    assert results == {
        "1": ["ArrayModel", [[5, 6]], [10]],
        "2": ["ArrayModel", [[5, 6]], [15]],
        "VotingEnsemble": ["VotingEnsemble", [[5, 6]], [12.5]],
    }
