"""The OpenSearch 1.1 description document of one collection.

Built from the parameter table (:mod:`.parameters`) and the collection's queryables, so it
advertises exactly the parameters :mod:`.translate` accepts and the collection can answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

from gep.catalog.opensearch.parameters import (
    CORE_PARAMETERS,
    EO_PARAMETERS,
    GEO_NS,
    GEO_RELATIONS,
    NAMESPACES,
    OS_NS,
    PARAMETERS_NS,
    RANGE_PATTERN,
    TIME_RELATIONS,
    EoParameter,
)
from gep.catalog.opensearch.xmlwriter import to_xml
from gep.catalog.search import MAX_LIMIT


def applicable_eo_parameters(queryables: Mapping[str, str]) -> list[EoParameter]:
    """The EO parameters that query at least one property the collection carries."""
    return [eo for eo in EO_PARAMETERS if any(p in queryables for p in eo.properties)]


def search_template(base_url: str, collection: str, queryables: Mapping[str, str], fmt: str) -> str:
    """The ``Url`` template: every parameter optional, local names as query keys."""
    pairs = [f"{local}={{{core.name}?}}" for local, core in CORE_PARAMETERS]
    pairs += [f"{eo.short}={{{eo.name}?}}" for eo in applicable_eo_parameters(queryables)]
    pairs.append(f"format={fmt}")
    return f"{base_url}/opensearch/{quote(collection, safe='')}/search?" + "&".join(pairs)


def description_document(
    collection: dict[str, Any],
    base_url: str,
    queryables: Mapping[str, str],
) -> str:
    """The OpenSearch 1.1 description document of one collection, as XML text.

    Only the EO parameters the collection can answer are advertised, so a client building a
    form from this document never offers cloud cover on a radar collection. Options and bounds
    come from the collection's ``summaries`` where it has them.
    """

    def os_(tag: str) -> str:
        return f"{{{OS_NS}}}{tag}"

    cid = str(collection["id"])
    title = str(collection.get("title") or cid)
    root = ET.Element(os_("OpenSearchDescription"))
    ET.SubElement(root, os_("ShortName")).text = _clip(title if len(title) <= 16 else cid, 16)
    ET.SubElement(root, os_("LongName")).text = _clip(f"GEP: {title}", 48)
    description = " ".join(str(collection.get("description") or title).split())
    ET.SubElement(root, os_("Description")).text = _clip(description, 1024)
    tags = [str(k).replace(" ", "-") for k in collection.get("keywords") or []]
    ET.SubElement(root, os_("Tags")).text = _clip(" ".join([cid, *tags]), 256)
    contact = _contact(collection)
    if contact:
        ET.SubElement(root, os_("Contact")).text = contact

    summaries = collection.get("summaries") or {}
    for media, fmt in (("application/atom+xml", "atom"), ("application/geo+json", "json")):
        url = ET.SubElement(
            root,
            os_("Url"),
            {
                "type": media,
                "rel": "results",
                "template": search_template(base_url, cid, queryables, fmt),
                "indexOffset": "1",
                "pageOffset": "1",
            },
        )
        _add_parameters(url, queryables, summaries)
    ET.SubElement(
        root,
        os_("Url"),
        {
            "type": "application/opensearchdescription+xml",
            "rel": "self",
            "template": f"{base_url}/opensearch/{quote(cid, safe='')}/description.xml",
        },
    )
    example = {"role": "example", "count": "10"}
    bbox = _extent_bbox(collection)
    if bbox is not None:
        example[f"{{{GEO_NS}}}box"] = ",".join(f"{v:g}" for v in bbox)
    ET.SubElement(root, os_("Query"), example)
    ET.SubElement(root, os_("Developer")).text = "GEP, the open Geohazards Exploitation Platform"
    attribution = _attribution(collection)
    if attribution:
        ET.SubElement(root, os_("Attribution")).text = _clip(attribution, 256)
    ET.SubElement(root, os_("SyndicationRight")).text = "open"
    ET.SubElement(root, os_("AdultContent")).text = "false"
    ET.SubElement(root, os_("Language")).text = "en"
    ET.SubElement(root, os_("InputEncoding")).text = "UTF-8"
    ET.SubElement(root, os_("OutputEncoding")).text = "UTF-8"
    return to_xml(root, NAMESPACES, default=OS_NS)


_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$"
_CORE_CONSTRAINTS: dict[str, dict[str, str]] = {
    "startIndex": {"minInclusive": "1"},
    "startPage": {"minInclusive": "1"},
    "count": {"minInclusive": "0", "maxInclusive": str(MAX_LIMIT)},
    "geo:box": {"pattern": r"^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$"},
    "geo:lat": {"minInclusive": "-90", "maxInclusive": "90"},
    "geo:lon": {"minInclusive": "-180", "maxInclusive": "180"},
    "geo:radius": {"minExclusive": "0"},
    "time:start": {"pattern": _TIME_PATTERN},
    "time:end": {"pattern": _TIME_PATTERN},
}
_CORE_OPTIONS = {"geo:relation": GEO_RELATIONS, "time:relation": TIME_RELATIONS}


def _add_parameters(
    url: ET.Element, queryables: Mapping[str, str], summaries: Mapping[str, Any]
) -> None:
    tag = f"{{{PARAMETERS_NS}}}Parameter"
    opt_tag = f"{{{PARAMETERS_NS}}}Option"
    for local, core in CORE_PARAMETERS:
        attrs = {"name": local, "value": f"{{{core.name}}}", "title": core.title, "minimum": "0"}
        attrs.update(_CORE_CONSTRAINTS.get(core.name, {}))
        el = ET.SubElement(url, tag, attrs)
        for opt in _CORE_OPTIONS.get(core.name, ()):
            ET.SubElement(el, opt_tag, {"value": opt, "label": opt})
    for eo in applicable_eo_parameters(queryables):
        attrs = {"name": eo.short, "value": f"{{{eo.name}}}", "title": eo.title, "minimum": "0"}
        options: list[str] = list(eo.options)
        if eo.kind == "range":
            # the valid bounds, not the summaries' data range: [0,20] must stay a valid query
            attrs["pattern"] = RANGE_PATTERN
            if eo.minimum is not None:
                attrs["minInclusive"] = f"{eo.minimum:g}"
            if eo.maximum is not None:
                attrs["maxInclusive"] = f"{eo.maximum:g}"
        elif not options:
            # the values the collection holds, over every property the parameter queries
            seen: set[str] = set()
            for prop in eo.properties:
                summary = summaries.get(prop)
                if isinstance(summary, list):
                    seen.update(str(v) for v in summary if isinstance(v, str))
            options = sorted(seen)
        el = ET.SubElement(url, tag, attrs)
        for opt in options:
            ET.SubElement(el, opt_tag, {"value": opt, "label": opt})


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _contact(collection: Mapping[str, Any]) -> str | None:
    """An e-mail address only where the collection gives one: never an invented address."""
    direct = collection.get("gep:contact")
    if isinstance(direct, str) and "@" in direct:
        return direct
    for prov in collection.get("providers") or []:
        if isinstance(prov, dict) and isinstance(prov.get("email"), str) and "@" in prov["email"]:
            return str(prov["email"])
    return None


def _attribution(collection: Mapping[str, Any]) -> str | None:
    notes = [
        str(p.get("description") or p.get("name"))
        for p in collection.get("providers") or []
        if isinstance(p, dict)
        and ("licensor" in (p.get("roles") or []) or "producer" in (p.get("roles") or []))
    ]
    if not notes and collection.get("license"):
        return f"Licence: {collection['license']}"
    return "; ".join(dict.fromkeys(notes)) or None


def _extent_bbox(collection: Mapping[str, Any]) -> list[float] | None:
    try:
        b = collection["extent"]["spatial"]["bbox"][0]
        vals = [float(v) for v in (b if len(b) == 4 else (b[0], b[1], b[3], b[4]))]
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return None if vals == [-180.0, -90.0, 180.0, 90.0] else vals
