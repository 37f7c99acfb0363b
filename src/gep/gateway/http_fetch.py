"""Downloading a remote href for a job, without becoming a proxy into the server's network.

A job downloads what its inputs name, on behalf of whoever submitted it; unchecked, that is
server-side request forgery (the metadata service at 169.254.169.254, the database on
loopback, anything on the private network). So: http(s) only; every address the host resolves
to must be public unless an administrator allows the host (``GEP_FETCH_ALLOW``); redirects are
followed by hand so that every hop is checked the same way; the size (Content-Length, and the
bytes actually read) and the wall time are bounded.

:func:`fetch` is the one downloader (multi-source retrieval, :mod:`gep.gateway.retrieve`, calls
it for every HTTP source, with a mirror's credentials); :func:`download` is its plain form.

Known limit: the host is resolved for the check and again by the HTTP client, so a DNS name
that changes its answer in between (rebinding) could slip through; operators who need that
closed run workers without a route to private ranges (see ``docs/security.md``).
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

import httpx

from gep.gateway.config import GatewayConfig, HrefRefused
from gep.io.hrefs import blocked_address, host_allowed

MAX_REDIRECTS = 5
_CHUNK = 1 << 20


class FetchFailed(HrefRefused):
    """A download that failed on the way (an HTTP error status, a timeout, a broken
    connection), as opposed to one refused before any byte moved; ``transient`` when trying
    the same source again may succeed (5xx, 429, timeouts, connection errors)."""

    def __init__(self, message: str, *, field: str, transient: bool) -> None:
        super().__init__(message, field=field)
        self.transient = transient


@dataclass(frozen=True)
class Fetched:
    """What a download returned besides the bytes."""

    path: Path
    size: int
    #: the Content-Type the last hop declared ('' when none)
    content_type: str
    #: the URL that answered with the bytes (after redirects)
    url: str


def check_url(url: str, config: GatewayConfig, field: str = "href") -> None:
    """HrefRefused unless ``url`` is http(s) to a host the server may contact."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise HrefRefused(f"{field}: '{url[:200]}' is not an http(s) URL", field=field)
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise HrefRefused(f"{field}: '{url[:200]}' has an invalid port", field=field) from None
    if host_allowed(host, port, config.fetch_allow):
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise HrefRefused(f"{field}: host '{host}' does not resolve", field=field) from None
    for info in infos:
        why = blocked_address(str(info[4][0]))
        if why is not None:
            raise HrefRefused(
                f"{field}: host '{host}' is {why}; the server does not fetch from it "
                "(an administrator may allow it with GEP_FETCH_ALLOW)",
                field=field,
            )


def download(url: str, folder: Path, config: GatewayConfig, field: str = "href") -> Path:
    """The file at ``url`` in ``folder``, every hop checked, within the size and time bounds."""
    name = PurePosixPath(urlsplit(url).path).name or "asset"
    target = folder / "downloads" / f"{hashlib.sha1(url.encode()).hexdigest()[:12]}-{name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    return fetch(url, target, config, field).path


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def fetch(
    url: str,
    target: Path,
    config: GatewayConfig,
    field: str = "href",
    *,
    headers: Mapping[str, str] | None = None,
    on_chunk: Callable[[bytes], None] | None = None,
) -> Fetched:
    """Write the file at ``url`` to ``target`` (removed again on any failure), every hop
    checked, within the size and time bounds. ``headers`` (a mirror's credentials) go to the
    first URL's origin only: a redirect elsewhere is followed without them. ``on_chunk`` sees
    every chunk written (a checksum computed on the way)."""
    deadline = time.monotonic() + config.timeout_s
    timeout = httpx.Timeout(min(60.0, config.timeout_s))
    origin = _origin(url)
    current = url
    with httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(current, config, field)
            sent = dict(headers or {}) if _origin(current) == origin else {}
            try:
                with client.stream("GET", current, headers=sent) as r:
                    if r.is_redirect:
                        location = r.headers.get("location", "")
                        if not location:
                            raise HrefRefused(
                                f"{field}: {current[:200]} redirects nowhere", field=field
                            )
                        current = urljoin(current, location)
                        continue
                    if r.status_code >= 400:
                        raise FetchFailed(
                            f"{field}: {current[:200]} answered HTTP {r.status_code}",
                            field=field,
                            transient=r.status_code >= 500 or r.status_code in (408, 429),
                        )
                    size = _save(r, target, config, deadline, field, current, on_chunk)
                    return Fetched(target, size, r.headers.get("content-type", ""), current)
            except httpx.HTTPError as exc:
                target.unlink(missing_ok=True)
                raise FetchFailed(
                    f"{field}: {current[:200]} could not be downloaded ({type(exc).__name__})",
                    field=field,
                    transient=True,
                ) from None
    raise HrefRefused(
        f"{field}: {url[:200]} redirects more than {MAX_REDIRECTS} times", field=field
    )


def _save(
    r: httpx.Response,
    target: Path,
    config: GatewayConfig,
    deadline: float,
    field: str,
    url: str,
    on_chunk: Callable[[bytes], None] | None,
) -> int:
    declared = r.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > config.max_bytes:
        raise HrefRefused(
            f"{field}: {url[:200]} is {int(declared)} bytes, more than the "
            f"{config.max_bytes} a job may download (GEP_FETCH_MAX_BYTES)",
            field=field,
        )
    written = 0
    try:
        with target.open("wb") as fh:
            for chunk in r.iter_bytes(_CHUNK):
                written += len(chunk)
                if written > config.max_bytes:
                    raise HrefRefused(
                        f"{field}: {url[:200]} is more than the {config.max_bytes} bytes a job "
                        "may download (GEP_FETCH_MAX_BYTES)",
                        field=field,
                    )
                if time.monotonic() > deadline:
                    raise FetchFailed(
                        f"{field}: downloading {url[:200]} took more than {config.timeout_s:g} s "
                        "(GEP_FETCH_TIMEOUT_S)",
                        field=field,
                        transient=True,
                    )
                fh.write(chunk)
                if on_chunk is not None:
                    on_chunk(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return written
