"""The one parser of the times archive records carry.

Why not :func:`gep.core.timeutil.parse_instant`: that one checks what users send to the API and
refuses anything but strict RFC 3339. Archives write looser variants, all seen in recorded
answers: 0 to 9 fractional digits, ``Z``, ``z``, an offset or nothing (UTC meant), a bare date,
the compact ``20210102T032031`` of product names. They are read here, once, for every mapping;
items are written with :func:`gep.core.timeutil.format_rfc3339`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from gep.io.crosswalk.values import clean

_BEYOND_MICROSECONDS = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any, what: str = "time") -> datetime | None:
    """An aware UTC datetime, or None when the record has no value; ValueError naming ``what``
    when the value is not a time."""
    value = clean(value)
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip().replace("z", "Z")
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        text = _BEYOND_MICROSECONDS.sub(r"\1", text)
        try:
            dt = datetime.fromisoformat(text)  # also the compact 20210102T032031 (Python 3.11)
        except ValueError:
            raise ValueError(f"{what} {value!r} is not an RFC 3339 time") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
