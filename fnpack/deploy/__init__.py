"""Deploying functions: a nuclio dashboard client (deploy/get/delete) and the function image builder.

Names resolve lazily, so that ``fnpack --help`` or ``fnpack run`` do not pay for requests, rich or the
docker SDK.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "deploy": "fnpack.deploy.api",
    "get": "fnpack.deploy.api",
    "delete": "fnpack.deploy.api",
    "FunctionStatus": "fnpack.deploy.api",
    "Credentials": "fnpack.deploy.credentials",
    "DashboardClient": "fnpack.deploy.dashboard",
    "DeployError": "fnpack.deploy.errors",
    "DashboardUnavailable": "fnpack.deploy.errors",
    "build_image": "fnpack.deploy.image",
    "with_image": "fnpack.deploy.image",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fnpack.deploy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
