"""``GET``/``HEAD /stac/collections/{c}/items/{i}/assets/{key}``: an item's stored file over HTTP.

So that GDAL's ``/vsicurl/``, rasterio, QGIS, notebooks and browsers on other machines read
what GEP stores (COGs lazily, by HTTP Range) instead of a ``file://`` path only the server can
open. Who may read what is decided where it always is: the item is read with the caller's
visibility, and its href is resolved through the gateway as the caller
(:meth:`gep.gateway.resolver.Gateway.local_file`); either refusal answers 404, as if the asset
did not exist, so the route tells nothing about items or files the caller may not see. A remote
href (http, s3…) is not served: the 404 names the href to read instead.

The router only parses and answers: which bytes to send and whether the client's copy is still
good are pure functions of the headers (:mod:`gep.api.byte_ranges`); the file is streamed in
chunks, never read whole.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from gep.api.auth import caller
from gep.api.byte_ranges import (
    RangeNotSatisfiable,
    etag_matches,
    file_etag,
    http_date,
    not_modified_since,
    range_applies,
    select_range,
)
from gep.api.deps import get_store
from gep.api.errors import problem
from gep.api.openapi import Responses, param, problems
from gep.api.services import services
from gep.catalog.store import CatalogStore
from gep.core.errors import NotFound
from gep.gateway.config import HrefRefused
from gep.io.hrefs import HrefKind, parse_href

router = APIRouter(prefix="/stac", tags=["Assets"])

PATH = "/collections/{collection_id}/items/{item_id}/assets/{asset_key}"
OCTET = "application/octet-stream"
#: bytes read and sent at a time: large enough for throughput, small enough for many clients
CHUNK = 256 * 1024

_RANGE_HEADERS = {
    "Accept-Ranges": {"description": "Always bytes", "schema": {"type": "string"}},
    "ETag": {
        "description": "From the file's size and modification time",
        "schema": {"type": "string"},
    },
    "Last-Modified": {"description": "The file's modification time", "schema": {"type": "string"}},
}
_RESPONSES: Responses = {
    200: {
        "description": "The whole file (no Range, a Range that does not parse, or several "
        "ranges: multipart answers are not made), with the asset's media type",
        "content": {"*/*": {}},
        "headers": _RANGE_HEADERS,
    },
    206: {
        "description": "The one byte range asked for (Content-Range says which)",
        "content": {"*/*": {}},
        "headers": {
            **_RANGE_HEADERS,
            "Content-Range": {"description": "bytes first-last/size", "schema": {"type": "string"}},
        },
    },
    304: {"description": "Not modified (If-None-Match or If-Modified-Since matched)"},
    **problems(
        401,
        404,
        416,
        s404="No such item or asset, one the caller may not see or read, or an asset not "
        "stored on this server (the problem's href member says where to read it)",
    ),
}
_HEADER_PARAMS = {
    "parameters": [
        {"in": "header", **param(name, why)}
        for name, why in (
            ("Range", "One byte range (bytes=first-last, bytes=first-, bytes=-suffix)"),
            ("If-None-Match", "ETags of copies the client holds (304 when one matches)"),
            ("If-Modified-Since", "An HTTP date (304 when the file is not newer)"),
            ("If-Range", "Honour Range only if the file still has this ETag or date"),
        )
    ]
}


@router.get(
    PATH,
    summary="Read an asset's file (HTTP Range, conditional requests)",
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=_HEADER_PARAMS,
)
async def get_asset(
    collection_id: str,
    item_id: str,
    asset_key: str,
    request: Request,
    store: CatalogStore = Depends(get_store),
) -> Response:
    return await _serve(request, store, collection_id, item_id, asset_key, head=False)


@router.head(
    PATH,
    summary="An asset's headers (size, media type, ETag) without its bytes",
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=_HEADER_PARAMS,
)
async def head_asset(
    collection_id: str,
    item_id: str,
    asset_key: str,
    request: Request,
    store: CatalogStore = Depends(get_store),
) -> Response:
    return await _serve(request, store, collection_id, item_id, asset_key, head=True)


async def _serve(
    request: Request,
    store: CatalogStore,
    collection_id: str,
    item_id: str,
    asset_key: str,
    *,
    head: bool,
) -> Response:
    viewer = caller(request)
    content = await run_in_threadpool(store.get_item, collection_id, item_id, viewer)
    asset = _asset(orjson.loads(content), item_id, asset_key)
    href = str(asset.get("href") or "")
    path = await run_in_threadpool(_local_file, request, href, asset_key)
    info = await run_in_threadpool(os.stat, path)
    etag = file_etag(info.st_size, info.st_mtime_ns)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": http_date(info.st_mtime),
    }
    h = request.headers
    inm = h.get("if-none-match")
    if etag_matches(inm, etag) or (
        inm is None and not_modified_since(h.get("if-modified-since"), info.st_mtime)
    ):
        return Response(status_code=304, headers=headers)
    try:
        wanted = (
            select_range(h.get("range"), info.st_size)
            if range_applies(h.get("if-range"), etag, info.st_mtime)
            else None
        )
    except RangeNotSatisfiable as exc:
        return problem(
            416,
            "Range not satisfiable",
            f"Range '{h.get('range')}': {exc}",
            request.url.path,
            "range-not-satisfiable",
            {**headers, "Content-Range": exc.content_range},
            field="Range",
        )
    start, end, status = 0, info.st_size, 200
    if wanted is not None:
        start, end, status = wanted.start, wanted.end, 206
        headers["Content-Range"] = wanted.content_range
    headers["Content-Length"] = str(end - start)
    media = _media_type(asset, path)
    if head:
        return Response(status_code=status, headers=headers, media_type=media)
    return StreamingResponse(_chunks(path, start, end), status, headers, media_type=media)


def _asset(item: Any, item_id: str, key: str) -> dict[str, Any]:
    assets = item.get("assets") if isinstance(item, dict) else None
    asset = assets.get(key) if isinstance(assets, dict) else None
    if not isinstance(asset, dict):
        raise NotFound(f"item '{item_id}' has no asset '{key}'", field="assetKey")
    return asset


def _local_file(request: Request, href: str, key: str) -> Path:
    """The regular file a local href names, read as the caller through the gateway; 404 for
    a refusal (as for a missing file: a hidden file must look missing) and for remote hrefs."""
    kind = parse_href(href).kind
    try:
        scheme = urlsplit(href).scheme.lower()
    except ValueError:
        scheme = ""
    if kind is HrefKind.HTTP or (kind is HrefKind.OTHER and scheme not in ("", "file")):
        raise NotFound(
            f"asset '{key}' is not stored on this server; read it at its href",
            field="assetKey",
            href=href,
        )
    refused = NotFound(f"asset '{key}' has no file this server serves to you", field="assetKey")
    if kind is not HrefKind.LOCAL:
        raise refused
    try:
        path = services(request).gateway.local_file(href, caller(request), field="assetKey")
    except HrefRefused:
        raise refused from None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a folder or a device: nothing to send
            raise refused
    except OSError:
        raise refused from None
    return path


def _media_type(asset: dict[str, Any], path: Path) -> str:
    """The asset's declared ``type`` when it can be a header, else a guess from the name."""
    declared = asset.get("type")
    if isinstance(declared, str) and declared.isascii() and declared.isprintable() and declared:
        return declared
    return mimetypes.guess_type(path.name)[0] or OCTET


async def _chunks(path: Path, start: int, end: int) -> AsyncIterator[bytes]:
    """Bytes ``start``–``end`` of the file, a chunk at a time (a file that shrank since its
    ``stat`` ends the body early: the client sees fewer bytes than Content-Length said)."""
    async with await anyio.open_file(path, "rb") as f:
        await f.seek(start)
        left = end - start
        while left > 0:
            chunk = await f.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
