"""Error types of the graph runtime and the one way errors are rendered as text."""

from __future__ import annotations


class GraphError(Exception):
    """The graph is malformed (raised when it is built or initialized, before any event).

    The message is always one line: names taken from a spec may hold line breaks, shown escaped.
    """

    def __init__(self, message: str = "", *args):
        super().__init__(one_line(str(message)), *args)


def one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


class ClientError(Exception):
    """A request the graph cannot serve as asked; ``status_code`` is the HTTP status to answer with."""

    status_code = 400


class BadRequestError(ClientError, ValueError):
    """Malformed or invalid request data (400)."""

    status_code = 400


class NotFoundError(ClientError, ValueError):
    """The request names a model, version or step that does not exist (404)."""

    status_code = 404


class RequestTimeoutError(ClientError):
    """Not ready in time (408), e.g. a model that is still loading."""

    status_code = 408


class StepError(Exception):
    """An exception raised by user code inside a step, tagged with the step that raised it.

    Both engines raise this (never a bare user exception) out of the graph, so the server renders
    every failure the same way: ``"<Exc>: <message>"`` plus the step name.
    """

    def __init__(self, step: str, cause: BaseException):
        super().__init__(step, cause)
        self.step = step
        self.cause = cause

    def __str__(self) -> str:
        return f"{err_to_str(self.cause)} (step {self.step})"


def err_to_str(exc: BaseException) -> str:
    """``"<ExcClass>: <message>"``, with ``", caused by: <cause>"`` for chained exceptions."""
    if isinstance(exc, StepError):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if cause is not None and cause is not exc:
        text += f", caused by: {cause}"
    return text


def status_of(exc: BaseException) -> int:
    """HTTP status for an exception escaping the graph: a client error's own status, else 400."""
    cause = exc.cause if isinstance(exc, StepError) else exc
    return getattr(cause, "status_code", None) or 400
