"""Pairs from a new acquisition (a pairing rule) and around an event (pre/post), over the
catalogue's own pair search.

A rule is stated from the later acquisition's side ("each new acquisition with the earlier
ones 6 and 12 days before it"): :func:`rule_pairs` gives a new acquisition's pairs with earlier
ones. An archive does not always publish in acquisition order, so a new item is also offered to
the acquisitions already catalogued *after* it (:func:`late_pairs`): the pairs the rule gives
them that now include it. Either way a pair is the same pair with the same key, so the set
submitted is the rule applied to whatever is catalogued, whatever the order of arrival.
Partners come from :func:`gep.catalog.insar.find_pairs` bounded to the rule's horizon, so the
compatibility (track, pass, burst or swath, polarisation, overlap) and the perpendicular
baseline are the pair search's own, the figures ``/insar/pairs`` shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from shapely.geometry import Point, box, mapping, shape

from gep.catalog.insar import find_pairs, track_key
from gep.catalog.search import SearchRequest
from gep.catalog.store import CatalogStore
from gep.core.access import Viewer
from gep.core.errors import GepError, InvalidInput
from gep.core.timeutil import TimeRange, format_rfc3339, from_micros, parse_instant, to_micros
from gep.production.spec import EventTrigger, PairingRule

#: the most candidates an event's acquisitions search reads
MAX_EVENT_ACQUISITIONS = 2000


@dataclass(frozen=True)
class Pair:
    """A pair as a service's inputs: ``reference`` the earlier acquisition (``collection/id``)."""

    reference: str
    secondary: str
    #: days from reference to secondary, and the perpendicular baseline (m)
    btemp: float
    bperp: float | None
    #: the later acquisition's time (the pair's date)
    datetime: str | None


def ref_of(item: Mapping[str, Any]) -> str:
    return f"{item.get('collection')}/{item.get('id')}"


def item_time_us(item: Mapping[str, Any]) -> int | None:
    props = item.get("properties") or {}
    value = props.get("datetime") or props.get("start_datetime")
    if not isinstance(value, str):
        return None
    try:
        return to_micros(parse_instant(value))
    except GepError:
        return None


def rule_pairs(
    store: CatalogStore, item: Mapping[str, Any], rule: PairingRule, viewer: Viewer | None
) -> list[Pair]:
    """The pairs ``rule`` makes of new acquisition ``item`` with earlier ones the viewer may
    see. InvalidInput when the item cannot be paired at all (no track, no orbit)."""
    t = item_time_us(item)
    if t is None:
        raise InvalidInput(f"item '{item.get('id')}' has no acquisition time", field="item")
    window = TimeRange(from_micros(t - int(rule.horizon_days * 86_400e6)), from_micros(t - 1))
    found = find_pairs(
        store,
        item,
        max_bperp=rule.max_bperp,
        min_overlap=rule.min_overlap,
        limit=10_000,
        viewer=viewer,
        datetime=window,
        sortby="btemp",
    )
    partners = [p for p in found["pairs"] if rule.accepts(-float(p["btemp"]))]
    partners.sort(key=lambda p: (-float(p["btemp"]), p["id"]))  # nearest in time first
    if rule.last_n is not None:
        partners = partners[: rule.last_n]
    when = (item.get("properties") or {}).get("datetime")
    return [
        Pair(
            reference=f"{p['collection']}/{p['id']}",
            secondary=ref_of(item),
            btemp=round(-float(p["btemp"]), 4),
            bperp=p["bperp"],
            datetime=when,
        )
        for p in partners
    ]


def late_pairs(
    store: CatalogStore, item: Mapping[str, Any], rule: PairingRule, viewer: Viewer | None
) -> list[Pair]:
    """The pairs in which ``item`` is the *earlier* acquisition, with acquisitions catalogued
    before it arrived: each later one's own :func:`rule_pairs` that name ``item``."""
    t = item_time_us(item)
    if t is None:
        return []
    window = TimeRange(from_micros(t + 1), from_micros(t + int(rule.horizon_days * 86_400e6)))
    found = find_pairs(
        store,
        item,
        max_bperp=rule.max_bperp,
        min_overlap=0.0,
        limit=10_000,
        viewer=viewer,
        datetime=window,
    )
    me = ref_of(item)
    out: list[Pair] = []
    for p in found["pairs"]:
        if not rule.accepts(float(p["btemp"])):
            continue
        try:
            later = orjson.loads(store.get_item(p["collection"], p["id"], viewer))
        except GepError:
            continue
        out.extend(q for q in rule_pairs(store, later, rule, viewer) if q.reference == me)
    return out


