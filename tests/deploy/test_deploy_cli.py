"""``fnpack deploy/get/delete`` over real HTTP against the test nuclio dashboard."""

from __future__ import annotations

import asyncio
import re

import pytest

from fnpack.cli import main

from .conftest import PASSWORD, SECRETS, USER, function_config

FAST = ["--poll-interval", "0.01"]


def _log_messages(dashboard, name: str) -> list[str]:
    return [entry["message"] for entry in dashboard.record(name)["status"]["logs"]]


def test_deploy_creates_project_and_function_and_streams_each_log_once(
    dashboard, creds_env, write_function, capsys
):
    path = write_function(name="hello", commands=["pip install requests", "pip install numpy"])
    rc = main(["deploy", str(path), "--dashboard", dashboard.url, "--project", "models", *FAST])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "created project models" in out
    assert "creating function hello in project models" in out
    record = dashboard.record("hello")
    assert record["status"]["state"] == "ready"
    assert record["metadata"]["labels"]["nuclio.io/project-name"] == "models"
    # logs arrived over several polls while building, and every entry was printed exactly once
    assert record["_gets_while_building"] >= 2
    log_lines = [line for line in out.splitlines() if re.match(r"^\d\d:\d\d:\d\d\.\d{3} ", line)]
    entries = record["status"]["logs"]
    assert len(log_lines) == len(entries) >= 6
    for line, entry in zip(log_lines, entries):
        assert f" {entry['message']}" in line
    assert out.count('"command": "pip install numpy"') == 1
    states = [m for m, p, _ in dashboard.requests if m == "GET" and p == "/api/functions/hello"]
    assert len(states) >= 3  # polled through building and waitingForResourceConfiguration to ready
    assert "function hello is ready" in out
    posts = [h for m, p, h in dashboard.requests if m == "POST" and p == "/api/functions"]
    assert posts and posts[0]["x-nuclio-project-name"] == "models"


def test_redeploy_updates_and_prints_only_the_new_logs(dashboard, creds_env, write_function, capsys):
    path = write_function(name="again")
    assert main(["deploy", str(path), "--dashboard", dashboard.url, *FAST]) == 0
    capsys.readouterr()
    assert main(["deploy", str(path), "--dashboard", dashboard.url, *FAST]) == 0
    out = capsys.readouterr().out
    assert "updating function again in project default" in out
    assert [m for m, p, _ in dashboard.requests if p == "/api/functions/again" and m == "PUT"] == ["PUT"]
    assert out.count("Deploying function") == 1
    assert out.count("Function deploy complete") == 1


def test_import_failure_ends_in_error_with_the_dashboards_message(
    dashboard, creds_env, write_function, capsys
):
    path = write_function(
        name="broken", source="import not_a_module_xyz\n\ndef handler(context, event):\n    pass\n"
    )
    rc = main(["deploy", str(path), "--dashboard", dashboard.url, *FAST])
    out, err = capsys.readouterr()
    assert rc == 1
    message = dashboard.record("broken")["status"]["message"]
    assert "No module named 'not_a_module_xyz'" in message
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("fnpack deploy: error: function broken failed to deploy (error): ")
    assert message in err


def test_invalid_config_ends_in_error(dashboard, creds_env, write_function, capsys):
    path = write_function(name="gofn", runtime="golang")
    assert main(["deploy", str(path), "--dashboard", dashboard.url, *FAST]) == 1
    assert "Runtime not supported: golang" in capsys.readouterr().err


def test_polling_rides_out_a_few_unavailable_answers(dashboard, creds_env, write_function, capsys):
    dashboard.hold_building.add("flaky")
    path = write_function(name="flaky")

    def hiccup_then_release():
        dashboard.unavailable_gets = 3
        dashboard.hold_building.discard("flaky")

    with _once_building(dashboard, "flaky", hiccup_then_release):
        rc = main(["deploy", str(path), "--dashboard", dashboard.url, *FAST])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.count("poll failed (dashboard GET /api/functions/flaky failed: 503 Service Unavailable") == 3
    assert "function flaky is ready" in out


