"""Fixtures for packager tests: a bare interpreter without fnpack, and a helper to build + probe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# packages the function's interpreter may have: what nuclio's image has (nuclio-sdk) + what the tests use
BARE_PACKAGES = ("nuclio_sdk", "yaml", "_yaml", "cloudpickle")


def _site_packages() -> Path:
    import nuclio_sdk

    return Path(nuclio_sdk.__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory) -> tuple[str, list[str], str]:
    """``(interpreter, args, lib dir)``: the base interpreter run with ``-I -S`` (no site-packages) and a
    lib dir holding only nuclio-sdk, pyyaml and cloudpickle. fnpack is not importable there (asserted)."""
    lib = tmp_path_factory.mktemp("bare-lib")
    site = _site_packages()
    for name in BARE_PACKAGES:
        source = site / name
        if source.exists():
            os.symlink(source, lib / name)
    python = getattr(sys, "_base_executable", None) or sys.executable
    args = ["-I", "-S"]
    check = (
        f"import sys; sys.path.insert(0, {str(lib)!r}); import nuclio_sdk, cloudpickle, yaml\n"
        "try:\n    import fnpack\nexcept ImportError:\n    print('no-fnpack')\nelse:\n    print(fnpack.__file__)"
    )
    out = subprocess.run([python, *args, "-c", check], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "no-fnpack", (out.stdout, out.stderr)
    return python, args, str(lib)