def event_conditions(event: Mapping[str, Any], trigger: EventTrigger) -> str | None:
    """Why an event does not pass the trigger's conditions (None: it passes)."""
    from gep.harvest.usgs import DEPTH, MAGNITUDE

    props = event.get("properties") or {}
    geom = event.get("geometry")
    if geom is None:
        return "no epicentre"
    if trigger.min_magnitude is not None:
        mag = props.get(MAGNITUDE)
        if not isinstance(mag, int | float) or mag < trigger.min_magnitude:
            return f"magnitude {mag} < {trigger.min_magnitude}"
    if trigger.max_depth_km is not None:
        depth = props.get(DEPTH)
        if not isinstance(depth, int | float) or depth > trigger.max_depth_km:
            return f"depth {depth} km > {trigger.max_depth_km} km"
    if trigger.area is not None and not trigger.area.intersects(shape(geom)):
        return "epicentre outside the area"
    return None


def epicentre(event: Mapping[str, Any]) -> Point:
    return shape(event["geometry"]).representative_point()  # type: ignore[no-any-return]


def event_area(event: Mapping[str, Any], half_side_km: float) -> dict[str, Any]:
    """A square around the epicentre, ``half_side_km`` each way (degrees of latitude; longitude
    widened by the latitude's cosine)."""
    import math

    p = epicentre(event)
    dlat = half_side_km / 111.32
    dlon = dlat / max(math.cos(math.radians(p.y)), 0.05)
    return dict(mapping(box(p.x - dlon, p.y - dlat, p.x + dlon, p.y + dlat)))


def event_pairs(
    store: CatalogStore, event: Mapping[str, Any], trigger: EventTrigger, viewer: Viewer | None
) -> list[Pair]:
    """For each track over the epicentre: the last acquisition before the event and the first
    after it, once the latter is catalogued. Deterministic, so asking again (when a later
    acquisition arrives, or on a replay) yields the same pairs and keys."""
    te = item_time_us(event)
    if te is None:
        return []
    req = SearchRequest(
        collections=[trigger.collection],
        intersects=epicentre(event),
        datetime=TimeRange(
            from_micros(te - int(trigger.days_before * 86_400e6)),
            from_micros(te + int(trigger.days_after * 86_400e6)),
        ),
        limit=1000,
        viewer=viewer,
    )
    by_track: dict[tuple[Any, ...], list[tuple[int, dict[str, Any]]]] = {}
    seen = 0
    while seen < MAX_EVENT_ACQUISITIONS:
        page = store.search(req)
        for _, _, raw in page.items:
            seen += 1
            acq = orjson.loads(raw)
            t = item_time_us(acq)
            if t is None or t == te:
                continue
            by_track.setdefault(track_key(acq.get("properties") or {}), []).append((t, acq))
        if not page.next_token:
            break
        req.token = page.next_token
    pairs = []
    for _, acqs in sorted(by_track.items(), key=lambda kv: str(kv[0])):
        before = [a for a in acqs if a[0] < te]
        after = [a for a in acqs if a[0] > te]
        if not before or not after:
            continue
        pre = max(before, key=lambda a: (a[0], str(a[1].get("id"))))
        post = min(after, key=lambda a: (a[0], str(a[1].get("id"))))
        pairs.append(
            Pair(
                reference=ref_of(pre[1]),
                secondary=ref_of(post[1]),
                btemp=round((post[0] - pre[0]) / 86_400e6, 4),
                bperp=None,
                datetime=format_rfc3339(from_micros(post[0])),
            )
        )
    return pairs


def events_before(
    store: CatalogStore,
    acquisition: Mapping[str, Any],
    trigger: EventTrigger,
    viewer: Viewer | None,
) -> list[dict[str, Any]]:
    """The feed's events inside an acquisition's footprint in the ``days_after`` before it:
    those a new acquisition may be the post-event image of."""
    t = item_time_us(acquisition)
    if t is None or acquisition.get("geometry") is None:
        return []
    req = SearchRequest(
        collections=[trigger.feed_collection],
        intersects=shape(acquisition["geometry"]),
        datetime=TimeRange(from_micros(t - int(trigger.days_after * 86_400e6)), from_micros(t - 1)),
        limit=1000,
        viewer=viewer,
    )
    page = store.search(req)
    return [orjson.loads(raw) for _, _, raw in page.items]


def window_values(scheduled_us: int, window: timedelta) -> dict[str, Any]:
    """What a time-driven run fills in: the window that ends at its scheduled time."""
    end = from_micros(scheduled_us)
    start = end - window
    s, e = format_rfc3339(start), format_rfc3339(end)
    return {"start": s, "end": e, "datetime": f"{s}/{e}"}
