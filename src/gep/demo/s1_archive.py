"""A Sentinel-1 archive over named areas, with orbits, for systematic-production tests and
benchmarks: ``areas`` places along one latitude band, each seen by one track, one acquisition
every ``step_days`` for ``days`` days (6 for S1A+S1B, 12 for one satellite).

Each area's orbit is the real Rome IW1 product's orbit (the demo's SAFE template), displaced
by a random perpendicular/parallel baseline per date (``baseline_orbit``) and turned about the
Earth's axis by the area's longitude offset; footprint and orbit turn together, so the pair search's
geometry (the zero-Doppler solution at the footprint's centre) holds at every area.
Deterministic in ``seed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from shapely.affinity import translate
from shapely.geometry import box, mapping

from gep.algorithms.sar.geometry import radar_times, rdr2geo
from gep.algorithms.simulate.scene import baseline_orbit
from gep.core.sar import StateVectors, state_vectors_to_json
from gep.demo.sentinel1 import TEMPLATE
from gep.io.sentinel1 import open_swath

SAFE = TEMPLATE
COLLECTION = "s1-archive"


@dataclass(frozen=True)
class Area:
    name: str
    #: the area (a 0.1° box) and the frames' footprint around it
    geometry: dict[str, Any]
    lon_offset: float


def _turn(sv: StateVectors, degrees: float) -> StateVectors:
    a = math.radians(degrees)
    rot = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0, 0, 1]])
    return StateVectors(sv.time, sv.position @ rot.T, sv.velocity @ rot.T)


def archive(
    areas: int,
    days: float,
    step_days: float = 6.0,
    *,
    seed: int = 0,
    start_index: int = 0,
    collection: str = COLLECTION,
    spacing_deg: float = 1.5,
    bperp_sigma: float = 80.0,
) -> tuple[list[dict[str, Any]], list[Area]]:
    """Items (time-ordered within each area) and the areas; ``start_index`` skips the first
    dates (to make "new" acquisitions after an archive)."""
    geom = open_swath(SAFE, "IW1", "VV")
    t = float(radar_times(geom, 6000))
    lat, lon, _, x = rdr2geo(
        np.array([t]), np.array([float(geom.slant_range(10000))]), geom.orbit, 0.0
    )
    centre = box(
        float(lon[0]) - 0.05, float(lat[0]) - 0.05, float(lon[0]) + 0.05, float(lat[0]) + 0.05
    )
    frame = centre.buffer(0.3, join_style="mitre")  # a quadrilateral, like a real frame
    i = int(np.searchsorted((geom.orbit.time - geom.orbit.time[0]) / np.timedelta64(1, "s"), t))
    rng = np.random.default_rng(seed)
    n_dates = int(days // step_days) + 1
    # one displaced orbit per date, shared by the areas (turned to each): baseline_orbit is
    # the costly step, and every area still gets its own baseline history by a shift of dates
    pool = []
    for _ in range(n_dates + areas):
        sec = baseline_orbit(
            geom.orbit, x[0], t, float(rng.normal(0, bperp_sigma)), float(rng.normal(0, 30)), 0.0
        )
        pool.append(sec)
    items: list[dict[str, Any]] = []
    out_areas: list[Area] = []
    day_s = np.timedelta64(86_400_000_000, "us")
    for a in range(areas):
        offset = a * spacing_deg
        out_areas.append(Area(f"area-{a:02d}", mapping(translate(centre, offset)), offset))
        footprint = translate(frame, offset)
        for k in range(start_index, n_dates):
            sec = pool[k + a]
            shift = (day_s * round(step_days * 1e6) // 1_000_000) * k
            times = sec.time[i - 1 : i + 1] + shift
            sv = _turn(
                StateVectors(times, sec.position[i - 1 : i + 1], sec.velocity[i - 1 : i + 1]),
                offset,
            )
            when = np.datetime_as_string(times[0], unit="s") + "Z"
            items.append(
                {
                    "type": "Feature",
                    "stac_version": "1.1.0",
                    "id": f"S1_A{a:02d}_{when[:10].replace('-', '')}",
                    "collection": collection,
                    "geometry": mapping(footprint),
                    "bbox": list(footprint.bounds),
                    "properties": {
                        "datetime": when,
                        "constellation": "sentinel-1",
                        "platform": "sentinel-1a" if k % 2 == 0 else "sentinel-1b",
                        "sat:relative_orbit": 117,
                        "sat:orbit_state": "ascending",
                        "sar:instrument_mode": "IW",
                        "sar:polarizations": ["VV"],
                        "sar:product_type": "SLC",
                        "gep:state_vectors": state_vectors_to_json(sv),
                    },
                    "links": [],
                    "assets": {},
                }
            )
    return items, out_areas
