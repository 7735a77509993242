"""The ``fnpack`` command line: a thin layer, every command is a library function first."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module defines ``register(subparsers)``, adding its commands with ``set_defaults(func=...)``.
# ``func(args)`` returns the process exit code.
_COMMAND_MODULES = (
    "fnpack.package.cli",
    "fnpack.emulator.cli",
    "fnpack.deploy.cli",
)


EPILOG = """\
a typical flow:
  fnpack build model.py -o function.yaml         # graph + classes + runtime -> one nuclio function
  fnpack run function.yaml --workers 2           # local nuclio: HTTP / Kafka / cron triggers
  fnpack invoke http://127.0.0.1:8080 --path /v2/models/m/infer -d '{"inputs": [[1, 2]]}'
  fnpack image function.yaml --tag REGISTRY/fn:1 --push   # CI image build
  fnpack deploy function.yaml --dashboard http://nuclio:8070

`fnpack COMMAND --help` explains each command."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fnpack",
        description="Package serving graphs into nuclio functions, run them locally, deploy them.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name or (exc.name and name.startswith(exc.name + ".")):
                continue  # that component is not part of this build
            raise
        module.register(sub)
    return parser


def _version() -> str:
    from fnpack import __version__

    return f"fnpack {__version__}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except CLIError as exc:
        print(f"fnpack {args.command}: error: {exc}", file=sys.stderr)
        return 1


class CLIError(Exception):
    """An error to print as one line, without a traceback."""


if __name__ == "__main__":
    # run the imported module's main, so CLIError is the class the command modules raise
    from fnpack.cli import main as _main

    sys.exit(_main())
