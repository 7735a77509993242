"""``fnpack deploy | delete | get | image``: thin wrappers over ``fnpack.deploy``'s library calls."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable

from fnpack.deploy.credentials import ENV_ACCESS_KEY, ENV_PASSWORD, ENV_URL, ENV_USERNAME
from fnpack.deploy.errors import DeployError

_CREDENTIALS_HELP = f"""\
dashboard and credentials (flags win over env vars; credentials are never printed or written to files):
  {ENV_URL}    dashboard URL, e.g. https://nuclio.example.com (same as --dashboard)
  {ENV_USERNAME}, {ENV_PASSWORD}    HTTP basic auth
  {ENV_ACCESS_KEY} (else V3IO_ACCESS_KEY)    access key (Iguazio session cookie + X-V3io-Session-Key)
"""


def register(subparsers: Any) -> None:
    """Add the deploy/delete/get/image commands to the ``fnpack`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("dashboard connection")
    group.add_argument("--dashboard", metavar="URL", help=f"nuclio dashboard URL (default: ${ENV_URL})")
    group.add_argument("--namespace", metavar="NS", help="function namespace (x-nuclio-function-namespace)")
    group.add_argument("--user", metavar="NAME", help=f"basic-auth user (default: ${ENV_USERNAME})")
    group.add_argument(
        "--password", metavar="PW", help=f"basic-auth password (prefer ${ENV_PASSWORD}: flags show in ps)"
    )
    group.add_argument("--access-key", metavar="KEY", help=f"access key (prefer ${ENV_ACCESS_KEY})")
    group.add_argument(
        "--ca-bundle", metavar="PATH", help="CA bundle to verify the dashboard's TLS certificate"
    )
    group.add_argument(
        "--no-verify-tls",
        action="store_true",
        help="do not verify the dashboard's TLS certificate (test setups)",
    )

    p = _add(
        subparsers,
        "deploy",
        [common],
        "create or update a function on a nuclio dashboard and wait until it is ready",
        "Creates the project when missing, creates or updates the function, streams its build logs as they\n"
        "arrive and prints the invocation URL. Exits 1 with the dashboard's message when the function ends\n"
        "in error/unhealthy, or when --timeout passes.",
        _deploy,
    )
    p.add_argument("function", metavar="FUNCTION_YAML", help="nuclio function config (from `fnpack build`)")
    p.add_argument(
        "--project",
        help="nuclio project (default: the yaml's nuclio.io/project-name label, else the existing "
        "function's project, else 'default'); created when missing",
    )
    p.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait for ready/error, streaming logs (default: wait)",
    )
    p.add_argument(
        "--timeout", type=float, default=600.0, metavar="SECONDS", help="give up waiting after this (600)"
    )
    p.add_argument("--poll-interval", type=float, default=1.0, metavar="SECONDS", help=argparse.SUPPRESS)

    p = _add(
        subparsers,
        "get",
        [common],
        "show a deployed function's state and invocation URLs",
        "Exits 1 when the dashboard has no such function.",
        _get,
    )
    p.add_argument("function", metavar="NAME_OR_YAML", help="function name, or its function.yaml")
    p.add_argument("--json", action="store_true", help="print the dashboard's full JSON for the function")

    p = _add(
        subparsers,
        "delete",
        [common],
        "delete a function from a nuclio dashboard",
        "Exits 1 when the dashboard has no such function, unless --missing-ok.",
        _delete,
    )
    p.add_argument("function", metavar="NAME_OR_YAML", help="function name, or its function.yaml")
    p.add_argument("--missing-ok", action="store_true", help="succeed when the function does not exist")
    p.add_argument("--force", action="store_true", help="delete even while the function is building")

    p = subparsers.add_parser(
        "image",
        help="build the function's container image with the Docker Engine (and push it)",
        description=(
            "Builds base image + spec.build.commands + the handler source (under /opt/nuclio) +\n"
            "nuclio's processor, through the Docker Engine API (DOCKER_HOST). With --push, pushes the image\n"
            "(registry login: `docker login`) and rewrites the function.yaml to deploy it as spec.image\n"
            "with spec.build.codeEntryType: image."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=_image)
    p.add_argument("function", metavar="FUNCTION_YAML", help="nuclio function config (from `fnpack build`)")
    p.add_argument(
        "--tag", "-t", required=True, help="image name and tag, e.g. registry.example.com/fn/models:1.0"
    )
    p.add_argument(
        "--base-image", help="base image (default: spec.build.baseImage, else python:<runtime>-slim)"
    )
    p.add_argument(
        "--push", action="store_true", help="push the image and rewrite the function.yaml to use it"
    )
    p.add_argument(
        "--output", "-o", metavar="PATH", help="where --push writes the rewritten yaml (default: in place)"
    )
    p.add_argument(
        "--nuclio-version",
        default=None,
        metavar="V",
        help="nuclio version of the processor stage (match your dashboard)",
    )
    p.add_argument("--arch", default="amd64", help="architecture of nuclio's processor image (amd64)")
    p.add_argument(
        "--processor-image",
        metavar="IMAGE",
        help="image supplying nuclio's processor (overrides the version)",
    )
    p.add_argument(
        "--no-processor",
        action="store_true",
        help="leave nuclio's processor out (handler-only image, for other runners)",
    )
    p.add_argument("--network", metavar="MODE", help="network mode of build steps, e.g. none")
    p.add_argument("--pull", action="store_true", help="always pull a newer base image")
    p.add_argument("--docker-host", metavar="URL", help="Docker Engine address (default: $DOCKER_HOST)")


def _add(
    subparsers: Any, name: str, parents: list, help_: str, epilog: str, func: Callable
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name,
        parents=parents,
        help=help_,
        description=f"{help_[0].upper()}{help_[1:]}.\n\n{epilog}",
        epilog=_CREDENTIALS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def _connection(args: argparse.Namespace) -> dict:
    verify: bool | str = args.ca_bundle or True
    if args.no_verify_tls:
        verify = False
    return {
        "dashboard": args.dashboard,
        "username": args.user,
        "password": args.password,
        "access_key": args.access_key,
        "verify_tls": verify,
    }


def _deploy(args: argparse.Namespace) -> int:
    from fnpack.deploy.api import deploy

    with _user_errors():
        status = deploy(
            args.function,
            project=args.project,
            namespace=args.namespace,
            wait=args.wait,
            timeout=args.timeout,
            poll_interval=args.poll_interval,
            **_connection(args),
        )
    if not args.wait:
        print(
            f"function {status.name} submitted (state {status.state}); check it with `fnpack get {status.name}`"
        )
    return 0


def _get(args: argparse.Namespace) -> int:
    from fnpack.deploy.api import get

    with _user_errors():
        status = get(args.function, namespace=args.namespace, **_connection(args))
    if status is None:
        raise _cli_error(f"function {args.function} does not exist on the dashboard")
    if args.json:
        print(json.dumps(status.function, indent=2, sort_keys=True))
        return 0
    rows = [
        ("name", status.name),
        ("project", status.project or "-"),
        ("state", status.state),
        ("url", status.url or "-"),
    ]
    rows += [("external url", u) for u in status.external_urls]
    rows += [("internal url", u) for u in status.internal_urls]
    if status.message:
        rows.append(("message", " ".join(status.message.split())))
    for key, value in rows:
        print(f"{key + ':':<14}{value}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    from fnpack.deploy.api import delete

    with _user_errors():
        existed = delete(
            args.function,
            namespace=args.namespace,
            missing_ok=args.missing_ok,
            force=args.force,
            **_connection(args),
        )
    print(f"deleted function {args.function}" if existed else f"function {args.function} did not exist")
    return 0


def _image(args: argparse.Namespace) -> int:
    from fnpack.deploy import dockerfile
    from fnpack.deploy.config import dump_function, load_function
    from fnpack.deploy.image import build_image, with_image

    if args.output and not args.push:
        raise _cli_error("--output names where --push writes the rewritten yaml; it needs --push")
    if args.no_processor and (args.processor_image or args.nuclio_version):
        raise _cli_error("--no-processor conflicts with --processor-image / --nuclio-version")
    processor = None
    if not args.no_processor:
        processor = args.processor_image or dockerfile.onbuild_image(
            args.nuclio_version or dockerfile.DEFAULT_NUCLIO_VERSION, args.arch
        )
    with _user_errors():
        config = load_function(args.function)
        result = build_image(
            config,
            args.tag,
            base_image=args.base_image,
            processor_image=processor,
            push=args.push,
            network_mode=args.network,
            pull=args.pull,
            docker_host=args.docker_host,
        )
        print(f"built {result.tag} ({result.image_id or 'id unknown'})")
        if args.push:
            target = args.output or args.function
            dump_function(with_image(config, result.tag), target)
            digest = f" ({result.digest})" if result.digest else ""
            print(f"pushed {result.tag}{digest}; {target} now deploys it as spec.image")
    return 0


class _user_errors:
    """Turn DeployError into the CLI's one-line CLIError."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and issubclass(exc_type, DeployError):
            raise _cli_error(str(exc)) from None
        return False


def _cli_error(message: str) -> Exception:
    from fnpack.cli import CLIError

    return CLIError(message)
