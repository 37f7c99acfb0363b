"""STAC items over the optical rasters of ``tests/data`` (a Landsat-8 scene's GeoTIFF bands, a
Sentinel-2 scene's JPEG 2000 bands), for ``bench/quicklook.py``.

The one copy: ``tests/support/quicklook_items.py`` imports these builders from here, since
the benchmarks import nothing from ``tests`` (they read its data files, which are data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
OPTICAL = DATA / "optical"
L8 = OPTICAL / "landsat8"
L8_BAND = "LC08_L1TP_016037_20170813_20170814_01_RT_B{}.TIF"
S2 = OPTICAL / "sentinel2"


def item(item_id: str, assets: dict[str, dict[str, Any]], **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": item_id,
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[12, 41], [13, 41], [13, 42], [12, 42], [12, 41]]],
        },
        "bbox": [12, 41, 13, 42],
        "properties": {"datetime": "2017-08-13T15:00:00Z", **props},
        "assets": assets,
        "links": [],
    }


def tif_asset(path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "href": path.resolve().as_uri(),
        "type": "image/tiff; application=geotiff",
        "roles": ["data"],
        **extra,
    }


def landsat8_item(folder: Path = L8, item_id: str = "LC08_016037_20170813") -> dict[str, Any]:
    """Bands named as USGS names them (B2..B4), found by the Landsat 8 band numbers."""
    assets = {f"B{n}": tif_asset(folder / L8_BAND.format(n)) for n in (2, 3, 4)}
    return item(item_id, assets, platform="landsat-8", instruments=["oli", "tirs"])


def sentinel2_item(item_id: str = "S2A_19UDP_20170729") -> dict[str, Any]:
    """JPEG 2000 bands described by eo:bands common names (plain paths, not URLs)."""
    assets = {
        key: {
            "href": str((S2 / f"{key}.jp2").resolve()),
            "type": "image/jp2",
            "roles": ["data"],
            "eo:bands": [{"name": key, "common_name": name}],
        }
        for key, name in (("B02", "blue"), ("B03", "green"), ("B04", "red"))
    }
    return item(item_id, assets, platform="sentinel-2a", constellation="sentinel-2")
