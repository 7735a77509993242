"""The one error type of the deploy package: a one-line reason, safe to show (never holds credentials)."""

from __future__ import annotations


class DeployError(Exception):
    """A deploy, delete, get or image build failed; ``str(exc)`` is a one-line reason for the user."""


class DashboardUnavailable(DeployError):
    """The dashboard could not be reached or answered 502/503/504: worth retrying while polling."""
