"""Argument checks the SDK runs before it sends anything.

A bad argument is an :class:`~gep.client.errors.ArgumentError` naming the argument, raised before
any request: a notebook learns at once which argument is wrong, in the terms of the call it
wrote, instead of from a server problem that names the wire format's member (or, worse, after
paging through half a search). The server checks everything again: these checks only catch
what can be told without it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from gep.client.errors import ArgumentError

#: the largest page the STAC API serves
MAX_LIMIT = 10_000
#: GeoJSON geometry types (RFC 7946 §3.1)
GEOMETRY_TYPES = frozenset(
    {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
)
VISIBILITIES = ("private", "public")


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def number(name: str, value: Any, *, low: float | None = None, high: float | None = None) -> float:
    """A finite number within [low, high]."""
    if not is_number(value):
        raise ArgumentError(name, f"{name} must be a number, not {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ArgumentError(name, f"{name} must be {span}, not {value!r}")
    return float(value)


def integer(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """A whole number within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentError(name, f"{name} must be a whole number, not {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ArgumentError(name, f"{name} must be {span}, not {value!r}")
    return value


def text(name: str, value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ArgumentError(name, f"{name} must be a non-empty string, not {value!r}")
    return value


def strings(name: str, value: Any) -> list[str]:
    """One string or a list of them (``collections="a"`` is ``["a"]``)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or isinstance(value, bytes) or not value:
        raise ArgumentError(name, f"{name} must be a string or a non-empty list of strings")
    return [text(name, v) for v in value]


def bbox(name: str, value: Any) -> list[float]:
    """[west, south, east, north] (or with heights: [w, s, zmin, e, n, zmax]) in degrees; west
    may exceed east (across the antimeridian), south may not exceed north."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ArgumentError(
            name, f"{name} is a list of 4 (or 6) numbers: [west, south, east, north]"
        )
    values = list(value)
    if len(values) not in (4, 6) or not all(is_number(v) for v in values):
        raise ArgumentError(name, f"{name} is a list of 4 (or 6) numbers, not {value!r}")
    w, s, e, n = values if len(values) == 4 else (values[0], values[1], values[3], values[4])
    for lon in (w, e):
        if not -180 <= lon <= 180:
            raise ArgumentError(name, f"{name}: longitude {lon} is outside -180…180")
    for lat in (s, n):
        if not -90 <= lat <= 90:
            raise ArgumentError(name, f"{name}: latitude {lat} is outside -90…90")
    if s > n:
        raise ArgumentError(name, f"{name}: south ({s}) is north of north ({n})")
    return [float(v) for v in values]


def geometry(name: str, value: Any) -> dict[str, Any]:
    """A GeoJSON geometry: a mapping, or anything with ``__geo_interface__`` (shapely)."""
    if hasattr(value, "__geo_interface__"):
        value = value.__geo_interface__
    if not isinstance(value, Mapping):
        raise ArgumentError(name, f"{name} must be a GeoJSON geometry (a dict), not {value!r}")
    if value.get("type") == "Feature" and isinstance(value.get("geometry"), Mapping):
        value = value["geometry"]
    kind = value.get("type")
    if kind not in GEOMETRY_TYPES:
        raise ArgumentError(name, f"{name}: {kind!r} is not a GeoJSON geometry type")
    member = "geometries" if kind == "GeometryCollection" else "coordinates"
    if not isinstance(value.get(member), list | tuple):
        raise ArgumentError(name, f"{name}: a {kind} needs its {member}")
    return dict(value)


def area(name: str, value: Any) -> list[float] | dict[str, Any]:
    """A bbox or a GeoJSON geometry."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return bbox(name, value)
    return geometry(name, value)


def _instant(name: str, value: Any, *, end: bool = False) -> str:
    """An RFC 3339 instant (or ``..`` for an open end). A bare date stands for its whole day
    (the STAC API takes date-times only): its first second as a start, its last as an end."""
    if value is None or value == "..":
        return ".."
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z") + ("Z" if value.tzinfo is None else "")
    if isinstance(value, date):
        return _day(value.isoformat(), end)
    if not isinstance(value, str) or not value.strip():
        raise ArgumentError(name, f"{name}: {value!r} is not a date or date-time")
    raw = value.strip()
    try:
        if len(raw) == 10:
            date.fromisoformat(raw)
            return _day(raw, end)
        else:
            datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ArgumentError(
            name, f"{name}: {value!r} is not an RFC 3339 date-time (2024-05-01T00:00:00Z)"
        ) from None
    return raw


def _day(day: str, end: bool) -> str:
    return f"{day}T23:59:59Z" if end else f"{day}T00:00:00Z"


def datetime_interval(name: str, value: Any) -> str:
    """An RFC 3339 instant or interval ``start/end`` (``..`` or None for an open end), from a
    string, a ``datetime``/``date``, or a (start, end) pair."""
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise ArgumentError(name, f"{name}: an interval is a pair (start, end)")
        start, end = _instant(name, value[0]), _instant(name, value[1], end=True)
    elif isinstance(value, str) and "/" in value:
        parts = value.split("/")
        if len(parts) != 2:
            raise ArgumentError(name, f"{name}: {value!r} has more than one '/'")
        start, end = _instant(name, parts[0] or ".."), _instant(name, parts[1] or "..", end=True)
    elif _is_day(value):
        return f"{_instant(name, value)}/{_instant(name, value, end=True)}"  # the whole day
    else:
        return _instant(name, value) if value not in (None, "..") else _open(name)
    if start == ".." and end == "..":
        return _open(name)
    if start != ".." and end != ".." and _key(start) > _key(end):
        raise ArgumentError(name, f"{name}: the interval ends ({end}) before it starts ({start})")
    return f"{start}/{end}"


def _is_day(value: Any) -> bool:
    if isinstance(value, date) and not isinstance(value, datetime):
        return True
    return isinstance(value, str) and len(value.strip()) == 10 and "-" in value


def _open(name: str) -> str:
    raise ArgumentError(name, f"{name}: give at least one end of the interval")


def _key(instant: str) -> datetime:
    if len(instant) == 10:
        return datetime.combine(date.fromisoformat(instant), time())
    parsed = datetime.fromisoformat(instant.replace("z", "Z").replace("Z", "+00:00"))
    return parsed.replace(tzinfo=None) - (parsed.utcoffset() or timedelta(0))


def sortby(name: str, value: Any) -> list[dict[str, str]]:
    """``"-datetime,+id"``, ``["-datetime", "id"]`` or ``[{"field", "direction"}]`` as the STAC
    sort extension's list."""
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, Sequence) or not value:
        raise ArgumentError(name, f"{name} is a field name or a list of them (- for descending)")
    out = []
    for v in value:
        if isinstance(v, Mapping):
            field, direction = v.get("field"), v.get("direction", "asc")
            if not isinstance(field, str) or direction not in ("asc", "desc"):
                raise ArgumentError(name, f"{name}: {v!r} is not {{field, direction: asc|desc}}")
            out.append({"field": field, "direction": str(direction)})
            continue
        field = text(name, v).strip()
        direction = "desc" if field.startswith("-") else "asc"
        out.append({"field": field.lstrip("+-").strip(), "direction": direction})
    return out


def visibility(name: str, value: Any) -> str:
    """``private``, ``public`` or ``group:<name>``."""
    if isinstance(value, str) and (
        value in VISIBILITIES or (value.startswith("group:") and len(value) > len("group:"))
    ):
        return value
    raise ArgumentError(name, f"{name} is private, public or group:<name>, not {value!r}")
