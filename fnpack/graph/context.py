"""``GraphContext`` (what steps see as ``context``), a nuclio-shaped logger and the secrets store."""

from __future__ import annotations

import os

from .event import Response

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: it costs cold start
    from typing import Any


def _hostname() -> str:
    import socket

    return socket.gethostname()


class Logger:
    """nuclio's logger interface (``info``, ``info_with`` ...) over stdlib logging."""

    def __init__(self, name: str = "fnpack", level: str | int = "info"):
        import logging  # lazy: inside nuclio the platform's logger is used instead

        self._logger = logging.getLogger(name)
        if isinstance(level, str):
            level = getattr(logging, level.upper(), logging.INFO)
        if not logging.getLogger().handlers and not self._logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            self._logger.addHandler(handler)
            self._logger.propagate = False
        self._logger.setLevel(level)

    @staticmethod
    def _fmt(message: str, args: tuple, kwargs: dict) -> str:
        if args:
            message = message % args
        if kwargs:
            message += " " + " ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return message

    def debug(self, message, *args, **kwargs):
        if self._logger.isEnabledFor(10):
            self._logger.debug(self._fmt(str(message), args, kwargs))

    def info(self, message, *args, **kwargs):
        if self._logger.isEnabledFor(20):
            self._logger.info(self._fmt(str(message), args, kwargs))

    def warn(self, message, *args, **kwargs):
        self._logger.warning(self._fmt(str(message), args, kwargs))

    warning = warn

    def error(self, message, *args, **kwargs):
        self._logger.error(self._fmt(str(message), args, kwargs))

    def debug_with(self, message, *args, **kwargs):
        self.debug(message, *args, **kwargs)

    def info_with(self, message, *args, **kwargs):
        self.info(message, *args, **kwargs)

    def warn_with(self, message, *args, **kwargs):
        self.warn(message, *args, **kwargs)

    def error_with(self, message, *args, **kwargs):
        self.error(message, *args, **kwargs)

    @property
    def level(self) -> int:
        return self._logger.level


class SecretsStore:
    """Secrets from ``secret_sources``: ``{"kind": "inline", "source": {...}}`` or ``{"kind": "env", ...}``.

    Env secrets are read when asked for, so values never sit in the serialized spec.
    """

    def __init__(self, sources: list | None = None):
        self._inline: dict[str, Any] = {}
        self._env_keys: set[str] | None = set()
        if not isinstance(sources, (list, tuple)):
            raise ValueError(
                f"secret_sources must be a list of {{kind, source}} mappings, got {type(sources).__name__}"
            )
        for source in sources:
            if not isinstance(source, dict):
                raise ValueError(f"a secret source must be a {{kind, source}} mapping, got {source!r:.60}")
            kind = source.get("kind")
            value = source.get("source")
            if kind == "inline":
                self._inline.update(value or {})
            elif kind == "env":
                if not value:
                    self._env_keys = None  # every env var
                elif self._env_keys is not None:
                    names = value.split(",") if isinstance(value, str) else value
                    self._env_keys.update(n.strip() for n in names)
            else:
                raise ValueError(f"unsupported secret source kind {kind!r}, use 'inline' or 'env'")

    def get(self, key: str, default=None):
        if key in self._inline:
            return self._inline[key]
        if self._env_keys is None or key in self._env_keys:
            return os.environ.get(key, default)
        return default


class GraphContext:
    """Passed to step classes and to handlers that take ``context``: logging, parameters, secrets."""

    def __init__(self, level: str = "info", logger=None, server=None, nuclio_context=None):
        self.state = None
        self.logger = logger or getattr(nuclio_context, "logger", None) or Logger(level=level)
        self.worker_id = 0
        self.Response = Response
        self.verbose = False
        self.stream = None
        self.root = None
        self.current_function = None
        self.is_mock = False
        self.monitoring_mock = False
        self.trigger = None
        self.platform = None
        self.nuclio_context = nuclio_context
        self._server = server
        if nuclio_context is not None:
            self.Response = getattr(nuclio_context, "Response", Response)
            self.worker_id = getattr(nuclio_context, "worker_id", 0)
            self.platform = getattr(nuclio_context, "platform", None)
            trigger = getattr(nuclio_context, "trigger", None)
            kind = getattr(trigger, "kind", trigger)
            self.trigger = kind.decode() if isinstance(kind, bytes) else kind

    @property
    def server(self):
        return self._server

    @property
    def project(self) -> str:
        uri = getattr(self._server, "function_uri", None) or ""
        return uri.split("/", 1)[0] if "/" in uri else ""

    def get_param(self, key: str, default=None):
        parameters = getattr(self._server, "parameters", None) or {}
        return parameters.get(key, default)

    def get_secret(self, key: str):
        secrets = getattr(self._server, "secrets", None)
        return secrets.get(key) if secrets is not None else None

    def push_error(self, event, message: str, source: str | None = None, **kwargs) -> None:
        """Log the error and push it to the error stream when one is set; never raises."""
        try:
            if self.verbose:
                self.logger.error(f"error in {source or 'graph'}: {message}")
            server = self._server
            stream = getattr(server, "error_stream_pusher", None)
            if stream is None:
                return
            stream.push(
                {
                    "function_uri": getattr(server, "function_uri", None),
                    "worker": self.worker_id,
                    "host": _hostname(),
                    "source": source,
                    "event": {"id": getattr(event, "id", None), "body": getattr(event, "body", None)},
                    "message": message,
                    "args": kwargs,
                }
            )
        except Exception as exc:  # pushing an error must never fail the request
            self.logger.warn(f"failed to push error to the error stream: {type(exc).__name__}: {exc}")

    def get_remote_endpoint(self, name: str, external: bool = True) -> str:
        """The URL of a function: a URL as is, ``.child`` as ``<this function>-child``."""
        if "://" in name:
            return name
        server = self._server
        functions = getattr(server, "functions", None) or {}
        if name.startswith("."):
            base = (getattr(server, "function_uri", None) or "").split("/")[-1].split(":")[0]
            name = f"{base}-{name[1:]}" if base else name[1:]
        url = functions.get(name)
        if url and "://" in url:
            return url
        env_url = os.environ.get(f"FNPACK_FUNCTION_URL_{name.upper().replace('-', '_')}")
        if env_url:
            return env_url
        raise ValueError(
            f"cannot resolve the address of function '{name}': give a URL, or set "
            f"FNPACK_FUNCTION_URL_{name.upper().replace('-', '_')}"
        )
