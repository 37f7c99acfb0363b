"""Map tiles of every raster asset of every item the caller may see, in titiler's URL shapes.

Item layers are titiler-core's ``MultiBaseTilerFactory`` mounted at
``/stac/collections/{collection_id}/items/{item_id}`` (the shapes of titiler-pgstac, so
TiTiler users know them): ``tiles/{tileMatrixSetId}/{z}/{x}/{y}[.{format}]``,
``{tileMatrixSetId}/tilejson.json``, ``preview[.{format}]``, ``statistics``,
``point/{lon},{lat}``, ``info``, ``assets``; its path dependency resolves the item with the
caller's visibility and its assets through the gateway (:mod:`gep.tiles.sources`), and its
reader is :class:`gep.tiles.reader.ItemReader`. Added here: ``{tileMatrixSetId}/
WMTSCapabilities.xml`` (:mod:`gep.tiles.wmts`), defaults from the item's ``renders`` (a tile
asked without ``colormap_name``/``rescale`` is drawn as the service declared it), and the
collection mosaic (``/stac/collections/{collection_id}/tiles/…``, :mod:`gep.tiles.mosaic`).

Errors are GEP's: titiler's exception handlers are not installed; rio-tiler's, rasterio's and
morecantile's exceptions go through :func:`gep.tiles.errors.as_gep_error` in the one table
(:mod:`gep.api.errors`), and the parameters titiler would refuse with a bare 400 (colour maps,
rescales) are parsed here so the problem names them. See ``docs/tiles.md``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.routing import APIRoute
from morecantile import TileMatrixSet
from morecantile import tms as default_tms
from rio_tiler.colormap import cmap as default_cmap
from rio_tiler.colormap import parse_color
from rio_tiler.constants import WGS84_CRS
from rio_tiler.types import ColorMapType
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from titiler.core.algorithm import algorithms as available_algorithms
from titiler.core.dependencies import (
    AssetsExprParams,
    DatasetParams,
    DefaultDependency,
    TileParams,
)
from titiler.core.factory import MultiBaseTilerFactory
from titiler.core.resources.enums import ImageType
from titiler.core.utils import render_image

from gep.api.auth import _token, caller
from gep.api.deps import base_url
from gep.api.openapi import answer, problems
from gep.api.services import services
from gep.core.access import ANONYMOUS
from gep.core.errors import InvalidInput, NotFound
from gep.tiles.mosaic import mosaic_items, mosaic_tile
from gep.tiles.reader import ItemReader, item_reader
from gep.tiles.renders import render_for, render_rescale
from gep.tiles.sources import ResolvedItem, Sources
from gep.tiles.wmts import MEDIA_TYPE as WMTS_XML
from gep.tiles.wmts import WmtsLayer, capabilities, finite_bounds

ITEM_PREFIX = "/stac/collections/{collection_id}/items/{item_id}"
COLLECTION_PREFIX = "/stac/collections/{collection_id}"
TMS_IDS = tuple(default_tms.list())
#: browsers and map clients may keep a tile this long (the item cache's TTL is shorter)
TILE_CACHE_CONTROL = "private, max-age=60"


def sources(request: Request) -> Sources:
    """The server's item resolver (one per app, with its short cache)."""
    svc = services(request)
    found = svc.tile_sources
    if found is None:
        found = svc.tile_sources = Sources(svc.store, svc.gateway, svc.settings.base_url or "")
    return found


async def item_source(
    collection_id: Annotated[str, Path(description="Collection identifier")],
    item_id: Annotated[str, Path(description="Item identifier")],
    request: Request,
) -> ResolvedItem:
    """The item as the caller may see it (404 as for a missing item otherwise). Async, so a
    cached item costs no hop to a worker thread: only a token lookup or a cache miss (the
    catalogue) goes to one."""
    viewer = ANONYMOUS if _token(request) is None else await run_in_threadpool(caller, request)
    src = sources(request)
    found = src.cached(viewer, collection_id, item_id)
    if found is None:
        found = await run_in_threadpool(src.item, viewer, collection_id, item_id)
    return found


