"""The rows a caller may see, asked once: every store that holds owned objects (jobs, deployed
packages, harvest sources, named areas, collections) reads them through these two queries.

The predicate itself is :func:`gep.core.access.visibility_clause`; what lives here is the query
around it, so that "a hidden row answers like a missing one" and "a listing counts only what the
caller may see" are written once rather than once per store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.engine import Connection

from gep.core.access import Viewer, visibility_clause

#: a row of a text query: any number of columns of any type
AnyRow = Row[*tuple[Any, ...]]


def visible_where(
    viewer: Viewer | None,
    params: dict[str, Any],
    owner_col: str = "owner",
    visibility_col: str = "visibility",
) -> str | None:
    """The visibility predicate for ``viewer`` (its parameters added to ``params``); None when
    nothing is hidden: no viewer (the platform's own work) or an administrator."""
    if viewer is None:
        return None
    return visibility_clause(viewer, owner_col, visibility_col, params)


def select_visible(
    conn: Connection,
    table: str,
    columns: str,
    key: Mapping[str, Any],
    viewer: Viewer | None,
    *,
    owner_col: str = "owner",
    visibility_col: str = "visibility",
) -> AnyRow | None:
    """The one row of ``table`` whose ``key`` columns equal its values, if ``viewer`` may see it
    (any viewer when None).

    None both when the row does not exist and when it is hidden: callers raise one NotFound for
    both, so that a hidden object cannot be told from a missing one.
    """
    params: dict[str, Any] = {}
    where = []
    for n, (col, value) in enumerate(key.items()):
        params[f"k{n}"] = value
        where.append(f"{col} = :k{n}")
    clause = visible_where(viewer, params, owner_col, visibility_col)
    if clause:
        where.append(clause)
    sql = f"SELECT {columns} FROM {table} WHERE {' AND '.join(where)}"
    return conn.execute(text(sql), params).first()


def select_all_visible(
    conn: Connection,
    table: str,
    columns: str,
    viewer: Viewer | None,
    order_by: str,
    *,
    owner_col: str = "owner",
    visibility_col: str = "visibility",
) -> list[AnyRow]:
    """Every row of ``table`` ``viewer`` may see (all when None), in ``order_by`` order."""
    params: dict[str, Any] = {}
    clause = visible_where(viewer, params, owner_col, visibility_col)
    where = f" WHERE {clause}" if clause else ""
    sql = f"SELECT {columns} FROM {table}{where} ORDER BY {order_by}"
    return list(conn.execute(text(sql), params).all())
