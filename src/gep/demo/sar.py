"""The simulated SAR pairs (and DEMs) that ``gep demo seed`` adds to the catalogue.

Two pairs with a known truth, both in the geometry of a real Sentinel-1A annotation
(ascending track 117, IW1 VV timing and orbit; the range window is moved east over each area):

* **Colli Albani** (the volcano south-east of Rome): a Mogi source 3 km deep giving 5 cm of
  uplift, over a synthetic volcano-shaped DEM (the real DEM of the area is not bundled);
* **Rome**: an Mw 5.8 thrust (Okada, 8 × 6 km, 0.5 m of slip, centroid 5 km deep) under the
  real 30 m DEM of Rome.

Each pair also has a turbulent troposphere (5 mm), coherence 0.3–0.95 and a sub-pixel
misregistration. Products are written once and reused (the generation is deterministic).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gep.algorithms.sar.geometry import Dem, radar_times, rdr2geo
from gep.algorithms.simulate.scene import (
    MogiSource,
    OkadaSource,
    Source,
    simulate_pair,
    window_around,
)
from gep.core.sar import SwathGeometry, swath_geometry_from_json
from gep.io.dem import read_dem
from gep.io.slc_product import COLLECTION as SLC_COLLECTION
from gep.io.slc_product import write_slc_product

DATA = Path(__file__).parent / "data"
GEOMETRY_FILE = DATA / "s1a_20220104_rel117_iw1_vv_geometry.json"
ROME_DEM = DATA / "Rome-30m-DEM.tif"
DEM_COLLECTION = "gep-dem"


@dataclass(frozen=True)
class DemoPair:
    name: str
    title: str
    lat: float
    lon: float
    lines: int
    samples: int
    source: Source
    dem: str  # "rome" or "colli-albani"
    seed: int


PAIRS = (
    DemoPair(
        "colli-albani-mogi", "Colli Albani: simulated 5 cm volcanic uplift (Mogi, 3 km deep)",
        41.73, 12.70, 768, 1536, MogiSource(41.73, 12.70, 3000.0, 1.885e6), "colli-albani", 11,
    ),
    DemoPair(
        "rome-okada-thrust", "Rome: simulated Mw 5.8 thrust (Okada, 8 × 6 km, 0.5 m slip)",
        42.0, 12.5, 640, 1536,
        OkadaSource(42.0, 12.5, 5000.0, strike=140.0, dip=40.0, length=8000.0, width=6000.0,
                    rake=90.0, slip=0.5), "rome", 12,
    ),
)  # fmt: skip


def demo_geometry() -> SwathGeometry:
    return swath_geometry_from_json(json.loads(GEOMETRY_FILE.read_text()))


def colli_albani_dem() -> Dem:
    """A volcano-shaped DEM (a Gaussian edifice rising to ~950 m) centred on Colli Albani."""
    lat = 41.86 - np.arange(0, 0.26, 1 / 3600)
    lon = 12.55 + np.arange(0, 0.30, 1 / 3600)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    r2 = ((la - 41.73) * 111.2) ** 2 + ((lo - 12.70) * 111.2 * np.cos(np.radians(41.73))) ** 2
    heights = 120.0 + 830.0 * np.exp(-r2 / (2 * 4.5**2))
    return Dem(heights, float(lat[0]), float(lon[0]), -1 / 3600, 1 / 3600)


def _dem_item(
    dem_id: str, title: str, path: Path, bounds: tuple[float, float, float, float], synthetic: bool
) -> dict[str, Any]:
    w, s, e, n = bounds
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": dem_id,
        "collection": DEM_COLLECTION,
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "bbox": [w, s, e, n],
        "properties": {
            "datetime": "2022-01-01T00:00:00Z",
            "title": title,
            "gep:simulated": synthetic,
        },
        "links": [],
        "assets": {
            "dem": {
                "href": path.resolve().as_uri(),
                "type": "image/tiff; application=geotiff",
                "roles": ["data"],
                "title": "Heights (m)",
            }
        },
    }


def _write_dem_tiff(path: Path, dem: Dem) -> None:
    import rasterio
    from rasterio.transform import from_origin

    h, w = dem.heights.shape
    origin = (dem.lon0 - dem.dlon / 2, dem.lat0 - dem.dlat / 2)
    with rasterio.open(
        path, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32", crs="EPSG:4326",
        transform=from_origin(*origin, dem.dlon, -dem.dlat),
        compress="deflate", tiled=True,
    ) as dst:  # fmt: skip
        dst.write(dem.heights.astype("float32"), 1)


def collections() -> list[dict[str, Any]]:
    base = {"type": "Collection", "stac_version": "1.1.0", "license": "other", "links": []}
    return [
        {
            **base,
            "id": SLC_COLLECTION,
            "title": "GEP SLC products",
            "description": "Sentinel-1-like SLC products in radar geometry, with their orbit "
            "and timing (gep:swath_geometry); the demo's pairs are simulated with a known truth.",
            "extent": {
                "spatial": {"bbox": [[-180, -90, 180, 90]]},
                "temporal": {"interval": [[None, None]]},
            },
        },
        {
            **base,
            "id": DEM_COLLECTION,
            "title": "Digital elevation models",
            "description": "DEMs for the SAR services (asset 'dem', geographic GeoTIFF).",
            "extent": {
                "spatial": {"bbox": [[-180, -90, 180, 90]]},
                "temporal": {"interval": [[None, None]]},
            },
        },
    ]


def build_demo(
    out: Path, *, pairs: tuple[DemoPair, ...] = PAIRS, log: Any = print
) -> list[dict[str, Any]]:
    """Write (or reuse) the demo products under ``out``; return their STAC items."""
    out.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    rome_path = out / "dem" / "rome-dem-30m.tif"
    rome_path.parent.mkdir(parents=True, exist_ok=True)
    if not rome_path.exists():
        shutil.copyfile(ROME_DEM, rome_path)
    raster = read_dem(rome_path)
    rome = Dem(raster.heights, raster.lat0, raster.lon0, raster.dlat, raster.dlon)
    items.append(
        _dem_item("rome-dem-30m", "Rome, 30 m DEM (EGM96 heights)", rome_path, raster.bounds, False)
    )
    albani = colli_albani_dem()
    albani_path = out / "dem" / "colli-albani-synthetic-dem.tif"
    if not albani_path.exists():
        _write_dem_tiff(albani_path, albani)
    items.append(
        _dem_item(
            "colli-albani-synthetic-dem",
            "Colli Albani, synthetic volcano DEM",
            albani_path,
            albani.bounds,
            True,
        )
    )
    dems = {"rome": rome, "colli-albani": albani}
    geometry = demo_geometry()
    for pair in pairs:
        ids = (f"SIM_S1A_IW1_VV_20220104_{pair.name}", f"SIM_S1A_IW1_VV_20220116_{pair.name}")
        cached = [out / "slc" / i / "item.json" for i in ids]
        if all(c.exists() for c in cached):
            items += [json.loads(c.read_text()) for c in cached]
            continue
        log(f"simulating the {pair.name} pair ({pair.lines} × {pair.samples} pixels)")
        dem = dems[pair.dem]
        h = float(dem.height_at(np.array([pair.lat]), np.array([pair.lon]))[0])
        l0, s0 = window_around(geometry, pair.lat, pair.lon, h, pair.lines, pair.samples)
        sim = simulate_pair(
            geometry,
            dem,
            window=(l0, s0, pair.lines, pair.samples),
            source=pair.source,
            seed=pair.seed,
        )
        for k, (item_id, slc, geom) in enumerate(
            (
                (ids[0], sim.reference, sim.reference_geometry),
                (ids[1], sim.secondary, sim.secondary_geometry),
            )
        ):
            props = {
                "title": pair.title + (" (reference)" if k == 0 else " (secondary)"),
                "gep:simulated": True,
                "gep:simulation": {
                    "source": {"type": type(pair.source).__name__, **pair.source.__dict__},
                    "perpendicular_baseline_m": round(sim.perpendicular_baseline, 3),
                    "misregistration_px": list(sim.misregistration),
                    "atmosphere_rms_m": 0.005,
                    "coherence_range": [0.3, 0.95],
                    "dem": pair.dem,
                },
            }
            items.append(
                write_slc_product(
                    out / "slc", item_id, slc, geom, footprint=_footprint(geom, dem),
                    properties=props, truth=sim.truth if k == 0 else None,
                )
            )  # fmt: skip
    return items


def _footprint(geom: SwathGeometry, dem: Dem | float) -> dict[str, Any]:
    lines, samples = geom.lines, geom.samples
    corners_l = np.array([0, 0, lines - 1, lines - 1], dtype="float64")
    corners_s = np.array([0, samples - 1, samples - 1, 0], dtype="float64")
    lat, lon, _, _ = rdr2geo(
        radar_times(geom, corners_l), geom.slant_range(corners_s), geom.orbit, dem
    )
    ring = [[round(float(x), 6), round(float(y), 6)] for x, y in zip(lon, lat, strict=True)]
    from shapely.geometry import Polygon, mapping
    from shapely.geometry.polygon import orient

    return dict(mapping(orient(Polygon(ring), 1.0)))
