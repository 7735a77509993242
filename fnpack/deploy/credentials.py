"""Dashboard credentials: resolved from flags, then env vars; applied to requests, never printed or saved.

Env vars: ``NUCLIO_USERNAME`` + ``NUCLIO_PASSWORD`` (HTTP basic auth) and/or ``NUCLIO_ACCESS_KEY``
(``V3IO_ACCESS_KEY`` as a fallback, the name nuclio-jupyter reads). An access key goes out the way
nuclio's own Python client (nuclio-jupyter) sends it to a dashboard behind the Iguazio platform, as the
``session`` cookie ``j:{"sid": "<key>"}``, and also as the ``X-V3io-Session-Key`` header.
Credentials embedded in the dashboard URL (``https://user:pw@host``) are moved here too, so the URL that is
printed or put into an error message never carries them.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

if TYPE_CHECKING:
    import requests

ACCESS_KEY_HEADER = "X-V3io-Session-Key"
ENV_URL = "NUCLIO_DASHBOARD_URL"
ENV_USERNAME = "NUCLIO_USERNAME"
ENV_PASSWORD = "NUCLIO_PASSWORD"
ENV_ACCESS_KEY = "NUCLIO_ACCESS_KEY"
ENV_ACCESS_KEY_FALLBACK = "V3IO_ACCESS_KEY"


@dataclass(frozen=True)
class Credentials:
    """Basic auth user/password and/or an access key; ``repr`` never shows the secrets."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    access_key: str | None = field(default=None, repr=False)

    @classmethod
    def resolve(
        cls,
        username: str | None = None,
        password: str | None = None,
        access_key: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Credentials:
        """Flags win over env vars, field by field."""
        env = os.environ if env is None else env
        return cls(
            username=username or env.get(ENV_USERNAME) or None,
            password=password or env.get(ENV_PASSWORD) or None,
            access_key=access_key or env.get(ENV_ACCESS_KEY) or env.get(ENV_ACCESS_KEY_FALLBACK) or None,
        )

    def apply(self, session: requests.Session) -> None:
        if self.username or self.password:
            session.auth = (self.username or "", self.password or "")
        if self.access_key:
            session.headers[ACCESS_KEY_HEADER] = self.access_key
            session.headers["Cookie"] = f'session=j:{{"sid": "{self.access_key}"}}'

    def secrets(self) -> list[str]:
        """The values that must never appear in output (used to scrub messages from the dashboard).

        Includes the encoded basic-auth token, in case a proxy echoes the Authorization header back.
        """
        found = [s for s in (self.password, self.access_key) if s]
        if self.password:
            found.append(base64.b64encode(f"{self.username or ''}:{self.password}".encode()).decode())
        return found

    def merged(self, other: Credentials) -> Credentials:
        """Fill the fields missing here from ``other``."""
        return Credentials(
            username=self.username or other.username,
            password=self.password or other.password,
            access_key=self.access_key or other.access_key,
        )


def split_url(url: str) -> tuple[str, Credentials]:
    """Remove ``user:password@`` from a URL, returning the clean URL and what was in it."""
    parts = urlsplit(url)
    if not parts.username and not parts.password:
        return url, Credentials()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, Credentials(
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
