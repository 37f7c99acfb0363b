"""Time series at a point: the values of dated raster layers at one lon/lat, over time.

Two sources of dates, one answer (:class:`Series`):

- one item with dated layers (:func:`item_series`): a multi-band COG whose bands carry dates
  (``raster:bands``/``eo:bands`` entries, GDAL band descriptions or band tags), or an item
  whose assets ``A_<date>`` are one dated layer each (the ``sbas`` summary item's
  ``displacement_<date>`` assets);
- the dated items of a collection that contain the point (:func:`collection_series`): the
  ``sbas`` per-date items of one job, a systematic layer.

Every value is a one-pixel windowed read (the pixel that contains the point, as
``rasterio``'s ``index`` picks it), so a series of a hundred COGs reads a hundred small
blocks, concurrently on a thread pool (GDAL releases the GIL while it reads). No-data and NaN
are ``None`` (``null`` in JSON, an empty CSV cell).

Hrefs are never opened as given: the caller passes ``resolve(href, field)``, the gateway's
answer for the viewer (a path GDAL can open), so confinement and visibility stay in one place.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from gep.catalog.search import build_search
from gep.catalog.store import CatalogStore
from gep.catalog.store_search import SearchPage
from gep.core.access import Viewer
from gep.core.bbox import parse_bbox
from gep.core.errors import InvalidInput, NotFound
from gep.gateway.resolver import Gateway
from gep.tiles.sources import GdalSource, gdal_path

#: resolves an asset href (and the field to name in refusals) to what GDAL opens, as the
#: caller may read it (or raises)
Resolve = Callable[[str, str], GdalSource]

#: most dated items one collection series reads (more: narrow with datetime/filter/bbox)
MAX_DATES = 10_000
#: open local rasters kept between requests (see :class:`_Handles`)
HANDLES = 256
#: concurrent reads; small COG blocks are I/O and decompression bound, GDAL frees the GIL
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gep-timeseries")

_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2}):?(\d{2})(?:\.\d+)?)?Z?")
_BAND_DATE_TAGS = ("DATETIME", "DATE", "ACQUISITION_DATE", "ACQUISITION_DATETIME", "TIME")


class OutsideData(InvalidInput):
    """The point is outside the raster."""


@dataclass(frozen=True, slots=True)
class Sample:
    datetime: str
    value: float | None
    item: str
    #: the 1-based band of a multi-band asset (None for one-band layers)
    band: int | None = None


@dataclass(slots=True)
class Series:
    """What ``…/timeseries`` answers: the values at (lon, lat) sorted by time."""

    lon: float
    lat: float
    asset: str
    collection: str
    unit: str | None
    values: list[Sample] = field(default_factory=list)
    #: the item, for one item's layers; None for a collection series
    item: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "TimeSeries",
            "lon": self.lon,
            "lat": self.lat,
            "collection": self.collection,
            **({"item": self.item} if self.item else {}),
            "asset": self.asset,
            "unit": self.unit,
            "values": [
                {
                    "datetime": s.datetime,
                    "value": s.value,
                    "item": s.item,
                    **({"band": s.band} if s.band is not None else {}),
                }
                for s in self.values
            ],
        }

    def as_csv(self) -> str:
        """One row per date: ``datetime,value,item,band,lon,lat,unit`` (an empty value is
        no-data)."""
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["datetime", "value", "item", "band", "lon", "lat", "unit"])
        for s in self.values:
            w.writerow([
                s.datetime, "" if s.value is None else repr(s.value), s.item,
                "" if s.band is None else s.band, self.lon, self.lat, self.unit or "",
            ])  # fmt: skip
        return out.getvalue()


def resolver(store: CatalogStore, gateway: Gateway, viewer: Viewer, base_url: str = "") -> Resolve:
    """Asset hrefs as the viewer may read them, through the gateway
    (:func:`gep.tiles.sources.gdal_path`: storage, data roots, GEP's bucket, GEP URLs, allowed
    http hosts); a file they may not read is the same 404 as a missing one."""

    def resolve(href: str, field: str) -> GdalSource:
        return gdal_path(gateway, viewer, href, field=field, store=store, base_url=base_url)

    return resolve


# ---------------------------------------------------------------- reading one pixel


_LOCAL = threading.local()


def _to_crs(crs_wkt: str) -> Any:
    """A WGS84 → ``crs_wkt`` transformer, one per thread (a pyproj Transformer is not to be
    shared between threads), kept for the thread's next reads."""
    from pyproj import CRS, Transformer

    cache: dict[str, Any] = _LOCAL.__dict__.setdefault("transformers", {})
    found = cache.get(crs_wkt)
    if found is None:
        if len(cache) > 64:
            cache.clear()
        found = cache[crs_wkt] = Transformer.from_crs(
            CRS.from_epsg(4326), CRS.from_wkt(crs_wkt), always_xy=True
        )
    return found


