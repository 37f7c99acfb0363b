"""A whole collection as one layer: the items the caller may see that touch a tile, newest on
top (rio-tiler's ``mosaic_reader`` with ``FirstMethod``: each pixel from the newest item that
has data there).

The items come from the catalogue's own search (the caller's visibility applied in SQL, the
tile's WGS84 box as ``bbox``, ``-datetime`` order, an optional ``datetime`` interval and
CQL2-text ``filter``), at most
:data:`MAX_ITEMS` per tile: a map of a systematic layer shows its latest coverage, and an
older item hidden under newer ones costs nothing once the tile is full (``FirstMethod`` stops
reading as soon as every pixel is set).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from morecantile import Tile, TileMatrixSet
from rio_tiler.errors import EmptyMosaicError, TileOutsideBounds
from rio_tiler.models import ImageData
from rio_tiler.mosaic import mosaic_reader
from rio_tiler.mosaic.methods.defaults import FirstMethod

from gep.catalog.search import build_search
from gep.core.access import Viewer
from gep.core.errors import NotFound
from gep.tiles.reader import check_tile, item_reader
from gep.tiles.sources import ResolvedItem, Sources

#: items read for one tile at most (newest first)
MAX_ITEMS = 50


def mosaic_items(
    sources: Sources,
    viewer: Viewer,
    collection_id: str,
    tms: TileMatrixSet,
    x: int,
    y: int,
    z: int,
    datetime: str | None = None,
    cql2_text: str | None = None,
) -> list[ResolvedItem]:
    """The visible items of the collection over tile (x, y, z), newest first; ``datetime``
    and a CQL2-text ``cql2_text`` narrow them as in a search (a search drawn as one layer:
    one track, one job's outputs, one season)."""
    sources.store.get_collection(collection_id, viewer)  # 404 as for a missing collection
    check_tile(tms, x, y, z)
    west, south, east, north = tms.bounds(Tile(x, y, z))
    params: dict[str, Any] = {
        "collections": [collection_id],
        "bbox": [max(west, -180.0), max(south, -90.0), min(east, 180.0), min(north, 90.0)],
        "sortby": [{"field": "datetime", "direction": "desc"}],
        "limit": MAX_ITEMS,
    }
    if datetime:
        params["datetime"] = datetime
    if cql2_text:
        params["filter"] = cql2_text
        params["filter-lang"] = "cql2-text"
    req = build_search(params, from_get=False, whole_dates=False)
    req.viewer = viewer
    page = sources.store.search(req)
    return [
        sources.resolved(viewer, coll, item_id, orjson.loads(content))
        for coll, item_id, content in page.items
    ]


def mosaic_tile(
    items: Sequence[ResolvedItem],
    tms: TileMatrixSet,
    x: int,
    y: int,
    z: int,
    *,
    assets: Sequence[Any],
    **options: Any,
) -> ImageData:
    """The tile of the mosaic of ``items`` (newest first); NotFound when none has data."""
    check_tile(tms, x, y, z)
    if not items:
        raise NotFound(
            f"tile: no item of this collection that you may see covers tile {z}/{x}/{y}",
            field="tile",
        )

    def read(resolved: ResolvedItem, *args: Any, **kwargs: Any) -> ImageData:
        with item_reader(resolved, tms) as src:
            if not set(a if isinstance(a, str) else a["name"] for a in assets) <= set(src.assets):
                raise TileOutsideBounds("item lacks the assets")  # skipped, as outside
            return src.tile(*args, **kwargs)  # type: ignore[no-any-return]

    try:
        image, _ = mosaic_reader(
            list(items),
            read,
            x,
            y,
            z,
            pixel_selection=FirstMethod(),
            threads=1,
            allowed_exceptions=(TileOutsideBounds, NotFound),
            assets=list(assets),
            **options,
        )
    except EmptyMosaicError:
        raise NotFound(
            f"tile: none of the {len(items)} items over tile {z}/{x}/{y} has data there for "
            f"assets {list(assets)}",
            field="tile",
        ) from None
    return image
