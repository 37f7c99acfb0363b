"""The Alaska Satellite Facility's archive: ASF's search API, or CMR behind it (``params.api``).

Why two doors to one archive: ASF's search API (``…/services/search/param``) is the documented
way in and is all most harvests need, but its answers (``output=geojson`` or ``jsonlite``)
carry no orbit state vectors. NASA's CMR, which ASF's search queries underneath, returns the
full UMM-G granule records (``granules.umm_json``, ``provider=ASF``) whose ``SV_*``
attributes hold them; items harvested through CMR carry ``gep:state_vectors`` and so can be
paired by ``/insar/pairs``. Both are mapped by the crosswalk, :mod:`gep.io.crosswalk.asf`
(CMR records and jsonlite results first read by :mod:`gep.io.crosswalk.asf_records`), so the
same granule gives the same item either way, with the sat/sar/processing/view fields and the
``gep:`` orbit and burst fields documented there. This module is only the source: queries,
paging and cursors.

``api: "search"`` (default; ``SourceConfig.url`` is ASF's ``…/services/search/param``)
    ASF sorts answers newest first (by end time, as ``asf_search`` asks CMR:
    ``sort_key=-end_date``) and has no offset parameter, only ``maxResults``. The cursor is
    therefore a time window walked backwards: the first page asks ``start=<since>`` with no
    end; when a page comes back full, the next asks ``end=<earliest end time of that page>``.
    ASF's time filter is an overlap, so the products ending at that instant come back once
    more (the upsert absorbs them) and none older is missed. A full page whose products all
    end at the window's end cannot move the window: that is reported (raise
    ``params.page_size``), never looped. Parameters: ``output`` (``geojson``/``jsonlite``),
    ``page_size`` (``maxResults``, default 250), ``end`` (RFC 3339), ``bbox``
    (→ ``intersectsWith``), any of :data:`SEARCH_KEYWORDS` (``dataset``, ``platform``,
    ``processingLevel``, ``beamMode``, ``relativeOrbit``, ``frame``, …; lists are sent
    comma-separated) and ``query`` (sent verbatim).

``api: "cmr"`` (``SourceConfig.url`` is CMR's ``…/search/granules.umm_json``)
    Oldest first (``sort_key[]=start_date``, then ``granule_ur`` so the order is total) and
    paged with CMR's ``CMR-Search-After`` header: the value a page returns is the cursor of
    the next, stateless on CMR's side, so a harvest resumed days later continues where it
    stopped. Parameters: ``provider`` (default ``ASF``), ``short_name`` (one or a list, e.g.
    ``["SENTINEL-1A_SLC", "SENTINEL-1B_SLC"]``) or ``collection_concept_id``, ``bbox``
    (→ ``bounding_box``), ``attributes`` (``{"PATH_NUMBER": 13, "BEAM_MODE": "IW"}`` →
    ``attribute[]=int,PATH_NUMBER,13``), ``end``, ``page_size`` (default 250, CMR allows
    2000) and ``query`` (sent verbatim).

Incremental runs send the checkpoint as the start of the time filter (``start=`` or CMR's
``temporal=since,``); the filter is inclusive, so the newest product of the last run is read
again and the upsert makes that a no-op. A record that cannot be mapped (no footprint, no
time, a platform GEP has no collection family for) is reported and skipped whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from shapely.errors import ShapelyError

from gep.core.timeutil import format_rfc3339
from gep.harvest.base import HarvestError, Page, Source
from gep.io.crosswalk.asf import asf_to_stac_item
from gep.io.crosswalk.asf_records import asf_feature_from_jsonlite, asf_feature_from_umm
from gep.io.crosswalk.times import parse_time

KIND = "asf"
APIS = ("search", "cmr")
OUTPUTS = ("geojson", "jsonlite")

#: ASF search keywords a source may set directly in its params (sent as given; lists joined)
SEARCH_KEYWORDS = (
    "dataset",
    "platform",
    "instrument",
    "processingLevel",
    "beamMode",
    "beamSwath",
    "flightDirection",
    "lookDirection",
    "polarization",
    "relativeOrbit",
    "absoluteOrbit",
    "frame",
    "asfframe",
    "fullBurstID",
    "relativeBurstID",
    "operaBurstID",
    "collectionName",
    "intersectsWith",
)
#: the most CMR returns in one page
CMR_MAX_PAGE = 2000

_MAPPING_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, ShapelyError)


def _joined(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _bbox(value: Any) -> tuple[float, float, float, float]:
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        w, s, e, n = (float(v) for v in parts)
    except (TypeError, ValueError):
        raise HarvestError(
            f"params.bbox must be [west, south, east, north], not {value!r}"
        ) from None
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s < n <= 90):
        raise HarvestError(f"params.bbox {value!r} is not a lon/lat box (south < north)")
    return w, s, e, n


def _record_label(record: Any) -> str:
    if not isinstance(record, Mapping):
        return "?"
    props = record.get("properties")
    if isinstance(props, Mapping):
        return str(props.get("sceneName") or props.get("fileID") or "?")
    umm = record.get("umm")
    if isinstance(umm, Mapping):
        return str(umm.get("GranuleUR") or "?")
    return str(record.get("granuleName") or record.get("productID") or "?")


class ASFSource(Source):
    """ASF's archive through its search API or CMR (see the module docstring)."""

    kind = KIND

    # -- configuration

    def _api(self) -> str:
        api = str(self.config.params.get("api", "search"))
        if api not in APIS:
            raise HarvestError(f"params.api must be one of {', '.join(APIS)}, not {api!r}")
        return api

    def _page_size(self) -> int:
        value = self.config.params.get("page_size", 250)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise HarvestError(f"params.page_size must be a whole number >= 1, not {value!r}")
        if self._api() == "cmr" and value > CMR_MAX_PAGE:
            raise HarvestError(f"params.page_size: CMR returns at most {CMR_MAX_PAGE} a page")
        return value

    def _output(self) -> str:
        output = str(self.config.params.get("output", "geojson")).lower()
        if output not in OUTPUTS:
            raise HarvestError(f"params.output must be one of {', '.join(OUTPUTS)}, not {output!r}")
        return output

    def _end(self) -> str | None:
        end = parse_time(self.config.params.get("end"), "params.end")
        return None if end is None else format_rfc3339(end)

    def check(self) -> None:
        super().check()
        self._page_size()
        if self._api() == "search":
            self._output()
            self._search_query({})
        else:
            self._cmr_query(None)

    # -- the first cursor

    def start(self, since: datetime | None) -> dict[str, Any]:
        since_text = None if since is None else format_rfc3339(since)
        if self._api() == "cmr":
            return {"api": "cmr", "since": since_text, "after": None}
        return {"api": "search", "start": since_text, "end": self._end()}

    def fetch(self, cursor: Mapping[str, Any]) -> Page:
        if cursor.get("api") == "cmr":
            return self._fetch_cmr(cursor)
        return self._fetch_search(cursor)

    def _page(self, records: list[Any], read: Callable[[Any], dict[str, Any]], where: str) -> Page:
        page = Page(items=[])
        for n, record in enumerate(records):
            try:
                if not isinstance(record, Mapping):
                    raise ValueError("not a JSON object")
                item = asf_to_stac_item(read(record))
            except _MAPPING_ERRORS as exc:
                page.errors.append(f"{where} record {n} ({_record_label(record)}): {exc}")
                continue
            page.items.append(self.stac_item(item))
        return page

    # -- ASF's search API

    def _search_query(self, cursor: Mapping[str, Any]) -> dict[str, str]:
        p = self.config.params
        query: dict[str, str] = {}
        for key in SEARCH_KEYWORDS:
            if p.get(key) not in (None, "", []):
                query[key] = _joined(p[key])
        if p.get("bbox") is not None:
            w, s, e, n = _bbox(p["bbox"])
            query["intersectsWith"] = f"POLYGON(({w} {s},{e} {s},{e} {n},{w} {n},{w} {s}))"
        extra = p.get("query") or {}
        if not isinstance(extra, Mapping):
            raise HarvestError("params.query must be an object of ASF search keywords")
        query.update({str(k): _joined(v) for k, v in extra.items()})
        if cursor.get("start"):
            query["start"] = str(cursor["start"])
        if cursor.get("end"):
            query["end"] = str(cursor["end"])
        query["output"] = self._output()
        query["maxResults"] = str(self._page_size())
        return query

    def _fetch_search(self, cursor: Mapping[str, Any]) -> Page:
        url = self.config.url
        doc = self.fetcher.json("GET", url, params=self._search_query(cursor))
        output = self._output()
        key = "features" if output == "geojson" else "results"
        if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
            raise HarvestError(f"{url}: the answer is not ASF {output} (no '{key}' list)")
        records: list[Any] = doc[key]
        read = (lambda r: r) if output == "geojson" else asf_feature_from_jsonlite
        page = self._page(records, read, url)
        if len(records) < self._page_size():
            return page
        ends: list[datetime] = []
        for record in records:
            props = record.get("properties", record) if isinstance(record, Mapping) else {}
            try:
                when = parse_time(props.get("stopTime") or props.get("startTime"), "stopTime")
            except ValueError:
                continue
            if when is not None:
                ends.append(when)
        if not ends:
            raise HarvestError(f"{url}: a full page with no readable stopTime: cannot page on")
        earliest = min(ends)
        end = parse_time(cursor.get("end"), "end")
        if end is not None and earliest >= end:
            raise HarvestError(
                f"{url}: all {len(records)} products of a full page end at or after "
                f"{format_rfc3339(end)}, so the time window cannot move back; raise "
                f"params.page_size above {self._page_size()}"
            )
        page.next = {"api": "search", "start": cursor.get("start"), "end": format_rfc3339(earliest)}
        return page

    # -- CMR

    def _cmr_query(self, since: str | None) -> list[tuple[str, str]]:
        p = self.config.params
        query: list[tuple[str, str]] = [("provider", str(p.get("provider", "ASF")))]
        names = p.get("short_name")
        for name in names if isinstance(names, list) else ([names] if names else []):
            query.append(("short_name[]", str(name)))
        ids = p.get("collection_concept_id")
        for cid in ids if isinstance(ids, list) else ([ids] if ids else []):
            query.append(("collection_concept_id[]", str(cid)))
        if p.get("bbox") is not None:
            query.append(("bounding_box", ",".join(str(v) for v in _bbox(p["bbox"]))))
        attributes = p.get("attributes") or {}
        if not isinstance(attributes, Mapping):
            raise HarvestError("params.attributes must be an object {NAME: value}")
        for name, value in attributes.items():
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise HarvestError(f"params.attributes.{name}: a string or number, not {value!r}")
            kind = {int: "int", float: "float"}.get(type(value), "string")
            query.append(("attribute[]", f"{kind},{name},{value}"))
        end = self._end()
        if since or end:
            query.append(("temporal", f"{since or ''},{end or ''}"))
        extra = p.get("query") or {}
        if not isinstance(extra, Mapping):
            raise HarvestError("params.query must be an object of CMR parameters")
        query.extend((str(k), _joined(v)) for k, v in extra.items())
        query += [
            ("sort_key[]", "start_date"),
            ("sort_key[]", "granule_ur"),
            ("page_size", str(self._page_size())),
        ]
        return query

    def _fetch_cmr(self, cursor: Mapping[str, Any]) -> Page:
        url = self.config.url
        after = cursor.get("after")
        resp = self.fetcher.request(
            "GET",
            url,
            params=self._cmr_query(cursor.get("since")),
            headers={"CMR-Search-After": str(after)} if after else None,
        )
        doc = self.fetcher.decode_json(resp)
        if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
            raise HarvestError(f"{url}: the answer is not a CMR UMM-JSON page (no 'items')")
        records: list[Any] = doc["items"]
        page = self._page(records, asf_feature_from_umm, url)
        token = resp.headers.get("CMR-Search-After")
        if len(records) >= self._page_size() and token:
            if token == after:
                raise HarvestError(f"{url}: CMR returned the same search-after value twice")
            page.next = {"api": "cmr", "since": cursor.get("since"), "after": token}
        return page