def _open_raw(source: GdalSource) -> Any:
    import rasterio
    from rasterio.errors import RasterioError

    try:
        return rasterio.open(source.path)
    except RasterioError as exc:
        raise NotFound(
            f"the asset's file is not a raster GDAL can read: {_name(source)} ({exc})",
            field="assets",
        ) from None


class _Handles:
    """Open datasets of local files, kept between requests (least recently used closed
    first), keyed by path, modification time and size, so a replaced file is reopened.

    Why: a point read costs one block's decompression (~3 ms for a 512² deflate float32
    block) plus the open; kept open, GDAL's block cache answers the next point in the same
    block (a user clicking around one area, a chart refreshed) in microseconds. Reads of one
    dataset take its lock (a GDAL dataset is not thread-safe). Only local paths are kept: a
    remote one cannot be checked for change cheaply. Who may read a file is decided before
    (the gateway resolves every href per request), never by this cache."""

    def __init__(self, size: int = HANDLES) -> None:
        self.size = size
        self._open: OrderedDict[str, tuple[tuple[int, int], Any, threading.Lock]] = OrderedDict()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def get(self, source: GdalSource) -> Iterator[Any]:
        path = source.path
        if source.env or source.remote or path.startswith("/vsi"):
            with rasterio_env(source), _open_raw(source) as ds:
                yield ds
            return
        try:
            st = os.stat(path)
        except OSError:
            raise NotFound(f"the asset's file is gone: {_name(source)}", field="assets") from None
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._open.get(path)
            if hit is not None and hit[0] == stamp:
                self._open.move_to_end(path)
        if hit is None or hit[0] != stamp:
            ds = _open_raw(source)
            hit = (stamp, ds, threading.Lock())
            with self._lock:
                old = self._open.get(path)
                self._open[path] = hit
                self._open.move_to_end(path)
                dropped = [old] if old is not None else []
                while len(self._open) > self.size:
                    dropped.append(self._open.popitem(last=False)[1])
            for _, ds_old, lock in dropped:
                with lock:
                    ds_old.close()
        _, ds, lock = hit
        with lock:
            if ds.closed:  # closed by an eviction meanwhile: read from a fresh handle
                with _open_raw(source) as fresh:
                    yield fresh
            else:
                yield ds


def rasterio_env(source: GdalSource) -> Any:
    import rasterio

    return rasterio.Env(**dict(source.env))


_HANDLES = _Handles()


@contextlib.contextmanager
def _open(source: GdalSource | str) -> Iterator[Any]:
    """The raster (inside its GDAL environment), or a 404 naming the asset when GDAL cannot
    read it (a corrupt file, not a raster): what a user sent never makes a 500."""
    with _HANDLES.get(src_of(source)) as ds:
        yield ds


def _name(source: GdalSource) -> str:
    return source.path.rsplit("/", 1)[-1]


def read_point(
    path: GdalSource | str, lon: float, lat: float, bands: Sequence[int] | None = None
) -> tuple[list[float | None], str | None]:
    """The values of ``bands`` (default: all) at the pixel containing (lon, lat), and the
    first band's unit; :class:`OutsideData` when the point is off the raster."""
    import numpy as np
    from rasterio.errors import RasterioError
    from rasterio.windows import Window

    with _open(path) as src:
        x, y = lon, lat
        if src.crs is not None and src.crs.to_epsg() != 4326:
            x, y = _to_crs(src.crs.to_wkt()).transform(lon, lat)
        fc, fr = ~src.transform @ (x, y)  # rasterio's index(): the pixel holding the point
        ok = math.isfinite(fc) and math.isfinite(fr)
        row, col = (math.floor(fr), math.floor(fc)) if ok else (-1, -1)
        if not (0 <= row < src.height and 0 <= col < src.width):
            raise OutsideData(
                f"lon={lon}, lat={lat} is outside the raster (bounds {list(src.bounds)} in "
                f"{src.crs})",
                field="lon",
            )
        indexes = list(bands) if bands else list(range(1, src.count + 1))
        try:
            data = src.read(indexes, window=Window(col, row, 1, 1))[:, 0, 0]
        except RasterioError as exc:  # a damaged block
            raise NotFound(f"{_name(src_of(path))} cannot be read at lon={lon}, lat={lat}: {exc}",
                           field="assets") from None  # fmt: skip
        unit = src.units[indexes[0] - 1] or None
        out: list[float | None] = []
        for k, v in zip(indexes, data, strict=True):
            nodata = src.nodatavals[k - 1]
            bad = nodata is not None and (v == nodata or (np.isnan(nodata) and np.isnan(v)))
            out.append(None if bad or not np.isfinite(v) else float(v))
    return out, unit


