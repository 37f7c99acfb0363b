"""Which of many values a column holds, in chunks of bind variables (SQLite allows a few
hundred per statement): the one loop the job store and the subscription store both need."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

#: bind variables per statement
CHUNK = 500


def values_in(conn: Connection, table: str, column: str, values: Sequence[str]) -> set[str]:
    """The ``values`` found in ``table.column`` (names are the caller's constants, never
    user input)."""
    found: set[str] = set()
    for start in range(0, len(values), CHUNK):
        binds = {f"v{n}": v for n, v in enumerate(values[start : start + CHUNK])}
        marks = ", ".join(f":{k}" for k in binds)
        sql = f"SELECT {column} FROM {table} WHERE {column} IN ({marks})"
        found.update(r[0] for r in conn.execute(text(sql), binds))
    return found
