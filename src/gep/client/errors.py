"""One exception tree for everything the SDK raises, so that a notebook can catch broadly
(``GepClientError``) or narrowly (``NotFound``, ``ArgumentError``) and always read the same
attributes: ``status`` (0 when no HTTP answer came), ``problem`` (the RFC 7807 body),
``field`` (the input the server or the SDK named) and ``detail``."""

from __future__ import annotations

from typing import Any


class GepClientError(Exception):
    """The root: a problem the server answered (RFC 7807), or one the SDK met itself."""

    def __init__(self, status: int, problem: dict[str, Any] | None = None) -> None:
        self.status = status
        self.problem: dict[str, Any] = dict(problem or {})
        self.field: str | None = self.problem.get("field")
        self.detail: str = str(
            self.problem.get("detail") or self.problem.get("title") or f"HTTP {status}"
        )
        super().__init__(self.detail)


class ArgumentError(GepClientError, ValueError):
    """A bad argument, refused before any request is sent; ``field`` names the argument."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(0, {"title": "Invalid argument", "detail": detail, "field": field})


class ConnectionFailed(GepClientError, ConnectionError):
    """The server could not be reached (refused, unknown host, TLS)."""


class GepTimeout(GepClientError, TimeoutError):
    """The SDK's own deadline passed: a request's timeout, or ``watch(timeout=…)``."""


class MissingDependency(GepClientError, ImportError):
    """An optional package a method needs is not installed (``detail`` says what to install):
    the SDK itself needs only httpx."""

    def __init__(self, package: str, extra: str, why: str) -> None:
        super().__init__(
            0,
            {
                "title": "Missing optional dependency",
                "detail": f"{why} needs {package}: pip install {package} "
                f"(or pip install 'gep-client[{extra}]')",
            },
        )
        self.name = package


class BadRequest(GepClientError):
    """400: an input is invalid (``field`` names it)."""


class Unauthorized(GepClientError):
    """401: no or a wrong token."""


class PaymentRequired(GepClientError):
    """402: not enough credits for the quote."""


class Forbidden(GepClientError):
    """403: signed in, but not allowed."""


class NotFound(GepClientError):
    """404: absent, or not visible to the caller (the server does not tell them apart)."""


class Conflict(GepClientError):
    """409: the state forbids it now (an id taken, a job not finished…)."""


class PayloadTooLarge(GepClientError):
    """413: over a size or quota limit."""


class TooManyRequests(GepClientError):
    """429: slow down (``problem`` may say for how long)."""


class ServerError(GepClientError):
    """5xx: the server failed; worth reporting."""


_BY_STATUS: dict[int, type[GepClientError]] = {
    400: BadRequest,
    401: Unauthorized,
    402: PaymentRequired,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: BadRequest,
    429: TooManyRequests,
}


def error_for(status: int, problem: dict[str, Any] | None) -> GepClientError:
    """The exception of an HTTP answer's status, carrying its problem body."""
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else GepClientError)
    return cls(status, problem)
