"""A Sentinel-1 SAFE product (a ``.SAFE`` folder or a SAFE zip) as a STAC item.

One crosswalk for every way a SAFE reaches the catalogue — the SAFE-folder harvester and a
user's upload — so that both catalogue the same product with the same ``sar:*``/``sat:*``
properties, footprint and times. The product is read with :mod:`gep.io.sentinel1`: the manifest
always, the annotation orbit when an annotation is present.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shapely.geometry import mapping

from gep.core.sar import state_vectors_to_json
from gep.core.timeutil import format_rfc3339
from gep.io.sentinel1 import product_summary

STAC_EXTENSIONS = [
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
]
ZIP = "application/zip"
SAFE_FOLDER = "application/x-safe"


def safe_item(path: Path, href: str | None = None) -> dict[str, Any]:
    """The STAC item of a SAFE product, its one asset ``product`` pointing at ``href`` (the
    product's own file URL when None).

    Raises ValueError when the manifest has no footprint, and the reader's ``InvalidInput``
    when the product is not a readable Sentinel-1 SAFE.
    """
    s = product_summary(path)
    a = s.attrs
    if s.footprint is None:
        raise ValueError("the manifest has no footprint")
    start = datetime.fromisoformat(a["start_time"]).replace(tzinfo=UTC)
    stop = datetime.fromisoformat(a["stop_time"]).replace(tzinfo=UTC)
    props: dict[str, Any] = {
        "datetime": format_rfc3339(start),
        "start_datetime": format_rfc3339(start),
        "end_datetime": format_rfc3339(stop),
        "platform": f"sentinel-1{a['number'].lower()}",
        "constellation": "sentinel-1",
        "instruments": ["c-sar"],
        "sar:instrument_mode": a["mode"],
        "sar:frequency_band": "C",
        "sar:center_frequency": 5.405,
        "sar:polarizations": list(a.get("transmitter_receiver_polarisations") or []),
        "sar:product_type": a["product_type"],
        "sat:orbit_state": str(a["pass"]).lower(),
        "sat:absolute_orbit": int(a["orbit_number"]),
        "sat:relative_orbit": int(a["relative_orbit_number"]),
    }
    if a.get("ascending_node_time"):
        anx = datetime.fromisoformat(a["ascending_node_time"]).replace(tzinfo=UTC)
        props["sat:anx_datetime"] = format_rfc3339(anx)
    if a.get("mission_data_take_id") is not None:
        props["s1:datatake_id"] = str(a["mission_data_take_id"])
    if s.swaths:
        props["s1:swaths"] = sorted({sw for sw, _ in s.swaths})
    if s.orbit is not None:
        props["gep:state_vectors"] = state_vectors_to_json(s.orbit)
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": list(STAC_EXTENSIONS),
        "id": s.name,
        "geometry": mapping(s.footprint),
        "bbox": list(s.footprint.bounds),
        "properties": props,
        "assets": {
            "product": {
                "href": href or path.resolve().as_uri(),
                "type": ZIP if path.suffix.lower() == ".zip" else SAFE_FOLDER,
                "roles": ["data"],
                "title": "SAFE product",
            }
        },
        "links": [],
    }
