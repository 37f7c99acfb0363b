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


#: always kept when ``include`` names fields, so a trimmed item stays identifiable
_ALWAYS = ("type", "stac_version", "id", "links")
#: the fields extension's default set: what a client gets for ``fields=`` or ``{"fields": {}}``
_DEFAULT = (
    "type",
    "stac_version",
    "id",
    "geometry",
    "bbox",
    "links",
    "assets",
    "properties.datetime",
)


def apply_fields(
    item: dict[str, Any], include: list[str] | None, exclude: list[str] | None
) -> dict[str, Any]:
    """The STAC fields extension (v1.0.0 "Include/Exclude Semantics") over dotted paths.

    The base is: the ``include`` fields (plus ``_ALWAYS``) when ``include`` names some; every
    field when ``include`` is missing (None) and ``exclude`` names some; the default set
    otherwise. Excludes are then removed, except that include wins: a field in both stays, and a
    nested field included under an excluded parent (``-properties,+properties.x``) is kept alone.
    """
    wanted = include or []
    if wanted:
        out: dict[str, Any] = {k: item[k] for k in _ALWAYS if k in item}
        for path in wanted:
            _copy_path(item, out, path.split("."))
    elif include is None and exclude:
        out = orjson.loads(orjson.dumps(item))
    else:
        out = {}
        defaults = list(_DEFAULT)
        if (item.get("properties") or {}).get("datetime") is None:
            defaults += ["properties.start_datetime", "properties.end_datetime"]
        for path in defaults:
            _copy_path(item, out, path.split("."))
    for path in exclude or []:
        if path in wanted:
            continue
        _drop_path(out, path.split("."))
        for inner in wanted:
            if inner.startswith(path + "."):
                _copy_path(item, out, inner.split("."))
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
