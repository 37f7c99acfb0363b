"""Dependency providers: the request-scoped handles routers use (store, base URL, bodies)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from fastapi import Request

from gep.api.asset_urls import AssetUrls
from gep.api.services import services
from gep.catalog.areas import AreaStore
from gep.catalog.gazetteer import Entry
from gep.catalog.store import CatalogStore
from gep.core.errors import InvalidInput, UnsupportedMediaType


def get_store(request: Request) -> CatalogStore:
    return services(request).store


def visible_places(request: Request) -> Callable[[], Sequence[Entry]]:
    """The named areas a search by place name may resolve to, read only when one is named."""
    from gep.api.auth import caller

    store = services(request).store
    viewer = caller(request)
    return lambda: AreaStore(store.engine).entries(viewer)


def base_url(request: Request) -> str:
    """Public root URL without trailing slash (``GEP_BASE_URL`` wins over the Host header)."""
    configured = services(request).settings.base_url
    if configured:
        return str(configured).rstrip("/")
    return str(request.base_url).rstrip("/")


def asset_urls(request: Request) -> AssetUrls:
    """How this request's answers name stored files (GEP URLs under its base URL)."""
    return AssetUrls(base_url(request), services(request).gateway.storage)


async def json_body(request: Request) -> Any:
    """Parse a JSON body ourselves so a syntax error says where it is."""
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if ctype not in (
        "application/json",
        "application/geo+json",
        "application/merge-patch+json",
        "",
        "application/x-www-form-urlencoded",
    ):
        raise UnsupportedMediaType(
            f"content type '{ctype}' is not accepted here; send application/json",
            field="Content-Type",
        )
    raw = await request.body()
    if not raw.strip():
        raise InvalidInput("the request body is empty; send a JSON document", field="body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}", field="body") from None
