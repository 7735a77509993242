"""The function's one source file (``spec.build.functionSourceCode``): runtime, user code and spec in one.

Embedded mode: the fnpack runtime (``fnpack/__init__``, ``fnpack/graph``, ``fnpack/serving``, the handler
package) and any embedded user code travel as ``{module: [is_package, source]}`` (JSON, zlib, base64) in
``_FNPACK_MODULES``, served by a small meta-path importer, so the stock nuclio Python image needs no
``pip install fnpack``. Pip mode: ``_FNPACK_MODULES = None`` and a build command installs fnpack.
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

from .. import __version__
from .resources import handler_sources, read_template

RUNTIME_PACKAGES = ("fnpack.graph", "fnpack.serving")
HANDLER_MODULE = "main"  # spec.handler is "main:handler": nuclio writes the source to main.py
HANDLER = f"{HANDLER_MODULE}:handler"


def _package_sources(package: str) -> dict[str, list]:
    import importlib

    module = importlib.import_module(package)
    root = Path(module.__file__).parent
    sources: dict[str, list] = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).with_suffix("")
        parts = list(relative.parts)
        if "__pycache__" in parts:
            continue
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        name = ".".join([package, *parts])
        sources[name] = [1 if is_package else 0, path.read_text(encoding="utf-8")]
    return sources


def runtime_sources() -> dict[str, list]:
    """``{module: [is_package, source]}`` of the runtime that goes inside every function."""
    import fnpack

    sources = {"fnpack": [1, Path(fnpack.__file__).read_text(encoding="utf-8")]}
    for package in RUNTIME_PACKAGES:
        sources.update(_package_sources(package))
    for name, source in handler_sources().items():
        sources[name] = [1 if name == "fnpack.handlers" else 0, source]
    return sources


def pack_modules(modules: dict[str, list]) -> str:
    data = json.dumps(modules, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.b64encode(zlib.compress(data, 9)).decode("ascii")


def unpack_modules(blob: str) -> dict[str, list]:
    return json.loads(zlib.decompress(base64.b64decode(blob)))


def _literal(text: str | None) -> str:
    """A Python literal for ``text``, wrapped at 100 columns for base64 blobs so the file stays readable."""
    if text is None:
        return "None"
    if len(text) > 100 and all(c.isalnum() or c in "+/=" for c in text[:200]):
        chunks = [text[i : i + 100] for i in range(0, len(text), 100)]
        return "(\n" + "".join(f"    {c!r}\n" for c in chunks) + ")"
    return repr(text)


def function_source(
    name: str,
    spec_json: str | None,
    user_modules: dict[str, str] | None = None,
    embed_runtime: bool = True,
) -> str:
    """The handler module's source: spec (or None), embedded modules (or None), importer, entry points."""
    modules: dict[str, list] = runtime_sources() if embed_runtime else {}
    for module_name, source in (user_modules or {}).items():
        modules[module_name] = [0, source]
    if embed_runtime:
        summary = f"Self-contained: {len(modules)} embedded modules (fnpack runtime + user code)."
    elif modules:
        summary = "The fnpack runtime is installed by a build command; user code is embedded."
    else:
        summary = "The fnpack runtime is installed by a build command."
    return read_template("source.py.tmpl").format(
        name=name,
        version=__version__,
        summary=summary,
        spec=_literal(spec_json),
        modules=_literal(pack_modules(modules)) if modules else "None",
    )


def extract_literals(source: str) -> dict:
    """``_FNPACK_SPEC`` and ``_FNPACK_MODULES`` of a generated source, read without executing it."""
    import ast

    values = {}
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target = node.targets[0].id
            if target in ("_FNPACK_SPEC", "_FNPACK_MODULES"):
                values[target] = ast.literal_eval(node.value)
    return values
