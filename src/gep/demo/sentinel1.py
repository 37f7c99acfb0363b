"""A Sentinel-1 IW SLC pair over the 2016 Amatrice earthquake, written as ESA distributes it.

``gep demo seed`` catalogues this pair as ordinary ``sentinel-1-slc`` items whose assets are
SAFE zips, so the whole real-product path — the SAFE reader, burst selection by area, TOPS
deramping, ESD, debursting, geocoding — runs on it, and the truth is known:

* the bursts are those of a real annotation (S1A, ascending track 117, IW1 VV, 2022-01-04:
  timing, orbit, steering rate, FM rate and Doppler centroid), moved back 164 repeat cycles to
  2016-08-15 (the secondary 2016-08-27, either side of the earthquake); as the older demo
  pairs do, the range window is moved east over the area — IW1's timing with its annotation
  polynomials evaluated farther in range, since the bundled annotation is IW1's only;
* the deformation is a uniform-slip normal fault approximating the published InSAR/GPS models
  of the 24 August 2016 Mw 6.0 Amatrice earthquake (NNW–SSE strike, ~45° SW dip, 18 × 10 km,
  0.35 m of slip: M0 ≈ 1.9e18 N·m), which gives the ~10–15 cm of subsidence near Accumoli that
  Sentinel-1 saw;
* terrain is a flat 1 000 m plane (the real DEM of the area is not bundled; its DEM item says
  so), the troposphere 3 mm, coherence 0.5–0.95, a 0.37-line burst-synchronisation error and a
  0.0123 × −0.23 pixel misregistration for the chain to find.

Products are written once and reused (the generation is deterministic).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from gep.algorithms.sar.geometry import Dem, geolocation, lonlat_to_radar
from gep.algorithms.simulate.scene import REPEAT_DAYS, OkadaSource
from gep.algorithms.simulate.tops import crop_bursts, secondary_bursts, simulate_tops_pair
from gep.io.safe_writer import SafeSwath, write_safe
from gep.io.sentinel1_bursts import tops_bursts
from gep.io.sentinel1_stac import safe_item

DATA = Path(__file__).parent / "data"
TEMPLATE = (
    DATA
    / "s1-template"
    / "S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"
)
S1_COLLECTION = "sentinel-1-slc"
#: digital numbers = simulated amplitude × SCALE (real IW SLCs hold a few hundred)
SCALE = 200.0


@dataclass(frozen=True)
class TopsDemo:
    name: str
    title: str
    lat: float  # where the window is centred
    lon: float
    bursts: int
    samples: int
    height: float  # m, the flat terrain
    source: OkadaSource
    seed: int
    #: whole repeat cycles (12 days) from the template's date to the reference's
    cycles: int


AMATRICE = TopsDemo(
    name="amatrice-2016",
    title="Amatrice 2016 Mw 6.0 earthquake (simulated Sentinel-1 IW pair)",
    lat=42.74,
    lon=13.25,
    bursts=2,
    samples=4000,
    height=1000.0,
    source=OkadaSource(
        lat=42.72, lon=13.22, depth=5000.0, strike=160.0, dip=45.0, length=18000.0,
        width=10000.0, rake=-90.0, slip=0.35,
    ),
    seed=24,
    cycles=-164,  # 2016-08-15 and 2016-08-27, either side of the 24 August 2016 earthquake
)  # fmt: skip


def _bursts_over(demo: TopsDemo) -> list[Any]:
    """The demo's bursts: the ones seeing its centre, its range window moved over it."""
    bursts = tops_bursts(TEMPLATE, "IW1", "VV")
    lines = []
    for b in bursts:
        line, sample = lonlat_to_radar(
            b.geometry, np.array([demo.lat]), np.array([demo.lon]), demo.height
        )
        lines.append((abs(float(line[0]) - b.geometry.lines / 2), b.index, float(sample[0])))
    _, centre, at_sample = min(lines)
    first = max(0, min(centre - demo.bursts // 2, len(bursts) - demo.bursts))
    sample0 = round(at_sample - demo.samples / 2)
    edge = 32  # samples zero-filled at each side, as ESA's bursts have
    cropped = crop_bursts(
        bursts, first, demo.bursts, sample0, demo.samples,
        valid_samples=(edge, demo.samples - 1 - edge),
    )  # fmt: skip
    # moved by whole repeat cycles: the orbit repeats in Earth-fixed coordinates
    orbit = cropped[0].geometry.orbit
    days = REPEAT_DAYS * demo.cycles
    moved = replace(orbit, time=orbit.time + np.timedelta64(round(days * 86400), "s"))
    return secondary_bursts(cropped, moved, days, 0.0)


def _days(days: float) -> np.timedelta64:
    return np.timedelta64(round(days * 86400), "s")


def _dem_item(demo: TopsDemo, folder: Path) -> dict[str, Any]:
    """A flat DEM at the simulated terrain height, so dinsar flattens what was simulated."""
    from gep.demo.sar import _dem_item as dem_item
    from gep.demo.sar import _write_dem_tiff

    step = 1 / 1200
    lat = demo.lat + 0.35 - np.arange(0, 0.7, step)
    lon = demo.lon - 0.45 + np.arange(0, 0.9, step)
    dem = Dem(np.full((len(lat), len(lon)), demo.height), float(lat[0]), float(lon[0]), -step, step)
    path = folder / f"{demo.name}-flat-dem.tif"
    if not path.exists():
        _write_dem_tiff(path, dem)
    title = f"{demo.title}: flat {demo.height:.0f} m terrain (ellipsoidal heights)"
    item = dem_item(f"{demo.name}-flat-dem", title, path, dem.bounds, True)
    item["properties"]["datetime"] = "2016-08-01T00:00:00Z"
    item["assets"]["dem"]["title"] = "Heights (m above the ellipsoid)"
    return item


def build_tops_demo(
    out: Path, *, demo: TopsDemo = AMATRICE, log: Any = print
) -> list[dict[str, Any]]:
    """Write (or reuse) the pair's two SAFE zips and a DEM under ``out``; return their items:
    the reference, the secondary (``sentinel-1-slc``) and the DEM (``gep-dem``)."""
    folder = out / "s1"
    folder.mkdir(parents=True, exist_ok=True)
    cache = folder / f"{demo.name}.json"
    if cache.exists():
        names = json.loads(cache.read_text())
        zips = [folder / n for n in names]
        if all(z.exists() for z in zips):
            return [*(_item(z, demo, k) for k, z in enumerate(zips)), _dem_item(demo, folder)]
    ref = _bursts_over(demo)
    log(
        f"simulating the {demo.name} Sentinel-1 pair ({demo.bursts} bursts x "
        f"{ref[0].geometry.lines} x {demo.samples} pixels)"
    )
    sim = simulate_tops_pair(ref, demo.height, source=demo.source, geometry_step=4, seed=demo.seed)
    zips = [
        write_safe(
            TEMPLATE, folder, [SafeSwath("IW1", "VV", sim.reference, sim.reference_data)],
            orbit=ref[0].geometry.orbit, time_shift=_days(REPEAT_DAYS * demo.cycles),
            geolocate=geolocation(demo.height), scale=SCALE, as_zip=True,
        ),
        write_safe(
            TEMPLATE, folder, [SafeSwath("IW1", "VV", sim.secondary, sim.secondary_data)],
            orbit=sim.secondary_orbit, time_shift=_days(REPEAT_DAYS * (demo.cycles + 1)),
            geolocate=geolocation(demo.height), scale=SCALE, as_zip=True,
        ),
    ]  # fmt: skip
    cache.write_text(json.dumps([z.name for z in zips]))
    return [*(_item(z, demo, k) for k, z in enumerate(zips)), _dem_item(demo, folder)]


def _item(path: Path, demo: TopsDemo, k: int) -> dict[str, Any]:
    item = safe_item(path)
    item["collection"] = S1_COLLECTION
    item["properties"]["title"] = demo.title + (" (reference)" if k == 0 else " (secondary)")
    item["properties"]["gep:simulated"] = True
    item["properties"]["gep:simulation"] = {
        "source": {"type": "OkadaSource", **demo.source.__dict__},
        "terrain_height_m": demo.height,
        "template": TEMPLATE.name,
    }
    return item
