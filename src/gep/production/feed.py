"""A subscription's layer as an Atom 1.0 feed (RFC 4287): its newest items, for feed readers.

A webhook needs a receiver; a feed needs nothing but a reader that polls, which is how many
users (and GIS desktop plug-ins, through GeoRSS) follow a monitoring layer. Each entry is one
STAC item: its self URL is the entry id, its GeoJSON is the ``alternate`` link, its assets are
``enclosure`` links, its footprint's bounding box is a ``georss:box``. Items arrive as the API
renders them (absolute links and asset hrefs); the serialiser is the one of the OpenSearch Atom
feed (:func:`gep.catalog.opensearch.xmlwriter.to_xml`), so both feeds escape alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree as ET

from gep.catalog.opensearch.xmlwriter import to_xml
from gep.core.errors import InvalidInput
from gep.core.timeutil import format_rfc3339, parse_instant

ATOM = "application/atom+xml"
GEOJSON = "application/geo+json"
ATOM_NS = "http://www.w3.org/2005/Atom"
GEORSS_NS = "http://www.georss.org/georss"
DC_NS = "http://purl.org/dc/elements/1.1/"
NAMESPACES = {"atom": ATOM_NS, "georss": GEORSS_NS, "dc": DC_NS}


def _a(tag: str) -> str:
    return f"{{{ATOM_NS}}}{tag}"


def _parse(*candidates: Any) -> datetime | None:
    """The first candidate that is a valid instant."""
    for value in candidates:
        if isinstance(value, str):
            try:
                return parse_instant(value)
            except InvalidInput:
                continue
    return None


def _instant(*candidates: Any) -> str | None:
    """The first candidate that is a valid instant, as RFC 3339 UTC (what Atom requires)."""
    dt = _parse(*candidates)
    return None if dt is None else format_rfc3339(dt)


def _self_url(item: dict[str, Any]) -> str | None:
    for link in item.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return None


def _tag_uri(layer_url: str, collection: str, item_id: str) -> str:
    """An entry id for an item without a self link (RFC 4151): stable, as Atom requires."""
    host = urlsplit(layer_url).hostname or "localhost"
    return f"tag:{host},2025:{quote(collection, safe='')}/{quote(item_id, safe='')}"


def _when(props: dict[str, Any]) -> str | None:
    start = props.get("start_datetime")
    end = props.get("end_datetime")
    if start and end and start != end:
        return f"{start}/{end}"
    value = props.get("datetime") or start or end
    return None if value is None else str(value)


def _summary(props: dict[str, Any]) -> str:
    parts = []
    when = _when(props)
    if when:
        parts.append(f"Acquired {when}")
    if props.get("gep:process"):
        process = f"produced by {props['gep:process']}"
        if props.get("gep:job"):
            process += f" (job {props['gep:job']})"
        parts.append(process)
    text = "; ".join(parts)
    if isinstance(props.get("description"), str) and props["description"]:
        text = f"{props['description']}. {text}" if text else props["description"]
    return text


def _entry(feed: ET.Element, item: dict[str, Any], layer_url: str, fallback: str) -> None:
    props = item.get("properties") or {}
    iid = str(item.get("id"))
    collection = str(item.get("collection") or "")
    self_url = _self_url(item)
    entry = ET.SubElement(feed, _a("entry"))
    ET.SubElement(entry, _a("id")).text = self_url or _tag_uri(layer_url, collection, iid)
    ET.SubElement(entry, _a("title")).text = str(props.get("title") or iid)
    ET.SubElement(entry, _a("updated")).text = (
        _instant(props.get("updated"), props.get("datetime"), props.get("start_datetime"))
        or fallback
    )
    published = _instant(props.get("created"), props.get("datetime"))
    if published:
        ET.SubElement(entry, _a("published")).text = published
    summary = _summary(props)
    if summary:
        ET.SubElement(entry, _a("summary"), {"type": "text"}).text = summary
    if collection:
        ET.SubElement(entry, _a("category"), {"term": collection, "label": "layer"})
    ET.SubElement(entry, f"{{{DC_NS}}}identifier").text = iid
    when = _when(props)
    if when:
        ET.SubElement(entry, f"{{{DC_NS}}}date").text = when
    bbox = item.get("bbox")
    if isinstance(bbox, list) and len(bbox) in (4, 6):
        w, s, e, n = bbox if len(bbox) == 4 else (bbox[0], bbox[1], bbox[3], bbox[4])
        # GeoRSS Simple: lower corner then upper corner, latitude first
        ET.SubElement(entry, f"{{{GEORSS_NS}}}box").text = f"{s} {w} {n} {e}"
    if self_url:
        ET.SubElement(
            entry,
            _a("link"),
            {"rel": "alternate", "type": GEOJSON, "href": self_url, "title": "STAC item"},
        )
    for key, asset in (item.get("assets") or {}).items():
        if not isinstance(asset, dict) or not isinstance(asset.get("href"), str):
            continue
        attrs = {"rel": "enclosure", "href": asset["href"], "title": str(asset.get("title") or key)}
        if asset.get("type"):
            attrs["type"] = str(asset["type"])
        if isinstance(asset.get("file:size"), int):
            attrs["length"] = str(asset["file:size"])
        ET.SubElement(entry, _a("link"), attrs)


def layer_atom(
    title: str, layer_url: str, self_url: str, items: list[dict[str, Any]], updated: str | None
) -> str:
    """The Atom feed of a layer (its collection at ``layer_url``) served at ``self_url``, one
    entry per item in the order given (newest first, as readers expect). ``updated`` is when
    the layer last changed; without it, the newest entry's time (or now, for an empty layer)."""
    now = format_rfc3339(datetime.now(UTC))
    feed = ET.Element(_a("feed"))
    ET.SubElement(feed, _a("title")).text = title
    ET.SubElement(feed, _a("id")).text = layer_url
    times = [
        _parse(props.get("updated"), props.get("datetime"), props.get("start_datetime"))
        for props in ((i.get("properties") or {}) for i in items)
    ]
    newest = max((t for t in times if t is not None), default=None)
    ET.SubElement(feed, _a("updated")).text = (
        _instant(updated) or (newest and format_rfc3339(newest)) or now
    )
    author = ET.SubElement(feed, _a("author"))
    ET.SubElement(author, _a("name")).text = "GEP"
    ET.SubElement(feed, _a("generator")).text = "GEP systematic production"
    ET.SubElement(feed, _a("link"), {"rel": "self", "type": ATOM, "href": self_url})
    ET.SubElement(
        feed,
        _a("link"),
        {
            "rel": "related",
            "type": "application/json",
            "href": layer_url,
            "title": "STAC collection",
        },
    )
    for item in items:
        _entry(feed, item, layer_url, now)
    return to_xml(feed, NAMESPACES, default=ATOM_NS)
