"""RFC 3339 instants and the STAC ``datetime`` interval syntax.

Times are normalised to UTC microseconds since the epoch (int): both backends store and compare
the same integers, so their ordering cannot drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gep.core.errors import InvalidInput

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def to_micros(dt: datetime) -> int:
    """UTC microseconds since 1970 (exact integer arithmetic, no float rounding)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def format_rfc3339(dt: datetime) -> str:
    """Render as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` in UTC."""
    dt = dt.astimezone(UTC)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        base += f".{dt.microsecond:06d}"
    return base + "Z"


def parse_instant(value: str, field: str = "datetime", *, end_of_day: bool = False) -> datetime:
    """Parse an RFC 3339 timestamp (or a full date, as CQL2 ``DATE`` and OpenSearch allow)."""
    text = value.strip()
    if len(text) >= 20 and text[10] == "T" and text[-1] == "Z" and _RFC3339.match(text):
        try:  # the common case, one call (Python 3.11 reads the Z suffix)
            return datetime.fromisoformat(text).astimezone(UTC)
        except ValueError:
            pass  # fall through to the full parse and its message
    if not _RFC3339.match(text):
        raise InvalidInput(
            f"{field}: '{value}' is not an RFC 3339 timestamp such as 2021-04-01T05:26:22Z "
            "(or a date such as 2021-04-01)",
            field=field,
        )
    try:
        if _DATE.match(text):
            dt = datetime.fromisoformat(text).replace(tzinfo=UTC)
            if end_of_day:
                dt = dt + timedelta(days=1) - timedelta(microseconds=1)
            return dt
        norm = text.replace("z", "Z").replace("t", "T").replace(" ", "T")
        if norm.endswith("Z"):
            norm = norm[:-1] + "+00:00"
        # Python < 3.11 needs 6 fractional digits; 3.11 accepts any, but clip beyond micros.
        m = re.match(r"^(.*\.\d{6})\d+(.*)$", norm)
        if m:
            norm = m.group(1) + m.group(2)
        return datetime.fromisoformat(norm).astimezone(UTC)
    except ValueError as exc:
        raise InvalidInput(
            f"{field}: '{value}' is not a valid date or time ({exc})", field=field
        ) from None


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A closed interval; ``None`` on a side means open."""

    start: datetime | None
    end: datetime | None

    @property
    def start_us(self) -> int | None:
        return None if self.start is None else to_micros(self.start)

    @property
    def end_us(self) -> int | None:
        return None if self.end is None else to_micros(self.end)


_OPEN = {"", "..", None}


def parse_datetime_interval(value: str, field: str = "datetime") -> TimeRange:
    """Parse the STAC ``datetime`` parameter: an instant, ``a/b``, ``../b``, ``a/..``."""
    if not isinstance(value, str):  # a JSON body can hold anything
        raise InvalidInput(
            f"{field} must be text: an RFC 3339 instant or an interval a/b", field=field
        )
    text = value.strip()
    if "/" in text:
        parts = text.split("/")
        if len(parts) != 2:
            raise InvalidInput(
                f"{field}: '{value}' has more than one '/'; use start/end, ../end or start/..",
                field=field,
            )
        a, b = parts
        if a in _OPEN and b in _OPEN:
            raise InvalidInput(f"{field}: both ends of '{value}' are open", field=field)
        start = None if a in _OPEN else parse_instant(a, field)
        end = None if b in _OPEN else parse_instant(b, field, end_of_day=True)
        if start is not None and end is not None and start > end:
            raise InvalidInput(f"{field}: start {a} is after end {b}", field=field)
        return TimeRange(start, end)
    if text in _OPEN:
        raise InvalidInput(f"{field} is empty", field=field)
    instant = parse_instant(text, field)
    end = parse_instant(text, field, end_of_day=True) if _DATE.match(text) else instant
    return TimeRange(instant, end)
