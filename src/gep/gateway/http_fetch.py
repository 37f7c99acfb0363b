"""Downloading a remote href for a job, without becoming a proxy into the server's network.

A job downloads what its inputs name, on behalf of whoever submitted it; unchecked, that is
server-side request forgery (the metadata service at 169.254.169.254, the database on
loopback, anything on the private network). So: http(s) only; every address the host resolves
to must be public unless an administrator allows the host (``GEP_FETCH_ALLOW``); redirects are
followed by hand so that every hop is checked the same way; the size (Content-Length, and the
bytes actually read) and the wall time are bounded.

Known limit: the host is resolved for the check and again by the HTTP client, so a DNS name
that changes its answer in between (rebinding) could slip through; operators who need that
closed run workers without a route to private ranges (see ``docs/security.md``).
"""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

import httpx

from gep.gateway.config import GatewayConfig, HrefRefused
from gep.io.hrefs import blocked_address, host_allowed

MAX_REDIRECTS = 5
_CHUNK = 1 << 20


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
    deadline = time.monotonic() + config.timeout_s
    name = PurePosixPath(urlsplit(url).path).name or "asset"
    target = folder / "downloads" / f"{hashlib.sha1(url.encode()).hexdigest()[:12]}-{name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    timeout = httpx.Timeout(min(60.0, config.timeout_s))
    current = url
    with httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(current, config, field)
            try:
                with client.stream("GET", current) as r:
                    if r.is_redirect:
                        location = r.headers.get("location", "")
                        if not location:
                            raise HrefRefused(
                                f"{field}: {current[:200]} redirects nowhere", field=field
                            )
                        current = urljoin(current, location)
                        continue
                    if r.status_code >= 400:
                        raise HrefRefused(
                            f"{field}: {current[:200]} answered HTTP {r.status_code}",
                            field=field,
                        )
                    _save(r, target, config, deadline, field, current)
                    return target
            except httpx.HTTPError as exc:
                target.unlink(missing_ok=True)
                raise HrefRefused(
                    f"{field}: {current[:200]} could not be downloaded ({type(exc).__name__})",
                    field=field,
                ) from None
    raise HrefRefused(
        f"{field}: {url[:200]} redirects more than {MAX_REDIRECTS} times", field=field
    )


def _save(
    r: httpx.Response, target: Path, config: GatewayConfig, deadline: float, field: str, url: str
) -> None:
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
                    raise HrefRefused(
                        f"{field}: downloading {url[:200]} took more than {config.timeout_s:g} s "
                        "(GEP_FETCH_TIMEOUT_S)",
                        field=field,
                    )
                fh.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