# ---------------------------------------------------------------- dates


def parse_date(text: Any) -> str | None:
    """An RFC 3339 instant from a band description, tag or STAC field holding a date
    (``2018-01-06``, ``20180106``, ``2018-01-06T05:12:03Z``); None when it holds none."""
    if not isinstance(text, str):
        return None
    m = _DATE.search(text)
    if m is None:
        return None
    y, mo, d, hh, mm, ss = m.groups()
    try:
        stamp = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
    except ValueError:
        return None
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _stac_band_dates(asset: dict[str, Any]) -> list[str | None] | None:
    for key in ("raster:bands", "eo:bands", "bands"):
        bands = asset.get(key)
        if isinstance(bands, list) and len(bands) > 1:
            dates = [
                next(
                    (
                        d
                        for f in ("datetime", "date", "description", "name", "title")
                        if isinstance(b, dict) and (d := parse_date(b.get(f)))
                    ),
                    None,
                )
                for b in bands
            ]
            if all(dates):
                return dates
    return None


def src_of(path: GdalSource | str) -> GdalSource:
    return path if isinstance(path, GdalSource) else GdalSource(path)


def _gdal_band_dates(path: GdalSource) -> list[str | None]:
    with _open(path) as src:
        dates: list[str | None] = []
        for k in range(1, src.count + 1):
            tags = {t.upper(): v for t, v in src.tags(k).items()}
            found = next((parse_date(tags[t]) for t in _BAND_DATE_TAGS if t in tags), None)
            dates.append(found or parse_date(src.descriptions[k - 1]))
    return dates


# ---------------------------------------------------------------- one item's layers


def _assets(item: dict[str, Any]) -> dict[str, Any]:
    assets = item.get("assets")
    return assets if isinstance(assets, dict) else {}


def item_series(
    item: dict[str, Any], asset: str, lon: float, lat: float, resolve: Resolve
) -> Series:
    """The dated layers of one item at (lon, lat): the bands of a multi-band asset that carry
    dates, or the one-band assets ``<asset>_<date>``."""
    assets = _assets(item)
    collection, item_id = str(item.get("collection", "")), str(item.get("id", ""))
    if asset in assets:
        meta = assets[asset] if isinstance(assets[asset], dict) else {}
        path = resolve(str(meta.get("href", "")), "assets")
        dates = _stac_band_dates(meta) or _gdal_band_dates(path)
        if len(dates) < 2 or not all(dates):
            raise NotFound(
                f"asset '{asset}' of item '{collection}/{item_id}' has no dated bands (a time "
                "series needs a multi-band raster whose bands carry dates in raster:bands/"
                "eo:bands or band descriptions/tags); for a collection of dated items use "
                f"/stac/collections/{collection}/timeseries",
                field="assets",
            )
        values, unit = read_point(path, lon, lat)
        unit = _stac_unit(meta) or unit
        samples = [
            Sample(str(d), v, item_id, k + 1)
            for k, (d, v) in enumerate(zip(dates, values, strict=True))
        ]
        samples.sort(key=lambda s: s.datetime)
        return Series(lon, lat, asset, collection, unit, samples, item=item_id)
    layers = {
        d: key
        for key in assets
        if key.startswith(f"{asset}_") and (d := parse_date(key[len(asset) + 1 :]))
    }
    if len(layers) < 2:
        raise NotFound(
            f"item '{collection}/{item_id}' has no asset '{asset}' and no dated assets "
            f"'{asset}_<date>'; it has: {', '.join(sorted(assets))}",
            field="assets",
        )
    ordered = sorted(layers)
    paths = [
        resolve(str(assets[layers[d]].get("href", "")), f"assets.{layers[d]}") for d in ordered
    ]
    read = list(_POOL.map(lambda p: read_point(p, lon, lat, (1,)), paths))
    unit = _stac_unit(assets[layers[ordered[0]]]) or read[0][1]
    samples = [Sample(d, vals[0], item_id) for d, (vals, _) in zip(ordered, read, strict=True)]
    return Series(lon, lat, asset, collection, unit, samples, item=item_id)


