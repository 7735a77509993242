"""ModelRunnerStep + Model + selectors: the reference's newer model API, in both engines.

Expected values marked "reference" are what mlrun 1.12.1 (with storey, async flow, ``server.test()``)
returned for the same graph and input.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

import fnpack
from fnpack.graph import GraphError, GraphServer, graph_from_dict, mock_server
from fnpack.serving import Model, ModelRunnerSelector, ModelRunnerStep, ModelSelector

ENGINES = ["sync", "async"]
BODY = {"inputs": [1, 2]}


class Doubler(Model):
    def __init__(self, factor=2, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor
        self.loads = 0

    def load(self):
        self.loads += 1

    def predict(self, body, **kwargs):
        return {"out": [x * self.factor for x in body["inputs"]], "loads": self.loads}


class Adder(Model):
    def predict(self, body, **kwargs):
        return {"sum": sum(body["inputs"])}


class Boom(Model):
    def predict(self, body, **kwargs):
        raise ValueError("bad input")


class AsyncEcho(Model):
    async def predict_async(self, body, **kwargs):
        await asyncio.sleep(0)
        return {"a": body["inputs"][0]}


class Echo(Model):
    def predict(self, body, **kwargs):
        return {"got": body}


class Mutator(Model):
    def predict(self, body, **kwargs):
        body["inputs"].append(99)
        return len(body["inputs"])


class Rendezvous(Model):
    """Returns only when the other Rendezvous model runs at the same time (a barrier, no sleeps)."""

    barrier = None

    def predict(self, body, **kwargs):
        self.barrier.wait()
        return self.name


class ByKey(ModelSelector):
    def __init__(self, key="use", **kwargs):
        super().__init__(**kwargs)
        self.key = key

    def select(self, event, available_models):
        return event.body.get(self.key)


class ByObject(ModelRunnerSelector):
    def select_models(self, event, available_models):
        wanted = event.body.get("use")
        return None if wanted is None else [m for m in available_models if m.name in wanted]


def runner_server(engine, models, tail=False, **step_args):
    fn = fnpack.new_function("mr")
    graph = fn.set_topology("flow", engine=engine)
    runner = ModelRunnerStep(name="mr", **step_args)
    for name, model_class, mechanism, params in models:
        runner.add_model(name, model_class=model_class, execution_mechanism=mechanism, **params)
    last = graph.to(runner)
    if tail:
        last = last.to(name="tail", handler="(list(event))")
    last.respond()
    return fn.to_mock_server()


TWO = [("dbl", Doubler(name="dbl", factor=3), "naive", {}), ("add", "Adder", "thread_pool", {})]


@pytest.mark.parametrize("engine", ENGINES)
def test_two_models_give_a_dict_keyed_by_model_name(engine):
    server = runner_server(engine, TWO)
    # reference: {'dbl': {'out': [3, 6]}, 'add': {'sum': 3}} (plus our "loads" counter)
    assert server.test(body=BODY) == {"dbl": {"out": [3, 6], "loads": 1}, "add": {"sum": 3}}
    assert server.test(body=BODY) == {"dbl": {"out": [3, 6], "loads": 1}, "add": {"sum": 3}}


@pytest.mark.parametrize("engine", ENGINES)
def test_one_model_gives_its_result_and_is_loaded_once(engine):
    server = runner_server(engine, [("dbl", "Doubler", "naive", {})])
    assert server.test(body=BODY) == {"out": [2, 4], "loads": 1}  # reference
    echo = runner_server(engine, [("e", Echo, "naive", {})])
    assert echo.test(body=[1, 2, 3]) == {"got": [1, 2, 3]}  # reference: a list body reaches predict()


@pytest.mark.parametrize("engine", ENGINES)
def test_steps_after_the_runner_get_its_output(engine):
    assert runner_server(engine, TWO, tail=True).test(body=BODY) == ["dbl", "add"]


@pytest.mark.parametrize("engine", ENGINES)
def test_step_paths_apply(engine):
    # the reference ignores input_path/result_path on this step; here they work as on every task step
    server = runner_server(engine, [("add", Adder, "naive", {})], input_path="x", result_path="res")
    assert server.test(body={"x": BODY}) == {"x": BODY, "res": {"sum": 3}}


@pytest.mark.parametrize("engine", ENGINES)
def test_asyncio_model_next_to_a_thread_pool_model(engine):
    models = [("a", AsyncEcho, "asyncio", {}), ("add", Adder, "thread_pool", {})]
    assert runner_server(engine, models).test(body=BODY) == {"a": {"a": 1}, "add": {"sum": 3}}  # reference


@pytest.mark.parametrize("engine", ENGINES)
def test_pooled_models_run_concurrently(engine):
    Rendezvous.barrier = threading.Barrier(2, timeout=10)
    models = [("r1", Rendezvous, "thread_pool", {}), ("r2", Rendezvous, "process_pool", {})]
    server = runner_server(engine, models)
    assert server.test(body=BODY) == {"r1": "r1", "r2": "r2"}
    runner = next(n.object for n in server.plan.nodes() if n.name == "mr")
    pool = runner._pool
    server.close()
    assert runner._pool is None and pool._shutdown


@pytest.mark.parametrize("engine", ENGINES)
def test_each_model_gets_its_own_copy_of_the_body(engine):
    models = [("m1", Mutator, "naive", {}), ("m2", Mutator, "naive", {})]
    assert runner_server(engine, models).test(body=BODY) == {"m1": 3, "m2": 3}


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_a_model_raising_fails_the_step_with_the_standard_error_shape(engine):
    server = runner_server(engine, [("b", Boom, "naive", {}), ("add", Adder, "naive", {})])
    resp = server.test(body=BODY, silent=True, get_body=False)
    # reference: 400 "ModelRunnerError: b ValueError: bad input" (it also lists "add None")
    assert resp.status_code == 400
    assert resp.body == "ModelRunnerError: b ValueError: bad input (step mr)"
    with pytest.raises(
        RuntimeError, match=r"failed \(400\): ModelRunnerError: b ValueError: bad input \(step mr\)"
    ):
        server.test(body=BODY)
    server.wait_for_completion()


@pytest.mark.parametrize("engine", ENGINES)
def test_without_raise_exception_errors_are_outputs(engine):
    single = runner_server(engine, [("b", Boom, "naive", {})], raise_exception=False)
    assert single.test(body=BODY) == {"error": "ValueError: bad input"}  # reference
    two = runner_server(
        engine, [("b", Boom, "naive", {}), ("add", Adder, "naive", {})], raise_exception=False
    )
    assert two.test(body=BODY) == {"b": {"error": "ValueError: bad input"}, "add": {"sum": 3}}  # reference


def test_unknown_model_class_is_a_one_line_init_error():
    with pytest.raises(GraphError, match=r"^step 'mr': class 'NoSuchModel' not found"):
        runner_server("sync", [("x", "NoSuchModel", "naive", {})])


def test_invalid_execution_mechanism():
    with pytest.raises(GraphError, match="Execution mechanism 'bogus' is invalid"):  # reference's wording
        ModelRunnerStep(name="mr").add_model("x", model_class=Adder, execution_mechanism="bogus")


@pytest.mark.parametrize(
    ("model_class", "mechanism", "method"),
    [(AsyncEcho, "naive", "predict"), (Adder, "asyncio", "predict_async")],
)
def test_mechanism_without_its_predict_method(model_class, mechanism, method):
    # reference: "a is running with naive execution_mechanism but predict() is not implemented"
    with pytest.raises(
        GraphError, match=rf"model 'm' runs with {mechanism} .* {method}\(\) is not implemented"
    ):
        runner_server("sync", [("m", model_class, mechanism, {})])


def test_builder_misuse():
    runner = ModelRunnerStep(name="mr")
    runner.add_model("a", model_class=Adder, execution_mechanism="naive")
    with pytest.raises(GraphError, match="Model with name a already exists"):
        runner.add_model("a", model_class=Adder, execution_mechanism="naive")
    with pytest.raises(GraphError, match="Inconsistent name"):
        runner.add_model("b", model_class=Adder(name="c"), execution_mechanism="naive")
    with pytest.raises(GraphError, match="Cannot provide both"):
        ModelRunnerStep(name="mr", model_selector="ByKey", model_runner_selector="ByObject")
    with pytest.raises(GraphError, match="no models"):
        runner_server("sync", [])


# --- selectors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_model_selector_picks_models_by_name(engine):
    models = [("dbl", Doubler, "naive", {}), ("add", Adder, "naive", {})]
    server = runner_server(engine, models, model_selector="ByKey")
    assert server.test(body={**BODY, "use": ["add"]}) == {"add": {"sum": 3}}  # reference
    # reference: select() returning None runs every model
    assert server.test(body=BODY) == {"dbl": {"out": [2, 4], "loads": 1}, "add": {"sum": 3}}
    # reference answers nothing at all (the request hangs); here: no outputs
    assert server.test(body={**BODY, "use": []}) == {}


@pytest.mark.parametrize("engine", ENGINES)
def test_selector_object_parameters_and_model_objects(engine):
    server = runner_server(engine, [("dbl", Doubler, "naive", {})], model_selector=ByKey(key="u"))
    assert server.test(body={"inputs": [1], "u": ["dbl"]}) == {"out": [2], "loads": 1}  # reference
    models = [("dbl", Doubler, "naive", {}), ("add", Adder, "naive", {})]
    server = runner_server(engine, models, model_runner_selector=ByObject)
    assert server.test(body={**BODY, "use": ["dbl"]}) == {"dbl": {"out": [2, 4], "loads": 1}}  # reference


@pytest.mark.parametrize("engine", ENGINES)
def test_selector_naming_an_unknown_model_is_a_400(engine):
    server = runner_server(
        engine, [("dbl", Doubler, "naive", {}), ("add", Adder, "naive", {})], model_selector="ByKey"
    )
    resp = server.test(body={**BODY, "use": ["zzz"]}, silent=True, get_body=False)
    assert resp.status_code == 400  # reference: 400 "ValueError: The following selected Runnables ..."
    assert resp.body == "ValueError: selector returned unknown model(s) zzz (known: dbl, add) (step mr)"
    server.wait_for_completion()


# --- serialization -------------------------------------------------------------------------------

# fn.spec.graph.to_dict() of the reference for: ModelRunnerStep(name="mr"),
# add_model("dbl", model_class=Doubler(name="dbl", factor=3), execution_mechanism="naive"),
# add_model("add", model_class="Adder", execution_mechanism="thread_pool"), graph.to(mr).respond()
REFERENCE_GRAPH = {
    "allow_cyclic": False,
    "steps": {
        "mr": {
            "raise_exception": True,
            "class_args": {
                "model_selector": [None, None],
                "model_runner_selector": [None, None],
                "execution_mechanism_by_model_name": {"dbl": "naive", "add": "thread_pool"},
                "models": {
                    "dbl": ["Doubler", {"name": "dbl", "factor": 3, "artifact_uri": None}],
                    "add": ["Adder", {"artifact_uri": None, "name": "add"}],
                },
                "monitoring_data": {
                    name: {
                        "inputs": None,
                        "outputs": None,
                        "input_path": None,
                        "result_path": None,
                        "creation_strategy": "inplace",
                        "labels": None,
                        "model_path": None,
                        "model_class": cls,
                    }
                    for name, cls in (("dbl", "Doubler"), ("add", "Adder"))
                },
            },
            "class_name": "mlrun.serving.ModelRunner",
            "endpoint_type": 1,
            "kind": "model_runner",
            "responder": True,
            "shape": "folder",
            "model_endpoint_creation_strategy": "skip",
        }
    },
    "model_endpoints_names": ["dbl", "add"],
    "engine": "async",
}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_graph_serialized_by_the_reference_runs(engine):
    server = GraphServer.from_dict({"graph": {**REFERENCE_GRAPH, "engine": engine}})
    mock_server(server, namespace=globals())
    assert server.test(body=BODY) == {"dbl": {"out": [3, 6], "loads": 1}, "add": {"sum": 3}}  # reference


def test_the_dict_form_is_the_references_and_round_trips():
    fn = fnpack.new_function("mr")
    graph = fn.set_topology("flow", engine="async")
    runner = ModelRunnerStep(name="mr")
    runner.add_model("dbl", model_class=Doubler(name="dbl", factor=3), execution_mechanism="naive")
    runner.add_model("add", model_class="Adder", execution_mechanism="thread_pool")
    graph.to(runner).respond()
    struct = json.loads(json.dumps(graph.to_dict()))
    step = struct["steps"]["mr"]
    reference = REFERENCE_GRAPH["steps"]["mr"]
    expected_class = f"{__name__}.Doubler"  # a module-level class is saved by import path
    models = {
        **reference["class_args"]["models"],
        "dbl": [expected_class, {"name": "dbl", "factor": 3, "artifact_uri": None}],
    }
    monitoring = json.loads(json.dumps(reference["class_args"]["monitoring_data"]))
    monitoring["dbl"]["model_class"] = expected_class
    assert step["class_args"] == {**reference["class_args"], "models": models, "monitoring_data": monitoring}
    for key in ("kind", "class_name", "raise_exception", "responder", "shape"):
        assert step[key] == reference[key]
    again = graph_from_dict(struct)
    assert isinstance(again["mr"], ModelRunnerStep)
    assert again.to_dict() == struct
    assert GraphServer.from_dict({"graph": struct}).to_dict()["graph"] == struct


def test_selector_and_pool_settings_are_serialized():
    runner = ModelRunnerStep(name="mr", model_selector=ByKey(key="u"), raise_exception=False)
    runner.configure_pool_resource(max_threads=4)
    struct = runner.to_dict()
    assert struct["class_args"]["model_selector"] == [
        f"{__name__}.ByKey",
        {"key": "u"},
    ]  # reference: ["ByKey", {"key": "u"}]
    assert struct["raise_exception"] is False
    assert struct["max_threads"] == 4
    assert ModelRunnerStep.from_dict(struct, "mr").to_dict() == struct


# --- packaging -----------------------------------------------------------------------------------


def test_built_function_ships_the_model_and_selector_classes(tmp_path):
    from fnpack.package.loader import load_function
    from fnpack.package.validate import run_probe

    fn = fnpack.new_function("mr")
    graph = fn.set_topology("flow", engine="async")
    runner = ModelRunnerStep(name="mr", model_selector=ByKey(key="u"))
    runner.add_model("dbl", model_class=Doubler(name="dbl", factor=3), execution_mechanism="naive")
    runner.add_model("add", model_class="Adder", execution_mechanism="thread_pool")
    graph.to(runner).respond()
    result = fn.build()
    assert {f"{__name__}.Doubler", "Adder", f"{__name__}.ByKey"} <= set(result.by_value)
    path = tmp_path / "function.yaml"
    fn.export(str(path))
    events = [{"body": {**BODY, "u": ["dbl", "add"]}, "content_type": "application/json"}]
    out = run_probe(load_function(str(path)), events=events)
    assert out.get("ok") and "error" not in out, out
    assert json.loads(out["responses"][0]["body"]) == {"dbl": {"out": [3, 6], "loads": 1}, "add": {"sum": 3}}


def test_packager_renames_nested_class_names_without_touching_the_graph():
    from fnpack.package.config import _rename

    runner = ModelRunnerStep(name="mr", model_selector="ByKey")
    runner.add_model("add", model_class="Adder", execution_mechanism="naive")
    struct = runner.to_dict()
    _rename(struct, {"Adder": "pkg.Adder", "ByKey": "pkg.ByKey"})
    assert struct["class_args"]["models"]["add"][0] == "pkg.Adder"
    assert struct["class_args"]["model_selector"] == ["pkg.ByKey", {}]
    assert runner.class_args["models"]["add"][0] == "Adder"
    assert runner.class_args["model_selector"][0] == "ByKey"
