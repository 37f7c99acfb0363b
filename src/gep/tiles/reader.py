"""rio-tiler readers over items resolved by :mod:`gep.tiles.sources`.

:class:`ItemReader` is rio-tiler's ``STACReader`` whose item is the resolved dict (never
fetched again) and whose assets' URLs are the gateway's GDAL paths, so titiler-core's route
factories serve GEP items unchanged. What the STAC reader computes from the item alone (the
pystac object, bounds, zoom range per tile matrix set) is kept with the resolved item for the
life of its cache entry, so a burst of tiles does it once.

:class:`GepReader` is rio-tiler's COG ``Reader``; a file GDAL cannot open becomes a problem
naming the asset (404 for a server file, 502 for a remote one), never a 500.

The zoom rule (:func:`check_tile`): a tile must exist in its tile matrix set (else 404 naming
``z``, ``x`` or ``y``), and a client may over-zoom at most :data:`OVERZOOM` levels past the
data's own resolution (its ``maxzoom``): deeper tiles would only magnify pixels, and a map
asking for them has lost track of the layer's TileJSON; they are a 404 naming ``z``.
"""

from __future__ import annotations

import copy
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import attr
import pystac
import rasterio
from morecantile import TileMatrixSet
from rasterio.errors import RasterioError, RasterioIOError
from rio_tiler.errors import AssetAsBandError, MissingAssets, TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.io.stac import STACReader, _extract_proj_info
from rio_tiler.models import ImageData
from rio_tiler.types import AssetInfo, AssetType
from rio_tiler.utils import cast_to_sequence

from gep.core.errors import GepError, NotFound, UpstreamUnavailable
from gep.tiles.sources import ResolvedItem

#: zoom levels a client may ask past the data's resolution (pixels shown up to 8× magnified)
OVERZOOM = 3


def check_tile(tms: TileMatrixSet, x: int, y: int, z: int, maxzoom: int | None = None) -> None:
    """NotFound naming ``z``, ``x`` or ``y`` for a tile outside the tile matrix set, or more
    than :data:`OVERZOOM` levels past ``maxzoom``."""
    if z < tms.minzoom or z > tms.maxzoom:
        raise NotFound(
            f"z: zoom {z} is not a level of tile matrix set '{tms.id}' "
            f"({tms.minzoom}–{tms.maxzoom})",
            field="z",
        )
    matrix = tms.matrix(z)
    if not 0 <= x < matrix.matrixWidth:
        raise NotFound(
            f"x: column {x} is outside zoom {z} of '{tms.id}' (0–{matrix.matrixWidth - 1})",
            field="x",
        )
    if not 0 <= y < matrix.matrixHeight:
        raise NotFound(
            f"y: row {y} is outside zoom {z} of '{tms.id}' (0–{matrix.matrixHeight - 1})",
            field="y",
        )
    if maxzoom is not None and z > maxzoom + OVERZOOM:
        raise NotFound(
            f"z: zoom {z} is past the data's resolution: its deepest zoom in '{tms.id}' is "
            f"{maxzoom}, and tiles are served up to {maxzoom + OVERZOOM}",
            field="z",
        )


#: open GDAL datasets kept per server thread (local files only), least recently used dropped
HANDLES_PER_THREAD = 16
_handles = threading.local()


def _stamp(path: str) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def open_cached(path: str) -> Any:
    """A dataset of a local file, kept open for this thread's next tiles (GDAL handles are
    not shared between threads). Reopened when the file changed (its inode, size or mtime:
    GEP writes files by atomic rename, so a rewrite is a new inode)."""
    cache: OrderedDict[str, tuple[tuple[int, int, int], Any]] | None = getattr(
        _handles, "cache", None
    )
    if cache is None:
        cache = _handles.cache = OrderedDict()
    stamp = _stamp(path)
    hit = cache.get(path)
    if hit is not None and hit[0] == stamp and not hit[1].closed:
        cache.move_to_end(path)
        return hit[1]
    if hit is not None:
        hit[1].close()
    ds = rasterio.open(path)
    cache[path] = (stamp, ds)
    while len(cache) > HANDLES_PER_THREAD:
        _, (_, old) = cache.popitem(last=False)
        old.close()
    return ds


#: tiles read from local files kept in memory (bytes, least recently used dropped): a map
#: panning back, or several viewers of one layer, get them without a read
TILE_CACHE_BYTES = 64 << 20


