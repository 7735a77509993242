"""The packager's one error type: a one-line message a user can act on."""

from __future__ import annotations


class BuildError(ValueError):
    """The function cannot be packaged as configured (the message says what to change)."""
