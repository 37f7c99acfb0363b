"""GEP SLC products: a complex image in radar geometry with the metadata to process it.

A product is a folder ``<id>/`` holding ``slc.tif`` (complex64, tiled and compressed; no map
georeferencing, since it is in radar geometry), optional ``truth.tif`` (what a simulator put
in, one named band per quantity) and ``item.json``, the STAC item the catalogue ingests. The
item carries the whole swath geometry (orbit state vectors included) in
``gep:swath_geometry``, so the services can check a pair — same track, swath and
polarisation, overlap, baseline — from the catalogue alone, before any job starts.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.errors import NotGeoreferencedWarning

from gep.core.errors import InvalidInput
from gep.core.sar import SwathGeometry, swath_geometry_from_json, swath_geometry_to_json

#: the collection of GEP's own SLC products (simulated pairs today)
COLLECTION = "gep-slc"
SLC_MEDIA_TYPE = "image/tiff; application=geotiff"


def _write_tiff(path: Path, bands: list[NDArray[Any]], names: list[str] | None = None) -> None:
    h, w = bands[0].shape
    profile = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": len(bands),
        "dtype": bands[0].dtype.name,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 1,
    }
    with warnings.catch_warnings():
        # radar geometry has no map georeferencing, by design
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        dst = rasterio.open(path, "w", **profile)
    with dst:
        for i, band in enumerate(bands, start=1):
            dst.write(band, i)
            if names:
                dst.set_band_description(i, names[i - 1])


def write_slc_product(
    folder: str | os.PathLike[str],
    item_id: str,
    slc: NDArray[np.complex64],
    geometry: SwathGeometry,
    *,
    footprint: dict[str, Any],
    properties: dict[str, Any] | None = None,
    truth: dict[str, NDArray[np.floating]] | None = None,
) -> dict[str, Any]:
    """Write a product under ``folder/item_id`` and return its STAC item (also in item.json).

    Asset hrefs are absolute ``file://`` URIs: the catalogue stores them as they are and the
    job engine stages them from there.
    """
    if slc.shape != (geometry.lines, geometry.samples):
        raise InvalidInput(
            f"the SLC is {slc.shape} but its geometry says {(geometry.lines, geometry.samples)}"
        )
    root = Path(folder) / item_id
    root.mkdir(parents=True, exist_ok=True)
    _write_tiff(root / "slc.tif", [np.ascontiguousarray(slc, dtype=np.complex64)])
    assets: dict[str, Any] = {
        "slc": {
            "href": (root / "slc.tif").resolve().as_uri(),
            "type": SLC_MEDIA_TYPE,
            "roles": ["data"],
            "title": f"SLC {geometry.swath} {geometry.polarisation} (complex64, radar geometry)",
        }
    }
    if truth:
        names = sorted(truth)
        _write_tiff(root / "truth.tif", [np.asarray(truth[n], "float32") for n in names], names)
        assets["truth"] = {
            "href": (root / "truth.tif").resolve().as_uri(),
            "type": SLC_MEDIA_TYPE,
            "roles": ["metadata"],
            "title": "Simulation truth: " + ", ".join(names),
        }
    ring = footprint["coordinates"][0]
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    t = np.asarray(geometry.first_line_time, dtype="datetime64[us]")
    props: dict[str, Any] = {
        "datetime": str(np.datetime_as_string(t, unit="us")) + "Z",
        "platform": {"S1A": "sentinel-1a", "S1B": "sentinel-1b", "S1C": "sentinel-1c"}.get(
            geometry.mission, geometry.mission.lower()
        ),
        "constellation": "sentinel-1",
        "instruments": ["c-sar"],
        "sar:instrument_mode": "IW" if geometry.swath.startswith("IW") else geometry.swath,
        "sar:frequency_band": "C",
        "sar:center_frequency": 5.405,
        "sar:polarizations": [geometry.polarisation],
        "sar:product_type": "SLC",
        "sar:observation_direction": "right",
        "sat:orbit_state": geometry.pass_direction,
        "sat:relative_orbit": geometry.relative_orbit,
        "gep:swath": geometry.swath,
        "gep:swath_geometry": swath_geometry_to_json(geometry),
        **(properties or {}),
    }
    item = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
            "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
        ],
        "id": item_id,
        "collection": COLLECTION,
        "geometry": footprint,
        "bbox": [min(lons), min(lats), max(lons), max(lats)],
        "properties": props,
        "links": [],
        "assets": assets,
    }
    (root / "item.json").write_text(json.dumps(item, indent=1))
    return item


def geometry_of(item: dict[str, Any]) -> SwathGeometry:
    """The swath geometry stored in a GEP SLC item; a clear error for any other item."""
    props = item.get("properties") or {}
    data = props.get("gep:swath_geometry")
    if not isinstance(data, dict):
        raise InvalidInput(
            f"item '{item.get('id')}' is not a GEP SLC product (no gep:swath_geometry); "
            f"use items of the '{COLLECTION}' collection"
        )
    try:
        return swath_geometry_from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(
            f"item '{item.get('id')}': unreadable gep:swath_geometry ({exc})"
        ) from exc


def read_slc(
    path: str | os.PathLike[str],
    geometry: SwathGeometry | None = None,
    window: tuple[int, int, int, int] | None = None,
) -> NDArray[np.complex64]:
    """The complex image of a product's ``slc`` asset, checked against its geometry.

    ``window`` = (first line, first sample, lines, samples) reads only that part: a service
    working on an area of interest need not load a whole burst.
    """
    from rasterio.windows import Window

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        src = rasterio.open(path)
    with src:
        if src.dtypes[0] not in ("complex64", "complex_int16", "complex128"):
            raise InvalidInput(f"{os.fspath(path)!r} is not a complex SLC raster ({src.dtypes[0]})")
        if geometry is not None and (src.height, src.width) != (geometry.lines, geometry.samples):
            raise InvalidInput(
                f"{os.fspath(path)!r} is {(src.height, src.width)}; its geometry says "
                f"{(geometry.lines, geometry.samples)}"
            )
        if window is None:
            return src.read(1).astype(np.complex64)
        l0, s0, lines, samples = window
        return src.read(1, window=Window(s0, l0, samples, lines)).astype(np.complex64)


def read_truth(path: str | os.PathLike[str]) -> dict[str, NDArray[np.float32]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        src = rasterio.open(path)
    with src:
        return {src.descriptions[i] or f"band{i + 1}": src.read(i + 1) for i in range(src.count)}
