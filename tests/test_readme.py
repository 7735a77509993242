"""The README's walkthrough works as written: model.py -> mock server -> build -> validate -> invoke."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def fnpack(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "fnpack.cli", *args], cwd=cwd, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_readme_first_lines_are_the_two_setup_commands():
    lines = README.read_text().splitlines()
    commands = [line.split("#")[0].strip() for line in lines[:5] if line.startswith("    make ")]
    assert commands == ["make demo", "make test"]


def test_walkthrough(tmp_path):
    code = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[0]
    (tmp_path / "model.py").write_text(code)
    mock = subprocess.run(
        [sys.executable, "model.py"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert "'outputs': [3, 6]" in mock.stdout
    fnpack("build", "model.py", "-o", "function.yaml", cwd=tmp_path)
    assert "init ok in a fresh interpreter" in fnpack("validate", "function.yaml", cwd=tmp_path)
    out = fnpack(
        "invoke",
        "function.yaml",
        "--path",
        "/v2/models/double/infer",
        "-d",
        '{"inputs": [1, 2]}',
        cwd=tmp_path,
    )
    body = json.loads(out[out.index("{") :])
    assert body["outputs"] == [3, 6] and body["model_name"] == "double"
