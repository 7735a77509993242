"""The wheel ships ``fnpack.handlers`` and ``fnpack.templates`` and ``importlib.resources`` finds them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import importlib.resources as resources, json
templates = resources.files("fnpack.templates")
handlers = resources.files("fnpack.handlers")
print(json.dumps({
    "templates": sorted(p.name for p in templates.iterdir() if not p.name.startswith("__")),
    "handlers": sorted(p.name for p in handlers.iterdir() if p.name.endswith(".py")),
    "skeleton": "apiVersion: nuclio.io/v1" in templates.joinpath("function.yaml").read_text(),
    "location": str(handlers),
}))
"""


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "fnpack").rglob("__init__.py")} | {
        "fnpack.handlers",
        "fnpack.templates",
    }
    assert on_disk <= listed, (
        f"add to [tool.setuptools] packages in pyproject.toml: {sorted(on_disk - listed)}"
    )


def test_editable_install_finds_resources():
    from fnpack.deploy.dockerfile import render
    from fnpack.package.resources import handler_sources, read_template

    assert "kind: Function" in read_template("function.yaml")
    assert "FROM {base_image}" in read_template("Dockerfile")
    dockerfile = render(
        name="f", handler="main:handler", base_image="python:3.11-slim", commands=["pip install cloudpickle"],
        processor_image=None,
    )  # fmt: skip
    lines = dockerfile.splitlines()
    assert lines[1] == "FROM python:3.11-slim"
    assert 'RUN ["/bin/sh", "-c", "pip install cloudpickle"]' in lines
    assert "COPY function.yaml /etc/nuclio/config/processor/processor.yaml" in lines
    assert {"fnpack.handlers", "fnpack.handlers.serving", "fnpack.handlers.events"} <= set(handler_sources())


@pytest.mark.slow
def test_wheel_install_finds_handlers_and_templates(tmp_path):
    import json
    import shutil

    # build from a copy: setuptools writes build/ and *.egg-info into the source tree, which others share
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    for name in ("fnpack", "handlers", "templates"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if build.returncode != 0:
        pytest.fail(f"wheel build failed: {build.stderr[-2000:]}")
    wheel = next(dist.glob("fnpack-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        timeout=300,
    )
    out = subprocess.run(
        [str(python), "-I", "-c", CHECK], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert {"Dockerfile", "function.yaml", "source.py.tmpl"} <= set(found["templates"])
    assert {"__init__.py", "events.py", "serving.py", "spec.py"} <= set(found["handlers"])
    assert found["skeleton"] and str(venv) in found["location"]