def no_dependency_hop(call: Any) -> Any:
    """``call`` (a titiler dependency: a dataclass or a function of query parameters, no I/O)
    as an async dependency with the same parameters: FastAPI runs a sync dependency in a
    worker thread, and a tile request has eight of them, each hop waiting for the GIL."""

    async def dependency(**kwargs: Any) -> Any:
        try:
            return call(**kwargs)
        except (TypeError, ValueError, KeyError) as exc:  # values that parse but do not fit
            # (e.g. algorithm=std&algorithm_params=null): a 400 naming the parameters
            names = ", ".join(kwargs) or "query"
            raise InvalidInput(
                f"{names}: these parameters do not fit together ({exc})",
                field=next(iter(kwargs), "query"),
            ) from None

    dependency.__signature__ = inspect.signature(call)  # type: ignore[attr-defined]
    dependency.__name__ = getattr(call, "__name__", "dependency")
    return dependency


async def no_environment() -> dict[str, Any]:
    """No GDAL options beyond each asset's own (``gep.tiles.sources``)."""
    return {}


# ----------------------------------------------------------------- rendering parameters

#: the layer parameters (assets, expression…), async (see :func:`no_dependency_hop`)
LAYER = no_dependency_hop(AssetsExprParams)


def parse_rescale(values: Sequence[str] | None) -> list[tuple[float, float]] | None:
    """``rescale=min,max`` (one per band) as pairs; InvalidInput naming ``rescale``."""
    if not values:
        return None
    pairs = []
    for text in values:
        parts = text.strip().strip("[]").split(",")
        try:
            low, high = (float(p) for p in parts)
        except ValueError:
            raise InvalidInput(
                f"rescale: '{text}' is not 'min,max' (two numbers, e.g. rescale=-0.05,0.05)",
                field="rescale",
            ) from None
        if not (low == low and high == high) or low == high:  # NaN, or an empty range
            raise InvalidInput(
                f"rescale: '{text}' is not a range (min and max must be numbers and differ)",
                field="rescale",
            )
        pairs.append((low, high))
    return pairs


def parse_colormap(name: str | None, custom: str | None) -> ColorMapType | None:
    """``colormap_name`` (one of rio-tiler's) or ``colormap`` (JSON), named when refused."""
    if name:
        key = name.lower()
        if key not in default_cmap.data:
            raise InvalidInput(
                f"colormap_name: '{name}' is not a colour map; use one of rio-tiler's, e.g. "
                "viridis, rdbu, rdbu_r, greys_r, twilight, magma (GET /colorMaps lists none "
                "here: see docs/tiles.md)",
                field="colormap_name",
            )
        return default_cmap.get(key)  # type: ignore[no-any-return]
    if custom:
        try:
            parsed = json.loads(
                custom, object_hook=lambda x: {int(k): parse_color(v) for k, v in x.items()}
            )
            if isinstance(parsed, list):
                parsed = [(tuple(interval), parse_color(v)) for (interval, v) in parsed]
            if not isinstance(parsed, (dict, list)) or not parsed:
                raise ValueError("empty")
            return parsed  # type: ignore[no-any-return]
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidInput(
                f'colormap: not a JSON colour map ({exc}); send {{"value": "#rrggbb", …}} or '
                '[[[min, max], "#rrggbb"], …]',
                field="colormap",
            ) from None
    return None


class Rendering(DefaultDependency):
    """What titiler's ``render_image`` takes besides the image and colour map."""

    def __init__(
        self,
        rescale: list[tuple[float, float]] | None,
        color_formula: str | None,
        add_mask: bool | None,
    ) -> None:
        self.rescale = rescale
        self.color_formula = color_formula
        self.add_mask = add_mask


def _asset_names(assets: Sequence[Any]) -> list[str]:
    return [a if isinstance(a, str) else str(a.get("name")) for a in assets or ()]


RescaleQuery = Annotated[
    list[str] | None,
    Query(
        description="Min,max range per band (e.g. -0.05,0.05); default: the item's render",
    ),
]
ColormapNameQuery = Annotated[
    str | None, Query(description="A rio-tiler colour map name; default: the item's render")
]
ColormapQuery = Annotated[str | None, Query(description="A JSON-encoded custom colour map")]
FormulaQuery = Annotated[str | None, Query(description="rio-color formula")]
MaskQuery = Annotated[
    bool | None, Query(alias="return_mask", description="Add the mask (alpha) to the image")
]


def _rendering(
    doc: dict[str, Any], assets: Sequence[Any], rescale: list[str] | None, formula: str | None,
    mask: bool | None,
) -> Rendering:  # fmt: skip
    pairs = parse_rescale(rescale)
    if pairs is None:
        render = render_for(doc, _asset_names(assets))
        pairs = render_rescale(render) if render else None
    if formula:
        from color_operations import parse_operations

        try:
            parse_operations(formula)
        except Exception:
            raise InvalidInput(
                f"color_formula: '{formula}' is not a rio-color formula (e.g. 'gamma rgb 1.5')",
                field="color_formula",
            ) from None
    return Rendering(pairs, formula, mask)


