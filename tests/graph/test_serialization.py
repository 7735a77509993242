"""The serialized graph form (reference 1.5): plain JSON, from_dict(to_dict(g)) is identity."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from fnpack.graph import GraphServer, RootFlowStep, RouterStep, StepToDict, TaskStep, graph_from_dict

REFERENCE_EXAMPLE = {
    "engine": "async",
    "steps": {
        "ext": {"kind": "task", "class_name": "storey.Extend", "class_args": {"_fn": "({'a': 1})"}},
        "r1": {
            "kind": "router",
            "after": ["ext"],
            "input_path": "x",
            "result_path": "y",
            "routes": {
                "m1": {
                    "kind": "task",
                    "class_name": "MyM",
                    "class_args": {"model_path": "s3://b/m", "extra": 1},
                }
            },
        },
        "ens": {
            "kind": "router",
            "class_name": "mlrun.serving.VotingEnsemble",
            "class_args": {"vote_type": "regression"},
            "after": ["r1"],
            "routes": {"m2": {"kind": "task", "class_name": "MyM", "class_args": {"model_path": "p"}}},
        },
        "m": {
            "kind": "task",
            "class_name": "mlrun.serving.merger.Merge",
            "class_args": {"max_behind": 3},
            "full_event": True,
            "after": ["ens", "r1"],
            "responder": True,
        },
        "rs": {
            "kind": "task",
            "function": "child",
            "class_name": "mlrun.serving.remote.RemoteStep",
            "class_args": {
                "url": "http://h/p",
                "method": "POST",
                "return_json": True,
                "retries": 6,
                "timeout": 3,
            },
            "after": ["ext"],
        },
    },
}


def test_reference_example_round_trips_exactly():
    graph = graph_from_dict(json.loads(json.dumps(REFERENCE_EXAMPLE)))
    assert isinstance(graph, RootFlowStep)
    assert isinstance(graph["r1"], RouterStep)
    assert graph.to_dict() == REFERENCE_EXAMPLE


def test_router_topology_form():
    struct = {
        "kind": "router",
        "routes": {
            "m1": {"kind": "task", "class_name": "M", "class_args": {"multiplier": 3, "model_path": "."}},
            "rem": {"kind": "task", "class_name": "$remote", "class_args": {"url": "http://other/"}},
        },
    }
    graph = graph_from_dict(struct)
    assert isinstance(graph, RouterStep)
    assert graph.to_dict() == struct


def test_unknown_keys_are_ignored_and_empty_values_dropped():
    graph = graph_from_dict(
        {
            "steps": {"a": {"handler": "(event)", "color": "blue", "after": [], "class_args": {}}},
            "future_key": 1,
        }
    )
    assert graph.to_dict() == {"steps": {"a": {"kind": "task", "handler": "(event)"}}}


def test_name_is_the_key_not_a_field(new_flow):
    _, graph = new_flow()
    graph.to(name="first", handler="(event)")
    assert "name" not in graph.to_dict()["steps"]["first"]
    assert graph_from_dict(graph.to_dict())["first"].name == "first"


def test_class_object_serializes_to_its_import_path(new_flow):
    _, graph = new_flow()
    step = graph.to(TaskStep, name="t")
    assert step.to_dict()["class_name"] == "fnpack.graph.steps.TaskStep"


def test_callable_handler_serializes_to_its_import_path(new_flow):
    _, graph = new_flow()
    graph.to(name="j", handler=json.dumps)
    assert graph.to_dict()["steps"]["j"]["handler"] == "json.dumps"


class Scaler(StepToDict):
    def __init__(self, factor=1, offset=None, name=None, context=None, **kwargs):
        self.factor = factor
        self.offset = offset
        self.name = name
        self.kwargs = kwargs

    def do(self, x):
        return x * self.factor


def test_step_object_serializes_by_introspection(new_flow):
    obj = Scaler(factor=3, name="sc", extra="e")
    assert obj.to_dict() == {
        "class_name": f"{__name__}.Scaler",
        "name": "sc",
        "class_args": {"factor": 3, "extra": "e"},
    }
    fn, graph = new_flow()
    graph.to(obj)
    assert graph.to_dict()["steps"]["sc"]["class_args"] == {"factor": 3, "extra": "e"}
    assert fn.to_mock_server().test(body=2) == 6


def test_serving_spec_round_trip(new_flow):
    fn, graph = new_flow("async")
    graph.to(name="a", handler="(event)").respond()
    fn.spec.parameters["p"] = 1
    fn.with_secrets("env", "A,B")
    spec = json.loads(json.dumps(fn.serving_spec()))
    server = GraphServer.from_dict({**spec, "unknown": True})
    assert server.to_dict() == spec


# --- property test: generated graphs ------------------------------------------------------------

names = st.text(alphabet="abcdefghij_", min_size=1, max_size=6)
scalars = st.one_of(
    st.integers(-5, 5), st.text(max_size=5), st.booleans(), st.floats(allow_nan=False, width=32)
)
class_args = st.dictionaries(names, st.one_of(scalars, st.lists(scalars, max_size=3)), max_size=3)


@st.composite
def task_dicts(draw):
    struct = {"kind": "task"}
    if draw(st.booleans()):
        struct["class_name"] = draw(
            st.sampled_from(["pkg.mod.Model", "Model", "fnpack.serving.merger.Merge"])
        )
        args = draw(class_args)
        if args:
            struct["class_args"] = args
    else:
        struct["handler"] = draw(st.sampled_from(["(event)", "json.dumps", "my_handler"]))
    for key in ("input_path", "result_path", "comment", "function"):
        if draw(st.booleans()):
            struct[key] = draw(names)
    for key in ("full_event", "responder"):
        if draw(st.booleans()):
            struct[key] = draw(st.booleans())
    return struct


@st.composite
def flow_dicts(draw):
    step_names = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    steps = {}
    for i, name in enumerate(step_names):
        kind = draw(st.sampled_from(["task", "task", "router", "queue"]))
        if kind == "router":
            routes = {
                k: draw(task_dicts()) for k in draw(st.lists(names, min_size=1, max_size=3, unique=True))
            }
            struct = {"kind": "router", "routes": routes}
        elif kind == "queue":
            struct = {"kind": "queue", "path": draw(st.sampled_from(["dummy://", "kafka://t"]))}
            if draw(st.booleans()):
                struct["shards"] = draw(st.integers(1, 4))
        else:
            struct = draw(task_dicts())
        earlier = step_names[:i]
        if earlier:
            after = draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True))
            if after:
                struct["after"] = after
        steps[name] = struct
    graph = {"steps": steps}
    engine = draw(st.sampled_from([None, "sync", "async"]))
    if engine:
        graph["engine"] = engine
    return graph


@settings(max_examples=200, deadline=None)
@given(flow_dicts())
def test_from_dict_to_dict_is_identity_for_generated_graphs(struct):
    graph = graph_from_dict(struct)
    assert graph.to_dict() == struct
    assert json.loads(json.dumps(graph.to_dict())) == struct
    assert graph_from_dict(graph.to_dict()).to_dict() == struct
