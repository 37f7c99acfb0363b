"""``GET /stac/collections/{collection}/items/{item}/quicklook``: a generated PNG quicklook.

Made on first request from the item's local rasters (:mod:`gep.tiles.quicklook`), then served
from the storage cache (:mod:`gep.tiles.quicklook_cache`). The ETag is the quicklook's
fingerprint, so a client revalidates cheaply and sees a new picture when the item changes.
Items that ship no thumbnail get a ``thumbnail`` asset pointing here (``stac_render``).
"""

from __future__ import annotations

from pathlib import Path

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.auth import caller
from gep.api.deps import get_store
from gep.api.openapi import problems
from gep.api.services import services
from gep.catalog.store import CatalogStore
from gep.core.errors import NotFound
from gep.gateway.config import HrefRefused
from gep.tiles.quicklook_cache import QuicklookCache, storage_root

router = APIRouter(prefix="/stac", tags=["Quicklooks"])

PNG = "image/png"
#: browsers may reuse a quicklook for a few minutes, then revalidate with the ETag
CACHE_CONTROL = "max-age=300"


def cache_of(request: Request) -> QuicklookCache:
    """The quicklook cache, reading asset files through the gateway as the caller: an item
    they may see can still name a file they may not read (another user's job output)."""
    settings = services(request).settings
    root = storage_root(settings.resolved_storage_url(), Path(settings.home) / "storage")
    gateway = services(request).gateway
    viewer = caller(request)

    def resolve(href: str) -> Path:
        try:
            return gateway.local_file(href, viewer, field="assets")
        except HrefRefused as exc:  # as for a missing file: no quicklook, and nothing told
            raise NotFound(exc.message, field="assets") from None

    return QuicklookCache(root, resolve=resolve)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


@router.get(
    "/collections/{collection_id}/items/{item_id}/quicklook",
    summary="A PNG quicklook of an item (generated on first request, then cached)",
    response_class=Response,
    responses={
        200: {"content": {PNG: {}}, "description": "The quicklook (longest side 512 px)"},
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        **problems(
            401,
            404,
            s404="No such item, no local raster a quicklook can be made from, a file the "
            "caller may not read, or a file that is not a raster",
        ),
    },
)
async def quicklook(
    collection_id: str, item_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    content = await run_in_threadpool(store.get_item, collection_id, item_id, caller(request))
    item = orjson.loads(content)
    cache = cache_of(request)
    key = await run_in_threadpool(cache.key, item)
    etag = f'"{key}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    ql = await run_in_threadpool(cache.get_or_create, collection_id, item_id, item)
    data = await run_in_threadpool(ql.path.read_bytes)
    return Response(data, media_type=PNG, headers=headers)
