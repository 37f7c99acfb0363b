"""The GEP error tree.

Every package raises subclasses of :class:`GepError`; only ``gep.api.errors`` knows how they map to
HTTP. Each error carries the *field* at fault (a JSON-pointer-like path or a parameter name) so
that the API can tell the user exactly what to change.
"""

from __future__ import annotations

from typing import Any


class GepError(Exception):
    """Base of every error GEP raises on purpose."""

    #: short machine-readable type, used as the tail of the problem+json ``type`` URI
    kind: str = "error"

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra


class InvalidInput(GepError):
    """The caller sent something malformed or out of range (HTTP 400)."""

    kind = "invalid-parameter-value"


class NotFound(GepError):
    """A named object does not exist, or the caller may not see it (HTTP 404)."""

    kind = "not-found"


class Conflict(GepError):
    """The object already exists, or the state forbids the change (HTTP 409)."""

    kind = "conflict"


class UnsupportedMediaType(GepError):
    """The request body has a media type this endpoint does not accept (HTTP 415)."""

    kind = "unsupported-media-type"
