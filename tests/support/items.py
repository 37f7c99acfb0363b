"""Small builders for STAC items used across the catalogue tests."""

from __future__ import annotations

from typing import Any


def square(x: float, y: float, size: float = 1.0) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]],
    }


def make_item(
    item_id: str, geometry: dict[str, Any] | None, when: str, collection: str = "s1", **props: Any
) -> dict[str, Any]:
    properties: dict[str, Any] = {"datetime": when, **props}
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": item_id,
        "collection": collection,
        "geometry": geometry,
        "properties": properties,
        "assets": {},
        "links": [],
    }
