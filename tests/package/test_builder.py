"""The function builder: triggers, env, secrets, requirements, resources → the nuclio config."""

from __future__ import annotations

import base64

import pytest
import yaml

from fnpack import new_function
from fnpack.package import BuildError
from fnpack.package.embed import extract_literals
from fnpack.package.validation import HANDLER_RE

from .graphs import Scale, add_one


def _fn(name="model-a"):
    fn = new_function(name, project="proj", tag="v1")
    fn.set_topology("flow", engine="sync").to(name="inc", handler=add_one).to(Scale, name="scale")
    return fn


def test_config_skeleton_handler_runtime_labels():
    config = _fn().to_dict()
    assert config["apiVersion"] == "nuclio.io/v1" and config["kind"] == "Function"
    assert config["metadata"]["name"] == "model-a"
    assert config["metadata"]["labels"]["nuclio.io/project-name"] == "proj"
    spec = config["spec"]
    assert spec["runtime"] == "python:3.11"
    assert HANDLER_RE.match(spec["handler"])
    assert spec["build"]["codeEntryType"] == "sourceCode"
    source = base64.b64decode(spec["build"]["functionSourceCode"]).decode()
    compile(source, "main.py", "exec")
    literals = extract_literals(source)
    assert literals["_FNPACK_SPEC"] and literals["_FNPACK_MODULES"]


