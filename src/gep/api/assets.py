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

import asyncio
import contextlib
import mimetypes
import os
import stat
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import anyio
import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response, StreamingResponse

from gep.api.asset_urls import asset_url
from gep.api.auth import caller, require_user
from gep.api.byte_ranges import (
    RangeNotSatisfiable,
    etag_matches,
    file_etag,
    http_date,
    not_modified_since,
    range_applies,
    select_range,
)
from gep.api.deps import base_url, get_store
from gep.api.errors import problem
from gep.api.openapi import Responses, param, problems
from gep.api.services import services
from gep.catalog.store import CatalogStore
from gep.core.access import Viewer
from gep.core.errors import NotFound
from gep.core.timeutil import format_rfc3339
from gep.gateway.config import HrefRefused
from gep.gateway.signing import (
    DEFAULT_LIFETIME_S,
    EXPIRES,
    MAX_LIFETIME_S,
    USER,
    SignatureRefused,
    is_signed,
)
from gep.gateway.storage import Storage, StoredFile
from gep.io.hrefs import HrefKind, parse_href

router = APIRouter(prefix="/stac", tags=["Assets"])

PATH = "/collections/{collection_id}/items/{item_id}/assets/{asset_key}"
OCTET = "application/octet-stream"
#: bytes of a local file read and sent at a time (two per client: one sent, one read ahead),
#: and the largest range answered in one read, without a stream
CHUNK = 1 << 20
#: bytes read at a time from an object's body (one GET per answer, read as it arrives)
STORED_CHUNK = 1 << 20
#: life of the presigned URL a download is redirected to (GEP_S3_PRESIGNED_REDIRECT)
PRESIGNED_S = 300

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
) -> Response:
    return await _serve(request, collection_id, item_id, asset_key, head=False)


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
) -> Response:
    return await _serve(request, collection_id, item_id, asset_key, head=True)


async def _serve(
    request: Request, collection_id: str, item_id: str, asset_key: str, *, head: bool
) -> Response:
    # one hop to a thread for all the blocking work before the body (each hop waits for the
    # event loop's thread to let go of the GIL: under load, hops cost more than the work)
    return await run_in_threadpool(_answer, request, collection_id, item_id, asset_key, head)


