"""Which subscriptions a batch of new items concerns, for thousands of subscriptions at once.

The dispatcher asks this for every batch of the ingestion log, so matching must not cost one
test per subscription per item. Subscriptions are indexed per collection: those with an area in
a shapely ``STRtree`` (a batch of item footprints is queried in one vectorised call that returns
only intersecting pairs), those without one listed apart; the period is compared on integers;
the CQL2 filter, the only per-pair test left, is evaluated by the ``cql2`` library on the
candidates that passed the others (``Expr.matches``), compiled once per subscription.

The index is rebuilt when the subscription table changes (its count or newest ``updated``),
which the dispatcher checks once per round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from shapely import STRtree
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gep.production.pairing import item_time_us
from gep.production.spec import DataTrigger, EventTrigger, Trigger
from gep.production.store import Subscription


class Role(StrEnum):
    """What a new item is to the subscription it matched."""

    #: a data trigger's new item
    ITEM = "item"
    #: an event trigger's new event
    EVENT = "event"
    #: an event trigger's new acquisition (maybe the post-event image of a known event)
    ACQUISITION = "acquisition"


@dataclass
class Entry:
    sub: Subscription
    trigger: Trigger
    role: Role
    expr: Any = None


@dataclass
class CollectionIndex:
    with_area: list[Entry] = field(default_factory=list)
    without_area: list[Entry] = field(default_factory=list)
    tree: STRtree | None = None

    def finish(self) -> None:
        areas = [e.trigger.area for e in self.with_area]
        self.tree = STRtree(areas) if areas else None


class SubscriptionIndex:
    """Active data and event subscriptions, by the collection whose new items concern them."""

    def __init__(self, entries: Sequence[tuple[Subscription, Trigger]]) -> None:
        self.collections: dict[str, CollectionIndex] = {}
        for sub, trigger in entries:
            if isinstance(trigger, DataTrigger):
                self._add(trigger.collection, Entry(sub, trigger, Role.ITEM, _compile(trigger)))
            elif isinstance(trigger, EventTrigger):
                self._add(trigger.feed_collection, Entry(sub, trigger, Role.EVENT))
                # an acquisition matches by the events inside it, not by the trigger's area
                self._add(trigger.collection, Entry(sub, trigger, Role.ACQUISITION), area=False)
        for idx in self.collections.values():
            idx.finish()

    def _add(self, collection: str, entry: Entry, area: bool = True) -> None:
        idx = self.collections.setdefault(collection, CollectionIndex())
        if area and entry.trigger.area is not None:
            idx.with_area.append(entry)
        else:
            idx.without_area.append(entry)

    def __len__(self) -> int:
        return sum(len(i.with_area) + len(i.without_area) for i in self.collections.values())

    def match(self, collection: str, items: Sequence[dict[str, Any]]) -> list[tuple[int, Entry]]:
        """``(position in items, entry)`` for every item and subscription it concerns, in item
        order."""
        idx = self.collections.get(collection)
        if idx is None or not items:
            return []
        pairs: list[tuple[int, Entry]] = []
        if idx.tree is not None:
            geoms: list[BaseGeometry | None] = []
            for it in items:
                g = it.get("geometry")
                geoms.append(shape(g) if g else None)
            present = [k for k, g in enumerate(geoms) if g is not None]
            if present:
                hits = idx.tree.query([geoms[k] for k in present], predicate="intersects")
                order = np.lexsort((hits[1], hits[0]))
                for a, b in zip(hits[0][order].tolist(), hits[1][order].tolist(), strict=True):
                    pairs.append((present[a], idx.with_area[b]))
        for k in range(len(items)):
            pairs.extend((k, e) for e in idx.without_area)
        times = [item_time_us(it) for it in items]
        out = []
        for k, entry in pairs:
            trig = entry.trigger
            if isinstance(trig, DataTrigger):
                t = times[k]
                if trig.start_us is not None and (t is None or t < trig.start_us):
                    continue
                if trig.end_us is not None and (t is None or t > trig.end_us):
                    continue
                if entry.expr is not None and not _matches(entry.expr, items[k]):
                    continue
            out.append((k, entry))
        out.sort(key=lambda p: p[0])
        return out


def _compile(trigger: DataTrigger) -> Any:
    if trigger.filter is None:
        return None
    import cql2

    return cql2.Expr(trigger.filter)


def _matches(expr: Any, item: dict[str, Any]) -> bool:
    try:
        return bool(expr.matches(item))
    except Exception:  # a property of the wrong type for the filter: not a match
        return False