def test_polling_gives_up_after_repeated_unavailable_answers(dashboard, creds_env, write_function, capsys):
    dashboard.hold_building.add("down")
    with _once_building(dashboard, "down", lambda: setattr(dashboard, "unavailable_gets", 1000)):
        rc = main(["deploy", str(write_function(name="down")), "--dashboard", dashboard.url, *FAST])
    assert rc == 1
    assert "503 Service Unavailable" in capsys.readouterr().err


def test_timeout_while_building(dashboard, creds_env, write_function, capsys):
    dashboard.hold_building.add("slow")
    path = write_function(name="slow")
    rc = main(["deploy", str(path), "--dashboard", dashboard.url, "--timeout", "0.5", *FAST])
    err = capsys.readouterr().err
    assert rc == 1
    assert "timed out after 0.5s waiting for function slow (state building)" in err
    assert dashboard.record("slow")["status"]["state"] == "building"


def test_wrong_password_is_a_one_line_error_without_the_secret(
    dashboard, write_function, capsys, monkeypatch
):
    monkeypatch.setenv("NUCLIO_USERNAME", USER)
    monkeypatch.setenv("NUCLIO_PASSWORD", "wrong-" + PASSWORD)
    rc = main(["deploy", str(write_function()), "--dashboard", dashboard.url, *FAST])
    out, err = capsys.readouterr()
    assert rc == 1
    assert err.count("\n") == 1
    assert "refused the credentials (401 Unauthorized)" in err
    assert PASSWORD not in out + err