def _answer(
    request: Request, collection_id: str, item_id: str, asset_key: str, head: bool
) -> Response:
    viewer = _reader(request, asset_path(collection_id, item_id, asset_key))
    content = services(request).store.get_item(collection_id, item_id, viewer)
    asset = _asset(orjson.loads(content), item_id, asset_key)
    href = str(asset.get("href") or "")
    source = _source(request, href, asset_key, viewer)
    size, mtime, etag = source.size, source.mtime, source.etag
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": http_date(mtime),
    }
    h = request.headers
    inm = h.get("if-none-match")
    if etag_matches(inm, etag) or (
        inm is None and not_modified_since(h.get("if-modified-since"), mtime)
    ):
        return Response(status_code=304, headers=headers)
    storage = services(request).gateway.storage
    if (
        isinstance(source, StoredFile)
        and services(request).settings.s3_presigned_redirect
        and not head
    ):
        # the bucket serves the bytes: a URL valid for PRESIGNED_S, after GEP's checks
        url = storage.fs.sign(storage.path(source.key), expiration=PRESIGNED_S)
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    try:
        wanted = (
            select_range(h.get("range"), size)
            if range_applies(h.get("if-range"), etag, mtime)
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
    start, end, status = 0, size, 200
    if wanted is not None:
        start, end, status = wanted.start, wanted.end, 206
        headers["Content-Range"] = wanted.content_range
    headers["Content-Length"] = str(end - start)
    if isinstance(source, StoredFile):
        media = _media_type(asset, source.key)
        body = _stored_chunks(storage, source.key, start, end)
        where = "storage"
    else:
        media = _media_type(asset, source.path.name)
        body = _chunks(source.path, start, end)
        local = storage.local_root
        where = (
            "storage" if local is not None and source.path.is_relative_to(local) else ("data-root")
        )
    if head:
        return Response(status_code=status, headers=headers, media_type=media)
    meter = services(request).data_meter
    if end - start <= CHUNK:  # small: read it here and now, no stream to set up
        data = _read_now(storage, source, start, end, asset_key)
        meter.add(viewer.user_id, where, collection_id, len(data))
        return Response(data, status, headers, media_type=media)
    counted = _counted(body, lambda n: meter.add(viewer.user_id, where, collection_id, n))
    return StreamingResponse(counted, status, headers, media_type=media)


async def _counted(
    body: AsyncIterator[bytes], count: Callable[[int], None]
) -> AsyncIterator[bytes]:
    """The body, its bytes counted once it ends or the client goes away (data accounting:
    what was sent, not what was asked for)."""
    sent = 0
    try:
        async for chunk in body:
            sent += len(chunk)
            yield chunk
    finally:
        count(sent)


@dataclass(frozen=True)
class _LocalFile:
    path: Path
    size: int
    mtime: float
    etag: str


def _source(request: Request, href: str, key: str, viewer: Viewer) -> _LocalFile | StoredFile:
    """The file behind a href, read as ``viewer``: a local file (storage or a data root) or
    an object in GEP's bucket; 404 for everything else."""
    gateway = services(request).gateway
    if gateway.is_stored(href):
        try:
            return gateway.storage.info(gateway.stored_key(href, viewer, field="assetKey"))
        except (HrefRefused, OSError):
            raise NotFound(
                f"asset '{key}' has no file this server serves to you", field="assetKey"
            ) from None
    path = _local_file(request, href, key, viewer)
    info = os.stat(path)
    return _LocalFile(path, info.st_size, info.st_mtime, file_etag(info.st_size, info.st_mtime_ns))


def _reader(request: Request, path: str) -> Viewer:
    """Whose permissions the request reads with: the signer's, for a signed URL (checked
    here: expired or altered is 403), else the caller's."""
    query = dict(request.query_params)
    if not is_signed(query):
        return caller(request)
    svc = services(request)
    user = svc.url_signer.verify(path, query)
    try:
        return svc.accounts.user(user).viewer()
    except NotFound:  # the signer's account is gone: the URL reads nothing private
        raise SignatureRefused(
            "the account that signed this URL no longer exists", field=USER
        ) from None


def asset_path(collection_id: str, item_id: str, key: str) -> str:
    """The route's path for an asset: what a signature covers, whatever the base URL."""
    return urlsplit(asset_url("", collection_id, item_id, key)).path


@router.get(
    PATH + "/signed-url",
    summary="A signed, expiring URL of an asset (for tools that cannot send a token)",
    responses={
        200: {
            "description": "The URL (readable without credentials until it expires, with the "
            "caller's permissions) and its expiry",
            "content": {"application/json": {}},
        },
        **problems(400, 401, 404),
    },
)
def signed_url(
    collection_id: str,
    item_id: str,
    asset_key: str,
    request: Request,
    expires_in: int = Query(
        DEFAULT_LIFETIME_S,
        description=f"Seconds the URL stays valid (1 to {MAX_LIFETIME_S})",
    ),
    store: CatalogStore = Depends(get_store),
) -> Response:
    viewer = require_user(request)
    content = store.get_item(collection_id, item_id, viewer)
    asset = _asset(orjson.loads(content), item_id, asset_key)
    _source(request, str(asset.get("href") or ""), asset_key, viewer)  # 404 if not served
    query = services(request).url_signer.sign(
        asset_path(collection_id, item_id, asset_key), viewer.user_id or "", expires_in
    )
    expires = int(dict(parse_qsl(query))[EXPIRES])
    href = asset_url(base_url(request), collection_id, item_id, asset_key) + "?" + query
    body = {"href": href, "expires": format_rfc3339(datetime.fromtimestamp(expires, UTC))}
    return Response(orjson.dumps(body), media_type="application/json")


def _asset(item: Any, item_id: str, key: str) -> dict[str, Any]:
    assets = item.get("assets") if isinstance(item, dict) else None
    asset = assets.get(key) if isinstance(assets, dict) else None
    if not isinstance(asset, dict):
        raise NotFound(f"item '{item_id}' has no asset '{key}'", field="assetKey")
    return asset


def _local_file(request: Request, href: str, key: str, viewer: Viewer) -> Path:
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
        path = services(request).gateway.local_file(href, viewer, field="assetKey")
    except HrefRefused:
        raise refused from None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a folder or a device: nothing to send
            raise refused
    except OSError:
        raise refused from None
    return path


def _media_type(asset: dict[str, Any], name: str) -> str:
    """The asset's declared ``type`` when it can be a header, else a guess from the name."""
    declared = asset.get("type")
    if isinstance(declared, str) and declared.isascii() and declared.isprintable() and declared:
        return declared
    return mimetypes.guess_type(name)[0] or OCTET


def _read_now(
    storage: Storage, source: _LocalFile | StoredFile, start: int, end: int, key: str
) -> bytes:
    """Bytes ``start``–``end`` of a file or an object at once (a small range); 404 when it
    went away since it was looked at."""
    try:
        if isinstance(source, StoredFile):
            return storage.read_range(source.key, start, end)
        with open(source.path, "rb", buffering=0) as f:
            return os.pread(f.fileno(), end - start, start)
    except OSError:
        raise NotFound(
            f"asset '{key}' has no file this server serves to you", field="assetKey"
        ) from None


async def _chunks(path: Path, start: int, end: int) -> AsyncIterator[bytes]:
    """Bytes ``start``–``end`` of the file, a chunk at a time, the next one read while the
    current one is sent (a file that shrank since its ``stat`` ends the body early: the
    client sees fewer bytes than Content-Length said)."""
    fd = await anyio.to_thread.run_sync(os.open, path, os.O_RDONLY)
    pending: asyncio.Future[bytes] | None = None
    try:
        pos = start
        pending = asyncio.ensure_future(
            anyio.to_thread.run_sync(os.pread, fd, min(CHUNK, end - pos), pos)
        )
        while pending is not None:
            chunk = await pending
            if not chunk:
                pending = None
                return
            pos += len(chunk)
            pending = (
                asyncio.ensure_future(
                    anyio.to_thread.run_sync(os.pread, fd, min(CHUNK, end - pos), pos)
                )
                if pos < end
                else None
            )
            yield chunk
    finally:
        if pending is not None and not pending.done():  # the client went away mid-read:
            pending.add_done_callback(lambda _: os.close(fd))  # close once the thread is done
        else:
            os.close(fd)


async def _stored_chunks(storage: Storage, key: str, start: int, end: int) -> AsyncIterator[bytes]:
    """Bytes ``start``–``end`` of an object: one ranged GET (``Storage.stream_range``), its
    body read in pieces of STORED_CHUNK, the next piece read while the current one is sent,
    so the object store's latency overlaps the client's transfer."""
    pieces = storage.stream_range(key, start, end, STORED_CHUNK)

    def step() -> bytes | None:
        return next(pieces, None)

    pending: asyncio.Future[bytes | None] | None = asyncio.ensure_future(run_in_threadpool(step))
    try:
        while pending is not None:
            data = await pending
            pending = None
            if data is None:
                return
            pending = asyncio.ensure_future(run_in_threadpool(step))
            yield data
    finally:
        # the client went away: let the read in flight finish (a generator cannot be closed
        # while a thread runs it), then close the object's body
        if pending is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(pending)
        await run_in_threadpool(pieces.close)
