"""A collection's retention policy: how long its items are kept (``"gep:retention"``).

The policy is a member of the collection document, ``"gep:retention": {"days": N}``, so it is
set, changed and removed by whoever may update the collection (its owner; an administrator for
the platform's collections such as ``results``), travels with the collection, and is visible to
whoever may see it. Absent (or ``null``) means the items are kept forever. It lives in the
catalogue because collections are validated here, whoever writes them; the sweep that applies it
is ``gep.jobs.retention``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gep.core.errors import InvalidInput

#: the collection member that holds the policy
RETENTION_FIELD = "gep:retention"
#: the longest policy accepted (about a century): anything longer is "forever", which is
#: said by leaving the policy out, and the bound keeps date arithmetic in range
MAX_DAYS = 36_500
_SHAPE = f'{{"days": N}} with N a whole number of days from 1 to {MAX_DAYS}'


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Items older than ``days`` are expired (unless pinned)."""

    days: int

    @property
    def max_age_us(self) -> int:
        return self.days * 86_400 * 1_000_000

    def as_dict(self) -> dict[str, Any]:
        return {"days": self.days}


def parse_retention(value: Any) -> RetentionPolicy | None:
    """The policy a ``gep:retention`` value states (None: keep forever); 400 naming the member
    at fault and the shape accepted otherwise."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(
            f"{RETENTION_FIELD} must be an object {_SHAPE}; omit it to keep items forever",
            field=RETENTION_FIELD,
        )
    unknown = sorted(str(k) for k in value if k != "days")
    if unknown:
        raise InvalidInput(
            f"{RETENTION_FIELD} has unknown members {', '.join(unknown)}; it accepts {_SHAPE}",
            field=f"{RETENTION_FIELD}.{unknown[0]}",
        )
    days = value.get("days")
    # bool is an int in Python, and 30.0 is not "a whole number" a client meant to send
    if type(days) is not int or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(
            f"{RETENTION_FIELD}.days must be a whole number of days from 1 to {MAX_DAYS}, "
            f"not {days!r}",
            field=f"{RETENTION_FIELD}.days",
        )
    return RetentionPolicy(days)


def retention_of(collection: dict[str, Any]) -> RetentionPolicy | None:
    """A stored collection's policy (None: keep forever)."""
    return parse_retention(collection.get(RETENTION_FIELD))


__all__ = ["MAX_DAYS", "RETENTION_FIELD", "RetentionPolicy", "parse_retention", "retention_of"]
