"""`fnpack build` on a multi-function graph writes the parent and each child function."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stream_pipeline.py"


def test_build_writes_one_function_yaml_per_function(tmp_path, monkeypatch):
    env = {"KAFKA_BROKERS": "10.1.2.3:9092", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "fnpack.cli",
            "build",
            f"{EXAMPLE}:build",
            "-o",
            str(tmp_path / "function.yaml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "wrote" in out and "pipeline-scorer.yaml (child function" in out
    parent = yaml.safe_load((tmp_path / "function.yaml").read_text())
    child = yaml.safe_load((tmp_path / "pipeline-scorer.yaml").read_text())
    assert parent["metadata"]["name"] == "pipeline"
    assert "http" in {t["kind"] for t in parent["spec"]["triggers"].values()}
    assert child["metadata"]["name"] == "pipeline-scorer"
    assert {"name": "SERVING_CURRENT_FUNCTION", "value": "scorer"} in child["spec"]["env"]
    (trigger,) = child["spec"]["triggers"].values()
    assert trigger["kind"] == "kafka-cluster"
    assert trigger["attributes"]["brokers"] == ["10.1.2.3:9092"]
    assert trigger["attributes"]["topics"] == ["readings"]
    assert any("confluent-kafka" in command for command in child["spec"]["build"]["commands"])


def test_no_children_flag(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "fnpack.cli",
            "build",
            f"{EXAMPLE}:build",
            "-o",
            str(tmp_path / "f.yaml"),
            "--no-children",
        ],
        capture_output=True,
        check=True,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.yaml"]