def _stac_unit(asset: Any) -> str | None:
    if not isinstance(asset, dict):
        return None
    for key in ("raster:bands", "bands"):
        bands = asset.get(key)
        if isinstance(bands, list) and bands and isinstance(bands[0], dict):
            unit = bands[0].get("unit")
            if isinstance(unit, str) and unit:
                return unit
    unit = asset.get("unit")
    return unit if isinstance(unit, str) and unit else None


# ---------------------------------------------------------------- a collection's items


def job_filter(job: str) -> dict[str, Any]:
    """The items a job published (its id, or prefixed with it, as ``gep.jobs.publish``)."""
    return {
        "op": "or",
        "args": [
            {"op": "=", "args": [{"property": "id"}, job]},
            {"op": "like", "args": [{"property": "id"}, f"{job}-%"]},
        ],
    }


def collection_series(
    store: CatalogStore,
    viewer: Viewer,
    collection: str,
    asset: str,
    lon: float,
    lat: float,
    resolve: Resolve,
    params: dict[str, Any],
    job: str | None = None,
) -> Series:
    """The asset's value at (lon, lat) in every dated item of the collection the caller may
    see whose footprint contains the point, oldest first. ``params``: the STAC search
    parameters that narrow it (``datetime``, ``bbox``, ``ids``, ``filter`` with
    ``filter-lang``); ``job``: only that job's items."""
    store.get_collection(collection, viewer)  # 404 when missing or not theirs
    given = {k: v for k, v in params.items() if v not in (None, "")}
    narrowed = bool(given) or bool(job)
    inside = True
    if "bbox" in given:  # items hold the point already: a bbox only says whether it counts
        box = parse_bbox(given.pop("bbox"))
        inside = any(w <= lon <= e and s <= lat <= n for w, s, e, n in box.parts())
    search = {
        **given,
        "collections": [collection],
        "intersects": {"type": "Point", "coordinates": [lon, lat]},
        "sortby": "+datetime",
        "limit": MAX_DATES,
    }
    req = build_search(search, from_get=True, whole_dates=False)
    if job:
        req.filter = job_filter(job) if req.filter is None else {
            "op": "and", "args": [req.filter, job_filter(job)]
        }  # fmt: skip
    req.viewer = viewer
    page = store.search(req) if inside else SearchPage([], None)
    if page.next_token:
        raise InvalidInput(
            f"more than {MAX_DATES} items of '{collection}' contain the point: narrow the "
            "series with datetime, filter or job",
            field="datetime",
        )
    dated: list[tuple[str, str, dict[str, Any]]] = []
    for _, item_id, raw in page.items:
        item = orjson.loads(raw)
        props = item.get("properties") or {}
        when = props.get("datetime") or props.get("start_datetime")
        meta = _assets(item).get(asset)
        if when and isinstance(meta, dict):
            dated.append((str(when), item_id, meta))
    if not dated:
        raise NotFound(
            f"no dated item of '{collection}' with asset '{asset}' contains lon={lon}, "
            f"lat={lat}" + (" within the datetime/bbox/filter/job given" if narrowed else ""),
            field="lon",
        )
    paths = [resolve(str(m.get("href", "")), f"{i}: assets.{asset}") for _, i, m in dated]

    def one(path: GdalSource) -> tuple[float | None, str | None]:
        try:
            vals, unit = read_point(path, lon, lat, (1,))
        except OutsideData:  # the footprint holds the point but the raster stops short
            return None, None
        return vals[0], unit

    read = list(_POOL.map(one, paths))
    unit = next((u for _, _, m in dated if (u := _stac_unit(m))), None)
    unit = unit or next((u for _, u in read if u), None)
    samples = [
        Sample(_iso(when), v, item_id)
        for (when, item_id, _), (v, _) in zip(dated, read, strict=True)
    ]
    return Series(lon, lat, asset, collection, unit, samples)


def _iso(when: str) -> str:
    return when if "T" in when else (parse_date(when) or when)


def parse_lonlat(lon: Any, lat: Any) -> tuple[float, float]:
    """lon and lat query parameters as numbers in range; InvalidInput naming the one at fault."""
    out = []
    for name, raw, lim in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        if raw in (None, ""):
            raise InvalidInput(f"{name} is required (decimal degrees, WGS84)", field=name)
        try:
            v = float(raw)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"{name} must be a number of decimal degrees; got {raw!r}", field=name
            ) from None
        if not math.isfinite(v) or abs(v) > lim:
            raise InvalidInput(
                f"{name} must be between -{lim:g} and {lim:g}; got {raw}", field=name
            )
        out.append(v)
    return out[0], out[1]
