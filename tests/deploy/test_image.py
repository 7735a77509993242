"""``fnpack image`` against a real dockerd: build, run the image, push to a local registry, rewrite the yaml."""

from __future__ import annotations

import base64

import pytest
import yaml

from fnpack.cli import main

from .conftest import HELLO_SOURCE, function_config

pytestmark = pytest.mark.docker


def _image_args(path, tag, base_image, docker_daemon, *extra):
    return [
        "image",
        str(path),
        "--tag",
        tag,
        "--base-image",
        base_image,
        "--no-processor",
        "--network",
        "none",
        "--docker-host",
        docker_daemon.host,
        *extra,
    ]


def _run(client, image: str, script: str) -> str:
    out = client.containers.run(image, ["sh", "-c", script], network_mode="none", remove=True)
    return out.decode()


def test_image_holds_the_handler_config_and_build_command_results(
    docker_daemon, base_image, write_function, capsys
):
    config = function_config(name="hello", handler="pkg.main:handler", commands=["echo built > /opt/marker"])
    path = write_function(config)
    tag = "fnpack-test/hello:1"
    assert main(_image_args(path, tag, base_image, docker_daemon)) == 0
    out = capsys.readouterr().out
    assert "Step 1/" in out and "RUN" in out  # the build output was streamed
    assert f"built {tag} (sha256:" in out
    printed = _run(
        docker_daemon.client,
        tag,
        "cat /opt/nuclio/pkg/main.py; echo ---; cat /opt/marker; echo ---; "
        "cat /etc/nuclio/config/processor/processor.yaml",
    )
    handler_source, marker, embedded = printed.split("---\n")
    assert handler_source == HELLO_SOURCE
    assert marker == "built\n"
    embedded = yaml.safe_load(embedded)
    assert embedded["spec"]["handler"] == "pkg.main:handler"
    assert "functionSourceCode" not in embedded["spec"]["build"]  # the file sits next to it instead
    labels = docker_daemon.client.images.get(tag).labels
    assert labels["nuclio.io/function-name"] == "hello"


def test_push_to_a_registry_rewrites_the_function_yaml(
    docker_daemon, base_image, registry, write_function, tmp_path, capsys
):
    path = write_function(name="pushed", commands=[])
    original = path.read_text()
    tag = f"{registry.address}/fnpack/pushed:ci-1"
    out_path = tmp_path / "deployable.yaml"
    assert main(_image_args(path, tag, base_image, docker_daemon, "--push", "--output", str(out_path))) == 0
    out = capsys.readouterr().out
    assert f"pushed {tag} (sha256:" in out
    assert registry.tags("fnpack/pushed") == ["ci-1"]
    assert path.read_text() == original  # --output leaves the source yaml alone
    rewritten = yaml.safe_load(out_path.read_text())
    assert rewritten["spec"]["image"] == tag
    assert rewritten["spec"]["build"] == {"codeEntryType": "image"}  # nothing left that makes nuclio build

    # what is in the registry is the function: drop the local copy, pull it back, read the handler
    client = docker_daemon.client
    client.images.remove(tag, force=True)
    client.images.pull(f"{registry.address}/fnpack/pushed", tag="ci-1")
    assert _run(client, tag, "cat /opt/nuclio/main.py") == HELLO_SOURCE

    # without --output the yaml is rewritten in place; rebuilding from it says why it cannot
    assert main(_image_args(path, tag, base_image, docker_daemon, "--push")) == 0
    assert yaml.safe_load(path.read_text())["spec"]["image"] == tag
    capsys.readouterr()
    assert main(_image_args(path, tag, base_image, docker_daemon)) == 1
    assert f"no spec.build.functionSourceCode to put in the image (it already deploys the image {tag})" in (
        capsys.readouterr().err
    )


def test_failing_build_command_is_a_one_line_error(docker_daemon, base_image, write_function, capsys):
    path = write_function(name="failing", commands=["echo about to fail", "exit 3"])
    rc = main(_image_args(path, "fnpack-test/failing:1", base_image, docker_daemon))
    err = capsys.readouterr().err
    assert rc == 1
    assert err.count("\n") == 1
    assert "image build failed:" in err and "returned a non-zero code: 3" in err


def test_push_failure_is_reported(docker_daemon, base_image, write_function, capsys):
    # nothing listens on port 9: the push fails, the yaml is not rewritten
    path = write_function(name="nopush", commands=[])
    before = path.read_text()
    rc = main(_image_args(path, "127.0.0.1:9/fnpack/nopush:1", base_image, docker_daemon, "--push"))
    err = capsys.readouterr().err
    assert rc == 1 and "fnpack image: error: push" in err and "failed" in err
    assert path.read_text() == before


def test_the_pushed_function_yaml_deploys_without_a_build(
    docker_daemon, base_image, registry, write_function, dashboard, creds_env, capsys
):
    path = write_function(name="prebuilt", commands=[])
    tag = f"{registry.address}/fnpack/prebuilt:1"
    assert main(_image_args(path, tag, base_image, docker_daemon, "--push")) == 0
    assert main(["deploy", str(path), "--dashboard", dashboard.url, "--poll-interval", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "Skipping build" in out and "Building processor image" not in out
    deployed = dashboard.record("prebuilt")
    assert deployed["spec"]["image"] == tag and "functionSourceCode" not in deployed["spec"]["build"]


def test_image_of_a_packaged_serving_graph(docker_daemon, base_image, tmp_path, capsys):
    """``fnpack build`` output goes into the image unchanged: main.py is the decoded functionSourceCode."""
    try:
        import fnpack.package.cli  # noqa: F401
    except ImportError:
        pytest.skip("fnpack build (fnpack.package) is not available in this tree")
    from .test_end_to_end import GRAPH_MODULE

    (tmp_path / "graph.py").write_text(GRAPH_MODULE)
    path = tmp_path / "function.yaml"
    assert main(["build", str(tmp_path / "graph.py"), "-o", str(path)]) == 0
    config = yaml.safe_load(path.read_text())
    assert config["spec"]["build"].get("commands") in (None, [])  # a busybox base cannot run pip
    assert main(_image_args(path, "fnpack-test/orders:1", base_image, docker_daemon)) == 0
    capsys.readouterr()
    in_image = docker_daemon.client.containers.run(
        "fnpack-test/orders:1", ["cat", "/opt/nuclio/main.py"], network_mode="none", remove=True
    )
    assert in_image == base64.b64decode(config["spec"]["build"]["functionSourceCode"])
