"""CORS of the HTTP trigger (``attributes.cors``), as nuclio's trigger answers it.

Off unless ``cors.enabled``. Then a preflight (``OPTIONS`` with ``Access-Control-Request-Method``) is
answered by the trigger itself: 200 with the allow headers when the origin, the method and every requested
header are allowed, else 400; the function is not called. Other requests from an allowed origin reach the
function and get ``Access-Control-Allow-Origin`` (and the credentials / expose headers when configured);
a request whose origin is not allowed, or that has no ``Origin`` at all (curl), gets an empty 200 without
reaching the function: nuclio does exactly that, so a function that works here works there.
"""

from __future__ import annotations

from typing import Any

from fnpack.emulator.errors import FunctionConfigError

DEFAULT_METHODS = ["HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS"]
DEFAULT_HEADERS = ["Accept", "Content-Length", "Content-Type", "Authorization", "X-nuclio-log-level"]
PREFLIGHT_METHOD = "OPTIONS"
_VARY_PREFLIGHT = (
    b"Vary: Origin\r\nVary: Access-Control-Request-Method\r\nVary: Access-Control-Request-Headers\r\n"
)
VARY_ORIGIN = b"Vary: Origin\r\n"


def _names(value: Any, what: str, default: list[str]) -> list[str]:
    if value is None:
        return list(default)
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise FunctionConfigError(f"{what} must be a list of strings, got {value!r}")
    return list(value)


def _line(name: str, value: str) -> bytes:
    return f"{name}: {value}\r\n".encode("latin-1", "replace")


class Cors:
    """One trigger's CORS settings; ``None`` from :meth:`from_attributes` when CORS is off."""

    def __init__(
        self,
        allow_origins: list[str],
        allow_methods: list[str],
        allow_headers: list[str],
        allow_credentials: bool,
        max_age: int,
        expose_headers: list[str],
    ) -> None:
        self.any_origin = "*" in allow_origins
        self.origins = {o.lower() for o in allow_origins}
        self.methods = {m.upper() for m in allow_methods}
        self.headers = {h.lower() for h in allow_headers}
        self.credentials = allow_credentials
        # the preflight's allow headers never change: built once
        allow = _line("Access-Control-Allow-Methods", ", ".join(allow_methods))
        allow += _line("Access-Control-Allow-Headers", ", ".join(allow_headers))
        allow += _line("Access-Control-Max-Age", str(max_age))
        self._preflight_tail = allow
        self._credentials = _line("Access-Control-Allow-Credentials", "true") if allow_credentials else b""
        self._expose = (
            _line("Access-Control-Expose-Headers", ", ".join(expose_headers)) if expose_headers else b""
        )

    @classmethod
    def from_attributes(cls, attributes: dict[str, Any], trigger: str) -> Cors | None:
        config = attributes.get("cors")
        if config is None:
            return None
        what = f"trigger {trigger!r}: attributes.cors"
        if not isinstance(config, dict):
            raise FunctionConfigError(f"{what} must be a mapping")
        if not config.get("enabled"):
            return None
        max_age = config.get("preflightMaxAgeSeconds", -1)  # -1: browsers do not cache the preflight
        if isinstance(max_age, bool) or not isinstance(max_age, int):
            raise FunctionConfigError(f"{what}.preflightMaxAgeSeconds must be an integer, got {max_age!r}")
        return cls(
            _names(config.get("allowOrigins"), f"{what}.allowOrigins", ["*"]),
            _names(config.get("allowMethods"), f"{what}.allowMethods", DEFAULT_METHODS),
            _names(config.get("allowHeaders"), f"{what}.allowHeaders", DEFAULT_HEADERS),
            bool(config.get("allowCredentials", False)),
            max_age,
            _names(config.get("exposeHeaders"), f"{what}.exposeHeaders", []),
        )

    def origin_allowed(self, origin: str) -> bool:
        return bool(origin) and (self.any_origin or origin.lower() in self.origins)

    @staticmethod
    def is_preflight(method: str, headers: dict[str, str]) -> bool:
        return method == PREFLIGHT_METHOD and bool(headers.get("Access-Control-Request-Method"))

    def preflight(self, headers: dict[str, str]) -> tuple[int, bytes]:
        """(status, header lines) of the answer to a preflight request."""
        origin = headers.get("Origin", "")
        method = headers.get("Access-Control-Request-Method", "").upper()
        requested = [h.strip().lower() for h in headers.get("Access-Control-Request-Headers", "").split(",")]
        allowed = (
            self.origin_allowed(origin)
            and (method == PREFLIGHT_METHOD or method in self.methods)
            and all(h in self.headers for h in requested if h)
        )
        if not allowed:
            return 400, _VARY_PREFLIGHT
        return 200, _VARY_PREFLIGHT + _line("Access-Control-Allow-Origin", origin) + self._credentials + (
            self._preflight_tail
        )

    def actual(self, headers: dict[str, str]) -> bytes | None:
        """Header lines for the answer to a request from an allowed origin; None: not allowed (the
        function is not called)."""
        origin = headers.get("Origin", "")
        if not self.origin_allowed(origin):
            return None
        return VARY_ORIGIN + _line("Access-Control-Allow-Origin", origin) + self._credentials + self._expose
