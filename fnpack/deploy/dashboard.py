"""A small client for nuclio's dashboard REST API (``/api/projects``, ``/api/functions``).

Only transport and error mapping live here; the deploy flow (create-or-update, polling, logs) is in
``fnpack.deploy.api`` and ``fnpack.deploy.watch``.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Any

import requests
from urllib3.exceptions import InsecureRequestWarning

from fnpack.deploy.credentials import ENV_URL, Credentials, redact, split_url
from fnpack.deploy.errors import DashboardUnavailable, DeployError

NAMESPACE_HEADER = "x-nuclio-function-namespace"
PROJECT_HEADER = "x-nuclio-project-name"
PROJECT_NAMESPACE_HEADER = "x-nuclio-project-namespace"
IGNORE_STATE_HEADER = "x-nuclio-delete-function-ignore-state-validation"
_AUTH_HINT = (
    "check --user/--password or --access-key (env NUCLIO_USERNAME/NUCLIO_PASSWORD or NUCLIO_ACCESS_KEY)"
)


class DashboardClient:
    """Talks to one nuclio dashboard; raises DeployError with a one-line, secret-free reason on failure."""

    def __init__(
        self,
        url: str | None = None,
        credentials: Credentials | None = None,
        *,
        verify_tls: bool | str = True,
        request_timeout: float = 30.0,
    ) -> None:
        url = url or os.environ.get(ENV_URL)
        if not url:
            raise DeployError(f"no dashboard URL: pass --dashboard or set {ENV_URL}")
        if "://" not in url:
            url = f"http://{url}"
        url, in_url = split_url(url)
        self.base_url = re.sub(r"/+(api/*)?$", "", url)
        self.credentials = (credentials or Credentials.resolve()).merged(in_url)
        self.request_timeout = request_timeout
        self.session = requests.Session()
        self.verify_tls = verify_tls  # passed on every request: a session setting loses to REQUESTS_CA_BUNDLE
        self.session.headers["User-Agent"] = "fnpack-deploy"
        self.credentials.apply(self.session)

    # -- functions ---------------------------------------------------------------------------------------

    def get_function(self, name: str, namespace: str | None = None) -> dict | None:
        """The function config with its ``status``, or None when the dashboard has no such function."""
        resp = self._request("GET", f"/api/functions/{name}", headers=_ns(namespace), ok=(200, 404))
        if resp.status_code == 404:
            return None
        body = self._json(resp)
        if not isinstance(body, dict):
            raise DeployError(
                f"the nuclio dashboard at {self.base_url} answered GET /api/functions/{name} oddly"
            )
        return body

    def create_function(self, config: dict, project: str, namespace: str | None = None) -> None:
        headers = {PROJECT_HEADER: project, **_ns(namespace)}
        self._request("POST", "/api/functions", json=config, headers=headers, ok=(200, 201, 202))

    def update_function(self, config: dict, project: str, namespace: str | None = None) -> None:
        headers = {PROJECT_HEADER: project, **_ns(namespace)}
        name = config["metadata"]["name"]
        self._request("PUT", f"/api/functions/{name}", json=config, headers=headers, ok=(200, 202, 204))

    def delete_function(self, name: str, namespace: str | None = None, *, force: bool = False) -> None:
        """Delete; ``force`` also deletes a function in a transient state (e.g. still building)."""
        metadata: dict[str, Any] = {"name": name}
        if namespace:
            metadata["namespace"] = namespace
        headers = _ns(namespace)
        if force:
            headers[IGNORE_STATE_HEADER] = "true"
        self._request(
            "DELETE",
            "/api/functions",
            json={"metadata": metadata},
            headers=headers,
            ok=(200, 202, 204),
        )

    def external_ip(self) -> str | None:
        """The address nuclio publishes node ports on (``GET /api/external_ip_addresses``), if it says."""
        try:
            resp = self._request("GET", "/api/external_ip_addresses", ok=(200, 404))
            addresses = (self._json(resp) or {}).get("externalIPAddresses", {}).get("addresses") or []
        except (DeployError, AttributeError):
            return None
        return str(addresses[0]) if resp.status_code == 200 and addresses else None

    # -- projects ----------------------------------------------------------------------------------------

    def projects(self, namespace: str | None = None) -> dict:
        headers = {PROJECT_NAMESPACE_HEADER: namespace} if namespace else {}
        return self._json(self._request("GET", "/api/projects", headers=headers)) or {}

    def ensure_project(self, project: str, namespace: str | None = None) -> bool:
        """Create ``project`` when the dashboard does not have it; True when it was created."""
        if project in self.projects(namespace):
            return False
        metadata: dict[str, Any] = {"name": project}
        if namespace:
            metadata["namespace"] = namespace
        body = {"metadata": metadata, "spec": {"description": "created by fnpack deploy"}}
        self._request("POST", "/api/projects", json=body, ok=(200, 201, 202, 409))
        return True

    # -- transport ---------------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> requests.Response:
        url = self.base_url + path
        try:
            with warnings.catch_warnings():
                if self.verify_tls is False:  # asked for explicitly: don't warn on every poll
                    warnings.simplefilter("ignore", InsecureRequestWarning)
                resp = self.session.request(
                    method,
                    url,
                    json=json,
                    headers=headers,
                    timeout=self.request_timeout,
                    verify=self.verify_tls,
                )
        except requests.exceptions.SSLError as exc:
            raise DeployError(
                f"TLS verification failed for {self.base_url} ({_reason(exc)}); "
                "pass --ca-bundle, or --no-verify-tls for a self-signed test dashboard"
            )
        except requests.exceptions.Timeout:
            raise DashboardUnavailable(
                f"the nuclio dashboard at {self.base_url} did not answer {method} {path} in time"
            )
        except requests.exceptions.RequestException as exc:
            raise DashboardUnavailable(
                f"cannot reach the nuclio dashboard at {self.base_url} ({_reason(exc)})"
            )
        if resp.status_code in ok:
            return resp
        if resp.status_code in (401, 403):
            raise DeployError(
                f"the nuclio dashboard at {self.base_url} refused the credentials "
                f"({resp.status_code} {resp.reason}); {_AUTH_HINT}"
            )
        message = self._error_message(resp)
        error = DashboardUnavailable if resp.status_code in (502, 503, 504) else DeployError
        raise error(f"dashboard {method} {path} failed: {resp.status_code} {resp.reason}: {message}")

    def _json(self, resp: requests.Response) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise DeployError(
                f"the nuclio dashboard at {self.base_url} answered {resp.request.path_url} with non-JSON"
            )

    def _error_message(self, resp: requests.Response) -> str:
        """The dashboard's own reason: nuclio answers errors as JSON ``{"error": ...}``."""
        text = resp.text or ""
        try:
            body = resp.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            text = str(body.get("error") or body.get("message") or text)
        line = " ".join(text.split())[:300] or "(no message)"
        return redact(line, self.credentials.secrets())


def _ns(namespace: str | None) -> dict[str, str]:
    return {NAMESPACE_HEADER: namespace} if namespace else {}


def _reason(exc: Exception) -> str:
    """A short cause for a transport error, e.g. 'Connection refused' (never the full urllib3 repr)."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text) or re.search(r"\[SSL: [A-Z_]+\] ([^'\")(]+)", text)
    if match:
        return match.group(1).strip()
    return type(exc).__name__
