"""What an asset href names, decided from its text alone (no disk, no network).

The gateway (:mod:`gep.gateway.resolver`) decides whether a href may be read; this module only
says what kind of thing it names, so that every reader agrees on it: an absolute local path (a
``file:`` URL of this host or a bare absolute path), an HTTP(S) URL, or something GEP never reads
itself (relative hrefs, GDAL ``/vsi…`` paths, other schemes). Keeping the parsing here, below
the gateway, lets pure modules (the quicklook scan of every search page, SBAS preflight) ask the
cheap question without importing the gateway.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

#: the bytes a stored item's JSON (compact, as the catalogue stores it) contains when one of its
#: hrefs is a local path: a scan for them answers "no local file" without a parse
LOCAL_HREF_HINTS = (b'"href":"/', b'"href":"file:')


class HrefKind(StrEnum):
    LOCAL = "local"
    HTTP = "http"
    OTHER = "other"


@dataclass(frozen=True)
class Href:
    kind: HrefKind
    #: LOCAL: the absolute path, percent-decoded; None otherwise
    path: str | None = None
    #: HTTP: the URL as given; None otherwise
    url: str | None = None


def local_str(href: str) -> str | None:
    """The absolute path a local href names, as a string; None when it is not local.

    Cheap on purpose (no urlparse, no Path): the STAC API asks it of every asset of every item
    of a page. ``file://host/…`` is local only for this host; ``/vsi…`` (GDAL virtual file
    systems: network, archives) and paths with NUL are never local.
    """
    if href[:5].lower() == "file:":
        rest = href[5:]
        if rest.startswith("//"):  # file://host/path: only this host
            host, slash, tail = rest[2:].partition("/")
            if host.lower() not in ("", "localhost") or not slash:
                return None
            rest = "/" + tail
    elif href.startswith("/") and not href.startswith("//"):  # "//host/x" is remote
        rest = href
    else:
        return None
    path = unquote(rest.partition("#")[0].partition("?")[0])
    if not path.startswith("/") or path.startswith("/vsi") or "\x00" in path:
        return None
    return path


def local_path(href: str) -> Path | None:
    """:func:`local_str` as a Path (nothing checked on disk)."""
    path = local_str(href)
    return None if path is None else Path(path)


def parse_href(href: str) -> Href:
    path = local_str(href)
    if path is not None:
        return Href(HrefKind.LOCAL, path=path)
    try:
        parts = urlsplit(href)
    except ValueError:
        return Href(HrefKind.OTHER)
    if parts.scheme.lower() in ("http", "https") and parts.hostname:
        return Href(HrefKind.HTTP, url=href)
    return Href(HrefKind.OTHER)


def has_parent_step(path: str) -> bool:
    """Whether a path climbs with ``..`` (refused outright: a confined path never needs it)."""
    return ".." in PurePosixPath(path).parts


def is_within(path: Path, root: Path) -> bool:
    """Whether ``path`` is ``root`` or below it (both already resolved)."""
    return path == root or root in path.parents


def blocked_address(address: str) -> str | None:
    """Why a server should not connect to this IP address unless allowed (loopback, private,
    link-local, …), or None when it is a public address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, why in (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_private, "a private address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_reserved, "a reserved address"),
    ):
        if test:
            return why
    return None


def host_allowed(host: str, port: int | None, patterns: tuple[str, ...]) -> bool:
    """Whether an administrator's ``GEP_FETCH_ALLOW`` patterns (fnmatch, ``host`` or
    ``host:port``) name this host."""
    host = host.lower().strip("[]")
    for pattern in patterns:
        p = pattern.strip().lower()
        if p.startswith("["):  # [v6] or [v6]:port
            phost, _, pport = p[1:].partition("]")
            pport = pport.removeprefix(":") or "*"
        elif p.count(":") == 1:
            phost, pport = p.split(":")
        else:
            phost, pport = p, "*"
        if (
            phost
            and fnmatch.fnmatchcase(host, phost)
            and fnmatch.fnmatchcase(str(port or ""), pport)
        ):
            return True
    return False