def _colormap(
    doc: dict[str, Any], assets: Sequence[Any], name: str | None, custom: str | None
) -> ColorMapType | None:
    given = parse_colormap(name, custom)
    if given is not None:
        return given
    render = render_for(doc, _asset_names(assets))
    default = render.get("colormap_name") if render else None
    if isinstance(default, str) and default.lower() in default_cmap.data:
        return default_cmap.get(default.lower())  # type: ignore[no-any-return]
    return None


#: formats that carry the data itself: no render default is applied to them
DATA_FORMATS = frozenset({"tif", "tiff", "npy", "pngraw"})


def _drawn(request: Request) -> bool:
    """Whether the answer is a picture (render defaults apply), not the data (GeoTIFF, npy)."""
    fmt = request.path_params.get("format") or request.query_params.get("tile_format") or ""
    return str(fmt).lower() not in DATA_FORMATS


async def item_colormap(
    request: Request,
    colormap_name: ColormapNameQuery = None,
    colormap: ColormapQuery = None,
    src: ResolvedItem = Depends(item_source),
    layer: AssetsExprParams = Depends(LAYER),
) -> ColorMapType | None:
    """The colour map asked for, else (for pictures) the item's render for these assets."""
    return _colormap(src.item if _drawn(request) else {}, layer.assets, colormap_name, colormap)


async def item_rendering(
    request: Request,
    rescale: RescaleQuery = None,
    color_formula: FormulaQuery = None,
    add_mask: MaskQuery = None,
    src: ResolvedItem = Depends(item_source),
    layer: AssetsExprParams = Depends(LAYER),
) -> Rendering:
    """rescale (else, for pictures, the item's render), colour formula and mask, each checked
    by name."""
    doc = src.item if _drawn(request) else {}
    return _rendering(doc, layer.assets, rescale, color_formula, add_mask)


# ----------------------------------------------------------------- the item factory


def _query_without(request: Request, *names: str) -> list[tuple[str, str]]:
    drop = {n.lower() for n in names}
    return [(k, v) for k, v in request.query_params.multi_items() if k.lower() not in drop]


def _tms(tile_matrix_set_id: str) -> TileMatrixSet:
    return default_tms.get(tile_matrix_set_id)


TmsPath = Annotated[
    Literal[TMS_IDS],  # type: ignore[valid-type]
    Path(description="A tile matrix set of morecantile (e.g. WebMercatorQuad)"),
]


class GepTilerFactory(MultiBaseTilerFactory):  # type: ignore[misc]
    """titiler's factory with links under GEP_BASE_URL (not the Host header)."""

    def url_for(self, request: Request, name: str, **path_params: Any) -> str:
        url_path = self.router.url_path_for(name, **path_params)
        prefix = self.router_prefix
        for key, value in request.path_params.items():
            prefix = prefix.replace("{" + key + "}", quote(str(value), safe=""))
        return f"{base_url(request)}{prefix}{url_path}"

    def tilejson(self) -> None:
        """TileJSON 3.0.0 that validates against the specification's schema (which requires
        ``vector_layers``: empty for a raster layer), its tile URL under GEP_BASE_URL with the
        request's parameters, and the item's zooms and bounds."""

        @self.router.get(
            "/{tileMatrixSetId}/tilejson.json",
            responses={200: {"description": "Return a tilejson"}},
            operation_id=f"{self.operation_prefix}getTileJSON",
        )
        def tilejson(
            request: Request,
            tileMatrixSetId: TmsPath,
            tilesize: Annotated[int | None, Query(gt=0, le=2048, description="Tile size")] = None,
            tile_format: Annotated[ImageType | None, Query(description="Tile format")] = None,
            minzoom: Annotated[int | None, Query(ge=0, le=30, description="Minzoom")] = None,
            maxzoom: Annotated[int | None, Query(ge=0, le=30, description="Maxzoom")] = None,
            src: ResolvedItem = Depends(item_source),
            layer: AssetsExprParams = Depends(LAYER),
        ) -> Response:
            tms = _tms(tileMatrixSetId)
            ext = f".{tile_format.value}" if tile_format else ""
            qs = urlencode(_query_without(request, "tile_format", "minzoom", "maxzoom"))
            url = self.url_for(request, "tile", tileMatrixSetId=tms.id, z="{z}", x="{x}", y="{y}")
            url = url.replace("%7B", "{").replace("%7D", "}") + ext + (f"?{qs}" if qs else "")
            with item_reader(src, tms) as reader:
                for name in _asset_names(layer.assets):
                    reader._get_asset_info(name)  # 404 naming assets when not a raster of it
                bounds = finite_bounds(reader.get_geographic_bounds(tms.rasterio_geographic_crs))
                low = int(reader.minzoom) if minzoom is None else minzoom
                high = int(reader.maxzoom) if maxzoom is None else maxzoom
            props = src.item.get("properties") or {}
            body = {
                "tilejson": "3.0.0",
                "name": str(props.get("title") or src.item_id),
                "version": "1.0.0",
                "scheme": "xyz",
                "tiles": [url],
                "vector_layers": [],
                "minzoom": low,
                "maxzoom": high,
                "bounds": list(bounds),
                "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, low],
            }
            return Response(json.dumps(body), media_type="application/json")