class TileCache:
    """Tiles (rio-tiler ``ImageData``) keyed by file identity (path, inode, size, mtime),
    grid, tile and read options. Safe to share between viewers: a tile is only looked up
    after the caller's item and file were resolved for them."""

    def __init__(self, max_bytes: int = TILE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._tiles: OrderedDict[Any, tuple[int, ImageData]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Any) -> ImageData | None:
        with self._lock:
            hit = self._tiles.get(key)
            if hit is None:
                return None
            self._tiles.move_to_end(key)
        return copy.deepcopy(hit[1])  # rendering rescales in place

    def put(self, key: Any, image: ImageData) -> None:
        size = int(image.array.data.nbytes + image.array.mask.nbytes)
        with self._lock:
            old = self._tiles.pop(key, None)
            if old is not None:
                self._size -= old[0]
            self._tiles[key] = (size, copy.deepcopy(image))
            self._size += size
            while self._size > self.max_bytes and self._tiles:
                _, (dropped, _) = self._tiles.popitem(last=False)
                self._size -= dropped


TILES = TileCache()


@attr.s
class GepReader(Reader):  # type: ignore[misc]
    """rio-tiler's COG reader; a file that does not open is a problem naming the asset.
    Local files are read through this thread's open handle (:func:`open_cached`): a map's
    burst of tiles opens each file once per server thread instead of once per tile."""

    def __attrs_post_init__(self) -> None:
        self._identity: Any = None
        try:
            path = str(self.input)
            if self.dataset is None and not path.startswith("/vsi"):
                self.dataset = open_cached(path)
                self._identity = (path, _stamp(path))
            super().__attrs_post_init__()
        except RasterioIOError as exc:
            path = str(self.input)
            if path.startswith(("/vsicurl/", "/vsis3/")):
                raise UpstreamUnavailable(
                    f"assets: the raster could not be read from where it is stored: {exc}",
                    field="assets",
                ) from None
            raise NotFound(
                "assets: the asset's file is not a raster this server can read", field="assets"
            ) from None

    def tile(self, tile_x: int, tile_y: int, tile_z: int, **kwargs: Any) -> ImageData:  # type: ignore[override]
        """rio-tiler's tile, from :data:`TILES` when this file's tile was read before with the
        same options."""
        if self._identity is None:
            return super().tile(tile_x, tile_y, tile_z, **kwargs)  # type: ignore[no-any-return]
        key = (self._identity, self.tms.id, tile_x, tile_y, tile_z, repr(sorted(kwargs.items())))
        found = TILES.get(key)
        if found is None:
            found = super().tile(tile_x, tile_y, tile_z, **kwargs)
            TILES.put(key, found)
        return found


@attr.s
class ItemReader(STACReader):  # type: ignore[misc]
    """rio-tiler's STAC reader over a :class:`ResolvedItem` (the ``input``)."""

    #: the ResolvedItem titiler's path dependency gave (typed here: rio-tiler says str)
    input: Any
    reader: type[Reader] = attr.ib(default=GepReader)

    @property
    def resolved(self) -> ResolvedItem:
        """The item this reader serves (the ``input`` titiler's path dependency gave)."""
        resolved: ResolvedItem = self.input
        return resolved

    def __attrs_post_init__(self) -> None:
        resolved = self.resolved
        memo = resolved.memo
        item = memo.get("pystac")
        if item is None:
            item = memo["pystac"] = pystac.Item.from_dict(resolved.item, preserve_dict=True)
        self.item = item
        self.assets = resolved.raster_assets()
        if not self.assets:
            raise NotFound(
                f"assets: item '{resolved.item_id}' has no raster asset to tile", field="assets"
            )
        key = ("geometry", self.tms.id, self.minzoom, self.maxzoom)
        geo = memo.get(key)
        if geo is None:
            geo = memo[key] = self._geometry()
        self.bounds, self.crs, self.transform, self.height, self.width = geo[:5]
        self.minzoom, self.maxzoom = geo[5], geo[6]

    def _geometry(self) -> tuple[Any, ...]:
        """What STACReader derives from the item: bounds, CRS, grid and zoom range."""
        item: pystac.Item = self.item  # type: ignore[assignment]
        proj = _extract_proj_info(item, assets=list(self.assets))
        if proj:
            self.bounds, self.crs = proj["bounds"], proj["crs"]
            self.transform, self.height, self.width = (
                proj["transform"], proj["height"], proj["width"],
            )  # fmt: skip
        elif not self._grid_from_file():
            from rasterio.features import bounds as feature_bounds
            from rio_tiler.constants import WGS84_CRS

            bbox = item.bbox
            self.bounds = tuple(bbox) if bbox else feature_bounds(item.geometry)  # type: ignore[assignment]
            self.crs = WGS84_CRS
        minzoom = self.minzoom if self.minzoom is not None else self._minzoom
        maxzoom = self.maxzoom if self.maxzoom is not None else self._maxzoom
        return (self.bounds, self.crs, self.transform, self.height, self.width, minzoom, maxzoom)

    def _grid_from_file(self) -> bool:
        """The grid of the item's first raster asset read from the file (once per resolved
        item), for items without ``proj:*`` metadata; False when it cannot be read."""
        try:
            source = self.resolved.source(self.assets[0])
            with rasterio.Env(**dict(source.env)), rasterio.open(source.path) as ds:
                self.bounds, self.crs = tuple(ds.bounds), ds.crs
                self.transform, self.height, self.width = ds.transform, ds.height, ds.width
                self.resolved.memo["file_crs"] = ds.crs
        except (GepError, RasterioError):
            return False
        return self.crs is not None

    def get_asset_list(self) -> list[str]:
        return self.resolved.raster_assets()

    def _get_asset_info(self, asset: AssetType) -> AssetInfo:
        name = asset if isinstance(asset, str) else asset.get("name")
        if name not in self.assets:
            raise NotFound(
                f"assets: '{name}' is not a raster asset of item '{self.resolved.item_id}'; "
                f"its raster assets are {list(self.assets)}",
                field="assets",
            )
        memo_key = ("asset-info", name) if isinstance(asset, str) else None
        if memo_key is not None and memo_key in self.resolved.memo:
            return dict(self.resolved.memo[memo_key])  # type: ignore[return-value]
        info = super()._get_asset_info(asset)
        source = self.resolved.source(str(name))
        info["url"] = source.path
        if source.env:
            info["env"] = {**info.get("env", {}), **source.env}
        if memo_key is not None:
            self.resolved.memo[memo_key] = dict(info)
        return info  # type: ignore[no-any-return]

    def tile(
        self,
        tile_x: int,
        tile_y: int,
        tile_z: int,
        assets: Sequence[AssetType] | AssetType | None = None,
        expression: str | None = None,
        asset_as_band: bool = False,
        **kwargs: Any,
    ) -> ImageData:
        """rio-tiler's ``MultiBaseReader.tile`` reading the assets one after the other in
        this thread: the server already reads one tile per thread, and a thread pool per tile
        (rio-tiler's default) costs more than it saves for the one or two assets of a map
        layer."""
        check_tile(self.tms, tile_x, tile_y, tile_z, self.maxzoom)
        if self.crs != self.resolved.memo.get("file_crs") and not self.tile_exists(
            tile_x, tile_y, tile_z
        ):
            # (when the item's grid is its file's, the file's reader makes this same test)
            raise TileOutsideBounds(f"Tile(x={tile_x}, y={tile_y}, z={tile_z}) is outside bounds")
        names = cast_to_sequence(assets)
        if not names:
            raise MissingAssets("assets: name the raster assets to draw (assets=…)")
        images = []
        for asset in names:
            info = self._get_asset_info(asset)
            options = {**self.reader_options, **info["reader_options"]}
            method = {**info["method_options"], **kwargs}
            with (
                self.ctx(**info.get("env", {})),
                self.reader(info["url"], tms=self.tms, **options) as src,
            ):
                data = src.tile(tile_x, tile_y, tile_z, **method)
            self._update_statistics(
                data,
                indexes=method.get("indexes"),
                statistics=info.get("dataset_statistics"),
            )
            metadata = data.metadata or {}
            metadata.update(info.get("metadata") or {})
            data.metadata = {info["name"]: metadata}
            data.band_descriptions = [f"{info['name']}_{n}" for n in data.band_descriptions]
            if asset_as_band:
                if len(data.band_names) > 1:
                    raise AssetAsBandError("Can't use `asset_as_band` for multibands asset")
                data.band_descriptions = [info["name"]]
            images.append(data)
        img = ImageData.create_from_list(images)
        img.band_names = [f"b{ix + 1}" for ix in range(img.count)]
        return img.apply_expression(expression) if expression else img  # type: ignore[no-any-return]


def item_reader(resolved: ResolvedItem, tms: TileMatrixSet) -> ItemReader:
    """An :class:`ItemReader` over ``resolved`` on ``tms`` (a context manager)."""
    return ItemReader(resolved, tms=tms)  # type: ignore[arg-type]
