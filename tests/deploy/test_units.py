"""Pure pieces of the deploy package: log tracking, URLs, credentials, Dockerfile and yaml rewrite."""

from __future__ import annotations

import pytest

from fnpack.deploy import dockerfile
from fnpack.deploy.api import invocation_url
from fnpack.deploy.config import handler_module, load_function
from fnpack.deploy.credentials import Credentials, split_url
from fnpack.deploy.errors import DeployError
from fnpack.deploy.image import default_base_image, with_image
from fnpack.deploy.watch import LogTracker, format_log

from .conftest import function_config


def test_log_tracker_yields_each_entry_once_even_when_the_list_is_replaced():
    a = {"time": 1, "level": "info", "message": "a"}
    b = {"time": 2, "level": "info", "message": "b"}
    c = {"time": 3, "level": "info", "message": "c"}
    tracker = LogTracker([a])
    assert tracker.new([a, b]) == [b]
    assert tracker.new([a, b]) == []
    assert tracker.new([c]) == [c]  # a redeploy may start a new list
    assert tracker.new(None) == []


def test_format_log_escapes_markup_and_shows_context():
    line = format_log({"time": 0, "level": "info", "message": "[bold]x[/]", "name": "deployer", "k": 1})
    assert line == '00:00:00.000 info  \\[bold]x\\[/] {"k": 1}'
    assert format_log({"message": "m"}, redact=lambda s: s.replace("m", "*")) == "info  *"


def test_split_url_moves_credentials_out_of_the_url():
    url, creds = split_url("https://me:p%40ss@dash.example:8070/api")
    assert url == "https://dash.example:8070/api"
    assert (creds.username, creds.password) == ("me", "p@ss")
    assert split_url("http://dash")[0] == "http://dash"


def test_credentials_repr_hides_secrets_and_flags_win_over_env():
    env = {"NUCLIO_USERNAME": "env-user", "NUCLIO_PASSWORD": "env-pw", "NUCLIO_ACCESS_KEY": "env-key"}
    creds = Credentials.resolve(username="flag-user", env=env)
    assert creds.username == "flag-user" and creds.password == "env-pw" and creds.access_key == "env-key"
    assert "env-pw" not in repr(creds) and "env-key" not in repr(creds)


def test_dashboard_messages_are_scrubbed_of_secrets_even_encoded():
    import base64

    from fnpack.deploy.credentials import redact

    creds = Credentials(username="u", password="pw-1", access_key="ak-2")
    token = base64.b64encode(b"u:pw-1").decode()
    assert redact(f"bad pw-1 / ak-2 / Basic {token}", creds.secrets()) == "bad *** / *** / Basic ***"


def test_access_key_falls_back_to_v3io_access_key():
    assert Credentials.resolve(env={"V3IO_ACCESS_KEY": "k"}).access_key == "k"
    assert Credentials.resolve(env={"V3IO_ACCESS_KEY": "k", "NUCLIO_ACCESS_KEY": "n"}).access_key == "n"


def test_invocation_url_prefers_external_and_adds_a_scheme():
    assert invocation_url(["1.2.3.4:3000"], ["fn.svc:8080"], 3000, "http://d") == "http://1.2.3.4:3000"
    assert invocation_url([], ["https://fn.internal"], None, "http://d") == "https://fn.internal"
    assert invocation_url([], [], 31000, "https://dash.example:8070") == "http://dash.example:31000"
    assert invocation_url([], [], 31000, "https://dash.example:8070", "10.0.0.9") == "http://10.0.0.9:31000"
    assert invocation_url([], [], None, "http://d") is None


def test_load_function_checks_names_and_handlers(tmp_path):
    with pytest.raises(DeployError, match="DNS-1123"):
        load_function({"metadata": {"name": "Bad_Name"}, "spec": {}})
    with pytest.raises(DeployError, match="no metadata.name"):
        load_function({"spec": {}})
    assert handler_module({"spec": {"handler": "a.b:run"}}) == ("a.b", "run")
    with pytest.raises(DeployError, match="module:function"):
        handler_module({"spec": {"handler": "nohandler"}})
    bad = tmp_path / "f.yaml"
    bad.write_text("metadata: [unclosed\n")
    with pytest.raises(DeployError, match="not valid YAML"):
        load_function(bad)


def test_dockerfile_with_nuclio_processor_stage():
    text = dockerfile.render(
        name="fn",
        handler="main:handler",
        base_image="python:3.11-slim",
        commands=['pip install "x<2"'],
        processor_image=dockerfile.onbuild_image("1.13.0"),
    )
    lines = text.splitlines()
    assert lines[1] == "FROM quay.io/nuclio/handler-builder-python-onbuild:1.13.0-amd64 AS processor"
    assert "FROM python:3.11-slim" in lines
    assert "COPY --from=processor /home/nuclio/bin/processor /usr/local/bin/processor" in lines
    assert 'RUN ["/bin/sh", "-c", "pip install \\"x<2\\""]' in lines
    assert lines[-1] == 'CMD ["processor"]'
    plain = dockerfile.render(name="fn", handler="m:h", base_image="b", commands=[], processor_image=None)
    assert "--from=processor" not in plain and "AS processor" not in plain and "CMD" not in plain


def test_default_base_image_from_runtime():
    assert default_base_image(function_config(runtime="python:3.9")) == "python:3.9-slim"
    assert default_base_image(function_config(runtime="python")) == "python:3.11-slim"
    config = function_config()
    config["spec"]["build"]["baseImage"] = "my/base:1"
    assert default_base_image(config) == "my/base:1"
    with pytest.raises(DeployError, match="not a Python runtime"):
        default_base_image(function_config(runtime="golang"))


def test_with_image_leaves_nothing_that_would_make_nuclio_build():
    config = function_config()
    config["status"] = {"state": "ready"}
    config["spec"]["build"].update(
        path="/src", image="old/target", baseImage="python:3.11", noBaseImagesPull=True
    )
    out = with_image(config, "reg/fn:1")
    assert out["spec"]["image"] == "reg/fn:1"
    assert out["spec"]["build"] == {
        "codeEntryType": "image",
        "baseImage": "python:3.11",
        "noBaseImagesPull": True,
    }
    assert "status" not in out and "image" not in config["spec"]  # the input is not touched
    assert config["spec"]["build"]["functionSourceCode"]


def test_unreachable_docker_engine_is_a_short_reason(tmp_path):
    from fnpack.deploy.image import build_image

    sock = f"unix://{tmp_path}/none.sock"
    with pytest.raises(DeployError) as info:
        build_image(function_config(), "x:1", docker_host=sock)
    assert str(info.value) == (
        f"cannot reach the Docker Engine at {sock} (No such file or directory); "
        "is dockerd running? (--docker-host, DOCKER_HOST)"
    )
