"""Cron schedules with a time zone, and what to run after the server was down.

croniter does the calendar (day-of-week/day-of-month rules, daylight saving in the zone); this
module adds the two things a systematic platform needs on top: a sixth field for seconds (so
that tests and short demos can schedule "every 5 s") and the catch-up policy that decides which
missed times still run when the scheduler comes back (:func:`due_times`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError, croniter

from gep.core.enums import CatchUp
from gep.core.errors import InvalidInput

#: the most missed runs ``each`` submits after an outage (older ones are skipped, and said so)
MAX_CATCH_UP = 100

_CRON_ERRORS = (
    CroniterBadCronError,
    CroniterBadDateError,
    CroniterNotAlphaError,
    ValueError,
    KeyError,
)


def check_cron(value: Any, field: str = "trigger.cron") -> str:
    """A cron expression of 5 fields (minute hour day month weekday) or 6 (seconds last, as
    croniter reads it), refused with what is wrong."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"{field} must be a cron expression such as '0 6 * * 1' (minute hour day month "
            "weekday), or 6 fields with seconds last",
            field=field,
        )
    expr = " ".join(value.split())
    if len(expr.split(" ")) not in (5, 6):
        raise InvalidInput(
            f"{field} '{value}' has {len(expr.split(' '))} fields; a cron expression has 5 "
            "(minute hour day month weekday) or 6 (seconds last)",
            field=field,
        )
    try:
        it = croniter(expr, datetime(2026, 1, 1, tzinfo=UTC))
        it.get_next(datetime)
    except _CRON_ERRORS as exc:
        raise InvalidInput(
            f"{field} '{value}' is not a valid cron expression: {exc}", field=field
        ) from None
    return expr


def next_time(cron: str, timezone: str, after: datetime) -> datetime:
    """The first time of the schedule strictly after ``after`` (UTC)."""
    tz = ZoneInfo(timezone)
    it = croniter(cron, after.astimezone(tz))
    nxt: datetime = it.get_next(datetime)
    return nxt.astimezone(UTC)


def due_times(
    cron: str, timezone: str, scheduled: datetime, now: datetime, policy: CatchUp
) -> tuple[list[datetime], datetime, int]:
    """The runs to submit now, the next scheduled time, and how many missed runs were skipped.

    ``scheduled`` is the time the subscription was due at (stored); every schedule time in
    ``[scheduled, now]`` is due. On time (one due) it runs whatever the policy; after an
    outage (several due): ``each`` runs them all (at most :data:`MAX_CATCH_UP`, the newest),
    ``once`` runs the newest, ``skip`` runs none.
    """
    if scheduled > now:
        return [], scheduled, 0
    due = [scheduled]
    t = scheduled
    while True:
        t = next_time(cron, timezone, t)
        if t > now:
            break
        due.append(t)
        if len(due) > 100_000:  # a seconds schedule after a long outage: stop counting
            due = due[-MAX_CATCH_UP:]
            t = next_time(cron, timezone, now)
            break
    nxt = t
    if len(due) == 1:
        return due, nxt, 0
    if policy == CatchUp.EACH:
        run = due[-MAX_CATCH_UP:]
    elif policy == CatchUp.ONCE:
        run = due[-1:]
    else:
        run = []
    return run, nxt, len(due) - len(run)
