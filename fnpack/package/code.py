"""User code for ``code_to_function``: a .py file, or a notebook through nuclio-jupyter's code extraction.

The code is embedded in the function as a module of its own; its top-level names are the graph's
namespace there (as the reference appends its handler footer to the user file). Notebook cells tagged
or commented ``# nuclio: ignore`` are dropped and ``%nuclio`` magics become config (env, build commands).
"""

from __future__ import annotations

import ast
import keyword
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BuildError

_RESERVED = {"fnpack", "main", "nuclio", "nuclio_sdk", "cloudpickle"}


@dataclass
class UserCode:
    """One embedded user module: its name in the function, its source and the names it defines."""

    module: str
    source: str
    filename: str = ""
    env: list = field(default_factory=list)
    commands: list = field(default_factory=list)
    nuclio_spec: dict = field(default_factory=dict)  # other %nuclio config (base image, triggers, replicas)
    _loaded: types.ModuleType | None = None

    @property
    def names(self) -> set[str]:
        """Top-level names the code defines or imports (found by parsing, without running it)."""
        return top_level_names(self.source)

    def load(self) -> types.ModuleType:
        """Run the code once in this process (for the mock server) and return the module."""
        if self._loaded is None:
            module = types.ModuleType(self.module)
            module.__file__ = self.filename or f"<{self.module}>"
            sys.modules.setdefault(self.module, module)
            exec(compile(self.source, module.__file__, "exec"), module.__dict__)
            self._loaded = module
        return self._loaded


def top_level_names(source: str) -> set[str]:
    tree = ast.parse(source)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
    return names


def module_name(filename: str) -> str:
    """A safe module name for the file's code: its stem, unless that would shadow something."""
    stem = re.sub(r"\W", "_", Path(filename).stem) or "user_code"
    if stem[0].isdigit():
        stem = f"_{stem}"
    stdlib = getattr(sys, "stdlib_module_names", ())
    if stem in _RESERVED or stem in stdlib or keyword.iskeyword(stem):
        stem = f"fnpack_user_{stem}"
    return stem


def load_code(filename: str | None = None, code: str | None = None, name: str = "") -> UserCode:
    """Read a .py file, extract a notebook's code, or take ``code`` as given."""
    if code is not None:
        return UserCode(module_name(filename or "user_code"), code, filename or "")
    if not filename:
        raise BuildError("code_to_function needs filename= (a .py or .ipynb file) or code=")
    path = Path(filename)
    if not path.is_file():
        raise BuildError(f"code file {filename} not found")
    if path.suffix == ".ipynb":
        return _from_notebook(path, name)
    if path.suffix != ".py":
        raise BuildError(f"code file {filename} must be a .py or .ipynb file")
    source = path.read_text(encoding="utf-8")
    _check_syntax(source, filename)
    return UserCode(module_name(filename), source, str(path))


def _check_syntax(source: str, filename: str) -> None:
    try:
        ast.parse(source, filename)
    except SyntaxError as exc:
        raise BuildError(f"{filename}:{exc.lineno}: syntax error: {exc.msg}")


def _from_notebook(path: Path, name: str) -> UserCode:
    try:
        from nuclio.build import build_file
    except ImportError:
        raise BuildError("notebooks need nuclio-jupyter: pip install 'fnpack[jupyter]'")
    try:
        _, config, source = build_file(str(path), name=name or path.stem)
    except Exception as exc:
        raise BuildError(f"cannot extract the code of {path}: {type(exc).__name__}: {exc}")
    _check_syntax(source, str(path))
    spec = config.get("spec") or {}
    build = spec.get("build") or {}
    return UserCode(
        module_name(str(path)),
        source,
        str(path),
        env=list(spec.get("env") or []),
        commands=list(build.get("commands") or []),
        nuclio_spec=spec,
    )
