"""``fnpack deploy`` then an HTTP call to the reported URL: the dashboard runs the function in the emulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from fnpack.cli import main

from .conftest import PASSWORD, USER
from .nuclio_dashboard import NuclioDashboard, emulator_serve


def test_deploy_then_invoke_the_reported_url(dashboard, creds_env, write_function, capsys):
    if emulator_serve() is None:
        pytest.skip("fnpack.emulator.serve is not available in this tree: the dashboard cannot run functions")
    path = write_function(name="greeter")
    assert main(["deploy", str(path), "--dashboard", dashboard.url, "--poll-interval", "0.01"]) == 0
    out = capsys.readouterr().out
    match = re.search(r"function greeter is ready: (http://\S+)", out)
    assert match, out
    url = match.group(1)
    reply = requests.post(url, data=b"world", timeout=30)
    assert reply.status_code == 200
    assert reply.text == "hello world"
    assert main(["get", "greeter", "--dashboard", dashboard.url]) == 0
    assert f"url:          {url}" in capsys.readouterr().out
    assert main(["delete", "greeter", "--dashboard", dashboard.url]) == 0
    with pytest.raises(requests.ConnectionError):
        requests.post(url, data=b"world", timeout=5)  # the function stopped with its deletion


def test_old_dashboards_reporting_only_a_port(creds_env, write_function, capsys):
    """nuclio < 1.6 gives ``httpPort`` only: the URL is built from ``/api/external_ip_addresses``."""
    if emulator_serve() is None:
        pytest.skip("fnpack.emulator.serve is not available in this tree: the dashboard cannot run functions")
    server = NuclioDashboard(report_invocation_urls=False).start()
    try:
        assert (
            main(
                [
                    "deploy",
                    str(write_function(name="oldstyle")),
                    "--dashboard",
                    server.url,
                    "--poll-interval",
                    "0.01",
                ]
            )
            == 0
        )
        record = server.record("oldstyle")
        assert "externalInvocationUrls" not in record["status"]
        port = record["status"]["httpPort"]
        assert f"function oldstyle is ready: http://127.0.0.1:{port}" in capsys.readouterr().out
        assert requests.post(f"http://127.0.0.1:{port}", data=b"there", timeout=30).text == "hello there"
        assert ("GET", "/api/external_ip_addresses") in [(m, p) for m, p, _ in server.requests]
    finally:
        server.stop()


def test_function_that_cannot_start_ends_unhealthy(dashboard, creds_env, write_function, capsys):
    if emulator_serve() is None:
        pytest.skip("fnpack.emulator.serve is not available in this tree: the dashboard cannot run functions")
    source = (
        "def init_context(context):\n"
        "    raise RuntimeError('model file missing')\n\n"
        "def handler(context, event):\n"
        "    return 'never'\n"
    )
    path = write_function(name="sick", source=source)
    assert main(["deploy", str(path), "--dashboard", dashboard.url, "--poll-interval", "0.01"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fnpack deploy: error: function sick failed to deploy (unhealthy): ")
    assert "model file missing" in err
    assert dashboard.record("sick")["status"]["state"] == "unhealthy"


def test_console_script_deploys_with_env_credentials(dashboard, write_function):
    """The installed ``fnpack`` entry point, as CI runs it: credentials only in the environment."""
    script = Path(sys.executable).with_name("fnpack")
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable} (package not installed)")
    env = {
        **os.environ,
        "NUCLIO_DASHBOARD_URL": dashboard.url,
        "NUCLIO_USERNAME": USER,
        "NUCLIO_PASSWORD": PASSWORD,
    }
    path = write_function(name="scripted")
    done = subprocess.run(
        [str(script), "deploy", str(path), "--poll-interval", "0.01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "function scripted is ready" in done.stdout
    env["NUCLIO_PASSWORD"] = "not-" + PASSWORD
    done = subprocess.run(
        [str(script), "get", "scripted"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert (
        done.stderr.startswith("fnpack get: error: the nuclio dashboard at")
        and "Traceback" not in done.stderr
    )
    assert PASSWORD not in done.stdout + done.stderr


GRAPH_MODULE = """
import fnpack

fn = fnpack.new_function("orders")
graph = fn.set_topology("flow", engine="sync")
graph.to(name="double", handler="(event * 2)").to(name="inc", handler="(event + 1)").respond()
"""


def test_build_deploy_invoke_a_serving_graph(dashboard, creds_env, tmp_path, capsys):
    """The whole path of DESIGN.md: ``fnpack build`` → ``fnpack deploy`` → an HTTP call to the function."""
    if emulator_serve() is None:
        pytest.skip("fnpack.emulator.serve is not available in this tree: the dashboard cannot run functions")
    try:
        import fnpack.package.cli  # noqa: F401
    except ImportError:
        pytest.skip("fnpack build (fnpack.package) is not available in this tree")
    (tmp_path / "graph.py").write_text(GRAPH_MODULE)
    yaml_path = tmp_path / "function.yaml"
    assert main(["build", str(tmp_path / "graph.py"), "-o", str(yaml_path)]) == 0
    assert (
        main(
            [
                "deploy",
                str(yaml_path),
                "--dashboard",
                dashboard.url,
                "--project",
                "shop",
                "--poll-interval",
                "0.01",
            ]
        )
        == 0
    )
    url = re.search(r"function orders is ready: (http://\S+)", capsys.readouterr().out).group(1)
    reply = requests.post(url, json=5, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json() == 11