_factory = GepTilerFactory(
    reader=ItemReader,
    path_dependency=item_source,
    layer_dependency=LAYER,
    reader_dependency=no_dependency_hop(DefaultDependency),
    dataset_dependency=no_dependency_hop(DatasetParams),
    tile_dependency=no_dependency_hop(TileParams),
    process_dependency=no_dependency_hop(available_algorithms.dependency),
    environment_dependency=no_environment,  # type: ignore[arg-type]
    colormap_dependency=item_colormap,  # type: ignore[arg-type]
    render_dependency=item_rendering,  # type: ignore[arg-type]
    router_prefix=ITEM_PREFIX,
    add_viewer=False,
    add_part=False,
    name="tiles",
)

_PROBLEMS = problems(
    400,
    401,
    404,
    502,
    s404="No such item (or one the caller may not see), no such raster asset, a tile "
    "outside the data or past its resolution",
    s502="A remote raster did not answer",
)
for _route in _factory.router.routes:
    if isinstance(_route, APIRoute):
        _route.responses.update(_PROBLEMS)
        _route.tags = ["Tiles"]

router = APIRouter(tags=["Tiles"])
router.include_router(_factory.router, prefix=ITEM_PREFIX)


# ----------------------------------------------------------------- WMTS (item)


FormatQuery = Annotated[
    ImageType, Query(description="Tile format in the capabilities' ResourceURL")
]


@router.get(
    ITEM_PREFIX + "/{tileMatrixSetId}/WMTSCapabilities.xml",
    summary="OGC WMTS 1.0.0 capabilities of an item's raster assets (QGIS, GDAL)",
    response_class=Response,
    responses={
        **answer(WMTS_XML, "The capabilities: one layer per asset, or one for `assets`"),
        **_PROBLEMS,
    },
)
def item_wmts(
    request: Request,
    tileMatrixSetId: TmsPath,
    src: ResolvedItem = Depends(item_source),
    assets: Annotated[
        list[str] | None,
        Query(description="Assets drawn together in one layer (default: one layer each)"),
    ] = None,
    tile_format: FormatQuery = ImageType.png,
) -> Response:
    tms = _tms(tileMatrixSetId)
    base = base_url(request)
    item_url = (
        f"{base}/stac/collections/{quote(src.collection_id, safe='')}/items/"
        f"{quote(src.item_id, safe='')}"
    )
    rest = _query_without(request, "assets", "tile_format", "service", "request")
    with item_reader(src, tms) as reader:
        groups = [list(assets)] if assets else [[a] for a in reader.assets]
        for group in groups:
            for name in group:
                if name.split("|", 1)[0] not in reader.assets:
                    raise NotFound(
                        f"assets: '{name}' is not a raster asset of item '{src.item_id}'; its "
                        f"raster assets are {list(reader.assets)}",
                        field="assets",
                    )
        bounds = finite_bounds(reader.get_geographic_bounds(WGS84_CRS))
        minzoom, maxzoom = int(reader.minzoom), int(reader.maxzoom)
    title = str(src.item.get("properties", {}).get("title") or src.item_id)
    layers = []
    for group in groups:
        qs = urlencode([*(("assets", a) for a in group), *rest])
        layers.append(
            WmtsLayer(
                identifier="+".join(group),
                title=f"{title}: {', '.join(group)}",
                bounds=bounds,
                minzoom=minzoom,
                maxzoom=maxzoom,
                template=f"{item_url}/tiles/{tms.id}/{{TileMatrix}}/{{TileCol}}/{{TileRow}}"
                f".{tile_format.value}?{qs}",
                format=tile_format.mediatype,
            )
        )
    body = capabilities(tms, layers, title, str(request.url))
    return Response(body, media_type=WMTS_XML)


