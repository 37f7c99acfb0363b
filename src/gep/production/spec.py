"""What a subscription asks for, parsed and checked field by field before anything is stored.

A subscription is a service, an input template and a trigger. Every part is refused here with the
field that is wrong and what would be accepted (``trigger.cron``, ``trigger.pairing.btemp_days``,
``inputs.aoi``…), at creation: a rule that cannot work must not be discovered at its first
trigger, days later. What needs the catalogue or the service (the collection exists and holds
SLCs, the template validates against the service's inputs) is checked by
:mod:`gep.production.service`, which owns those stores; this module needs none.

The trigger is kept as the JSON the user sent (normalised), so an edit or a listing shows it as
written; :func:`parse_trigger` turns it into the typed objects the dispatcher runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from gep.core.enums import BudgetPeriod, CatchUp, TriggerKind
from gep.core.errors import InvalidInput
from gep.core.geometry import parse_geojson_geometry
from gep.core.timeutil import parse_datetime_interval

#: the most jobs one trigger may submit unless the subscription says otherwise
DEFAULT_MAX_JOBS_PER_TRIGGER = 20
#: and the most it may say
MAX_JOBS_PER_TRIGGER = 1000
#: the shortest period between two runs of a time-driven subscription
MIN_CRON_PERIOD_S = 1
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class PairingRule:
    """How a new acquisition is paired with earlier ones on its track (and burst).

    ``btemp_days``: the pairs whose temporal baseline is one of these (± ``tolerance_days``):
    InSAR Browse's "all 6- and 12-day pairs" is ``[6, 12]``. ``max_btemp``: every earlier
    acquisition within that many days. ``last_n``: of those that qualify, only the N most
    recent. ``max_bperp``: perpendicular baseline limit (metres, at the new acquisition's
    centre, as the pair search computes it)."""

    btemp_days: tuple[float, ...] = ()
    tolerance_days: float = 0.5
    max_btemp: float | None = None
    max_bperp: float | None = None
    last_n: int | None = None
    min_overlap: float = 0.5

    @property
    def horizon_days(self) -> float:
        """How far back a partner may lie (the search window)."""
        if self.btemp_days:
            return max(self.btemp_days) + self.tolerance_days
        if self.max_btemp is not None:
            return self.max_btemp
        return 366.0  # last_n alone: a year back is more than any revisit

    def accepts(self, btemp_days: float) -> bool:
        """Whether a partner ``btemp_days`` earlier (positive) qualifies on time."""
        if btemp_days <= 0:
            return False
        if self.btemp_days and not any(
            abs(btemp_days - d) <= self.tolerance_days for d in self.btemp_days
        ):
            return False
        return self.max_btemp is None or btemp_days <= self.max_btemp


@dataclass(frozen=True)
class DataTrigger:
    """New items of ``collection`` over ``area`` matching ``filter`` within ``period``."""

    collection: str
    area: BaseGeometry | None = None
    #: CQL2-JSON, or None
    filter: dict[str, Any] | None = None
    #: acquisition time bounds (UTC microseconds; None open)
    start_us: int | None = None
    end_us: int | None = None
    pairing: PairingRule | None = None
    kind: TriggerKind = TriggerKind.DATA


@dataclass(frozen=True)
class TimeTrigger:
    """Runs at each time of a cron expression in ``timezone``, over the window before it."""

    cron: str
    timezone: str
    window: timedelta
    catch_up: CatchUp
    area: BaseGeometry | None = None
    kind: TriggerKind = TriggerKind.TIME


@dataclass(frozen=True)
class EventTrigger:
    """Events of a feed (earthquakes) that pass the conditions, turned into pre/post-event
    pairs of ``collection`` over the epicentre, as soon as the post-event acquisition is in."""

    #: the harvest source that polls the feed, and the collection it writes the events to
    feed: str
    feed_collection: str
    collection: str
    min_magnitude: float | None = None
    max_depth_km: float | None = None
    area: BaseGeometry | None = None
    days_before: float = 48.0
    days_after: float = 48.0
    #: the half-side of the square around the epicentre given to the service as ``{{area}}``
    event_area_km: float = 20.0
    kind: TriggerKind = TriggerKind.EVENT


Trigger = DataTrigger | TimeTrigger | EventTrigger


@dataclass(frozen=True)
class Budget:
    cents: int
    period: BudgetPeriod


#: resolves an area given by name (a named area or a gazetteer place) for the owner
AreaResolver = Callable[[str, str], BaseGeometry]


def _number(
    value: Any, where: str, *, low: float | None = None, high: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{where} must be a number", field=where)
    v = float(value)
    if v != v or (low is not None and v < low) or (high is not None and v > high):
        raise InvalidInput(
            f"{where} must be a number between {low} and {high}, not {value}", field=where
        )
    return v


def _allowed(obj: Mapping[str, Any], where: str, keys: set[str]) -> None:
    extra = sorted(set(obj) - keys)
    if extra:
        raise InvalidInput(
            f"{where} has no member {', '.join(map(repr, extra))}; it accepts: "
            + ", ".join(sorted(keys)),
            field=f"{where}.{extra[0]}",
        )


def parse_area(
    trigger: Mapping[str, Any], where: str, resolve: AreaResolver
) -> BaseGeometry | None:
    """``intersects`` (GeoJSON), ``area`` (a named area's id) or ``place`` (a gazetteer name):
    at most one."""
    given = [k for k in ("intersects", "area", "place") if trigger.get(k) is not None]
    if len(given) > 1:
        raise InvalidInput(
            f"{where}: give one of intersects, area or place, not {' and '.join(given)}",
            field=f"{where}.{given[1]}",
        )
    if not given:
        return None
    key = given[0]
    if key == "intersects":
        geom = parse_geojson_geometry(trigger[key], field=f"{where}.intersects")
        if geom.is_empty:
            raise InvalidInput(f"{where}.intersects is empty", field=f"{where}.intersects")
        return geom
    value = trigger[key]
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{where}.{key} must be a name", field=f"{where}.{key}")
    return resolve(key, value)


def parse_pairing(value: Any, where: str) -> PairingRule:
    if not isinstance(value, dict):
        raise InvalidInput(
            f"{where} must be an object: btemp_days, max_btemp, max_bperp, last_n",
            field=where,
        )
    _allowed(
        value,
        where,
        {"btemp_days", "tolerance_days", "max_btemp", "max_bperp", "last_n", "min_overlap"},
    )
    days: tuple[float, ...] = ()
    if value.get("btemp_days") is not None:
        raw = value["btemp_days"]
        if not isinstance(raw, list) or not raw or len(raw) > 20:
            raise InvalidInput(
                f"{where}.btemp_days must be a list of 1-20 temporal baselines in days, "
                "e.g. [6, 12]",
                field=f"{where}.btemp_days",
            )
        days = tuple(
            sorted(
                _number(d, f"{where}.btemp_days[{i}]", low=0.5, high=730) for i, d in enumerate(raw)
            )
        )
    tol = _number(value.get("tolerance_days", 0.5), f"{where}.tolerance_days", low=0, high=5)
    max_btemp = (
        None
        if value.get("max_btemp") is None
        else _number(value["max_btemp"], f"{where}.max_btemp", low=0.5, high=730)
    )
    max_bperp = (
        None
        if value.get("max_bperp") is None
        else _number(value["max_bperp"], f"{where}.max_bperp", low=1, high=10_000)
    )
    last_n = None
    if value.get("last_n") is not None:
        n = value["last_n"]
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 50:
            raise InvalidInput(f"{where}.last_n must be an integer 1-50", field=f"{where}.last_n")
        last_n = n
    if not days and max_btemp is None and last_n is None:
        raise InvalidInput(
            f"{where} must say which earlier acquisitions pair with a new one: btemp_days "
            "(e.g. [6, 12]), max_btemp (days) or last_n",
            field=where,
        )
    min_overlap = _number(value.get("min_overlap", 0.5), f"{where}.min_overlap", low=0, high=1)
    return PairingRule(days, tol, max_btemp, max_bperp, last_n, min_overlap)


def parse_filter(value: Any, where: str, *, trusted: bool = False) -> dict[str, Any] | None:
    """CQL2 text or JSON, as CQL2-JSON (its syntax checked by the ``cql2`` library).
    ``trusted``: CQL2-JSON stored after that check, taken as it is (checking costs ~20 ms a
    filter, which a dispatcher reloading 10 000 subscriptions must not pay)."""
    if value is None:
        return None
    if trusted and isinstance(value, dict):
        return value
    import cql2

    try:
        expr = cql2.Expr(value)
        expr.validate()
    except Exception as exc:  # cql2 raises its own ValidationError / ValueError
        raise InvalidInput(f"{where} is not a valid CQL2 filter: {exc}", field=where) from None
    out: dict[str, Any] = expr.to_json()
    return out


def _collection(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidInput(f"{where} must be a collection id", field=where)
    return value


def parse_window(value: Any, where: str) -> timedelta:
    """A window length: seconds (number) or an ISO 8601 duration of days/hours (``P7D``,
    ``PT6H``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", value.strip())
        if not m or not any(m.groups()):
            raise InvalidInput(
                f"{where} must be seconds or an ISO 8601 duration such as P7D or PT6H",
                field=where,
            )
        d, h, mi, s = (int(g or 0) for g in m.groups())
        seconds = ((d * 24 + h) * 60 + mi) * 60 + s
    else:
        raise InvalidInput(f"{where} must be seconds or a duration such as P7D", field=where)
    if not 1 <= seconds <= 366 * 86400:
        raise InvalidInput(f"{where} must be between 1 s and 366 days", field=where)
    return timedelta(seconds=seconds)


def parse_trigger(
    value: Any, resolve: AreaResolver, where: str = "trigger", *, trusted: bool = False
) -> tuple[Trigger, dict[str, Any]]:
    """The trigger, run-ready, and its normalised JSON (the filter as CQL2-JSON).
    ``trusted``: a stored trigger, checked when it was stored."""
    if not isinstance(value, dict):
        raise InvalidInput(
            f'{where} must be an object with "type": one of data, time, event', field=where
        )
    kind = value.get("type")
    if kind not in tuple(TriggerKind):
        raise InvalidInput(
            f"{where}.type must be one of {', '.join(TriggerKind)}, not {kind!r}",
            field=f"{where}.type",
        )
    area = parse_area(value, where, resolve)
    stored = dict(value)
    if kind == TriggerKind.DATA:
        _allowed(
            value,
            where,
            {"type", "collection", "intersects", "area", "place", "filter", "period", "pairing"},
        )
        start_us = end_us = None
        if value.get("period") is not None:
            rng = parse_datetime_interval(value["period"], field=f"{where}.period")
            start_us, end_us = rng.start_us, rng.end_us
        pairing = (
            None
            if value.get("pairing") is None
            else parse_pairing(value["pairing"], f"{where}.pairing")
        )
        data = DataTrigger(
            collection=_collection(value.get("collection"), f"{where}.collection"),
            area=area,
            filter=parse_filter(value.get("filter"), f"{where}.filter", trusted=trusted),
            start_us=start_us,
            end_us=end_us,
            pairing=pairing,
        )
        if data.filter is not None:
            stored["filter"] = data.filter  # stored as CQL2-JSON, run without a re-check
        trigger: Trigger = data
    elif kind == TriggerKind.TIME:
        _allowed(
            value,
            where,
            {"type", "cron", "timezone", "window", "catch_up", "intersects", "area", "place"},
        )
        from gep.production.schedule import check_cron

        tz = value.get("timezone", "UTC")
        try:
            ZoneInfo(str(tz))
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(
                f"{where}.timezone '{tz}' is not an IANA time zone (e.g. UTC, Europe/Rome)",
                field=f"{where}.timezone",
            ) from None
        cron = check_cron(value.get("cron"), f"{where}.cron")
        catch = value.get("catch_up", CatchUp.ONCE)
        if catch not in tuple(CatchUp):
            raise InvalidInput(
                f"{where}.catch_up must be one of {', '.join(CatchUp)}", field=f"{where}.catch_up"
            )
        trigger = TimeTrigger(
            cron=cron,
            timezone=str(tz),
            window=parse_window(value.get("window", "P7D"), f"{where}.window"),
            catch_up=CatchUp(catch),
            area=area,
        )
        stored.setdefault("timezone", str(tz))
        stored.setdefault("catch_up", str(catch))
    else:
        _allowed(
            value,
            where,
            {
                "type",
                "feed",
                "collection",
                "min_magnitude",
                "max_depth_km",
                "intersects",
                "area",
                "place",
                "days_before",
                "days_after",
                "event_area_km",
            },
        )
        feed = value.get("feed")
        if not isinstance(feed, str) or not feed:
            raise InvalidInput(
                f"{where}.feed must name a harvest source of kind usgs (gep harvest list)",
                field=f"{where}.feed",
            )
        trigger = EventTrigger(
            feed=feed,
            feed_collection="",  # filled by the service from the harvest source
            collection=_collection(value.get("collection"), f"{where}.collection"),
            min_magnitude=None
            if value.get("min_magnitude") is None
            else _number(value["min_magnitude"], f"{where}.min_magnitude", low=-2, high=10),
            max_depth_km=None
            if value.get("max_depth_km") is None
            else _number(value["max_depth_km"], f"{where}.max_depth_km", low=0, high=800),
            area=area,
            days_before=_number(
                value.get("days_before", 48), f"{where}.days_before", low=1, high=400
            ),
            days_after=_number(value.get("days_after", 48), f"{where}.days_after", low=1, high=400),
            event_area_km=_number(
                value.get("event_area_km", 20), f"{where}.event_area_km", low=1, high=300
            ),
        )
    if area is not None:
        stored["resolved_area"] = mapping(area)
    return trigger, stored


def trigger_from_stored(stored: Mapping[str, Any], feed_collection: str | None = None) -> Trigger:
    """The typed trigger of a stored subscription (its area as resolved at creation, so that a
    renamed place does not move a running subscription)."""
    data = {
        k: v
        for k, v in stored.items()
        if k not in ("intersects", "area", "place", "resolved_area", "feed_collection")
    }
    if stored.get("resolved_area") is not None:
        data["intersects"] = stored["resolved_area"]

    def no_names(kind: str, name: str) -> BaseGeometry:  # pragma: no cover - areas are resolved
        raise InvalidInput(f"unresolved {kind} {name}", field="trigger")

    trigger, _ = parse_trigger(data, no_names, trusted=True)
    if isinstance(trigger, EventTrigger):
        trigger = EventTrigger(
            **{
                **trigger.__dict__,
                "feed_collection": feed_collection or stored.get("feed_collection", ""),
            }
        )
    return trigger


def parse_spec(body: Any, resolve: AreaResolver, *, partial: bool = False) -> dict[str, Any]:
    """The members of a creation (``partial``: an edit) body, checked one by one; returns them
    typed (``trigger`` as ``(Trigger, stored JSON)``)."""
    if not isinstance(body, dict):
        raise InvalidInput(
            "the body must be a subscription: {title, process, inputs, trigger, …}", field="body"
        )
    _allowed(
        body,
        "body",
        {
            "title",
            "process",
            "inputs",
            "trigger",
            "budget",
            "max_jobs_per_trigger",
            "webhook",
            "backfill",
        },
    )
    out: dict[str, Any] = {}
    required = () if partial else ("title", "process", "inputs", "trigger")
    for key in required:
        if body.get(key) is None:
            raise InvalidInput(f"a subscription needs {key}", field=key)
    if "title" in body:
        if not isinstance(body["title"], str) or not 1 <= len(body["title"].strip()) <= 200:
            raise InvalidInput("title must be 1-200 characters", field="title")
        out["title"] = body["title"].strip()
    if "process" in body:
        if not isinstance(body["process"], str) or not _ID.match(body["process"]):
            raise InvalidInput("process must be a process id (GET /processes)", field="process")
        out["process"] = body["process"]
    if "inputs" in body:
        if not isinstance(body["inputs"], dict):
            raise InvalidInput(
                "inputs must be the service's inputs as an object, with placeholders such as "
                '"{{reference}}"',
                field="inputs",
            )
        out["inputs"] = body["inputs"]
    if "trigger" in body:
        out["trigger"] = parse_trigger(body["trigger"], resolve)
    if "budget" in body:
        out["budget"] = parse_budget(body["budget"])
    if "max_jobs_per_trigger" in body:
        n = body["max_jobs_per_trigger"]
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_JOBS_PER_TRIGGER:
            raise InvalidInput(
                f"max_jobs_per_trigger must be an integer 1-{MAX_JOBS_PER_TRIGGER}",
                field="max_jobs_per_trigger",
            )
        out["max_jobs_per_trigger"] = n
    if "webhook" in body:
        out["webhook"] = parse_webhook(body["webhook"])
    if "backfill" in body:
        if not isinstance(body["backfill"], bool):
            raise InvalidInput("backfill must be true or false", field="backfill")
        out["backfill"] = body["backfill"]
    return out


def parse_budget(value: Any) -> Budget | None:
    if value is None:
        return None
    from gep.accounts.money import cents

    if not isinstance(value, dict):
        raise InvalidInput(
            'budget must be {"credits": <number>, "period": "day|week|month"}', field="budget"
        )
    _allowed(value, "budget", {"credits", "period"})
    amount = cents(value.get("credits"), field="budget.credits")
    if amount <= 0:
        raise InvalidInput("budget.credits must be more than 0", field="budget.credits")
    period = value.get("period", BudgetPeriod.MONTH)
    if period not in tuple(BudgetPeriod):
        raise InvalidInput(
            f"budget.period must be one of {', '.join(BudgetPeriod)}", field="budget.period"
        )
    return Budget(amount, BudgetPeriod(period))


def parse_webhook(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"url"}:
        raise InvalidInput('webhook must be {"url": "https://…"}', field="webhook")
    url = value.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url) or len(url) > 2000:
        raise InvalidInput("webhook.url must be an http(s) URL", field="webhook.url")
    return url
