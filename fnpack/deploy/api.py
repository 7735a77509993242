"""Library entry points: ``deploy``, ``get`` and ``delete`` a function on a nuclio dashboard.

The CLI (``fnpack deploy/get/delete``) is a thin layer over these; notebooks and CI scripts call them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.markup import escape

from fnpack.deploy.config import PROJECT_LABEL, function_name, load_function, namespace_of, project_of
from fnpack.deploy.credentials import Credentials
from fnpack.deploy.dashboard import DashboardClient
from fnpack.deploy.errors import DeployError
from fnpack.deploy.watch import FAILED_STATES, READY_STATES, LogTracker, wait_for_function

DEFAULT_PROJECT = "default"


@dataclass
class FunctionStatus:
    """What the dashboard says about one function: its state, message and where to invoke it."""

    name: str
    project: str | None
    state: str
    message: str | None = None
    url: str | None = None
    internal_urls: list[str] = field(default_factory=list)
    external_urls: list[str] = field(default_factory=list)
    http_port: int | None = None
    function: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_function(cls, function: dict, client: DashboardClient) -> FunctionStatus:
        status = function.get("status") or {}
        external = [str(u) for u in status.get("externalInvocationUrls") or []]
        internal = [str(u) for u in status.get("internalInvocationUrls") or []]
        port = status.get("httpPort") or None
        host = None
        if port and not external and not internal and status.get("state") == "ready":
            host = client.external_ip()  # nuclio < 1.6 reports only the node port (as nuclio-jupyter does)
        return cls(
            name=function.get("metadata", {}).get("name", ""),
            project=project_of(function),
            state=status.get("state") or "unknown",
            message=status.get("message") or None,
            url=invocation_url(external, internal, port, client.base_url, host),
            internal_urls=internal,
            external_urls=external,
            http_port=port,
            function=function,
        )


def invocation_url(
    external: list[str],
    internal: list[str],
    http_port: int | None,
    dashboard_url: str,
    external_ip: str | None = None,
) -> str | None:
    """The address to call the function at: external URL first, then internal, then host + ``httpPort``.

    nuclio lists URLs as ``host:port[/path]`` without a scheme; an http URL is made from them. The host for
    a bare port is the dashboard's external IP when it reports one, else the dashboard's own host.
    """
    for candidate in (*external, *internal):
        if candidate:
            return candidate if "://" in candidate else f"http://{candidate}"
    if http_port:
        host = external_ip or urlsplit(dashboard_url).hostname or "127.0.0.1"
        return f"http://{host}:{http_port}"
    return None


def client_for(
    dashboard: str | DashboardClient | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    access_key: str | None = None,
    verify_tls: bool | str = True,
) -> DashboardClient:
    """A DashboardClient from a URL (or ``NUCLIO_DASHBOARD_URL``) and flags-then-env credentials."""
    if isinstance(dashboard, DashboardClient):
        return dashboard
    creds = Credentials.resolve(username=username, password=password, access_key=access_key)
    return DashboardClient(dashboard, creds, verify_tls=verify_tls)


def deploy(
    function: Any,
    dashboard: str | DashboardClient | None = None,
    *,
    project: str | None = None,
    namespace: str | None = None,
    username: str | None = None,
    password: str | None = None,
    access_key: str | None = None,
    verify_tls: bool | str = True,
    wait: bool = True,
    timeout: float = 600.0,
    poll_interval: float = 1.0,
    console: Console | None = None,
) -> FunctionStatus:
    """Create or update ``function`` (function.yaml path, config dict, or object with ``to_dict()``).

    Creates the project when missing, then (with ``wait``) polls until the function is ready, printing
    each new build log line once, and returns its status with the invocation URL. Raises DeployError
    with the dashboard's message when the function ends in ``error``/``unhealthy`` or on timeout.
    """
    console = console or Console(highlight=False, soft_wrap=True)
    client = client_for(
        dashboard, username=username, password=password, access_key=access_key, verify_tls=verify_tls
    )
    config = load_function(function)
    config.pop("status", None)
    name = function_name(config)
    namespace = namespace or namespace_of(config)
    existing = client.get_function(name, namespace)
    current_project = project_of(existing) if existing is not None else None
    wanted = project or project_of(config)
    if wanted and current_project and wanted != current_project:
        raise DeployError(
            f"function {name} already exists in project {current_project}; "
            f"deploy it with --project {current_project}, or delete it first"
        )
    project = wanted or current_project or DEFAULT_PROJECT  # an update without a project keeps the function's
    metadata = config["metadata"]
    metadata.setdefault("labels", {})[PROJECT_LABEL] = project
    if namespace:
        metadata["namespace"] = namespace

    if client.ensure_project(project, namespace):
        console.print(f"created project {escape(project)}")
    tracker = LogTracker((existing or {}).get("status", {}).get("logs") or [])
    if existing is None:
        console.print(f"creating function {escape(name)} in project {escape(project)} at {client.base_url}")
        client.create_function(config, project, namespace)
    else:
        console.print(f"updating function {escape(name)} in project {escape(project)} at {client.base_url}")
        client.update_function(config, project, namespace)
    if not wait:
        current = client.get_function(name, namespace) or {
            "metadata": metadata,
            "status": {"state": "building"},
        }
        return FunctionStatus.from_function(current, client)

    final = wait_for_function(
        client,
        name,
        namespace,
        timeout=timeout,
        poll_interval=poll_interval,
        console=console,
        tracker=tracker,
    )
    result = FunctionStatus.from_function(final, client)
    where = result.url or "(the dashboard reported no invocation URL)"
    console.print(f"function {escape(name)} is ready: {where}")
    return result


def get(
    function: Any,
    dashboard: str | DashboardClient | None = None,
    *,
    namespace: str | None = None,
    username: str | None = None,
    password: str | None = None,
    access_key: str | None = None,
    verify_tls: bool | str = True,
) -> FunctionStatus | None:
    """The function's status on the dashboard, or None when it does not exist there."""
    client = client_for(
        dashboard, username=username, password=password, access_key=access_key, verify_tls=verify_tls
    )
    name, namespace = _name_and_namespace(function, namespace)
    found = client.get_function(name, namespace)
    return None if found is None else FunctionStatus.from_function(found, client)