def test_triggers():
    fn = _fn()
    fn.with_http(workers=4, port=31000, worker_timeout=2.5, gateway_timeout=90)
    fn.add_kafka_trigger(["127.0.0.1:9092"], "orders", group="g1", session_timeout="10s")
    fn.add_cron_trigger(interval="10s", body={"tick": 1})
    fn.add_trigger("nats", {"kind": "nats", "attributes": {"serverURL": "nats://x", "topic": "t"}})
    config = fn.to_dict()
    triggers = config["spec"]["triggers"]
    assert triggers["http"] == {
        "kind": "http",
        "maxWorkers": 4,
        "attributes": {"port": 31000},
        "workerAvailabilityTimeoutMilliseconds": 2500,
    }
    assert config["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "90"
    kafka = triggers["kafka"]
    assert kafka["kind"] == "kafka-cluster"
    assert kafka["attributes"]["brokers"] == ["127.0.0.1:9092"] and kafka["attributes"]["topics"] == [
        "orders"
    ]
    assert kafka["attributes"]["consumerGroup"] == "g1" and kafka["attributes"]["sessionTimeout"] == "10s"
    assert triggers["cron"]["attributes"] == {"interval": "10s", "event": {"body": {"tick": 1}}}
    assert triggers["nats"]["kind"] == "nats"


def test_kafka_group_default_and_bad_triggers():
    fn = _fn().add_kafka_trigger("b:9092", ["t"])
    assert fn.spec.triggers["kafka"]["attributes"]["consumerGroup"] == "model-a-consumer-group"
    with pytest.raises(BuildError, match="exactly one of interval"):
        _fn().add_cron_trigger()
    fn = _fn().add_trigger("bad", {"kind": "carrier-pigeon"})
    with pytest.raises(BuildError, match="unknown kind 'carrier-pigeon'"):
        fn.to_dict()
    fn = _fn().with_http(port=70000)
    with pytest.raises(BuildError, match="port must be an integer"):
        fn.to_dict()


def test_env_secrets_by_reference_never_inline():
    fn = _fn()
    fn.set_env("A", 1).set_envs({"B": "two", "A": "one"})
    fn.with_k8s_secret("model-creds", {"API_TOKEN": "token"})
    config = fn.to_dict()
    env = config["spec"]["env"]
    assert {"name": "A", "value": "one"} in env and {"name": "B", "value": "two"} in env
    assert {
        "name": "API_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "model-creds", "key": "token"}},
    } in env
    text = fn.to_yaml()
    assert "token" in text and "s3cr3t" not in text
    spec_json = extract_literals(base64.b64decode(config["spec"]["build"]["functionSourceCode"]).decode())[
        "_FNPACK_SPEC"
    ]
    assert '"secret_sources":[{"kind":"env","source":"API_TOKEN"}]' in spec_json
    fn.with_secrets("inline", {"API_TOKEN": "s3cr3t"})
    with pytest.raises(BuildError, match="would write secret values into function.yaml"):
        fn.to_dict()


def test_requirements_commands_base_image_resources(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("numpy>=1.24  # arrays\n\nscikit-learn==1.4\n")
    fn = _fn().with_requirements(str(req)).with_requirements(["numpy>=1.24", "pandas"])
    fn.spec.build.commands.append("apt-get update")  # the reference's spelling
    fn.spec.base_image = "python:3.11-slim"
    assert fn.spec.build.base_image == "python:3.11-slim"
    fn.with_limits(mem="1G", cpu="2", gpus=1).with_requests(mem="512M").with_replicas(2, 5)
    spec = fn.to_dict()["spec"]
    commands = spec["build"]["commands"]
    assert commands[0] == "apt-get update"
    assert commands[1].startswith("pip install cloudpickle==")  # by-value classes need it
    assert commands[2:] == [
        "pip install 'numpy>=1.24'",
        "pip install scikit-learn==1.4",
        "pip install pandas",
    ]
    assert spec["build"]["baseImage"] == "python:3.11-slim"
    assert spec["resources"] == {
        "limits": {"memory": "1G", "cpu": "2", "nvidia.com/gpu": 1},
        "requests": {"memory": "512M"},
    }
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 5)


def test_pip_runtime_mode():
    config = _fn().to_dict(runtime="pip")
    source = base64.b64decode(config["spec"]["build"]["functionSourceCode"]).decode()
    assert "_FNPACK_MODULES = None" in source
    assert "pip install fnpack==" in config["spec"]["build"]["commands"][0]


def test_installed_classes_go_by_import_path():
    fn = new_function("ref")
    fn.set_topology("flow", engine="sync").to("collections.OrderedDict", name="od")
    result = fn.build()
    assert result.by_value == [] and result.by_reference == ["collections.OrderedDict"]
    assert not any("cloudpickle" in c for c in result.config["spec"]["build"]["commands"])


def test_force_by_reference_and_by_value():
    import json as json_module

    fn = new_function("force")
    fn.set_topology("flow", engine="sync").to(name="dump", handler=json_module.dumps)
    assert fn.build().by_reference == ["json.dumps"]
    fn.set_serialization(by_value=[json_module])
    assert fn.build().by_value == ["json.dumps"]


def test_short_name_of_an_imported_class_is_written_as_its_import_path():
    from collections import OrderedDict

    fn = new_function("short")
    fn.set_topology("flow", engine="sync").to("OrderedDict", name="od")
    result = fn.build(namespace={"OrderedDict": OrderedDict})
    assert result.by_reference == ["collections.OrderedDict"]
    assert '"class_name":"collections.OrderedDict"' in result.spec_json


def test_yaml_export_round_trip(tmp_path):
    fn = _fn().with_http(workers=3)
    result = fn.export(str(tmp_path / "out" / "function.yaml"))
    loaded = yaml.safe_load((tmp_path / "out" / "function.yaml").read_text())
    assert loaded == result.config


def test_code_to_function_py_file_embeds_the_code(tmp_path):
    from fnpack import code_to_function

    module = tmp_path / "my_models.py"
    module.write_text("class Echo:\n    def do(self, body):\n        return {'echo': body}\n")
    fn = code_to_function("echo-fn", filename=str(module), requirements=["numpy"])
    fn.set_topology("flow", engine="sync").to("Echo", name="echo")
    assert fn.to_mock_server().test(body={"a": 1}) == {"echo": {"a": 1}}
    result = fn.build()
    assert result.by_value == [] and "pip install numpy" in result.config["spec"]["build"]["commands"]
    assert '"modules":["my_models"]' in result.spec_json


def test_graph_initializer_and_current_function():
    def init_graph(server):
        server.parameters["initialized"] = True

    fn = _fn()
    fn.spec.graph_initializer = init_graph
    result = fn.build()
    assert "test_graph_initializer_and_current_function.<locals>.init_graph" in result.by_value
    assert '"graph_initializer":"test_graph_initializer_and_current_function.<locals>.init_graph"' in (
        result.spec_json
    )


def test_multi_function_graph_root_and_child():
    fn = new_function("parent", project="proj")
    graph = fn.set_topology("flow", engine="sync")
    graph.to(name="pre", handler=add_one).to(">>", "q", path="kafka://127.0.0.1:9092/orders").to(
        Scale, name="score", function="child"
    )
    with pytest.raises(BuildError, match="function child is used in steps and is not defined"):
        fn.build()
    fn.add_child_function("child")
    fn.with_http(workers=2)
    root = fn.build().config
    assert "pip install confluent-kafka" in root["spec"]["build"]["commands"]
    assert "http" in root["spec"]["triggers"]
    child = fn.build(current_function="child").config
    assert child["metadata"]["name"] == "parent-child"
    assert child["metadata"]["labels"]["fnpack.io/parent-function"] == "parent"
    assert {"name": "SERVING_CURRENT_FUNCTION", "value": "child"} in child["spec"]["env"]
    trigger = child["spec"]["triggers"]["child-queue"]
    assert trigger["kind"] == "kafka-cluster"
    assert trigger["attributes"]["brokers"] == ["127.0.0.1:9092"] and trigger["attributes"]["topics"] == [
        "orders"
    ]
    assert trigger["attributes"]["consumerGroup"] == "child-consumer-group"
    with pytest.raises(BuildError, match="not a child function"):
        fn.build(current_function="other")


def test_show_formats(tmp_path):
    import shutil

    from fnpack.package.show import graph_dot, graph_svg, graph_text

    fn = new_function("router")
    fn.add_model("m1", class_name="package.graphs.Scale", model_path="/m")
    graph = fn.spec.graph.to_dict()
    assert 'route m1: package.graphs.Scale(model_path="/m")' in graph_text(graph, "router")
    assert '"router" -> "route:m1"' in graph_dot(graph, "router")
    if shutil.which("dot") is None:
        with pytest.raises(BuildError, match="needs Graphviz"):
            graph_svg(graph)
    else:
        assert "<svg" in graph_svg(graph)


def test_set_config_writes_any_function_yaml_field():
    fn = new_function("configured")
    fn.set_topology("flow").to(handler="json.dumps", name="dump")
    fn.set_config("spec.eventTimeout", "30s").set_config("metadata.annotations.team", "ml")
    fn.set_config("spec.build.noCache", True)
    config = yaml.safe_load(fn.to_yaml())
    assert config["spec"]["eventTimeout"] == "30s"
    assert config["metadata"]["annotations"]["team"] == "ml"
    assert config["spec"]["build"]["noCache"] is True
    assert config["spec"]["build"]["functionSourceCode"]  # fnpack's own fields are kept


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("spec.handler", "spec.handler is written by fnpack and cannot be replaced"),
        ("spec.build", "spec.build.functionSourceCode is written by fnpack and cannot be replaced"),
        ("status.state", "the path must be inside 'spec.' or 'metadata.'"),
        ("spec..x", "expected a dotted path like 'spec.eventTimeout'"),
    ],
)
def test_set_config_refuses_what_would_break_the_function(key, message):
    with pytest.raises(BuildError, match="^set_config") as info:
        new_function("configured").set_config(key, 1)
    assert message in str(info.value)


def test_set_config_through_a_non_mapping_is_a_build_error():
    fn = new_function("configured")
    fn.set_topology("flow").to(handler="json.dumps", name="dump")
    fn.set_config("spec.runtime.version", "3")  # spec.runtime is a string
    with pytest.raises(BuildError, match=r"set_config\('spec.runtime.version'\): spec.runtime is a str"):
        fn.to_yaml()
