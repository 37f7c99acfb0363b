"""Downloading files from GEP: streamed, with a progress bar, resumed where they stopped.

A file that exists already is continued with an HTTP ``Range`` request from its size (the asset
route answers ``206``); a complete one costs one small request (``416`` with the file's size)
and is left alone; one larger than the server's copy is fetched again whole. The size is checked
after every transfer. Where the file system keeps extended attributes the file remembers its
``ETag``, sent back as ``If-Range``: if the server's copy changed meanwhile it answers the whole
new file rather than bytes to splice onto the old one.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from gep.client.errors import ArgumentError, GepClientError, error_for
from gep.client.progress import Bar
from gep.client.transport import MappedTransport

#: bytes read from the network at a time
CHUNK = 1 << 20
ETAG_XATTR = "user.gep.etag"
_TOTAL = re.compile(r"/\s*(\d+)\s*$")
_START = re.compile(r"^\s*bytes\s+(\d+)-")

#: file name extensions of the media types GEP serves
EXTENSIONS = {
    "image/tiff": ".tif",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "application/geo+json": ".geojson",
    "application/json": ".json",
    "text/csv": ".csv",
    "text/plain": ".txt",
    "text/html": ".html",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "application/vnd.google-earth.kml+xml": ".kml",
    "application/vnd.google-earth.kmz": ".kmz",
    "application/zip": ".zip",
    "application/x-netcdf": ".nc",
    "application/netcdf": ".nc",
    "application/x-hdf5": ".h5",
    "application/pdf": ".pdf",
    "application/x-yaml": ".yaml",
}


def asset_filename(key: str, asset: Mapping[str, Any]) -> str:
    """``<key><extension>``: the extension of the asset's media type, else of its href."""
    media = str(asset.get("type") or "").split(";")[0].strip().lower()
    ext = EXTENSIONS.get(media, "")
    if not ext:
        suffix = Path(urlsplit(str(asset.get("href") or "")).path).suffix
        ext = suffix if suffix and len(suffix) <= 8 and suffix[1:].isalnum() else ""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._") or "asset"
    return safe + ext


def item_files(
    item: Mapping[str, Any], directory: Path, assets: Sequence[str] | None
) -> list[tuple[str, Path]]:
    """(href, local path) of the item's assets (``assets``: only those keys), in
    ``directory``/<item id>/."""
    found = item.get("assets")
    if not isinstance(found, Mapping):
        raise ArgumentError("item", "the item has no assets")
    if assets is not None:
        missing = [k for k in assets if k not in found]
        if missing:
            raise ArgumentError(
                "assets",
                f"no asset {', '.join(missing)} in item {item.get('id')} (it has "
                f"{', '.join(found)})",
            )
    folder = directory / re.sub(r"[^A-Za-z0-9._-]+", "_", str(item.get("id") or "item"))
    return [
        (str(a["href"]), folder / asset_filename(str(k), a))
        for k, a in found.items()
        if isinstance(a, Mapping) and a.get("href") and (assets is None or k in assets)
    ]


def _get_xattr(path: Path) -> str | None:
    try:
        return os.getxattr(path, ETAG_XATTR).decode()
    except (OSError, AttributeError):
        return None


def _set_xattr(path: Path, etag: str | None) -> None:
    if not etag:
        return
    with contextlib.suppress(OSError, AttributeError):
        os.setxattr(path, ETAG_XATTR, etag.encode())


def _total(content_range: str | None) -> int | None:
    m = _TOTAL.search(content_range or "")
    return int(m.group(1)) if m else None


def fetch(
    http: httpx.Client,
    href: str,
    dest: Path,
    *,
    progress: bool = True,
    resume: bool = True,
    isolate: bool = True,
) -> Path:
    """``href`` into the file ``dest``: continued from its size when it exists (``resume``),
    left alone when complete; its size checked against the server's. ``isolate``: an href on
    another host is fetched without the session (and its token)."""
    client, close = _client_for(http, href) if isolate else (http, False)
    try:
        return _fetch(client, href, dest, progress=progress, resume=resume)
    finally:
        if close:
            client.close()


def _client_for(http: httpx.Client, href: str) -> tuple[httpx.Client, bool]:
    """The session for ``href``: the SDK's for the GEP server (with its token), a plain one
    for any other host, which must not see the token."""
    parts = urlsplit(href)
    if not parts.scheme:
        return http, False
    base = http.base_url
    if (parts.scheme, parts.netloc) == (base.scheme, base.netloc.decode("ascii", "replace")):
        return http, False
    return httpx.Client(timeout=http.timeout, transport=MappedTransport()), True


def _fetch(client: httpx.Client, href: str, dest: Path, *, progress: bool, resume: bool) -> Path:
    have = dest.stat().st_size if resume and dest.is_file() else 0
    headers: dict[str, str] = {}
    if have:
        headers["Range"] = f"bytes={have}-"
        etag = _get_xattr(dest)
        if etag:
            headers["If-Range"] = etag
    with client.stream("GET", href, headers=headers, follow_redirects=True) as r:
        if r.status_code == 416 and have:
            total = _total(r.headers.get("content-range"))
            r.read()
            if total == have:
                return dest  # complete already
            return _fetch(client, href, dest, progress=progress, resume=False)
        if r.status_code >= 400:
            r.read()
            try:
                problem = r.json()
            except ValueError:
                problem = {"detail": r.text or r.reason_phrase}
            raise error_for(r.status_code, problem if isinstance(problem, dict) else None)
        start = 0
        if r.status_code == 206:
            m = _START.match(r.headers.get("content-range", ""))
            start = int(m.group(1)) if m else -1
            if start != have:  # not the bytes asked for: start again
                r.close()
                return _fetch(client, href, dest, progress=progress, resume=False)
            total = _total(r.headers.get("content-range"))
        else:
            length = r.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
        dest.parent.mkdir(parents=True, exist_ok=True)
        with (
            Bar(
                total, dest.name, enabled=progress, unit="B", unit_scale=True, initial=start
            ) as bar,
            dest.open("ab" if start else "wb") as f,
        ):
            if not start:
                _set_xattr(dest, r.headers.get("etag"))
            encoded = r.headers.get("content-encoding", "identity") != "identity"
            if encoded:  # sizes count the encoded bytes: decode, and trust the stream
                total = None
            for chunk in r.iter_bytes(CHUNK) if encoded else r.iter_raw(CHUNK):
                f.write(chunk)
                bar.update(len(chunk))
    size = dest.stat().st_size
    if total is not None and size != total:
        raise GepClientError(
            0,
            {
                "title": "Incomplete download",
                "detail": f"{dest}: {size} of {total} bytes arrived; download again to resume",
            },
        )
    return dest
