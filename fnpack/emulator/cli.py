"""``fnpack run`` and ``fnpack invoke``: the emulator on the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from fnpack.emulator.console import setup_console
from fnpack.emulator.emulator import Emulator
from fnpack.emulator.errors import EmulatorError
from fnpack.emulator.invoke import invoke, read_body

log = logging.getLogger("fnpack.emulator")

RUN_HELP = """\
Run a nuclio Python function locally, as nuclio would: one process per worker imports the handler
from spec.build.functionSourceCode and calls init_context once, then handler(context, event) per event.
Triggers emulated: http, kafka-cluster, cron. Ctrl-C / SIGTERM drains in-flight events, calls each
worker's termination callback and exits.

Several function.yamls (or a folder, as `fnpack build` writes a multi-function graph: the parent and
<parent>-<child>.yaml beside it) run together: the parent takes HTTP in, the children read their
Kafka topics, so a whole pipeline runs on one machine.

With --watch, a changed function.yaml (say, rebuilt by `fnpack build` in another terminal) restarts the
functions on the same ports; a yaml that does not load is reported and the running version kept."""

INVOKE_HELP = """\
Send one HTTP request to a function and print the status, headers and body (JSON pretty-printed).
TARGET is a URL (http://127.0.0.1:8080) or a function.yaml, which is run in the emulator for the call.
Exit code 0 for a status below 400, 1 otherwise."""


def register(subparsers: Any) -> None:
    run = subparsers.add_parser(
        "run",
        help="run a function.yaml locally (HTTP, Kafka, cron triggers)",
        description=RUN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keep the paragraphs
    )
    run.add_argument(
        "functions",
        nargs="+",
        metavar="FUNCTION_YAML|DIR",
        help="nuclio function.yaml files, or folders of them (a parent and its child functions run together)",
    )
    run.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default: 127.0.0.1)")
    run.add_argument(
        "--port",
        type=int,
        default=None,
        help="HTTP port; 0 picks a free one (default: the trigger's port or 8080). With several "
        "functions it applies to the first one with an HTTP trigger; the others get free ports",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes per trigger (default: maxWorkers)",
    )
    run.add_argument("--log-format", choices=("text", "json"), default="text", help="console log format")
    run.add_argument(
        "--log-level", choices=("debug", "info", "warn", "error"), default="debug", help="worker log level"
    )
    run.add_argument(
        "--ready-timeout", type=float, default=60.0, metavar="SECONDS", help="how long init_context may take"
    )
    run.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="event loop of the trigger process (default: asyncio; uvloop needs pip install uvloop). "
        "Workers always run asyncio, as nuclio's wrapper",
    )
    _add_env_options(run, "the workers (repeatable), e.g. a secret nuclio fills from valueFrom")
    run.add_argument(
        "--watch",
        action="store_true",
        help="restart the functions (same ports) when a function.yaml changes; a broken one is reported "
        "and the running version kept",
    )
    run.set_defaults(func=cmd_run)

    inv = subparsers.add_parser(
        "invoke",
        help="send one request to a function (URL or function.yaml)",
        description=INVOKE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inv.add_argument("target", metavar="TARGET", help="function URL, or a function.yaml to run for the call")
    inv.add_argument("--path", default="/", help="request path (default: /)")
    inv.add_argument("-X", "--method", default=None, help="HTTP method (default: POST with a body, else GET)")
    inv.add_argument("-d", "--body", default=None, help="request body; @FILE reads it from a file")
    inv.add_argument(
        "-H", "--header", action="append", default=[], metavar="K:V", help="request header (repeatable)"
    )
    inv.add_argument(
        "--content-type", default=None, help="Content-Type of the body (default: JSON if it parses)"
    )
    inv.add_argument("--timeout", type=float, default=60.0, help="request timeout in seconds (default: 60)")
    inv.add_argument(
        "--log-level",
        choices=("debug", "info", "warn", "error"),
        default=None,
        help="also print the function's logs for this request (sent as X-Nuclio-Log-Level, as nuctl does)",
    )
    inv.add_argument(
        "--workers", type=int, default=1, help="workers when TARGET is a function.yaml (default: 1)"
    )
    _add_env_options(inv, "the workers when TARGET is a function.yaml (repeatable)")
    inv.set_defaults(func=cmd_invoke)


def _add_env_options(parser: argparse.ArgumentParser, where: str) -> None:
    parser.add_argument(
        "-e", "--env", action="append", default=[], metavar="NAME=VALUE", help=f"an env var for {where}"
    )
    parser.add_argument(
        "--env-file",
        default=None,
        metavar="FILE",
        help="env vars from a file of NAME=VALUE lines (# comments)",
    )


def _cli_error(message: str) -> Exception:
    from fnpack.cli import CLIError

    return CLIError(message)


def cmd_run(args: argparse.Namespace) -> int:
    setup_console(as_json=args.log_format == "json")
    if args.workers is not None and args.workers < 1:
        raise _cli_error("--workers must be at least 1")
    args.extra_env = _env_options(args.env, args.env_file)
    try:
        emulators = _emulators(_function_configs(args.functions), args, {})
    except EmulatorError as exc:
        raise _cli_error(str(exc))
    watch = _Watch(args) if getattr(args, "watch", False) else None
    if getattr(args, "loop", "asyncio") == "uvloop":
        try:
            import uvloop
        except ImportError:
            raise _cli_error("--loop uvloop needs the uvloop package: pip install uvloop")
        return uvloop.run(_run(emulators, args.ready_timeout, watch))
    return asyncio.run(_run(emulators, args.ready_timeout, watch))


def _emulators(configs: list, args: argparse.Namespace, ports: dict[str, int]) -> list[Emulator]:
    """One Emulator per config. ``--port`` goes to the first function with an HTTP trigger (the only one
    when there is one function), the others get free ports; ``ports`` (function name -> port) pins the
    ports a restart keeps."""
    emulators = []
    port_used = False
    for config in configs:
        has_http = any(t.kind == "http" for t in config.triggers)
        port = args.port if len(configs) == 1 or (has_http and not port_used) else 0
        port_used = port_used or has_http
        emulators.append(
            Emulator(
                config,
                host=args.host,
                port=ports.get(config.name, port),
                workers=args.workers,
                log_level=args.log_level,
                log_format=args.log_format,
                env=getattr(args, "extra_env", None),
            )
        )
    return emulators


def _env_options(pairs: list[str], env_file: str | None) -> dict[str, str]:
    """``--env-file`` then ``--env`` (which wins): NAME=VALUE each; one-line errors."""
    env: dict[str, str] = {}
    items: list[tuple[str, str]] = []
    if env_file:
        try:
            lines = Path(env_file).read_text().splitlines()
        except OSError as exc:
            raise _cli_error(f"--env-file {env_file}: cannot read: {exc.strerror or exc}")
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if line and not line.startswith("#"):
                items.append((f"{env_file} line {number}", line.removeprefix("export ").strip()))
    items += [("--env", pair) for pair in pairs]
    for where, item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
            raise _cli_error(f"{where}: expected NAME=VALUE, got {item!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[name] = value
    return env


class _Watch:
    """``--watch``: notices changed function.yamls (the files given, and those in the folders given)."""

    POLL = 0.5

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.seen = self._stamp()
        self.ports: dict[str, int] = {}  # function name -> HTTP port, kept across restarts

    def _stamp(self) -> dict[str, tuple[int, int]]:
        stamps: dict[str, tuple[int, int]] = {}
        for item in self.args.functions:
            path = Path(item)
            files = (
                sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
                if path.is_dir()
                else [path]
            )
            for f in files:
                try:
                    st = f.stat()
                except OSError:
                    continue
                stamps[str(f)] = (st.st_mtime_ns, st.st_size)
        return stamps

    async def changed(self) -> None:
        """Return once the watched files differ from the last time this returned."""
        while True:
            await asyncio.sleep(self.POLL)
            stamp = self._stamp()
            if stamp != self.seen:
                self.seen = stamp
                return

    def reload(self, running: list[Emulator]) -> list[Emulator] | None:
        """New emulators for the changed files on the ports in use, or None (reported) when they do not load."""
        self.ports.update({e.config.name: e.http.port for e in running if e.http is not None})
        ports = self.ports
        try:
            return _emulators(_function_configs(self.args.functions), self.args, ports)
        except Exception as exc:  # CLIError and EmulatorError: one line; keep what runs
            log.error("not restarting: %s; the running version stays", exc)
            return None


def _function_configs(paths: list[str]) -> list:
    """The function configs named by ``paths`` (files, or folders of *.yaml), parents before children."""
    from fnpack.emulator.config import load_function

    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and _is_function(p))
            if not found:
                raise _cli_error(f"{item}: no nuclio function.yaml in this folder")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise _cli_error(f"{item}: no such file or folder")
    configs = [load_function(str(f)) for f in files]
    names = [c.name for c in configs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _cli_error(f"function {duplicates[0]!r} is given twice")
    return sorted(configs, key=_is_child)


def _is_child(config) -> bool:
    labels = (config.raw.get("metadata") or {}).get("labels") or {}
    return "fnpack.io/parent-function" in labels


def _is_function(path: Path) -> bool:
    try:
        import yaml

        data = yaml.safe_load(path.read_text())
    except Exception:
        return False
    return isinstance(data, dict) and data.get("kind") == "Function"


async def _start_all(emulators: list[Emulator]) -> None:
    started = []
    try:
        for emulator in reversed(emulators):  # children first: they are listening when the parent sends
            await emulator.start()
            started.append(emulator)
    except EmulatorError as exc:
        for emulator in started:
            await emulator.stop()
        raise _cli_error(str(exc))


async def _stop_all(emulators: list[Emulator], ready: list[asyncio.Task[None]]) -> None:
    for task in ready:
        task.cancel()
    for emulator in emulators:  # the parent first: no new events enter while the children drain
        await emulator.stop()


async def _run(emulators: list[Emulator], ready_timeout: float, watch: _Watch | None = None) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await _start_all(emulators)
    ready = [asyncio.create_task(_announce(emulator, ready_timeout)) for emulator in emulators]
    stopping = asyncio.create_task(stop.wait())
    while watch is not None:
        change = asyncio.create_task(watch.changed())
        await asyncio.wait([stopping, change], return_when=asyncio.FIRST_COMPLETED)
        if stopping.done():
            change.cancel()
            break
        fresh = watch.reload(emulators)
        if fresh is None:
            continue
        log.info("a function.yaml changed: restarting on the same ports")
        await _stop_all(emulators, ready)
        emulators[:] = fresh
        try:
            await _start_all(emulators)
        except Exception as exc:  # e.g. the port is still held: say so and wait for the next change
            log.error("restart failed: %s", exc)
            emulators.clear()
            ready = []
            continue
        ready = [asyncio.create_task(_announce(emulator, ready_timeout)) for emulator in emulators]
    await stopping
    log.info("stopping: draining in-flight events, calling termination callbacks (again to force)")
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _force_stop_all, emulators)
    await _stop_all(emulators, ready)
    log.info("stopped")
    return 0


def _force_stop_all(emulators: list[Emulator]) -> None:
    for emulator in emulators:
        _force_stop(emulator)


def _force_stop(emulator: Emulator) -> None:
    log.warning("second signal: killing the workers")
    for pool in emulator.pools.values():
        for worker in pool.workers:
            worker.kill()


async def _announce(emulator: Emulator, ready_timeout: float) -> None:
    # a worker that cannot start is reported and restarted by its pool; keep waiting for it
    try:
        await emulator.wait_ready(ready_timeout, fail_fast=False)
    except EmulatorError as exc:
        log.error("%s", exc)


def _parse_headers(items: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise _cli_error(f"--header {item!r}: expected KEY:VALUE")
        headers[key.strip()] = value.strip()
    return headers


def cmd_invoke(args: argparse.Namespace) -> int:
    headers = _parse_headers(args.header)
    if args.log_level:
        headers["X-Nuclio-Log-Level"] = args.log_level
    try:
        body = read_body(args.body)
    except EmulatorError as exc:
        raise _cli_error(str(exc))
    if body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = args.content_type or _guess_content_type(body)
    target = args.target
    try:
        if target.startswith(("http://", "https://")):
            result = invoke(
                target, path=args.path, method=args.method, body=body, headers=headers, timeout=args.timeout
            )
        else:
            if not Path(target).exists():
                raise _cli_error(f"{target}: no such file (TARGET is a URL or a function.yaml)")
            from fnpack.emulator.serve import serve

            setup_console(level=logging.WARNING)
            env = _env_options(args.env, args.env_file)
            with serve(target, workers=args.workers, log_level="info", env=env) as fn:
                result = invoke(
                    fn.url,
                    path=args.path,
                    method=args.method,
                    body=body,
                    headers=headers,
                    timeout=args.timeout,
                )
    except EmulatorError as exc:
        raise _cli_error(str(exc))
    sys.stdout.write(result.render() + "\n")
    return 0 if result.status < 400 else 1


def _guess_content_type(body: bytes) -> str:
    import json

    try:
        json.loads(body)
    except ValueError:
        return "text/plain"
    return "application/json"
