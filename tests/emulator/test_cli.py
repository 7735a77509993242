"""``fnpack run`` as a process (readiness line, SIGTERM drains) and ``fnpack invoke``."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from fnpack.cli import main
from fnpack.emulator import serve

from .conftest import wait_for
from .handlers import ECHO

READY = re.compile(r"function 'fn' ready at (http://127\.0\.0\.1:\d+)")


def _lines(stream, out: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        out.put(line)
    out.put(None)


def _start_run(path, *extra):
    """``fnpack run`` as a child process; returns (process, base URL, stderr lines seen so far)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "fnpack.cli", "run", str(path), "--port", "0", *extra],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stderr, lines), daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        if line is None:
            proc.kill()
            raise AssertionError("fnpack run exited early:\n" + "".join(seen))
        seen.append(line)
        match = READY.search(line)
        if match:
            proc.lines = lines  # what it logs from here on
            return proc, match.group(1), seen
    proc.kill()
    raise AssertionError("no readiness line:\n" + "".join(seen))


def test_run_prints_readiness_serves_and_stops_cleanly_on_sigterm(write_function, tmp_path):
    path = write_function(ECHO, env=[{"name": "MARKER_DIR", "value": str(tmp_path)}])
    proc, url, seen = _start_run(path, "--workers", "2")
    try:
        assert sum("initialised" in s for s in seen) == 2  # structured worker logs on the console
        assert requests.post(url + "/describe", json={"a": 1}, timeout=10).json()["body"] == {"a": 1}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (tmp_path / "terminated-0").exists() and (tmp_path / "terminated-1").exists()


def test_run_json_logs_are_one_object_per_line(write_function):
    proc, url, seen = _start_run(write_function(ECHO), "--log-format", "json")
    try:
        records = [json.loads(line) for line in seen]
        assert {r["worker"] for r in records} >= {"emulator", "fn/default-http/0"}
        init = next(r for r in records if r["message"] == "initialised")
        assert init["with"] == {"worker_id": 0} and init["level"] == "info"
        assert requests.get(url + "/ret/str", timeout=10).text == "hello"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_second_ctrl_c_does_not_wait_for_a_stuck_event(write_function, tmp_path):
    path = write_function(ECHO, env=[{"name": "MARKER_DIR", "value": str(tmp_path)}])
    proc, url, _ = _start_run(path)
    try:
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(requests.get, url + "/hold", timeout=30)
            wait_for(lambda: (tmp_path / "holding").exists(), what="the worker to hold the event")
            proc.send_signal(signal.SIGINT)
            time.sleep(0.3)  # not synchronisation: the first Ctrl-C must not be enough on its own
            assert proc.poll() is None  # still draining the held event
            t0 = time.monotonic()
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0
            assert time.monotonic() - t0 < 5
            assert held.result().status_code == 503
    finally:
        if proc.poll() is None:
            proc.kill()


