"""The files in deploy/ stay valid: YAML parses, and the workflow's fnpack commands parse with the real CLI."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import yaml

from fnpack.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_compose_file_runs_the_dashboard_on_localhost_only():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    service = compose["services"]["nuclio-dashboard"]
    assert service["image"].startswith("quay.io/nuclio/dashboard:")
    assert service["ports"] == ["127.0.0.1:8070:8070"]


def test_workflow_commands_parse_with_the_cli():
    workflow = yaml.safe_load((DEPLOY / "ci" / "deploy-function.yml").read_text())
    steps = workflow["jobs"]["deploy"]["steps"]
    script = "\n".join(step.get("run", "") for step in steps).replace("\\\n", " ")
    commands = [
        shlex.split(line.split("#")[0]) for line in script.splitlines() if line.strip().startswith("fnpack ")
    ]
    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    known = set(subcommands.choices)  # the commands this tree has
    checked = {argv[1] for argv in commands if argv[1] in known}
    assert {"image", "deploy", "get"} <= checked
    for argv in commands:
        if argv[1] in checked:
            args = parser.parse_args(argv[1:])  # exits (fails the test) on an unknown flag
            assert callable(args.func)
    secrets_env = steps[-2]["env"]
    assert set(secrets_env) >= {
        "NUCLIO_DASHBOARD_URL",
        "NUCLIO_USERNAME",
        "NUCLIO_PASSWORD",
        "NUCLIO_ACCESS_KEY",
    }
