"""A layer's Atom feed: well-formed RFC 4287 with one entry per item, its links and footprint."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from gep.production.feed import layer_atom

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "georss": "http://www.georss.org/georss",
    "dc": "http://purl.org/dc/elements/1.1/",
}
BASE = "https://gep.example/stac/collections/layer-etna"


def _item(iid: str, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": iid,
        "collection": "layer-etna",
        "bbox": [14.8, 37.6, 15.2, 37.9],
        "geometry": None,
        "properties": props,
        "links": [
            {"rel": "self", "href": f"{BASE}/items/{iid}", "type": "application/geo+json"},
            {"rel": "collection", "href": BASE},
        ],
        "assets": {
            "displacement": {
                "href": f"https://gep.example/files/{iid}/disp.tif",
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "title": "LOS displacement",
                "file:size": 1234,
                "roles": ["data"],
            },
            "thumbnail": {"href": f"https://gep.example/files/{iid}/q.png", "type": "image/png"},
        },
    }


def _parse(xml: str) -> ET.Element:
    return ET.fromstring(xml.encode())


def test_entries_carry_ids_times_links_and_boxes() -> None:
    items = [
        _item(
            "ifg-2",
            title="Etna 2024-06-13/2024-06-25",
            start_datetime="2024-06-13T05:00:00Z",
            end_datetime="2024-06-25T05:00:00Z",
            datetime=None,
            created="2024-06-25T09:00:00Z",
            updated="2024-06-25T09:30:00.5Z",
            **{"gep:process": "insar-ifg", "gep:job": "job-7"},
        ),
        _item("ifg-1 <&>", datetime="2024-06-01T05:00:00Z"),
    ]
    feed = _parse(layer_atom("Etna deformation", BASE, BASE + "/feed.atom", items, None))
    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"
    assert feed.findtext("atom:title", namespaces=NS) == "Etna deformation"
    assert feed.findtext("atom:id", namespaces=NS) == BASE
    # without an explicit time, the feed is as new as its newest entry
    assert feed.findtext("atom:updated", namespaces=NS) == "2024-06-25T09:30:00.500000Z"
    assert feed.findtext("atom:author/atom:name", namespaces=NS) == "GEP"
    links = {link.get("rel"): link.attrib for link in feed.findall("atom:link", NS)}
    assert links["self"]["href"] == BASE + "/feed.atom"
    assert links["self"]["type"] == "application/atom+xml"
    assert links["related"]["href"] == BASE

    first, second = feed.findall("atom:entry", NS)
    assert first.findtext("atom:id", namespaces=NS) == f"{BASE}/items/ifg-2"
    assert first.findtext("atom:title", namespaces=NS) == "Etna 2024-06-13/2024-06-25"
    assert first.findtext("atom:updated", namespaces=NS) == "2024-06-25T09:30:00.500000Z"
    assert first.findtext("atom:published", namespaces=NS) == "2024-06-25T09:00:00Z"
    summary = first.findtext("atom:summary", namespaces=NS) or ""
    assert "2024-06-13T05:00:00Z/2024-06-25T05:00:00Z" in summary
    assert "insar-ifg" in summary and "job-7" in summary
    assert first.findtext("georss:box", namespaces=NS) == "37.6 14.8 37.9 15.2"
    assert first.findtext("dc:identifier", namespaces=NS) == "ifg-2"
    entry_links = first.findall("atom:link", NS)
    [alternate] = [link for link in entry_links if link.get("rel") == "alternate"]
    assert alternate.get("href") == f"{BASE}/items/ifg-2"
    assert alternate.get("type") == "application/geo+json"
    enclosures = {
        link.get("href"): link.attrib for link in entry_links if link.get("rel") == "enclosure"
    }
    assert set(enclosures) == {
        "https://gep.example/files/ifg-2/disp.tif",
        "https://gep.example/files/ifg-2/q.png",
    }
    disp = enclosures["https://gep.example/files/ifg-2/disp.tif"]
    assert disp["type"].startswith("image/tiff") and disp["length"] == "1234"
    assert disp["title"] == "LOS displacement"

    # no title: the id (escaped, and still well-formed); no updated: the datetime
    assert second.findtext("atom:title", namespaces=NS) == "ifg-1 <&>"
    assert second.findtext("atom:updated", namespaces=NS) == "2024-06-01T05:00:00Z"
    assert second.findtext("atom:published", namespaces=NS) == "2024-06-01T05:00:00Z"


def test_explicit_update_time_empty_layers_and_items_without_self_links() -> None:
    empty = _parse(layer_atom("Empty", BASE, BASE + "/feed.atom", [], "2025-01-02T03:04:05Z"))
    assert empty.findtext("atom:updated", namespaces=NS) == "2025-01-02T03:04:05Z"
    assert empty.findall("atom:entry", NS) == []

    bare = _item("ifg-3", datetime="2024-07-01T00:00:00Z")
    bare["links"] = []
    bare["bbox"] = [14.8, 37.6, 0, 15.2, 37.9, 3000]  # 3D: the box stays 2D
    feed = _parse(layer_atom("Etna", BASE, BASE + "/feed.atom", [bare], None))
    [entry] = feed.findall("atom:entry", NS)
    entry_id = entry.findtext("atom:id", namespaces=NS) or ""
    assert entry_id.startswith("tag:gep.example,") and entry_id.endswith(":layer-etna/ifg-3")
    assert [link.get("rel") for link in entry.findall("atom:link", NS)] == [
        "enclosure",
        "enclosure",
    ]
    assert entry.findtext("georss:box", namespaces=NS) == "37.6 14.8 37.9 15.2"