# ----------------------------------------------------------------- the collection mosaic


def _collection_doc(request: Request, collection_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = services(request).store.get_collection(collection_id, caller(request))
    return doc


def _mosaic_image(
    request: Request,
    collection_id: str,
    tms: TileMatrixSet,
    x: int,
    y: int,
    z: int,
    layer: AssetsExprParams,
    dataset: DatasetParams,
    tile: TileParams,
    datetime: str | None,
    cql2_text: str | None,
    tilesize: int | None,
) -> Any:
    items = mosaic_items(
        sources(request), caller(request), collection_id, tms, x, y, z, datetime, cql2_text
    )
    return mosaic_tile(
        items,
        tms,
        x,
        y,
        z,
        assets=layer.assets,
        expression=layer.expression,
        asset_as_band=bool(layer.asset_as_band),
        tilesize=tilesize,
        **tile.as_dict(),
        **dataset.as_dict(),
    ), items


DatetimeQuery = Annotated[
    str | None,
    Query(description="Only items in this RFC 3339 instant or interval (a/b, ../b, a/..)"),
]
FilterQuery = Annotated[
    str | None,
    Query(
        description="Only items matching this CQL2-text filter (e.g. "
        "\"sat:relative_orbit = 12 AND gep:job = 'abc'\"): a search drawn as one layer"
    ),
]


@router.get(
    COLLECTION_PREFIX + "/tiles/{tileMatrixSetId}/{z}/{x}/{y}",
    summary="A tile of the collection's mosaic (newest item on top)",
    response_class=Response,
    responses={**answer(["image/png", "image/jpeg", "image/webp"], "The tile"), **_PROBLEMS},
)
@router.get(
    COLLECTION_PREFIX + "/tiles/{tileMatrixSetId}/{z}/{x}/{y}.{format}",
    summary="A tile of the collection's mosaic (newest item on top), in a format",
    response_class=Response,
    responses={**answer(["image/png", "image/jpeg", "image/webp"], "The tile"), **_PROBLEMS},
)
async def mosaic_tile_route(
    request: Request,
    collection_id: str,
    tileMatrixSetId: TmsPath,
    z: int,
    x: int,
    y: int,
    format: ImageType | None = None,
    tilesize: Annotated[int | None, Query(gt=0, le=2048, description="Tile size")] = None,
    datetime: DatetimeQuery = None,
    filter: FilterQuery = None,
    layer: AssetsExprParams = Depends(LAYER),
    dataset: DatasetParams = Depends(DatasetParams),
    tile: TileParams = Depends(TileParams),
    rescale: RescaleQuery = None,
    colormap_name: ColormapNameQuery = None,
    colormap: ColormapQuery = None,
    color_formula: FormulaQuery = None,
    add_mask: MaskQuery = None,
) -> Response:
    tms = _tms(tileMatrixSetId)

    def work() -> tuple[bytes, str]:
        image, items = _mosaic_image(
            request, collection_id, tms, x, y, z, layer, dataset, tile, datetime, filter, tilesize
        )
        doc = _collection_doc(request, collection_id)
        if not render_for(doc, _asset_names(layer.assets)) and items:
            doc = items[0].item  # the newest item's render, when the collection has none
        if format is not None and format.value in DATA_FORMATS:
            doc = {}
        cmap = _colormap(doc, layer.assets, colormap_name, colormap)
        rendering = _rendering(doc, layer.assets, rescale, color_formula, add_mask)
        return render_image(  # type: ignore[no-any-return]
            image, output_format=format, colormap=cmap, **rendering.as_dict()
        )

    content, media = await run_in_threadpool(work)
    return Response(content, media_type=media, headers={"Cache-Control": TILE_CACHE_CONTROL})


def _mosaic_zooms(
    request: Request,
    collection_id: str,
    tms: TileMatrixSet,
    datetime: str | None,
    cql2_text: str | None,
) -> tuple[tuple[float, float, float, float], int, int]:
    """The collection's extent and the zooms of its newest visible item."""
    doc = _collection_doc(request, collection_id)
    try:
        bbox = doc["extent"]["spatial"]["bbox"][0]
        bounds = finite_bounds(bbox[:2] + bbox[-2:] if len(bbox) == 6 else bbox)
    except (KeyError, IndexError, TypeError, ValueError):
        bounds = (-180.0, -90.0, 180.0, 90.0)
    items = mosaic_items(
        sources(request), caller(request), collection_id, tms, 0, 0, 0, datetime, cql2_text
    )
    for resolved in items:
        try:
            with item_reader(resolved, tms) as reader:
                return bounds, int(reader.minzoom), int(reader.maxzoom)
        except NotFound:
            continue
    return bounds, tms.minzoom, min(tms.maxzoom, 18)


@router.get(
    COLLECTION_PREFIX + "/{tileMatrixSetId}/tilejson.json",
    summary="TileJSON 3.0.0 of the collection's mosaic",
    responses={**answer("application/json", "The TileJSON"), **_PROBLEMS},
)
def mosaic_tilejson(
    request: Request,
    collection_id: str,
    tileMatrixSetId: TmsPath,
    layer: AssetsExprParams = Depends(LAYER),
    tile_format: Annotated[ImageType | None, Query(description="Tile format")] = None,
    datetime: DatetimeQuery = None,
    filter: FilterQuery = None,
) -> Response:
    tms = _tms(tileMatrixSetId)
    bounds, minzoom, maxzoom = _mosaic_zooms(request, collection_id, tms, datetime, filter)
    ext = f".{tile_format.value}" if tile_format else ""
    qs = urlencode(_query_without(request, "tile_format", "minzoom", "maxzoom"))
    url = (
        f"{base_url(request)}/stac/collections/{quote(collection_id, safe='')}/tiles/{tms.id}"
        f"/{{z}}/{{x}}/{{y}}{ext}?{qs}"
    )
    body = {
        "tilejson": "3.0.0",
        "name": collection_id,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [url],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": list(bounds),
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, minzoom],
        "vector_layers": [],
    }
    return Response(json.dumps(body), media_type="application/json")


