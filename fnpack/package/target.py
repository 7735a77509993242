"""What ``fnpack build`` builds: ``module.py[:name]`` or ``notebook.ipynb`` → a ServingFunction.

A module is run once (as a module named after its file, its folder on ``sys.path``); the function is its
module-level ServingFunction, or the variable / zero-argument factory named after the colon. A notebook's
code cells (magics dropped) are run the same way; its function gets the notebook's extracted code
(nuclio-jupyter: ``# nuclio: ignore`` cells skipped) embedded, unless it already has code.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
from pathlib import Path

from .code import load_code, module_name
from .errors import BuildError
from .function import ServingFunction


@contextlib.contextmanager
def _in_dir(folder: Path):
    """Run with ``folder`` as cwd and first on sys.path (relative paths in the module work as at home)."""
    old_cwd = os.getcwd()
    sys.path.insert(0, str(folder))
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))


def _run_source(name: str, source: str, filename: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module  # cloudpickle by value needs the module registered
    try:
        exec(compile(source, filename, "exec"), module.__dict__)
    except BuildError:
        raise
    except SystemExit as exc:
        raise BuildError(f"{filename} called sys.exit({exc.code}) while loading")
    except Exception as exc:
        raise BuildError(f"{filename} failed while loading: {type(exc).__name__}: {exc}")
    return module


def notebook_code(path: Path) -> str:
    """All code cells of a notebook, with IPython magics and shell lines dropped."""
    import json

    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BuildError(f"{path}: not a valid notebook: {exc}")
    lines = []
    for cell in notebook.get("cells") or []:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source") or ""
        source = "".join(source) if isinstance(source, list) else source
        if source.lstrip().startswith("%%"):
            continue  # a cell magic: not Python
        for line in source.splitlines():
            stripped = line.lstrip()
            lines.append("" if stripped.startswith(("%", "!")) else line)
        lines.append("")
    return "\n".join(lines)


def _pick(module: types.ModuleType, attr: str | None, where: str) -> ServingFunction:
    if attr:
        obj = getattr(module, attr, None)
        if obj is None:
            raise BuildError(f"{where} has no attribute {attr!r}")
        if not isinstance(obj, ServingFunction) and callable(obj):
            try:
                obj = obj()
            except Exception as exc:
                raise BuildError(f"{where}:{attr}() failed: {type(exc).__name__}: {exc}")
        if not isinstance(obj, ServingFunction):
            raise BuildError(
                f"{where}:{attr} is a {type(obj).__name__}, not a ServingFunction (new_function())"
            )
        return obj
    found = {
        k: v for k, v in vars(module).items() if isinstance(v, ServingFunction) and not k.startswith("_")
    }
    unique = {id(v): k for k, v in found.items()}
    if not unique:
        raise BuildError(
            f"{where} defines no ServingFunction: create one with fnpack.new_function() at module level"
        )
    if len(unique) > 1:
        raise BuildError(
            f"{where} defines several functions ({', '.join(sorted(found))}): pick one with {where}:NAME"
        )
    return next(iter(found.values()))


def load_target(target: str) -> tuple[ServingFunction, types.ModuleType]:
    """The ServingFunction ``target`` names, and the module it was defined in (its namespace)."""
    path_text, _, attr = target.partition(":")
    if len(path_text) == 1 and attr and attr[:1] in "\\/":  # a Windows drive letter, not name separator
        path_text, attr = target, ""
    path = Path(path_text).resolve()
    if not path.is_file():
        raise BuildError(f"{path_text}: no such file")
    if path.suffix not in (".py", ".ipynb"):
        raise BuildError(f"{path_text}: expected a .py module or a .ipynb notebook")
    name = module_name(str(path))
    with _in_dir(path.parent):
        if path.suffix == ".ipynb":
            module = _run_source(name, notebook_code(path), str(path))
            fn = _pick(module, attr or None, path_text)
            if fn._code is None:
                fn._code = load_code(str(path), name=fn.metadata.name)
        else:
            module = _run_source(name, path.read_text(encoding="utf-8"), str(path))
            fn = _pick(module, attr or None, path_text)
    return fn, module
