"""A database refusing a search because of what the caller sent is a 400, not a 500.

The caps of :mod:`gep.catalog.search` keep searches well inside what both databases take, so
this is the second line: should an input still reach a database limit (expression depth, bind
variables, a character PostgreSQL cannot hold, a number out of range), the caller learns which
parameter to change. Only those specific refusals are translated; any other database error is a
bug or an outage and stays a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError

from gep.core.errors import InvalidInput

#: SQLite's words for limits a statement built from user input can reach (lower case)
_SQLITE = (
    "expression tree is too large",
    "too many sql variables",
    "parser stack overflow",
    "string or blob too big",
    "like or glob pattern too complex",
    "unterminated string",  # FTS5 query syntax
    "fts5: syntax error",
    "datatype mismatch",  # LIMIT/OFFSET that is not a 64-bit integer
)

#: PostgreSQL SQLSTATEs of the same kind: program limits, untranslatable characters, numbers
#: and times out of range, bad LIMIT/OFFSET, text that is not the number it should be
_SQLSTATES = {
    "54000",
    "54001",
    "54023",
    "22P05",
    "22021",
    "22003",
    "22008",
    "2201W",
    "2201X",
    "22P02",
}

#: psycopg's own refusals, raised before the statement is sent (no SQLSTATE)
_PSYCOPG = ("cannot contain nul", "number of parameters must be between")


def _reason(exc: BaseException) -> str | None:
    """The database's reason when ``exc`` is a refusal of the input, else None."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    message = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    low = message.lower()
    if getattr(orig, "sqlstate", None) in _SQLSTATES:
        return message
    if type(orig).__module__.startswith("sqlite3") and any(w in low for w in _SQLITE):
        return message
    if type(orig).__module__.startswith("psycopg") and any(w in low for w in _PSYCOPG):
        return message
    if isinstance(orig, OverflowError) and "sqlite" in low:  # an integer past 64 bits
        return message
    return None


@contextmanager
def refused_by_database(field: str) -> Iterator[None]:
    """Turn a database's refusal of the search into a 400 naming ``field``."""
    try:
        yield
    except (DBAPIError, OverflowError) as exc:
        reason = _reason(exc)
        if reason is None:
            raise
        raise InvalidInput(
            f"{field}: the database cannot run this search ({reason}); make it smaller or simpler",
            field=field,
        ) from None
