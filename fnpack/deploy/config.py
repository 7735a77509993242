"""Loading and inspecting a nuclio function config (function.yaml) for deploys and image builds."""

from __future__ import annotations

import base64
import binascii
import copy
import os
import re
from typing import Any, Union

import yaml

from fnpack.deploy.errors import DeployError

PROJECT_LABEL = "nuclio.io/project-name"
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HANDLER_RE = re.compile(r"^([\w|-]+(\.[\w|-]+)*):(\w+)$")

FunctionSource = Union[str, "os.PathLike[str]", dict]


def load_function(source: Any) -> dict:
    """Return a deep copy of a function config given as a dict, an object with ``to_dict()``, or a yaml path.

    A copy, so that deploy never mutates the caller's config (we add labels, strip ``status``).
    """
    if hasattr(source, "to_dict") and not isinstance(source, dict):
        source = source.to_dict()
    if isinstance(source, dict):
        config = copy.deepcopy(source)
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            with open(path, encoding="utf-8") as fh:
                config = yaml.safe_load(fh)
        except OSError as exc:
            raise DeployError(f"cannot read {path}: {exc.strerror}")
        except yaml.YAMLError as exc:
            raise DeployError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}")
    else:
        raise DeployError(
            f"expected a function config dict or a path to function.yaml, got {type(source).__name__}"
        )
    check_function(config)
    return config


def check_function(config: Any) -> None:
    """Raise DeployError with a one-line reason when ``config`` is not a usable nuclio function config."""
    if not isinstance(config, dict):
        raise DeployError("function config must be a mapping with metadata and spec")
    kind = config.get("kind", "Function")
    if kind not in ("Function", "NuclioFunction"):
        raise DeployError(f"function config has kind {kind!r}, expected 'Function'")
    metadata = config.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        raise DeployError("function config has no metadata.name")
    name = metadata["name"]
    if not isinstance(name, str) or len(name) > 63 or not _NAME_RE.match(name):
        raise DeployError(
            f"function name {name!r} is not a DNS-1123 label (lowercase letters, digits and '-', at most 63)"
        )
    if not isinstance(config.get("spec", {}), dict):
        raise DeployError("function config spec must be a mapping")


def function_name(config: dict) -> str:
    return config["metadata"]["name"]


def project_of(config: dict) -> str | None:
    return ((config.get("metadata") or {}).get("labels") or {}).get(PROJECT_LABEL)


def namespace_of(config: dict) -> str | None:
    return (config.get("metadata") or {}).get("namespace")


def handler_module(config: dict) -> tuple[str, str]:
    """Split ``spec.handler`` (``module:function``, module possibly dotted) the way nuclio's wrapper does."""
    handler = (config.get("spec") or {}).get("handler") or "main:handler"
    match = _HANDLER_RE.match(handler)
    if not match:
        raise DeployError(f"spec.handler {handler!r} is not of the form module:function")
    module, func = handler.rsplit(":", 1)
    return module, func


def source_code(config: dict) -> bytes | None:
    """Decode ``spec.build.functionSourceCode`` (base64), or None when the function carries no source."""
    encoded = ((config.get("spec") or {}).get("build") or {}).get("functionSourceCode")
    if not encoded:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise DeployError("spec.build.functionSourceCode is not valid base64")


def dump_function(config: dict, path: str | os.PathLike[str]) -> None:
    """Write a function config as YAML (atomically, so a failed write never leaves half a file)."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        yaml.safe_dump(config, fh, sort_keys=False, default_flow_style=False)
    os.replace(tmp, path)
