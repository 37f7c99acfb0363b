"""Earthquakes from USGS ComCat, as STAC items that event-driven processing can react to.

Two doors, told apart by ``SourceConfig.url``:

the FDSN event query (``https://earthquake.usgs.gov/fdsnws/event/1/query``)
    Asked with ``format=geojson&orderby=time-asc`` from the checkpoint (``starttime``, which
    ComCat reads as inclusive, so the newest event of the last run is read again and the upsert
    makes that a no-op) and paged with FDSN's ``offset`` (1-based) and ``limit``
    (``params.page_size``, default 1000; ComCat allows 20 000). A page shorter than ``limit``
    ends the listing. Oldest first matters: an event published while a harvest pages through
    lands at the end of the listing, not before the offset already read. Without a checkpoint
    or ``params.starttime`` ComCat's own default applies (the last 30 days).

a summary feed (``…/earthquakes/feed/v1.0/summary/all_day.geojson``, any ``….geojson``)
    One document, no paging and no query: the whole feed is read each run and the upsert keeps
    the events already catalogued (a revised magnitude is an update, never a second event).

Each GeoJSON feature becomes one item (:func:`event_item`, pure so subscription code and tests
can map a feature without a source): the event id as item id, the epicentre as a ``Point``
(the depth, GeoJSON's third coordinate, in kilometres, goes to ``earthquake:depth``: STAC
geometries are surfaces, and a 3-D point would make the catalogue's 2-D footprint checks
disagree), the origin time as ``datetime``, and the fields named by the constants below. A
feature that cannot be mapped (no id, no point, no time) is reported and skipped; an answer
that is not a GeoJSON FeatureCollection fails with :class:`WrongAnswerError`, which blames the
URL when the source is being added.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from gep.core.timeutil import format_rfc3339, from_micros
from gep.harvest.base import HarvestError, Page, Source, WrongAnswerError
from gep.harvest.http import FetchError
from gep.io.crosswalk.times import parse_time

KIND = "usgs"
STAC_VERSION = "1.1.0"

# -- the item properties (imported by the subscription code: keep the names stable)

#: magnitude (float)
MAGNITUDE = "earthquake:magnitude"
#: how the magnitude was measured (``mw``, ``ml``, ``md``, ``mb``, …)
MAGNITUDE_TYPE = "earthquake:magnitude_type"
#: hypocentre depth below sea level, kilometres (float; slightly negative above it)
DEPTH = "earthquake:depth"
#: ComCat's place description ("1km NNW of Reseda, CA")
PLACE = "earthquake:place"
#: ``earthquake``, ``quarry blast``, ``explosion``, … (ComCat's ``type``)
EVENT_TYPE = "earthquake:event_type"
#: ``automatic`` or ``reviewed`` (a reviewed event is revised less)
STATUS = "earthquake:status"
#: the event page on earthquake.usgs.gov
URL = "earthquake:url"
#: PAGER alert level: ``green``, ``yellow``, ``orange``, ``red`` (absent when there is none)
ALERT = "earthquake:alert"
#: whether a tsunami bulletin was issued for an oceanic event (bool)
TSUNAMI = "earthquake:tsunami"
#: the largest modified Mercalli intensity ShakeMap computed (absent without one)
MMI = "earthquake:mmi"
#: ComCat's significance, 0–1000+ (magnitude, felt reports and alert together)
SIGNIFICANCE = "earthquake:significance"
#: the contributing network of the preferred origin (``ci``, ``us``, ``nc``, …)
NETWORK = "earthquake:network"

#: the query parameters a source may set (sent as given); the rest are refused by check()
QUERY_PARAMS = (
    "starttime",
    "endtime",
    "minmagnitude",
    "maxmagnitude",
    "mindepth",
    "maxdepth",
    "minlatitude",
    "maxlatitude",
    "minlongitude",
    "maxlongitude",
    "eventtype",
)
#: the most ComCat answers in one query
MAX_PAGE = 20_000
DEFAULT_PAGE = 1000
_NUMBERS = {
    "minmagnitude": (-2.0, 12.0),
    "maxmagnitude": (-2.0, 12.0),
    "mindepth": (-100.0, 1000.0),
    "maxdepth": (-100.0, 1000.0),
    "minlatitude": (-90.0, 90.0),
    "maxlatitude": (-90.0, 90.0),
    "minlongitude": (-360.0, 360.0),
    "maxlongitude": (-360.0, 360.0),
}
_MAPPING_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


def fdsn_time(dt: datetime) -> str:
    """UTC as FDSN reads it: ``YYYY-MM-DDTHH:MM:SS[.mmm]``, no zone (UTC is assumed), to the
    millisecond ComCat stores (floored, so an inclusive ``starttime`` never skips an event)."""
    text = format_rfc3339(dt)[:-1]
    head, _, frac = text.partition(".")
    return f"{head}.{frac[:3]}" if frac and frac[:3] != "000" else head


def _epoch_ms(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} {value!r} is not a time in epoch milliseconds")
    return format_rfc3339(from_micros(round(value * 1000)))


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} {value!r} is not a number")
    return float(value)


def event_item(feature: Mapping[str, Any], collection: str) -> dict[str, Any]:
    """One ComCat GeoJSON feature as a STAC 1.1 item of ``collection``.

    ValueError (naming the field) when the feature has no id, no point or no time: such a
    feature is skipped whole, never catalogued half-mapped. Absent (null) ComCat fields are
    left out of the item rather than stored as null.
    """
    if not isinstance(feature, Mapping):
        raise ValueError("not a JSON object")
    event_id = feature.get("id")
    if not isinstance(event_id, str) or not event_id.strip():
        raise ValueError("no event id")
    geometry = feature.get("geometry")
    if not isinstance(geometry, Mapping) or geometry.get("type") != "Point":
        raise ValueError("no Point geometry (the epicentre)")
    coords = geometry.get("coordinates")
    if not isinstance(coords, list | tuple) or len(coords) < 2:
        raise ValueError(f"Point coordinates {coords!r} are not [longitude, latitude, depth]")
    lon = _number(coords[0], "longitude")
    lat = _number(coords[1], "latitude")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise ValueError(f"epicentre ({lon}, {lat}) is not a longitude/latitude")
    props = feature.get("properties")
    if not isinstance(props, Mapping):
        raise ValueError("no properties")
    if props.get("time") is None:
        raise ValueError("no origin time (properties.time)")
    out: dict[str, Any] = {"datetime": _epoch_ms(props["time"], "properties.time")}
    if props.get("updated") is not None:
        out["updated"] = _epoch_ms(props["updated"], "properties.updated")
    if props.get("title"):
        out["title"] = str(props["title"])
    if props.get("mag") is not None:
        out[MAGNITUDE] = _number(props["mag"], "properties.mag")
    if len(coords) > 2 and coords[2] is not None:
        out[DEPTH] = _number(coords[2], "depth")
    for key, name in (
        (MAGNITUDE_TYPE, "magType"),
        (PLACE, "place"),
        (EVENT_TYPE, "type"),
        (STATUS, "status"),
        (URL, "url"),
        (ALERT, "alert"),
        (NETWORK, "net"),
    ):
        if props.get(name) not in (None, ""):
            out[key] = str(props[name])
    if props.get("tsunami") is not None:
        out[TSUNAMI] = bool(props["tsunami"])
    if props.get("mmi") is not None:
        out[MMI] = _number(props["mmi"], "properties.mmi")
    if props.get("sig") is not None:
        out[SIGNIFICANCE] = int(_number(props["sig"], "properties.sig"))
    assets: dict[str, Any] = {}
    if props.get("detail"):
        assets["detail"] = {
            "href": str(props["detail"]),
            "type": "application/geo+json",
            "title": "ComCat event detail (origins, ShakeMap, moment tensor, …)",
            "roles": ["metadata"],
        }
    links = []
    if out.get(URL):
        links.append({"rel": "via", "href": out[URL], "type": "text/html", "title": "event page"})
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "id": event_id.strip(),
        "collection": collection,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "bbox": [lon, lat, lon, lat],
        "properties": out,
        "assets": assets,
        "links": links,
    }


def event_features(doc: Any, url: str) -> list[Any]:
    """The features of a ComCat answer; :class:`WrongAnswerError` saying what came instead
    when the answer is not a GeoJSON FeatureCollection."""
    if isinstance(doc, Mapping) and doc.get("type") == "FeatureCollection":
        features = doc.get("features")
        if isinstance(features, list):
            return features
        raise WrongAnswerError(
            f"{url}: expected a GeoJSON FeatureCollection of earthquakes, got a "
            "FeatureCollection whose 'features' is not a list"
        )
    if isinstance(doc, Mapping):
        keys = ", ".join(sorted(map(str, doc))[:10]) or "none"
        what = f"a JSON object of type {doc['type']!r}" if doc.get("type") else "a JSON object"
        got = f"{what} with keys {keys}"
    else:
        got = f"a JSON {type(doc).__name__}"
    raise WrongAnswerError(
        f"{url}: expected a GeoJSON FeatureCollection of earthquakes (ComCat's format=geojson), "
        f"got {got}"
    )


def _decode(resp: httpx.Response, url: str) -> Any:
    try:
        return orjson.loads(resp.content)
    except orjson.JSONDecodeError as exc:
        ctype = resp.headers.get("Content-Type", "no content type")
        head = " ".join(resp.text[:120].split())
        raise WrongAnswerError(
            f"{url}: expected a GeoJSON FeatureCollection of earthquakes, got {ctype} that is "
            f"not JSON ({exc}): {head!r}"
        ) from exc


class UsgsEventSource(Source):
    """USGS ComCat's FDSN event service or one of its summary feeds (see the module doc)."""

    kind = KIND

    # -- configuration

    def _is_feed(self) -> bool:
        return urlsplit(self.config.url).path.endswith(".geojson")

    def _page_size(self) -> int:
        value = self.config.params.get("page_size", DEFAULT_PAGE)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE:
            raise HarvestError(
                f"params.page_size must be a whole number from 1 to {MAX_PAGE}, not {value!r}"
            )
        return value

    def _time(self, key: str) -> datetime | None:
        try:
            return parse_time(self.config.params.get(key), f"params.{key}")
        except ValueError as exc:
            raise HarvestError(str(exc)) from None

    def _query(self, cursor: Mapping[str, Any], limit: int | None = None) -> dict[str, str]:
        """The FDSN query of a cursor's page (``limit`` overrides the page size: check())."""
        p = self.config.params
        query = {"format": "geojson", "orderby": "time-asc"}
        if cursor.get("starttime"):
            query["starttime"] = str(cursor["starttime"])
        end = self._time("endtime")
        if end is not None:
            query["endtime"] = fdsn_time(end)
        for key, (low, high) in _NUMBERS.items():
            if p.get(key) is None:
                continue
            value = p[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise HarvestError(f"params.{key} must be a number, not {value!r}")
            if not low <= value <= high:
                raise HarvestError(f"params.{key} must lie in [{low:g}, {high:g}], not {value!r}")
            query[key] = f"{value:g}"
        for lower, upper in (("minmagnitude", "maxmagnitude"), ("mindepth", "maxdepth")):
            if lower in query and upper in query and float(query[lower]) > float(query[upper]):
                raise HarvestError(f"params.{lower} is above params.{upper}")
        eventtype = p.get("eventtype", "earthquake")
        if eventtype not in (None, ""):  # null or "" asks for every event type
            if isinstance(eventtype, list | tuple):
                eventtype = ",".join(str(v) for v in eventtype)
            query["eventtype"] = str(eventtype)
        query["limit"] = str(limit or self._page_size())
        query["offset"] = str(int(cursor.get("offset", 1)))
        return query

    def check(self) -> None:
        """Check the parameters, then ask ComCat for one event: an endpoint that answers
        something else than a GeoJSON FeatureCollection is refused before it is stored."""
        p = self.config.params
        if self._is_feed():
            asked = [k for k in (*QUERY_PARAMS, "page_size") if k in p]
            if asked:
                raise HarvestError(
                    f"params {', '.join(asked)}: a summary feed cannot be queried; use the "
                    "FDSN endpoint (…/fdsnws/event/1/query) or a narrower feed "
                    "(4.5_day.geojson, significant_week.geojson, …)"
                )
            params = None
        else:
            self._page_size()  # the query below asks for one event whatever the page size
            params = self._query(self.start(None), limit=1)
        # one attempt more at most: an unreachable URL must not keep `gep harvest add` (or
        # the API request behind POST /harvest/sources) waiting through every back-off
        attempts = self.fetcher.max_attempts
        self.fetcher.max_attempts = min(attempts, 2)
        try:
            resp = self.fetcher.request("GET", self.config.url, params=params)
        except FetchError as exc:
            if exc.status == 400:  # ComCat refuses a query it cannot run with 400 and a reason
                raise HarvestError(f"ComCat refused the query: {exc}") from exc
            raise WrongAnswerError(str(exc)) from exc
        finally:
            self.fetcher.max_attempts = attempts
        if resp.status_code != 204:  # FDSN's "no data" (nothing matches yet) is fine
            event_features(_decode(resp, self.config.url), self.config.url)

    # -- paging

    def start(self, since: datetime | None) -> dict[str, Any]:
        if self._is_feed():
            return {"feed": True}
        starts = [t for t in (since, self._time("starttime")) if t is not None]
        return {"starttime": fdsn_time(max(starts)) if starts else None, "offset": 1}

    def fetch(self, cursor: Mapping[str, Any]) -> Page:
        url = self.config.url
        feed = bool(cursor.get("feed"))
        query = None if feed else self._query(cursor)
        resp = self.fetcher.request("GET", url, params=query)
        if resp.status_code == 204:  # FDSN's "no data": nothing (more) matches
            return Page(items=[])
        features = event_features(_decode(resp, url), url)
        page = Page(items=[])
        for n, feature in enumerate(features):
            try:
                item = event_item(feature, self.config.collection)
            except _MAPPING_ERRORS as exc:
                fid = feature.get("id") if isinstance(feature, Mapping) else None
                page.errors.append(f"{url} feature {n} ({fid or 'no id'}): {exc}")
                continue
            page.items.append(self.stac_item(item))
        if not feed and query is not None and len(features) >= int(query["limit"]):
            page.next = {
                "starttime": cursor.get("starttime"),
                "offset": int(query["offset"]) + len(features),
            }
        return page