def delete(
    function: Any,
    dashboard: str | DashboardClient | None = None,
    *,
    namespace: str | None = None,
    username: str | None = None,
    password: str | None = None,
    access_key: str | None = None,
    verify_tls: bool | str = True,
    missing_ok: bool = False,
    force: bool = False,
) -> bool:
    """Delete the function; True when it existed. Raises DeployError when absent unless ``missing_ok``.

    ``force`` deletes it even while it is building (nuclio refuses that otherwise).
    """
    client = client_for(
        dashboard, username=username, password=password, access_key=access_key, verify_tls=verify_tls
    )
    name, namespace = _name_and_namespace(function, namespace)
    existing = client.get_function(name, namespace)
    if existing is None:
        if missing_ok:
            return False
        raise DeployError(f"function {name} does not exist on the dashboard at {client.base_url}")
    try:
        client.delete_function(name, namespace, force=force)
    except DeployError as exc:
        state = (existing.get("status") or {}).get("state")
        if force or state in READY_STATES | FAILED_STATES:
            raise
        raise DeployError(f"{exc} (the function is {state}: --force deletes it anyway)")
    return True


def _name_and_namespace(function: Any, namespace: str | None) -> tuple[str, str | None]:
    """Accept a bare function name or anything ``load_function`` accepts."""
    if (
        isinstance(function, str)
        and not os.path.exists(function)
        and not function.endswith((".yaml", ".yml"))
    ):
        return function, namespace
    config = load_function(function)
    return function_name(config), namespace or namespace_of(config)
