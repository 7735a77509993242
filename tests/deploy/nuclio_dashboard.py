"""A nuclio dashboard for tests: nuclio's REST contract (projects, functions, state machine, logs, auth).

It is the project's only stand-in (no nuclio platform can run here). Shapes follow nuclio's dashboard API
(``cmd/dashboard/README.md``) and ``functionconfig.Status`` (``state``, ``message``, ``logs``,
``httpPort``, ``internalInvocationUrls``, ``externalInvocationUrls``); errors are ``{"error": ...}``.
A deploy really checks the function: its config, then an import of its decoded source in a fresh Python
process; once ``fnpack.emulator.serve`` exists, the ready function runs in the emulator and its URL is
reported as nuclio reports it (``host:port``, no scheme).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import json
import os
import re
import ssl
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import yaml
from aiohttp import BasicAuth, web

HANDLER_RE = re.compile(r"^([\w|-]+(\.[\w|-]+)*):(\w+)$")
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
PROJECT_LABEL = "nuclio.io/project-name"
ACCESS_KEY_HEADER = "X-V3io-Session-Key"


def emulator_serve():
    """``fnpack.emulator.serve`` when the emulator has landed, else None."""
    try:
        from fnpack.emulator import serve
    except ImportError:
        return None
    return serve


@dataclass
class FunctionRecord:
    config: dict
    namespace: str
    state: str = "building"
    message: str = ""
    logs: list[dict] = field(default_factory=list)
    http_port: int = 0
    external_urls: list[str] = field(default_factory=list)
    internal_urls: list[str] = field(default_factory=list)
    generation: int = 0
    task: asyncio.Task | None = None
    running: Any = None  # the emulator's context manager while the function runs
    gets_while_building: int = 0

    def to_json(self) -> dict:
        body = copy.deepcopy(self.config)
        status: dict[str, Any] = {"state": self.state}
        if self.message:
            status["message"] = self.message
        if self.logs:
            status["logs"] = copy.deepcopy(self.logs)
        if self.http_port:
            status["httpPort"] = self.http_port
        if self.internal_urls:
            status["internalInvocationUrls"] = list(self.internal_urls)
        if self.external_urls:
            status["externalInvocationUrls"] = list(self.external_urls)
        body["status"] = status
        return body


class NuclioDashboard:
    """Start with ``start()`` (own thread and event loop, 127.0.0.1:0), stop with ``stop()``."""

    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        access_keys: set[str] | None = None,
        step_seconds: float = 0.05,
        default_namespace: str = "nuclio",
        use_emulator: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        report_invocation_urls: bool = True,
    ) -> None:
        self.ssl_context = ssl_context
        # False: report only status.httpPort, as nuclio < 1.6 did (clients then ask external_ip_addresses)
        self.report_invocation_urls = report_invocation_urls
        self.users = users or {}
        self.access_keys = access_keys or set()
        self.step_seconds = step_seconds
        self.default_namespace = default_namespace
        self.use_emulator = use_emulator
        self.projects: dict[tuple[str, str], dict] = {}
        self.functions: dict[tuple[str, str], FunctionRecord] = {}
        self.hold_building: set[str] = set()  # names whose build never finishes (timeout tests)
        self.unavailable_gets = (
            0  # answer this many next function GETs with 503, as a restarting ingress would
        )
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers (for assertions)
        self.bodies: list[str] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="nuclio-dashboard-")
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="nuclio-dashboard", daemon=True)
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> NuclioDashboard:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self._tmp.cleanup()

    def call(self, func, *args):
        """Run ``func(*args)`` on the dashboard's loop (state is only touched there) and return its result."""

        async def run():
            return func(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def record(self, name: str, namespace: str | None = None) -> dict | None:
        """A snapshot of one function as the API would return it."""

        def snap():
            rec = self.functions.get((namespace or self.default_namespace, name))
            return None if rec is None else {**rec.to_json(), "_gets_while_building": rec.gets_while_building}

        return self.call(snap)

    async def _start(self) -> None:
        app = web.Application(middlewares=[self._auth], client_max_size=8 * 1024 * 1024)
        app.add_routes(
            [
                web.get("/api/projects", self._list_projects),
                web.get("/api/external_ip_addresses", self._external_ip_addresses),
                web.post("/api/projects", self._create_project),
                web.get("/api/functions", self._list_functions),
                web.post("/api/functions", self._create_function),
                web.delete("/api/functions", self._delete_function),
                web.get("/api/functions/{name}", self._get_function),
                web.put("/api/functions/{name}", self._update_function),
            ]
        )
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        for rec in list(self.functions.values()):
            await self._retire(rec)
        await self._runner.cleanup()

    # -- auth --------------------------------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler):
        self.requests.append((request.method, request.path, dict(request.headers)))
        if request.can_read_body:
            self.bodies.append(await request.text())
        if not self.users and not self.access_keys:
            return await handler(request)
        key = request.headers.get(ACCESS_KEY_HEADER) or _session_cookie_key(request)
        if key and key in self.access_keys:
            return await handler(request)
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                auth = BasicAuth.decode(header)
            except ValueError:
                auth = None
            if auth and self.users.get(auth.login) == auth.password and auth.password:
                return await handler(request)
        return _error(401, "Unauthorized")

    # -- projects ----------------------------------------------------------------------------------------

    def _namespace(self, request: web.Request, header: str = "x-nuclio-function-namespace") -> str:
        return request.headers.get(header) or self.default_namespace

    async def _list_projects(self, request: web.Request) -> web.Response:
        ns = self._namespace(request, "x-nuclio-project-namespace")
        return web.json_response({name: p for (pns, name), p in self.projects.items() if pns == ns})

    async def _create_project(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        metadata = body.get("metadata") or {}
        name = metadata.get("name")
        if not name:
            return _error(400, "Project name must be provided in metadata")
        ns = metadata.get("namespace") or self.default_namespace
        if (ns, name) in self.projects:
            return _error(409, "Project already exists")
        self.projects[(ns, name)] = {
            "metadata": {"name": name, "namespace": ns},
            "spec": body.get("spec") or {},
        }
        return web.json_response(self.projects[(ns, name)], status=201)

    async def _external_ip_addresses(self, request: web.Request) -> web.Response:
        return web.json_response({"externalIPAddresses": {"addresses": ["127.0.0.1"]}})

    # -- functions ---------------------------------------------------------------------------------------

    async def _list_functions(self, request: web.Request) -> web.Response:
        ns = self._namespace(request)
        project = request.headers.get("x-nuclio-project-name")
        out = {
            name: rec.to_json()
            for (fns, name), rec in self.functions.items()
            if fns == ns
            and (not project or rec.config["metadata"].get("labels", {}).get(PROJECT_LABEL) == project)
        }
        return web.json_response(out)

    async def _get_function(self, request: web.Request) -> web.Response:
        if self.unavailable_gets > 0:
            self.unavailable_gets -= 1
            return _error(503, "Service Unavailable")
        rec = self.functions.get((self._namespace(request), request.match_info["name"]))
        if rec is None:
            return _error(404, "Function not found")
        if rec.state == "building":
            rec.gets_while_building += 1
        return web.json_response(rec.to_json())

    async def _create_function(self, request: web.Request) -> web.Response:
        config, ns, failure = await self._accept(request)
        if failure is not None:
            return failure
        name = config["metadata"]["name"]
        if (ns, name) in self.functions:
            return _error(409, "Function name already exists")
        rec = FunctionRecord(config=config, namespace=ns)
        self.functions[(ns, name)] = rec
        self._start_build(rec)
        return web.json_response({}, status=202)

    async def _update_function(self, request: web.Request) -> web.Response:
        config, ns, failure = await self._accept(request)
        if failure is not None:
            return failure
        name = request.match_info["name"]
        if config["metadata"]["name"] != name:
            return _error(400, "Function name in body does not match the URL")
        rec = self.functions.get((ns, name))
        if rec is None:
            return _error(404, "Function not found")
        await self._retire(rec)
        rec.config = config
        rec.state, rec.message, rec.logs = "building", "", []
        rec.http_port, rec.external_urls, rec.internal_urls = 0, [], []
        self._start_build(rec)
        return web.json_response({}, status=202)

    async def _delete_function(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        metadata = body.get("metadata") or {}
        ns = metadata.get("namespace") or self._namespace(request)
        rec = self.functions.get((ns, metadata.get("name")))
        if rec is None:
            return _error(404, "Function not found")
        ignore_state = request.headers.get("x-nuclio-delete-function-ignore-state-validation", "") == "true"
        if rec.state == "building" and not ignore_state:
            return _error(412, "Function is in a transient state (building) and cannot be deleted")
        self.functions.pop((ns, rec.config["metadata"]["name"]))
        await self._retire(rec)
        return web.Response(status=204)

    async def _accept(self, request: web.Request) -> tuple[dict, str, web.Response | None]:
        """Common checks of create/update: JSON body, name, project exists (as nuclio's dashboard does)."""
        if request.content_type != "application/json":
            return {}, "", _error(400, "Content-Type must be application/json")
        try:
            config = await request.json()
        except ValueError:
            return {}, "", _error(400, "Failed to parse JSON body")
        metadata = config.get("metadata") if isinstance(config, dict) else None
        if not isinstance(metadata, dict) or not metadata.get("name"):
            return {}, "", _error(400, "Function name must be provided in metadata")
        if not NAME_RE.match(str(metadata["name"])) or len(metadata["name"]) > 63:
            return {}, "", _error(400, "Function name is not a valid DNS-1123 label")
        ns = metadata.get("namespace") or self._namespace(request)
        metadata["namespace"] = ns
        project = request.headers.get("x-nuclio-project-name") or metadata.get("labels", {}).get(
            PROJECT_LABEL
        )
        if not project:
            return {}, "", _error(400, "Function must be assigned to a project")
        if (ns, project) not in self.projects:
            return {}, "", _error(404, f"Project {project} does not exist")
        metadata.setdefault("labels", {})[PROJECT_LABEL] = project
        config.pop("status", None)
        return config, ns, None

    # -- the build: building -> ready | error ------------------------------------------------------------

    def _start_build(self, rec: FunctionRecord) -> None:
        rec.generation += 1
        rec.task = self.loop.create_task(self._build(rec, rec.generation))

    def _log(self, rec: FunctionRecord, message: str, level: str = "info", **more: Any) -> None:
        entry = {"level": level, "time": int(time.time() * 1000), "name": "deployer", "message": message}
        entry.update(more)
        rec.logs.append(entry)

    async def _step(self) -> None:
        await asyncio.sleep(self.step_seconds)

    async def _build(self, rec: FunctionRecord, generation: int) -> None:
        name = rec.config["metadata"]["name"]
        try:
            self._log(rec, "Deploying function", functionName=name)
            await self._step()
            problem = check_config(rec.config)
            if problem:
                return self._fail(rec, problem)
            if not build_required(rec.config):
                self._log(rec, "Skipping build", name=name, image=rec.config["spec"]["image"])
                await self._step()
                # a prebuilt image runs as it is: this dashboard has no container runtime to start it
                self._log(rec, "Function deploy complete", image=rec.config["spec"]["image"])
                rec.state = "ready"
                return None
            self._log(rec, "Building processor image", imageName=f"nuclio/processor-{name}:latest")
            for command in (rec.config["spec"].get("build") or {}).get("commands") or []:
                await self._step()
                self._log(rec, "Running build command", command=command)
            await self._step()
            problem = await import_check(rec.config)
            if problem:
                return self._fail(rec, problem)
            self._log(rec, "Build complete", result={"image": f"nuclio/processor-{name}:latest"})
            while name in self.hold_building and rec.generation == generation:
                await self._step()
            await self._step()
            # on Kubernetes the image is built, then the deployment is configured: a state of its own
            rec.state = "waitingForResourceConfiguration"
            self._log(rec, "Waiting for function to be ready", timeout=60)
            problem = await self._run(rec)
            if problem:
                return self._fail(rec, problem, state="unhealthy")
            self._log(rec, "Function deploy complete", httpPort=rec.http_port)
            rec.state = "ready"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the dashboard's own failure must still end the build
            self._fail(rec, f"Internal error: {exc!r}")

    def _fail(self, rec: FunctionRecord, message: str, state: str = "error") -> None:
        self._log(rec, "Failed to deploy function", level="error", error=message)
        rec.message = message
        rec.state = state

    async def _run(self, rec: FunctionRecord) -> str | None:
        """Run the function in the emulator, as nuclio runs it on the platform; None when it serves."""
        serve = emulator_serve() if self.use_emulator else None
        if serve is None:
            return None
        path = os.path.join(self._tmp.name, f"{rec.namespace}-{rec.config['metadata']['name']}.yaml")
        with open(path, "w", encoding="utf-8") as fh:
            yaml.safe_dump(rec.config, fh)

        def enter():
            manager = serve(path, workers=1, port=0)
            server = manager.__enter__()
            return manager, server

        try:
            manager, server = await asyncio.get_running_loop().run_in_executor(None, enter)
        except Exception as exc:
            return f"Function failed to start: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        rec.running = manager
        host_port = str(server.url).split("://", 1)[-1].rstrip("/")
        rec.http_port = int(host_port.rsplit(":", 1)[1])
        if self.report_invocation_urls:
            rec.external_urls = [host_port]
        return None

    async def _retire(self, rec: FunctionRecord) -> None:
        """Stop a build in progress and the running function, before an update or delete."""
        rec.generation += 1
        if rec.task is not None and not rec.task.done():
            rec.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await rec.task
        if rec.running is not None:
            manager, rec.running = rec.running, None
            await asyncio.get_running_loop().run_in_executor(None, manager.__exit__, None, None, None)


def build_required(config: dict) -> bool:
    """nuclio's ``functionBuildRequired``: source, path or a target image in spec.build mean a build."""
    build = config["spec"].get("build") or {}
    return bool(build.get("functionSourceCode") or build.get("path") or build.get("image"))


def check_config(config: dict) -> str | None:
    """The config errors nuclio reports as a failed deploy (state ``error`` with a message)."""
    spec = config.get("spec") or {}
    runtime = str(spec.get("runtime") or "")
    if not re.match(r"^python(:3\.\d+)?$", runtime):
        return f"Runtime not supported: {runtime or '(none)'}"
    handler = str(spec.get("handler") or "")
    if not HANDLER_RE.match(handler):
        return f"Handler is not of the form module:entrypoint: {handler or '(none)'}"
    build = spec.get("build") or {}
    if not build_required(config):
        if spec.get("image"):
            return None
        return "Function must have either spec.build.path, spec.build.functionSourceCode, spec.build.image or spec.image set in order to create"
    if not build.get("functionSourceCode"):
        return "Function source code must be provided (spec.build.functionSourceCode)"
    try:
        base64.b64decode(build["functionSourceCode"], validate=True)
    except (binascii.Error, ValueError):
        return "Failed to decode function source code: not base64"
    return None


async def import_check(config: dict) -> str | None:
    """Import the handler module in a fresh interpreter, as the Python wrapper does at start."""
    spec = config["spec"]
    build = spec.get("build") or {}
    module, entry = spec["handler"].rsplit(":", 1)
    source = base64.b64decode(build["functionSourceCode"])
    with tempfile.TemporaryDirectory(prefix="nuclio-build-") as tmp:
        target = os.path.join(tmp, *module.split(".")) + ".py"
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(source)
        code = (
            "import importlib, sys\n"
            f"m = importlib.import_module({module!r})\n"
            f"if not callable(getattr(m, {entry!r}, None)):\n"
            f"    sys.exit('Handler {entry} not found in module {module}')\n"
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            cwd=tmp,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": tmp, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        _, err = await proc.communicate()
    if proc.returncode == 0:
        return None
    lines = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
    return f"Failed to import handler module {module}: {lines[-1].strip() if lines else 'unknown error'}"


def _session_cookie_key(request: web.Request) -> str | None:
    """The access key in the Iguazio session cookie ``j:{"sid": "<key>"}`` (what nuclio-jupyter sends)."""
    raw = request.cookies.get("session", "")
    if not raw.startswith("j:"):
        return None
    try:
        return json.loads(raw[2:]).get("sid")
    except (ValueError, AttributeError):
        return None


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "errorStackTrace": ""}, status=status)


async def _json_body(request: web.Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
