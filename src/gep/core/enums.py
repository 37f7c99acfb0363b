"""Closed sets of values that travel as strings: in the database, in JSON, over HTTP.

They are ``StrEnum``s so that a typo is a type error and every package (the job store, the API,
the SDK, usage accounting) names the same members, while a member still *is* its string: it
compares equal to it, is stored and serialised as it, and rows written before the enum existed
read back unchanged. They sit in ``gep.core`` because the store, the API and the accounts all
need them; the SDK (``gep.client``, installable alone) keeps its own copy of ``JobStatus``, which
a test holds equal to this one.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """A job's status (OGC API - Processes - Part 1, ``statusCode``)."""

    ACCEPTED = "accepted"
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    DISMISSED = "dismissed"

    @property
    def final(self) -> bool:
        """Whether the job has ended (nothing moves it on from here)."""
        return self in FINAL_STATUSES


#: the statuses a job ends in
FINAL_STATUSES: tuple[JobStatus, ...] = (
    JobStatus.SUCCESSFUL,
    JobStatus.FAILED,
    JobStatus.DISMISSED,
)
#: the statuses of a job that still holds a place in its owner's queue
ACTIVE_STATUSES: tuple[JobStatus, ...] = (JobStatus.ACCEPTED, JobStatus.RUNNING)


class LogLevel(StrEnum):
    """The levels of a job's log lines (Python's ``logging`` names), lowest first."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        """The ``logging`` number of the level (``DEBUG`` 10 … ``CRITICAL`` 50)."""
        return (list(LogLevel).index(self) + 1) * 10


class TriggerKind(StrEnum):
    """What makes a subscription submit jobs (``gep.production``)."""

    #: new items of a collection over an area (optionally paired with earlier acquisitions)
    DATA = "data"
    #: a cron schedule, over a rolling window
    TIME = "time"
    #: an external event feed (earthquakes) turned into pre/post-event pairs
    EVENT = "event"


class CatchUp(StrEnum):
    """What a time-driven subscription does with the runs it missed while the server was down."""

    #: one run, for the latest missed time
    ONCE = "once"
    #: every missed run, in order
    EACH = "each"
    #: none: the next run is the next future time
    SKIP = "skip"


class SubscriptionState(StrEnum):
    """Whether a subscription's triggers submit jobs."""

    ACTIVE = "active"
    PAUSED = "paused"


class BudgetPeriod(StrEnum):
    """The period a subscription's credit budget is counted over (UTC calendar periods)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "BudgetPeriod",
    "CatchUp",
    "JobStatus",
    "LogLevel",
    "SubscriptionState",
    "TriggerKind",
]