def test_no_credentials_is_refused(dashboard, write_function, capsys, monkeypatch):
    for var in ("NUCLIO_USERNAME", "NUCLIO_PASSWORD", "NUCLIO_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert main(["get", "hello", "--dashboard", dashboard.url]) == 1
    assert "401" in capsys.readouterr().err


def test_access_key_flag_and_credentials_never_leak(dashboard, write_function, capsys, monkeypatch, tmp_path):
    for var in ("NUCLIO_USERNAME", "NUCLIO_PASSWORD", "NUCLIO_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    path = write_function(name="keyed")
    before = path.read_text()
    assert main(["deploy", str(path), "--dashboard", dashboard.url, "--access-key", SECRETS[1], *FAST]) == 0
    assert main(["get", "keyed", "--dashboard", dashboard.url, "--access-key", SECRETS[1], "--json"]) == 0
    out, err = capsys.readouterr()
    assert path.read_text() == before  # deploy never writes the yaml
    seen = out + err + "".join(dashboard.bodies) + "".join(p.read_text() for p in tmp_path.rglob("*.yaml"))
    for secret in SECRETS:
        assert secret not in seen
    headers = [h for _, p, h in dashboard.requests if p == "/api/functions"]
    assert headers and all(h.get("X-V3io-Session-Key") == SECRETS[1] for h in headers)
    assert all(h.get("Cookie") == f'session=j:{{"sid": "{SECRETS[1]}"}}' for h in headers)


def test_a_function_of_another_project_is_not_taken_over(dashboard, creds_env, write_function, capsys):
    path = write_function(name="owned")
    assert main(["deploy", str(path), "--dashboard", dashboard.url, "--project", "team-a", *FAST]) == 0
    capsys.readouterr()
    assert main(["deploy", str(path), "--dashboard", dashboard.url, "--project", "team-b", *FAST]) == 1
    assert "function owned already exists in project team-a" in capsys.readouterr().err
    assert [m for m, p, _ in dashboard.requests if m == "PUT"] == []
    # without any project named, an update keeps the function's own
    assert main(["deploy", str(path), "--dashboard", dashboard.url, *FAST]) == 0
    assert "updating function owned in project team-a" in capsys.readouterr().out


def test_credentials_in_the_url_are_used_but_never_printed(dashboard, write_function, capsys, monkeypatch):
    for var in ("NUCLIO_USERNAME", "NUCLIO_PASSWORD", "NUCLIO_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    url = dashboard.url.replace("http://", f"http://{USER}:{PASSWORD}@")
    monkeypatch.setenv("NUCLIO_DASHBOARD_URL", url)
    assert main(["deploy", str(write_function(name="inurl")), *FAST]) == 0
    out, err = capsys.readouterr()
    assert f"at {dashboard.url}" in out
    assert PASSWORD not in out + err


def test_get_and_delete(dashboard, creds_env, write_function, capsys):
    path = write_function(name="gone")
    assert main(["deploy", str(path), "--dashboard", dashboard.url, *FAST]) == 0
    capsys.readouterr()
    assert main(["get", "gone", "--dashboard", dashboard.url]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^state:\s+ready$", out, re.M)
    assert re.search(r"^name:\s+gone$", out, re.M)
    assert main(["get", str(path), "--dashboard", dashboard.url]) == 0  # by yaml too
    capsys.readouterr()
    assert main(["delete", "gone", "--dashboard", dashboard.url]) == 0
    assert "deleted function gone" in capsys.readouterr().out
    assert dashboard.record("gone") is None
    deletes = [h for m, p, h in dashboard.requests if m == "DELETE"]
    assert len(deletes) == 1
    assert main(["get", "gone", "--dashboard", dashboard.url]) == 1
    assert "function gone does not exist" in capsys.readouterr().err
    assert main(["delete", "gone", "--dashboard", dashboard.url]) == 1
    assert main(["delete", "gone", "--dashboard", dashboard.url, "--missing-ok"]) == 0


def test_no_wait_returns_while_building_and_delete_needs_force_then(
    dashboard, creds_env, write_function, capsys
):
    dashboard.hold_building.add("later")
    assert main(["deploy", str(write_function(name="later")), "--dashboard", dashboard.url, "--no-wait"]) == 0
    assert "function later submitted (state building)" in capsys.readouterr().out
    assert main(["delete", "later", "--dashboard", dashboard.url]) == 1
    err = capsys.readouterr().err
    assert "412" in err and "transient state (building)" in err and "--force deletes it anyway" in err
    assert main(["delete", "later", "--dashboard", dashboard.url, "--force"]) == 0
    assert dashboard.record("later") is None


def test_missing_dashboard_url_and_unreachable_dashboard(write_function, capsys, monkeypatch, creds_env):
    assert main(["deploy", str(write_function())]) == 1
    assert "no dashboard URL: pass --dashboard or set NUCLIO_DASHBOARD_URL" in capsys.readouterr().err
    assert main(["deploy", str(write_function()), "--dashboard", "http://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach the nuclio dashboard at http://127.0.0.1:9" in err


def test_bad_function_yaml_is_a_one_line_error(tmp_path, capsys, creds_env):
    bad = tmp_path / "bad.yaml"
    bad.write_text("metadata: {name: Not_A_Dns_Name}\nspec: {}\n")
    assert main(["deploy", str(bad), "--dashboard", "http://127.0.0.1:9"]) == 1
    assert "is not a DNS-1123 label" in capsys.readouterr().err
    assert main(["deploy", str(tmp_path / "missing.yaml"), "--dashboard", "http://127.0.0.1:9"]) == 1
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["models"])
def test_library_deploy_returns_status_and_leaves_the_config_alone(dashboard, name):
    from fnpack.deploy import deploy, get

    config = function_config(name=name)
    snapshot = repr(config)
    status = deploy(
        config, dashboard=dashboard.url, project="lib", username=USER, password=PASSWORD, poll_interval=0.01
    )
    assert repr(config) == snapshot
    assert status.name == name and status.state == "ready" and status.project == "lib"
    again = get(name, dashboard=dashboard.url, username=USER, password=PASSWORD)
    assert again is not None and again.state == "ready"


class _once_building:
    """Run ``action`` on the dashboard's loop as soon as the function exists there (no sleeps in the test)."""

    def __init__(self, dashboard, name, action):
        self.dashboard, self.name, self.action = dashboard, name, action

    def __enter__(self):
        async def watch():
            while self.dashboard.functions.get(("nuclio", self.name)) is None:
                await asyncio.sleep(0.005)
            self.action()

        self.future = asyncio.run_coroutine_threadsafe(watch(), self.dashboard.loop)

    def __exit__(self, *exc):
        self.future.result(10)
