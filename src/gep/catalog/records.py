"""Turning a STAC Item (dict) into the row both backends store.

Everything derived for indexing (time bounds in UTC microseconds, bbox, WKB geometry, the
property types that feed the queryables) is computed once here, in Python, so the SQLite and the
PostGIS backends store exactly the same values and cannot disagree on a search.

A collection's validation (:func:`validate_collection`) lives here too: it is the other record
the store writes, and both the store's collection methods and its batch writes (which create
missing collections) need it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
import shapely
from shapely.geometry.base import BaseGeometry

from gep.catalog.retention import RETENTION_FIELD, parse_retention
from gep.core.errors import InvalidInput
from gep.core.geometry import parse_geojson_geometry
from gep.core.ids import check_id
from gep.core.timeutil import parse_instant, to_micros

#: links the API writes itself on the way out; stored copies would go stale
GENERATED_LINK_RELS = {"self", "root", "parent", "collection", "items"}

_ISO_DT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")

#: text fields that the free-text search (``q``) looks in
TEXT_FIELDS = ("title", "description", "keywords")


@dataclass(slots=True)
class ItemRow:
    collection: str
    id: str
    datetime: int
    end_datetime: int
    bbox: tuple[float, float, float, float] | None
    geometry: BaseGeometry | None
    properties: dict[str, Any]
    content: bytes
    text: str
    #: the geometry as WKB, computed once (vectorised for batches) for both backends
    wkb: bytes | None = None

    @property
    def properties_json(self) -> str:
        return orjson.dumps(self.properties).decode()


def json_type(value: Any) -> str:
    """The JSON Schema type of a property value, as the queryables advertise it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "datetime" if _ISO_DT.match(value) else "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


_UNSET: Any = object()


def item_to_row(
    item: Any,
    collection: str | None = None,
    where: str = "item",
    geometry: Any = _UNSET,
    prepared: tuple[bytes | None, tuple[float, float, float, float] | None] | None = None,
) -> ItemRow:
    """Validate a STAC Item and derive its stored row; raises InvalidInput naming the field.

    ``geometry`` may be given already parsed and checked (see :func:`batch_geometries`).
    """
    if not isinstance(item, dict):
        raise InvalidInput(f"{where} must be a JSON object (a STAC Item)", field=where)
    if item.get("type") != "Feature":
        raise InvalidInput(f"{where}.type must be 'Feature' for a STAC Item", field=f"{where}.type")
    item_id = check_id(item.get("id"), f"{where}.id", f"{where}.id")
    coll = item.get("collection")
    if collection is not None:
        if coll not in (None, collection):
            raise InvalidInput(
                f"{where}.collection is '{coll}' but the item is being written to '{collection}'",
                field=f"{where}.collection",
            )
        coll = collection
    if not isinstance(coll, str) or not coll:
        raise InvalidInput(
            f"{where}.collection is missing: say which collection the item belongs to",
            field=f"{where}.collection",
        )
    props = item.get("properties")
    if not isinstance(props, dict):
        raise InvalidInput(f"{where}.properties must be an object", field=f"{where}.properties")
    dt = props.get("datetime")
    start = props.get("start_datetime")
    end = props.get("end_datetime")
    if dt is None and (start is None or end is None):
        raise InvalidInput(
            f"{where}.properties.datetime is required (or both start_datetime and end_datetime)",
            field=f"{where}.properties.datetime",
        )
    # the searchable span is [start_datetime, end_datetime] when an item has one (STAC API
    # item-search semantics), its datetime otherwise
    if start is not None and end is not None:
        t0 = to_micros(parse_instant(str(start), f"{where}.properties.start_datetime"))
        t1 = to_micros(parse_instant(str(end), f"{where}.properties.end_datetime"))
        if dt is not None:
            parse_instant(str(dt), f"{where}.properties.datetime")
    else:
        t0 = t1 = to_micros(parse_instant(str(dt), f"{where}.properties.datetime"))
    if t1 < t0:
        raise InvalidInput(
            f"{where}.properties.end_datetime is before start_datetime",
            field=f"{where}.properties.end_datetime",
        )
    geom_json = item.get("geometry")
    bbox: tuple[float, float, float, float] | None = None
    if geometry is _UNSET:
        geometry = (
            None if geom_json is None else parse_geojson_geometry(geom_json, f"{where}.geometry")
        )
    wkb: bytes | None = None
    if prepared is not None:
        wkb, bbox = prepared
    elif geometry is not None:
        minx, miny, maxx, maxy = geometry.bounds
        bbox = (minx, miny, maxx, maxy)
        wkb = shapely.to_wkb(geometry)
    if item.get("bbox") is None and geometry is not None:
        item = {**item, "bbox": list(bbox)} if bbox else item
    links = item.get("links") or []
    if not isinstance(links, list):
        raise InvalidInput(f"{where}.links must be a list", field=f"{where}.links")
    kept_links = [
        ln for ln in links if isinstance(ln, dict) and ln.get("rel") not in GENERATED_LINK_RELS
    ]
    stored = {k: v for k, v in item.items() if k != "links"}
    stored["collection"] = coll
    stored.setdefault("stac_version", "1.1.0")
    stored.setdefault("stac_extensions", [])
    stored.setdefault("assets", {})
    stored["links"] = kept_links
    text_parts: list[str] = []
    for key in TEXT_FIELDS:
        val = props.get(key)
        if isinstance(val, str):
            text_parts.append(val)
        elif isinstance(val, list):
            text_parts.extend(str(v) for v in val)
    return ItemRow(
        collection=coll,
        id=item_id,
        datetime=t0,
        end_datetime=t1,
        bbox=bbox,
        geometry=geometry,
        properties=props,
        content=orjson.dumps(stored),
        text=" ".join(text_parts),
        wkb=wkb,
    )


