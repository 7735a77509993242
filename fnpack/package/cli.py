"""``fnpack build``, ``fnpack validate`` and ``fnpack show``: thin wrappers over the packager."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import BuildError

BUILD_HELP = """\
Build a nuclio function config (function.yaml) from a serving graph.

TARGET is a Python module that defines the function (a module-level ServingFunction made with
fnpack.new_function() / code_to_function(); with several, or a factory, name it as module.py:NAME),
or a notebook (.ipynb): its code cells are run to find the function, and its code, extracted by
nuclio-jupyter (cells marked '# nuclio: ignore' skipped, %nuclio magics applied), is embedded.

By default the result is self-contained: the fnpack runtime and the graph's classes travel inside
spec.build.functionSourceCode, so it deploys on nuclio's stock Python image with no pip install of fnpack.
"""

VALIDATE_HELP = """\
Check a function.yaml: schema, metadata.name (DNS-1123 label), spec.handler, runtime, triggers, env,
the serving spec (size limit 1 MiB, JSON, graph form); then load it in a fresh interpreter: the source
must import and init_context must succeed with real nuclio-sdk objects (skip with --no-run).
"""

SHOW_HELP = """\
Print the serving graph of a function.yaml: as indented text (default), Graphviz dot, or SVG
(--format svg needs Graphviz's 'dot' program).
"""


def register(subparsers) -> None:
    build = subparsers.add_parser(
        "build",
        help="build function.yaml from a module or notebook",
        description=BUILD_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("target", metavar="TARGET", help="module.py[:NAME] or notebook.ipynb")
    build.add_argument(
        "-o", "--output", default="function.yaml", help="where to write (default: function.yaml)"
    )
    build.add_argument("--name", help="override the function name (a DNS-1123 label, <= 63 chars)")
    build.add_argument("--project", help="override the project (label nuclio.io/project-name)")
    build.add_argument(
        "--runtime",
        choices=("embed", "pip"),
        help="embed the fnpack runtime in the source (default), or pip install it at image build",
    )
    build.add_argument(
        "--fnpack-requirement",
        metavar="SPEC",
        help="with --runtime pip: what pip installs (default fnpack==<this version>; a URL or wheel path works)",
    )
    build.add_argument(
        "--spec-source",
        choices=("embed", "env", "file"),
        help="where workers read the serving spec: the source (default), env var SERVING_SPEC_ENV, "
        "or serving_spec.json written beside the output and mounted at /etc/fnpack",
    )
    build.add_argument(
        "--python", metavar="RUNTIME", help="nuclio runtime, e.g. python:3.12 (default python:3.11)"
    )
    build.add_argument(
        "--current-function",
        metavar="CHILD",
        help="build only the part of a multi-function graph that runs in child function CHILD",
    )
    build.add_argument(
        "--no-children",
        action="store_true",
        help="do not write the child functions of a multi-function graph (by default each is written "
        "beside the output as <parent>-<child>.yaml)",
    )
    build.add_argument("--validate", action="store_true", help="run `fnpack validate` on the result")
    build.set_defaults(func=cmd_build)

    validate = subparsers.add_parser(
        "validate",
        help="check a function.yaml and load it in a fresh interpreter",
        description=VALIDATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("file", metavar="FUNCTION_YAML")
    validate.add_argument(
        "--no-run", action="store_true", help="static checks only, do not start the function"
    )
    validate.add_argument(
        "--python", metavar="PATH", help="interpreter for the live check (default: this one)"
    )
    validate.set_defaults(func=cmd_validate)

    show = subparsers.add_parser(
        "show",
        help="print the serving graph of a function.yaml",
        description=SHOW_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("file", metavar="FUNCTION_YAML")
    show.add_argument("--format", choices=("text", "dot", "svg"), default="text")
    show.add_argument("-o", "--output", help="write to a file instead of stdout")
    show.set_defaults(func=cmd_show)


def _cli_error(exc: BaseException):
    from fnpack.cli import CLIError

    return CLIError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def cmd_build(args) -> int:
    from .children import child_functions
    from .function import write_function
    from .target import load_target

    output = Path(args.output).resolve()
    try:
        fn, module = load_target(args.target)
        if args.name:
            fn.metadata.name = args.name
        if args.project:
            fn.metadata.project = args.project
        if args.python:
            fn.spec.runtime = args.python
        if args.fnpack_requirement:
            fn.spec.fnpack_requirement = args.fnpack_requirement
        result = fn.build(
            namespace=vars(module),
            runtime=args.runtime,
            spec_source=args.spec_source,
            current_function=args.current_function,
        )
        write_function(result, str(output))
        children = []
        if not args.current_function and not args.no_children:
            for child in child_functions(fn):
                child_result = fn.build(
                    namespace=vars(module),
                    runtime=args.runtime,
                    spec_source=args.spec_source,
                    current_function=child,
                )
                child_path = output.with_name(f"{child_result.config['metadata']['name']}.yaml")
                write_function(child_result, str(child_path))
                children.append(child_path)
    except BuildError as exc:
        raise _cli_error(exc)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    size = output.stat().st_size
    parts = [
        f"wrote {args.output} ({size / 1024:.0f} KiB)",
        f"function {fn.metadata.name}",
        f"runtime {result.runtime}",
        f"spec in {result.spec_source}",
    ]
    if result.by_value:
        parts.append(f"by value: {', '.join(result.by_value)}")
    print(", ".join(parts))
    for child_path in children:
        print(f"wrote {child_path} (child function, {child_path.stat().st_size / 1024:.0f} KiB)")
    if args.validate:
        return cmd_validate(argparse.Namespace(file=str(output), no_run=False, python=None))
    return 0


def cmd_validate(args) -> int:
    from .validate import validate_file

    try:
        report = validate_file(args.file, run=not args.no_run, python=args.python)
    except BuildError as exc:
        raise _cli_error(exc)
    print(f"{args.file}: ok — {', '.join(report.facts)}")
    return 0


def cmd_show(args) -> int:
    from .loader import load_function
    from .show import graph_dot, graph_svg, graph_text

    try:
        function = load_function(args.file)
        if function.spec_json is None:
            raise BuildError(
                f"{args.file}: the serving spec is not in the file (it is read from the env/a mount)"
            )
        graph = function.graph
        title = function.name or "function"
        render = {"text": graph_text, "dot": graph_dot, "svg": graph_svg}[args.format]
        text = render(graph, title)
    except (BuildError, ValueError) as exc:
        raise _cli_error(exc)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0
