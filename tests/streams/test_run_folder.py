"""`fnpack run <folder>`: a parent and its child function run together, as `fnpack build` wrote them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from fnpack.package.function import write_function

from .test_pipeline_e2e import post, stream_pipeline
from .topics import read_topic

pytestmark = pytest.mark.kafka


def test_run_a_folder_runs_the_whole_pipeline(kafka_broker, tmp_path):
    for topic in ("folder-readings", "folder-alerts", "folder-errors"):
        kafka_broker.create_topic(topic)
    build_dir = tmp_path / "functions"
    build_dir.mkdir()
    fn = stream_pipeline.build(brokers=kafka_broker.bootstrap, fast_group=True, topic_prefix="folder-")
    write_function(fn.build(namespace=vars(stream_pipeline)), str(build_dir / "function.yaml"))
    child = fn.build(namespace=vars(stream_pipeline), current_function="scorer")
    write_function(child, str(build_dir / "pipeline-scorer.yaml"))

    proc = subprocess.Popen(
        [sys.executable, "-m", "fnpack.cli", "run", str(build_dir), "--port", "0", "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines, url, ready = [], None, set()
    try:
        deadline = time.monotonic() + 60
        while len(ready) < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"function '([\w-]+)' ready( at (http://\S+?))?;", line)
            if match:
                ready.add(match.group(1))
                url = url or match.group(3)
        assert ready == {"pipeline", "pipeline-scorer"}, "".join(lines)
        assert url and url.startswith("http://127.0.0.1:")
        for i in range(5):
            assert post(url, {"sensor": f"s{i}", "value": 90 + i})[0] == 200
        alerts = read_topic(kafka_broker, "folder-alerts", 5)
        assert sorted(a["sensor"] for a in alerts) == [f"s{i}" for i in range(5)]
        assert all(a["alert"] for a in alerts)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(lines) + out
    assert "stopped" in out


def test_run_a_folder_without_functions_is_a_clear_error(tmp_path):
    (tmp_path / "notes.yaml").write_text("just: data\n")
    done = subprocess.run(
        [sys.executable, "-m", "fnpack.cli", "run", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.strip().endswith("no nuclio function.yaml in this folder")
