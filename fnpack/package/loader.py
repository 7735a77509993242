"""Reading a built function back: function.yaml → config, handler source, serving spec (never executed here)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from .config import PACKAGING_KEY, SPEC_ENV, SPEC_FILE_ENV, SPEC_FILE_NAME
from .embed import extract_literals, unpack_modules
from .errors import BuildError


@dataclass
class LoadedFunction:
    """A function.yaml as read from disk."""

    path: str
    config: dict
    source: str | None
    spec_json: str | None
    spec_origin: str  # "source", "env", "file" or "missing"
    modules: dict | None  # embedded modules, when the runtime is embedded

    @property
    def serving_spec(self) -> dict | None:
        """The serving spec without the packager's section (what GraphServer.from_dict gets)."""
        if self.spec_json is None:
            return None
        spec = json.loads(self.spec_json)
        if not isinstance(spec, dict):
            raise ValueError(f"the serving spec must be a JSON object, got {type(spec).__name__}")
        spec.pop(PACKAGING_KEY, None)
        return spec

    @property
    def graph(self) -> dict | None:
        spec = self.serving_spec
        return spec.get("graph") if spec else None

    @property
    def name(self) -> str:
        return (self.config.get("metadata") or {}).get("name", "")

    @property
    def handler_module(self) -> str:
        handler = (self.config.get("spec") or {}).get("handler") or "main:handler"
        return handler.split(":", 1)[0]


def read_config(path: str) -> dict:
    """Parse function.yaml; every problem is a one-line BuildError."""
    file = Path(path)
    if not file.is_file():
        raise BuildError(f"{path}: no such file")
    try:
        config = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BuildError(f"{path}: not valid YAML{where}: {problem}")
    except UnicodeDecodeError:
        raise BuildError(f"{path}: not a text file")
    if not isinstance(config, dict):
        raise BuildError(f"{path}: a function config must be a mapping, got {type(config).__name__}")
    return config


def _mapping(value, what: str, path: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BuildError(f"{path}: {what} must be a mapping, got {type(value).__name__}")
    return value


def decode_source(config: dict, path: str = "function.yaml") -> str | None:
    spec = _mapping(config.get("spec"), "spec", path)
    build = _mapping(spec.get("build"), "spec.build", path)
    encoded = build.get("functionSourceCode")
    if not encoded:
        return None
    try:
        return base64.b64decode(str(encoded), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise BuildError(f"{path}: spec.build.functionSourceCode is not valid base64 of UTF-8 text")


def load_function(path: str) -> LoadedFunction:
    """Read function.yaml and find its serving spec (in the source, the env, or serving_spec.json beside it)."""
    config = read_config(path)
    source = decode_source(config, path)
    literals: dict = {}
    if source is not None:
        try:
            literals = extract_literals(source)
        except (SyntaxError, ValueError) as exc:
            raise BuildError(f"{path}: the function source does not parse: {exc}")
    spec_json = literals.get("_FNPACK_SPEC")
    origin = "source" if spec_json else "missing"
    env = (config.get("spec") or {}).get("env") or []
    if not isinstance(env, list):
        raise BuildError(
            f"{path}: spec.env must be a list of {{name, value}} mappings, got {type(env).__name__}"
        )
    env_values = {
        e.get("name"): e.get("value") for e in env if isinstance(e, dict) and isinstance(e.get("name"), str)
    }
    if not spec_json and env_values.get(SPEC_ENV):
        spec_json, origin = env_values[SPEC_ENV], "env"
    if not spec_json and SPEC_FILE_ENV in env_values:
        beside = Path(path).parent / SPEC_FILE_NAME
        if beside.is_file():
            spec_json, origin = beside.read_text(encoding="utf-8"), "file"
    if spec_json is not None and not isinstance(spec_json, str):
        raise BuildError(f"{path}: the embedded serving spec (_FNPACK_SPEC) must be a JSON string")
    modules = literals.get("_FNPACK_MODULES")
    if modules is not None:
        try:
            modules = unpack_modules(modules) if modules else None
        except Exception:
            raise BuildError(
                f"{path}: the embedded runtime (_FNPACK_MODULES) is damaged: rebuild the function"
            )
    return LoadedFunction(
        path=path,
        config=config,
        source=source,
        spec_json=spec_json,
        spec_origin=origin,
        modules=modules,
    )
