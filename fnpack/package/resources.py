"""Text templates shipped in ``fnpack.templates``, read through ``importlib.resources`` (wheel or editable)."""

from __future__ import annotations

from importlib import resources

TEMPLATES_PACKAGE = "fnpack.templates"
HANDLERS_PACKAGE = "fnpack.handlers"


def read_template(name: str) -> str:
    """The text of ``templates/<name>``."""
    return resources.files(TEMPLATES_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def handler_sources() -> dict[str, str]:
    """``{module name: source}`` of the generic handler package ``fnpack.handlers``."""
    root = resources.files(HANDLERS_PACKAGE)
    sources = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".py"):
            stem = entry.name[:-3]
            name = HANDLERS_PACKAGE if stem == "__init__" else f"{HANDLERS_PACKAGE}.{stem}"
            sources[name] = entry.read_text(encoding="utf-8")
    return sources