def test_invoke_with_function_yaml_prints_status_headers_and_pretty_json(write_function, capsys):
    path = write_function(ECHO)
    code = main(["invoke", str(path), "--path", "/describe?q=1", "-d", '{"x": 1}', "-H", "X-Trace: abc"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("HTTP 200 OK\n")
    assert "Content-Type: application/json" in out
    body = json.loads(out.split("\n\n", 1)[1])
    assert body["body"] == {"x": 1}
    assert body["headers"]["x-trace"] == "abc"
    assert body["fields"] == {"q": "1"}
    assert '\n  "body": {\n' in out  # pretty printed


def test_invoke_url_with_body_file_and_failure_exit_code(write_function, tmp_path, capsys):
    path = write_function(ECHO)
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"raw-bytes")
    with serve(path) as fn:
        assert (
            main(["invoke", fn.url, "--path", "/echo", "-d", f"@{payload}", "--content-type", "text/plain"])
            == 0
        )
        out = capsys.readouterr().out
        assert out.endswith("\n\nraw-bytes\n")
        assert main(["invoke", fn.url, "--path", "/raise", "-X", "GET"]) == 1
        assert capsys.readouterr().out.startswith("HTTP 500")


def test_invoke_errors_are_one_line(tmp_path, capsys):
    assert main(["invoke", str(tmp_path / "missing.yaml")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["invoke", "http://127.0.0.1:9", "--timeout", "2"]) == 1
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("fnpack invoke: error: GET http://127.0.0.1:9/: cannot connect (connection refused)")
        and "\n" not in err
    )
    assert main(["invoke", "http://127.0.0.1:9", "-H", "novalue"]) == 1
    assert "expected KEY:VALUE" in capsys.readouterr().err


def test_help_texts():
    out = subprocess.run(
        [sys.executable, "-m", "fnpack.cli", "run", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--workers" in out and "termination callback" in out
    out = subprocess.run(
        [sys.executable, "-m", "fnpack.cli", "invoke", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "@FILE" in out and "function.yaml" in out


def _next_line_with(proc, text: str) -> str | None:
    """The next line ``fnpack run`` logged that contains ``text`` (None when none has come yet)."""
    while True:
        try:
            line = proc.lines.get_nowait()
        except queue.Empty:
            return None
        if line is not None and text in line:
            return line


VERSIONED = """
def handler(context, event):
    return "{version}"
"""


def test_run_watch_restarts_on_a_changed_yaml_and_keeps_a_broken_one_out(write_function):
    path = write_function(VERSIONED.format(version="v1"))
    proc, url, seen = _start_run(path, "--watch")
    try:
        assert requests.get(url, timeout=10).text == "v1"
        write_function(VERSIONED.format(version="v2"))  # as `fnpack build` would rewrite it

        def answer():
            try:
                return requests.get(url, timeout=2).text
            except requests.ConnectionError:  # between the old version's stop and the new one's start
                return None

        wait_for(lambda: answer() == "v2", timeout=30, what="the new version on the same URL")
        path.write_text("kind: Function\nspec: [not, a, mapping]\n")  # broken: the running version stays
        reported = wait_for(lambda: _next_line_with(proc, "not restarting"), timeout=30, what="the report")
        assert "missing 'spec' mapping" in reported and "the running version stays" in reported
        assert answer() == "v2"
        write_function(VERSIONED.format(version="v3"))
        wait_for(lambda: answer() == "v3", timeout=30, what="v3 after the broken yaml was fixed")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


SECRET_READER = """
import os


def handler(context, event):
    return os.environ.get("TOKEN", "<unset>") + "/" + os.environ.get("REGION", "<unset>")
"""


def test_run_env_fills_what_nuclio_takes_from_secrets(write_function, tmp_path):
    secret = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}]
    path = write_function(SECRET_READER, env=secret)
    proc, url, seen = _start_run(path)
    try:
        assert requests.get(url, timeout=10).text == "<unset>/<unset>"
        assert any("env TOKEN comes from a secret or config map" in s and "--env TOKEN=" in s for s in seen)
    finally:
        proc.kill()
        proc.wait(10)
    env_file = tmp_path / "local.env"
    env_file.write_text('# local secrets\nexport TOKEN="from-file"\nREGION=eu\n')
    proc, url, seen = _start_run(path, "--env-file", str(env_file), "-e", "TOKEN=s3cret")
    try:
        assert requests.get(url, timeout=10).text == "s3cret/eu"  # --env wins over the file
        assert not any("comes from a secret" in s for s in seen)
    finally:
        proc.kill()
        proc.wait(10)


def test_run_bad_env_options_are_one_line_errors(write_function, tmp_path, capsys):
    path = write_function(SECRET_READER)
    assert main(["run", str(path), "--env", "NOEQUALS"]) == 1
    assert "--env: expected NAME=VALUE, got 'NOEQUALS'" in capsys.readouterr().err
    assert main(["run", str(path), "--env-file", str(tmp_path / "missing.env")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_invoke_a_function_yaml_with_env(write_function, capsys):
    path = write_function(SECRET_READER)
    assert main(["invoke", str(path), "-e", "TOKEN=t", "--env", "REGION=us"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("t/us")
