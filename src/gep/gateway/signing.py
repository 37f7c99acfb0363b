"""Signed, expiring asset URLs: for tools that cannot send an ``Authorization`` header.

GDAL's ``/vsicurl/``, a browser's ``<img>``, QGIS's raster source dialog and ``curl`` pasted
from an email can all open a URL but not all of them can send a bearer token. A signed URL
carries, in its query, the user whose permissions it reads with, its expiry and an HMAC-SHA256
of the path, the user and the expiry under the server's key: changing any of them breaks the
signature. It is checked on every request, and the item's visibility is checked *as that user*
at that moment, so a result made private after a URL was handed out stops being readable
through it, and a URL never grants more than its signer could read.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from gep.core.errors import Forbidden, InvalidInput

#: the query parameters of a signed URL
EXPIRES, USER, SIGNATURE = "gep_expires", "gep_user", "gep_signature"
#: longest life of a signed URL (a week) and its default (an hour)
MAX_LIFETIME_S = 7 * 24 * 3600
DEFAULT_LIFETIME_S = 3600


class SignatureRefused(Forbidden):
    """A signed URL that is expired, altered or signed with another key (HTTP 403)."""

    kind = "signature-refused"


@dataclass(frozen=True)
class SignedQuery:
    user: str
    expires: int
    signature: str


def load_key(configured: str, home: Path) -> bytes:
    """The signing key: the setting when given (several servers behind one name must share
    it), else a random one made once and kept in ``home/secret_key`` (mode 0600)."""
    if configured:
        return configured.encode()
    path = home / "secret_key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return key


class UrlSigner:
    """Signs and checks the query of an asset URL."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, path: str, user: str, expires: int) -> str:
        msg = f"{path}\n{user}\n{expires}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def sign(self, path: str, user: str, lifetime_s: int, now: float | None = None) -> str:
        """The query string (without ``?``) that makes ``path`` readable as ``user`` for
        ``lifetime_s`` seconds."""
        if not 1 <= lifetime_s <= MAX_LIFETIME_S:
            raise InvalidInput(
                f"expires_in must be between 1 and {MAX_LIFETIME_S} seconds (a week); "
                f"got {lifetime_s}",
                field="expires_in",
            )
        expires = int(now if now is not None else time.time()) + lifetime_s
        return urlencode({EXPIRES: expires, USER: user, SIGNATURE: self._mac(path, user, expires)})

    def verify(self, path: str, query: dict[str, str], now: float | None = None) -> str:
        """The user a signed query reads as; SignatureRefused when it is not valid now."""
        try:
            expires = int(query.get(EXPIRES, ""))
        except ValueError:
            raise SignatureRefused(
                f"{EXPIRES} must be a Unix time in seconds", field=EXPIRES
            ) from None
        user = query.get(USER, "")
        given = query.get(SIGNATURE, "")
        if not user or not given:
            raise SignatureRefused(
                f"a signed URL carries {EXPIRES}, {USER} and {SIGNATURE}", field=SIGNATURE
            )
        if not hmac.compare_digest(given, self._mac(path, user, expires)):
            raise SignatureRefused(
                "the signature does not match this URL (altered, or signed by another "
                "server): ask for a new one",
                field=SIGNATURE,
            )
        if (now if now is not None else time.time()) > expires:
            raise SignatureRefused(
                f"this signed URL expired at {expires} (Unix time): ask for a new one",
                field=EXPIRES,
            )
        return user


def is_signed(query: dict[str, str]) -> bool:
    return SIGNATURE in query or EXPIRES in query or USER in query
