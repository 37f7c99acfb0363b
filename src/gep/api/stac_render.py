"""Rendering stored STAC JSON into API responses: links, fields, FeatureCollections.

Items are stored as serialised JSON whose last key is ``links``; the standard links are spliced
in as bytes so that a page of 100 items is never parsed and re-serialised unless the fields
extension asks for it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

GEOJSON = "application/geo+json"
JSON = "application/json"

_EMPTY_LINKS_TAIL = b'"links":[]}'


def item_links(base: str, collection: str, item_id: str) -> list[dict[str, str]]:
    coll = f"{base}/stac/collections/{quote(collection, safe='')}"
    return [
        {"rel": "self", "type": GEOJSON, "href": f"{coll}/items/{quote(item_id, safe='')}"},
        {"rel": "parent", "type": JSON, "href": coll},
        {"rel": "collection", "type": JSON, "href": coll},
        {"rel": "root", "type": JSON, "href": f"{base}/stac"},
    ]


def render_item(content: bytes, base: str, collection: str, item_id: str) -> bytes:
    """Add the standard links to a stored item; no parse unless it carries links of its own."""
    links = item_links(base, collection, item_id)
    if content.endswith(_EMPTY_LINKS_TAIL):
        return content[: -len(_EMPTY_LINKS_TAIL)] + b'"links":' + orjson.dumps(links) + b"}"
    item = orjson.loads(content)
    item["links"] = links + list(item.get("links") or [])
    return orjson.dumps(item)


def apply_fields(
    item: dict[str, Any], include: list[str] | None, exclude: list[str] | None
) -> dict[str, Any]:
    """The STAC fields extension: dotted paths to include and to exclude."""
    if include:
        out: dict[str, Any] = {}
        for key in ("type", "stac_version", "id", "links"):
            if key in item:
                out[key] = item[key]
        for path in include:
            _copy_path(item, out, path.split("."))
    else:
        out = orjson.loads(orjson.dumps(item))
    for path in exclude or []:
        if include and path in include:
            continue
        _drop_path(out, path.split("."))
    return out


def _copy_path(src: dict[str, Any], dst: dict[str, Any], parts: list[str]) -> None:
    key = parts[0]
    if key not in src:
        return
    if len(parts) == 1:
        dst[key] = src[key]
        return
    if isinstance(src[key], dict):
        sub = dst.setdefault(key, {})
        if isinstance(sub, dict):
            _copy_path(src[key], sub, parts[1:])


def _drop_path(obj: dict[str, Any], parts: list[str]) -> None:
    key = parts[0]
    if len(parts) == 1:
        obj.pop(key, None)
    elif isinstance(obj.get(key), dict):
        _drop_path(obj[key], parts[1:])


def feature_collection(
    features: list[bytes],
    links: list[dict[str, Any]],
    number_matched: int | None,
) -> bytes:
    tail: dict[str, Any] = {"links": links, "numberReturned": len(features)}
    if number_matched is not None:
        tail["numberMatched"] = number_matched
    return (
        b'{"type":"FeatureCollection","features":['
        + b",".join(features)
        + b"],"
        + orjson.dumps(tail)[1:]
    )
