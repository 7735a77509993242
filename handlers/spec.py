"""Finding the packaged serving spec in a worker: the function source, an env var, or a mounted file.

The packaged spec is the serving spec JSON (DESIGN contract 2) plus an optional ``"fnpack"`` section
written by the packager: ``namespace`` (base64 of a cloudpickle of the by-value classes/handlers) and
``modules`` (names of user code modules embedded in the source, imported into the graph namespace).
"""

from __future__ import annotations

import base64
import importlib
import json
import os

SPEC_ENV = "SERVING_SPEC_ENV"
SPEC_FILE_ENV = "FNPACK_SERVING_SPEC_FILE"
DEFAULT_SPEC_FILE = "/etc/fnpack/serving_spec.json"
# where the reference system mounts its spec; read too, so its deployments keep working
REFERENCE_SPEC_FILE = "/tmp/mlrun/serving-conf/serving_spec.json"
PACKAGING_KEY = "fnpack"
MAX_SPEC_BYTES = 1024 * 1024  # DESIGN contract 2: larger specs are refused with a clear error


class SpecNotFoundError(RuntimeError):
    """No serving spec in the source, the env or a file."""


def read_spec(embedded: str | dict | None = None) -> tuple[dict, str]:
    """``(spec dict, where it came from)``, trying embedded → env var → file, in that order."""
    if embedded:
        return _parse(embedded, "the function source"), "source"
    text = os.environ.get(SPEC_ENV)
    if text:
        return _parse(text, f"env var {SPEC_ENV}"), "env"
    paths = [os.environ.get(SPEC_FILE_ENV) or DEFAULT_SPEC_FILE, REFERENCE_SPEC_FILE]
    for path in paths:
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as fp:
                return _parse(fp.read(), f"file {path}"), "file"
    raise SpecNotFoundError(
        f"no serving spec found: not embedded in the function source, env var {SPEC_ENV} is unset, "
        f"and no file at {paths[0]} (set {SPEC_FILE_ENV} to the mounted path)"
    )


def _parse(text: str | dict, where: str) -> dict:
    if isinstance(text, dict):
        return text
    size = len(text.encode("utf-8")) if isinstance(text, str) else len(text)
    if size > MAX_SPEC_BYTES and not where.startswith("file"):
        raise ValueError(
            f"the serving spec in {where} is {size / 1048576:.1f} MiB, over the 1 MiB limit: "
            "rebuild with --spec-source file (a mounted file) or shrink the graph's class_args"
        )
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"the serving spec in {where} is not valid JSON: {exc}")
    if not isinstance(spec, dict):
        raise ValueError(f"the serving spec in {where} must be a JSON object, got {type(spec).__name__}")
    return spec


def graph_namespace(spec: dict) -> list:
    """The namespaces the graph's class and handler names resolve in (pops the packaging section).

    The pickled payload is written by the packager at build time and travels inside the function's own
    source/config; nothing here ever unpickles request data.
    """
    packaging = spec.pop(PACKAGING_KEY, None) or {}
    namespaces: list = []
    payload = packaging.get("namespace")
    if payload:
        import pickle  # the payload needs cloudpickle importable (a build command installs it)

        try:
            namespaces.append(pickle.loads(base64.b64decode(payload)))
        except ModuleNotFoundError as exc:
            raise RuntimeError(
                f"cannot load the function's by-value classes: module '{exc.name}' is missing "
                f"(add it with fn.with_requirements([...]))"
            )
    for name in packaging.get("modules") or ():
        namespaces.append(importlib.import_module(name))
    return namespaces
