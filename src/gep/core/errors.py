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


class Unauthorized(GepError):
    """No credentials where some are needed, or credentials that are wrong, expired or revoked
    (HTTP 401)."""

    kind = "unauthorized"


class Forbidden(GepError):
    """The caller is known and may see the object, but may not do this to it (HTTP 403)."""

    kind = "forbidden"


class PaymentRequired(GepError):
    """Not enough processing credits for the job's price (HTTP 402)."""

    kind = "insufficient-credits"


class UpstreamUnavailable(GepError):
    """A service GEP depends on for this request (an identity provider, a remote archive) did
    not answer or answered nonsense (HTTP 502): the caller can retry later."""

    kind = "upstream-unavailable"


class ServiceUnavailable(GepError):
    """This server cannot do what was asked as it is configured (HTTP 503): e.g. it has no
    way to confine application packages, so it runs none."""

    kind = "service-unavailable"


class PayloadTooLarge(GepError):
    """The request body is larger than the server accepts (HTTP 413); ``limit`` in ``extra``."""

    kind = "payload-too-large"


class QuotaExceeded(PayloadTooLarge):
    """Storing this would pass the caller's storage quota (HTTP 413); ``used``, ``quota`` and
    ``size`` (bytes) in ``extra``, so the answer says by how much."""

    kind = "quota-exceeded"


class TooManyRequests(GepError):
    """Too many attempts in a short time (HTTP 429); ``retry_after`` seconds in ``extra``."""

    kind = "too-many-requests"