@router.get(
    COLLECTION_PREFIX + "/{tileMatrixSetId}/WMTSCapabilities.xml",
    summary="OGC WMTS 1.0.0 capabilities of the collection's mosaic",
    response_class=Response,
    responses={**answer(WMTS_XML, "The capabilities (one layer)"), **_PROBLEMS},
)
def mosaic_wmts(
    request: Request,
    collection_id: str,
    tileMatrixSetId: TmsPath,
    layer: AssetsExprParams = Depends(LAYER),
    tile_format: FormatQuery = ImageType.png,
    datetime: DatetimeQuery = None,
    filter: FilterQuery = None,
) -> Response:
    tms = _tms(tileMatrixSetId)
    bounds, minzoom, maxzoom = _mosaic_zooms(request, collection_id, tms, datetime, filter)
    qs = urlencode(_query_without(request, "tile_format", "service", "request"))
    names = _asset_names(layer.assets)
    template = (
        f"{base_url(request)}/stac/collections/{quote(collection_id, safe='')}/tiles/{tms.id}"
        f"/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.{tile_format.value}?{qs}"
    )
    body = capabilities(
        tms,
        [
            WmtsLayer(
                "+".join(names),
                f"{collection_id}: {', '.join(names)}",
                bounds,
                minzoom,
                maxzoom,
                template,
                tile_format.mediatype,
            )
        ],
        collection_id,
        str(request.url),
    )
    return Response(body, media_type=WMTS_XML)


def install(app: Any) -> None:
    """Include the tile routes, the item layer's first: a map sends dozens of tile requests
    a second, and Starlette tries routes in order (the API has a few hundred). None of them
    shadows another route: their paths end in segments no other item route has (``tiles/…``,
    ``preview``, ``point/…``, ``{tileMatrixSetId}/tilejson.json``…). The collection mosaic
    stays last, as ``/stac/collections/{c}/{tileMatrixSetId}/tilejson.json`` could match an
    item named ``tilejson.json``."""
    app.include_router(router)
    routes = app.router.routes
    mine = {getattr(r, "endpoint", None) for r in router.routes}
    first = [
        r
        for r in routes
        if getattr(r, "endpoint", None) in mine
        and getattr(r, "path", "").startswith(ITEM_PREFIX + "/")
    ]
    ours = {id(r) for r in first}
    routes[:] = first + [r for r in routes if id(r) not in ours]
