"""What a job's raster results say about themselves, written when they are published.

Every raster asset gets ``proj:*``, ``raster:bands`` (data type, unit, no-data, statistics) and
``file:size`` from its file (:func:`gep.io.raster_meta.summarise`), a ``title``, and — a class
mask — ``classification:classes``; every output whose service declared a
:class:`~gep.core.render.RenderHint` gets an entry in the item's ``renders`` (the STAC render
extension), with the range the hint leaves open taken from the data. TiTiler-aware clients
(stac-browser, the QGIS STAC plugin) then draw a result with nothing GEP-specific; the API adds
the ``xyz``/``tilejson`` links of each render when it serves the item (``gep.api.stac_render``).

Runs on the worker while the files are still local (before they are stored), so describing
them reads no bytes over the network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gep.core.media import is_raster
from gep.core.render import RenderHint, RenderKind
from gep.io.raster_meta import BandSample, json_number, summarise

PROJECTION_EXT = "https://stac-extensions.github.io/projection/v1.2.0/schema.json"
RASTER_EXT = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
FILE_EXT = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
#: v1.1.0, not v2.0.0: the release whose schema GEP's offline validation holds (tests/data);
#: its classes need a description, which every GEP class has; ``nodata`` is v2.0.0's flag,
#: an extra member v1.1.0 allows
CLASSIFICATION_EXT = "https://stac-extensions.github.io/classification/v1.1.0/schema.json"
RENDER_EXT = "https://stac-extensions.github.io/render/v2.0.0/schema.json"
WEB_MAP_LINKS_EXT = "https://stac-extensions.github.io/web-map-links/v1.2.0/schema.json"


@dataclass
class Described:
    """What publication adds to the item beside its assets (changed in place)."""

    #: item properties (``renders``)
    properties: dict[str, Any] = field(default_factory=dict)
    #: the ``stac_extensions`` the added fields use
    extensions: list[str] = field(default_factory=list)


def describe_results(
    assets: dict[str, dict[str, Any]],
    files: Mapping[str, Path],
    render_for: Callable[[str], RenderHint | None],
    logger: logging.Logger | None = None,
) -> Described:
    """Add the raster metadata to ``assets`` (in place) and return the item's ``renders``.

    ``files`` maps asset keys to their local files; ``render_for`` is the service's
    declaration (``Process.render_for``). A file that cannot be read is left undescribed
    (logged): its job still publishes."""
    out = Described()
    renders: dict[str, Any] = {}
    exts: set[str] = set()
    for key, asset in assets.items():
        path = files.get(key)
        if path is None or not path.is_file() or not is_raster(asset.get("type"), path.name):
            continue
        try:
            summary = summarise(path)
        except Exception as exc:  # one odd file must not fail the publication
            if logger is not None:
                logger.warning("asset %s: no raster metadata (%s)", key, exc)
            continue
        hint = render_for(key)
        asset.update(summary.fields)
        exts.update((PROJECTION_EXT, RASTER_EXT, FILE_EXT))
        if not asset.get("title"):
            asset["title"] = hint.title if hint is not None else key
        if hint is None:
            continue
        _units(asset, hint)
        if hint.kind is RenderKind.CLASSES:
            asset["classification:classes"] = classification_classes(hint)
            exts.add(CLASSIFICATION_EXT)
        sample = summary.bands[0] if summary.bands else BandSample(None, None, None)
        renders[key] = render_entry(key, hint, sample)
    if renders:
        out.properties["renders"] = renders
        exts.update((RENDER_EXT, WEB_MAP_LINKS_EXT))
    order = (PROJECTION_EXT, RASTER_EXT, FILE_EXT, CLASSIFICATION_EXT, RENDER_EXT)
    out.extensions = [e for e in (*order, WEB_MAP_LINKS_EXT) if e in exts]
    return out


def describe_items(
    items: list[dict[str, Any]],
    local_file: Callable[[str], Path | None],
    render_for: Callable[[str], RenderHint | None],
    logger: logging.Logger | None = None,
) -> None:
    """:func:`describe_results` for the items a service publishes itself (``sbas``'s per-date
    items, a package's STAC catalogue), in place: their raster assets described, their
    ``renders`` and extensions added. ``local_file`` maps an asset href to its local file."""
    for item in items:
        assets = item.get("assets")
        if not isinstance(assets, dict):
            continue
        files = {}
        for key, asset in assets.items():
            local = local_file(str(asset.get("href") or "")) if isinstance(asset, dict) else None
            if local is not None:
                files[str(key)] = local
        described = describe_results(assets, files, render_for, logger)
        if described.properties:
            item["properties"] = {**(item.get("properties") or {}), **described.properties}
        exts = [*(item.get("stac_extensions") or []), *described.extensions]
        item["stac_extensions"] = list(dict.fromkeys(exts))


def _units(asset: dict[str, Any], hint: RenderHint) -> None:
    """A band without a unit in its file gets the declared one."""
    if not hint.unit:
        return
    for band in asset.get("raster:bands") or []:
        band.setdefault("unit", hint.unit)


def classification_classes(hint: RenderHint) -> list[dict[str, Any]]:
    """The classification extension's classes of a class mask (its no-data value included,
    marked ``nodata``)."""
    out: list[dict[str, Any]] = [
        {
            "value": c.value,
            "name": c.name,
            "description": c.description or c.name,
            "color_hint": c.color.removeprefix("#")[:6].upper(),
        }
        for c in hint.classes
    ]
    if hint.nodata is not None and hint.nodata == hint.nodata:  # not NaN
        out.append(
            {"value": int(hint.nodata), "name": "nodata", "description": "no data", "nodata": True}
        )
    return out


def render_entry(key: str, hint: RenderHint, sample: BandSample) -> dict[str, Any]:
    """One render (STAC render extension v2.0.0) of the asset ``key``."""
    entry: dict[str, Any] = {
        "title": f"{hint.title} ({hint.unit})" if hint.unit else hint.title,
        "assets": [key],
    }
    if hint.nodata is not None:
        entry["nodata"] = json_number(hint.nodata)
    entry["resampling"] = str(hint.resampling)
    if hint.kind is RenderKind.CLASSES:
        entry["colormap"] = {str(c.value): list(c.rgba) for c in hint.classes}
        return entry
    rng = hint.range_for(sample.abs_p99, sample.p2, sample.p98)
    if rng is not None:
        entry["rescale"] = [[float(rng[0]), float(rng[1])]]
    if hint.colormap_name:
        entry["colormap_name"] = hint.colormap_name
    return entry
