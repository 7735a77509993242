"""Deploying functions: a nuclio dashboard client (deploy/get/delete) and the function image builder."""

from __future__ import annotations

from fnpack.deploy.api import FunctionStatus, delete, deploy, get
from fnpack.deploy.credentials import Credentials
from fnpack.deploy.dashboard import DashboardClient
from fnpack.deploy.errors import DashboardUnavailable, DeployError

__all__ = [
    "Credentials",
    "DashboardClient",
    "DashboardUnavailable",
    "DeployError",
    "FunctionStatus",
    "build_image",
    "delete",
    "deploy",
    "get",
    "with_image",
]


def __getattr__(name: str):
    # the image builder pulls in the docker SDK (an optional extra): import it only when asked
    if name in ("build_image", "with_image"):
        from fnpack.deploy import image

        return getattr(image, name)
    raise AttributeError(f"module 'fnpack.deploy' has no attribute {name!r}")