def batch_geometries(
    items: list[Any],
) -> list[tuple[Any, tuple[bytes | None, tuple[float, float, float, float] | None]]] | None:
    """Parse and check a batch's geometries in one vectorised pass (GEOS, no Python loop).

    Returns, per item, the geometry and its (WKB, bounds); None when any geometry is malformed,
    invalid or out of range: the caller then parses item by item, which names the item and the
    reason.
    """
    texts = []
    for it in items:
        g = it.get("geometry") if isinstance(it, dict) else None
        texts.append(None if g is None else orjson.dumps(g))
    try:
        geoms = shapely.from_geojson(texts, on_invalid="raise")
    except Exception:
        return None
    present = ~shapely.is_missing(geoms)
    if not bool(shapely.is_valid(geoms[present]).all()):
        return None
    bounds = shapely.bounds(geoms)
    pb = bounds[present]
    if pb.size and (
        pb[:, 0].min() < -180 or pb[:, 2].max() > 180 or pb[:, 1].min() < -90 or pb[:, 3].max() > 90
    ):
        return None
    if bool(shapely.is_empty(geoms[present]).any()):
        return None
    wkbs = shapely.to_wkb(geoms)
    out: list[tuple[Any, tuple[bytes | None, tuple[float, float, float, float] | None]]] = []
    for g, w, b in zip(geoms, wkbs, bounds.tolist(), strict=True):
        out.append((g, (None, None) if g is None else (w, (b[0], b[1], b[2], b[3]))))
    return out


def validate_collection(c: Any) -> dict[str, Any]:
    if not isinstance(c, dict):
        raise InvalidInput("a collection must be a JSON object", field="collection")
    if c.get("type", "Collection") != "Collection":
        raise InvalidInput("collection.type must be 'Collection'", field="type")
    cid = check_id(c.get("id"), "id", "collection.id")
    out = dict(c)
    out["type"] = "Collection"
    out.setdefault("stac_version", "1.1.0")
    out.setdefault("description", cid)
    out.setdefault("license", "other")
    out.setdefault("links", [])
    ext = out.get("extent")
    if ext is None:
        out["extent"] = {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[None, None]]},
        }
    elif not (
        isinstance(ext, dict)
        and isinstance(ext.get("spatial"), dict)
        and isinstance(ext.get("temporal"), dict)
    ):
        raise InvalidInput("collection.extent needs 'spatial' and 'temporal'", field="extent")
    parse_retention(out.get(RETENTION_FIELD))  # 400 naming the member for a bad policy
    return out


def minimal_collection(cid: str) -> dict[str, Any]:
    return validate_collection({"id": cid, "description": f"Items ingested into {cid}"})
