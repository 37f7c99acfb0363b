"""A parsed search → SQL: filters, the driving index, keyset paging and counts.

Split from :mod:`gep.catalog.store` because this is the part that decides *which* items a search
returns and *in which order*, and it must do so identically on both backends: only the few
expressions in :mod:`gep.catalog.dialects` and the plan probes (``_spatial_index_pays``,
``TIME_WINDOWS``) differ per backend. Paging is keyset-based: a ``next`` token carries the sort
values of the last item returned, so pages stay correct while items are inserted (an offset
would skip or repeat items). :class:`StoreSearch` is a part of
:class:`~gep.catalog.store.CatalogStore`, not a store of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import box
from sqlalchemy import text
from sqlalchemy.engine import Connection

from gep.catalog import access
from gep.catalog.cql2sql import FilterTranslator
from gep.catalog.db_refusals import refused_by_database
from gep.catalog.search import SearchRequest, SortKey, decode_token, encode_token
from gep.catalog.sqlbuild import Params
from gep.catalog.store_queryables import StoreQueryables
from gep.core.errors import InvalidInput

#: the fields every item can be sorted by, besides its queryable properties
SORTABLE_COLUMNS = {"id", "collection", "datetime", "start_datetime", "end_datetime"}


@dataclass(slots=True)
class SearchPage:
    #: (collection, id, stored JSON) per item, in order
    items: list[tuple[str, str, bytes]]
    next_token: str | None
    number_matched: int | None = None


class StoreSearch(StoreQueryables):
    """The search part of :class:`~gep.catalog.store.CatalogStore` (it types filters and sort
    keys through the queryables, hence the base class)."""

    #: answer newest-first spatial searches through growing time windows (backends whose
    #: spatial index also holds time, so a window is one cheap index scan)
    TIME_WINDOWS = False
    TIME_WINDOW_MIN_SPAN_US = 365 * 86_400 * 1_000_000
    #: the first window is this fraction of the span; each miss widens it by the growth factor
    TIME_WINDOW_FIRST = 128
    TIME_WINDOW_GROWTH = 16

    def _newest_first(
        self,
        conn: Connection,
        head: str,
        where: list[str],
        tail: str,
        params: Params,
        req: SearchRequest,
    ) -> list[Any] | None:
        """The first page of a datetime-descending search, read from the newest time window
        outwards. Every item at or after a window's start sorts before every item older than
        it, so once a window holds a full page that page is the answer; in a dense area the
        first small window does, instead of collecting and sorting every spatial match."""
        bounds = conn.execute(text("SELECT min(datetime), max(datetime) FROM items")).one()
        if bounds[0] is None:
            return None
        lo_all, hi = int(bounds[0]), int(bounds[1])
        if req.datetime is not None:
            if req.datetime.end_us is not None:
                hi = min(hi, req.datetime.end_us)
            if req.datetime.start_us is not None:
                lo_all = max(lo_all, req.datetime.start_us - self._max_duration(conn))
        if req.token:
            _, values = decode_token(req.token)
            if isinstance(values[0], int):
                hi = min(hi, values[0])
        span = hi - lo_all
        if span < self.TIME_WINDOW_MIN_SPAN_US:
            return None  # a short time range is already a cheap index condition
        width = span // self.TIME_WINDOW_FIRST
        while 0 < width < span:
            p = params.add(hi - width)
            sql = head + " WHERE " + " AND ".join([*where, f"i.datetime >= {p}"]) + tail
            rows = conn.execute(text(sql), params.values).all()
            if len(rows) > req.limit:
                return list(rows)
            width *= self.TIME_WINDOW_GROWTH
        return None

    def _spatial_index_pays(self, conn: Connection, geom: Any, req: SearchRequest) -> bool | None:
        """Whether the spatial index should drive a search (None: let the database decide)."""
        return None

    def _max_duration(self, conn: Connection) -> int:
        row = conn.execute(text("SELECT value FROM store_meta WHERE key = 'max_duration_us'"))
        v = row.scalar()
        return int(v or 0)

    def search(self, req: SearchRequest) -> SearchPage:
        with refused_by_database(_culprit(req)):
            return self._search(req)

    def _search(self, req: SearchRequest) -> SearchPage:
        params = Params()
        where: list[str] = []
        d = self.dialect
        needs_types = bool(req.filter) or any(k.field not in SORTABLE_COLUMNS for k in req.sortby)
        # what the caller may see only: the names are in the error texts of a bad filter
        types = self.queryable_types(req.collections, req.viewer) if needs_types else {}
        with self.engine.connect() as conn:
            collections = req.collections
            viewer = req.viewer
            if viewer is not None and not viewer.is_admin:
                sc = access.scope(conn, viewer, req.collections)
                if sc.collections == []:  # nothing the caller may see
                    return SearchPage([], None, 0 if req.count or _capped(req) else None)
                collections = sc.collections
                if sc.item_acl:
                    where.append(access.item_clause(viewer, params))
            if collections:
                where.append(
                    "i.collection IN (" + ", ".join(params.add(c) for c in collections) + ")"
                )
            if req.ids:
                where.append("i.id IN (" + ", ".join(params.add(x) for x in req.ids) + ")")
            spatial = req.bbox is not None or req.intersects is not None
            if req.bbox is not None:
                parts = [box(*p) for p in req.bbox.parts()]
                geom = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
                where.append(
                    d.spatial(
                        "s_intersects", geom, params, self._spatial_index_pays(conn, geom, req)
                    )
                )
            if req.intersects is not None:
                where.append(
                    d.spatial(
                        "s_intersects",
                        req.intersects,
                        params,
                        self._spatial_index_pays(conn, req.intersects, req),
                    )
                )
            if req.datetime is not None:
                lo, hi = req.datetime.start_us, req.datetime.end_us
                if hi is not None:
                    where.append(f"i.datetime <= {params.add(hi)}")
                if lo is not None:
                    where.append(f"i.end_datetime >= {params.add(lo)}")
                    # lets the datetime index bound the scan from below too
                    where.append(f"i.datetime >= {params.add(lo - self._max_duration(conn))}")
            if req.filter is not None:
                where.append(FilterTranslator(d, types, params).translate(req.filter))
            if req.q:
                where.append(d.text_match(req.q, params))
            sort = self._sort_keys(req.sortby, types)
            count: int | None = None
            if req.count:
                sql = "SELECT count(*) FROM items i"
                if where:
                    sql += " WHERE " + " AND ".join(where)
                count = int(conn.execute(text(sql), params.values).scalar() or 0)
            elif _capped(req):
                # the default: count at most count_cap + 1 rows; past the cap, no number (a
                # client asks count=true for the exact one)
                cap = int(req.count_cap or 0)
                sql = "SELECT 1 FROM items i"
                if where:
                    sql += " WHERE " + " AND ".join(where)
                sql = f"SELECT count(*) FROM ({sql} LIMIT {cap + 1}) capped"
                found = int(conn.execute(text(sql), params.values).scalar() or 0)
                count = found if found <= cap else None
            if req.token:
                _, values = decode_token(req.token)
                if len(values) != len(sort):
                    raise InvalidInput(
                        "token does not match this search's sort order; "
                        "follow the 'next' link as given",
                        field="token",
                    )
                where.append(self._keyset(sort, values, params))
            exprs = [e for e, _, _ in sort]
            order = ", ".join(
                f"s{n} {'DESC NULLS FIRST' if desc else 'ASC NULLS LAST'}"
                for n, (_, desc, _) in enumerate(sort)
            )
            head = "SELECT i.pk, i.collection, i.id, " + ", ".join(
                f"{e} AS s{n}" for n, e in enumerate(exprs)
            )
            head += " FROM items i"
            tail = f" ORDER BY {order} LIMIT {int(req.limit) + 1}"
            if req.offset:
                tail += f" OFFSET {int(req.offset)}"
            rows: Any = None
            if (
                self.TIME_WINDOWS
                and spatial
                and not req.offset
                and exprs[0] == "i.datetime"
                and sort[0][1]
            ):
                rows = self._newest_first(conn, head, where, tail, params, req)
            if rows is None:
                sql = head + (" WHERE " + " AND ".join(where) if where else "") + tail
                rows = conn.execute(text(sql), params.values).all()
            more = len(rows) > req.limit
            rows = rows[: req.limit]
            contents = self._contents(conn, [r[0] for r in rows])
            items = [(r[1], r[2], c) for r, c in zip(rows, contents, strict=True)]
        token = None
        if more and rows:
            last = rows[-1]
            token = encode_token([_jsonable(v) for v in last[3:]])
        return SearchPage(items=items, next_token=token, number_matched=count)

    def _sort_keys(
        self, sortby: list[SortKey], types: dict[str, str]
    ) -> list[tuple[str, bool, str]]:
        """(SQL expression, descending, type) per key, with the (id, collection) tie-breakers."""
        keys = list(sortby) or [SortKey("datetime", True)]
        out: list[tuple[str, bool, str]] = []
        seen: set[str] = set()
        for k in keys:
            name = k.field
            if name in seen:
                continue
            seen.add(name)
            if name in SORTABLE_COLUMNS:
                t = "timestamp" if "datetime" in name else "string"
            elif name in types:
                t = types[name]
                if t in ("array", "object"):
                    raise InvalidInput(
                        f"sortby: '{name}' is an {t}; it cannot be sorted", field="sortby"
                    )
            else:
                raise InvalidInput(
                    f"sortby: '{name}' is not sortable here; sortable fields are: "
                    + ", ".join(
                        sorted(
                            SORTABLE_COLUMNS
                            | {n for n, t in types.items() if t not in ("array", "object")}
                        )
                    ),
                    field="sortby",
                )
            out.append((self.dialect.property_expr(name, t), k.descending, t))
        last_desc = out[0][1]
        for tb in ("id", "collection"):
            if tb not in seen:
                out.append((self.dialect.property_expr(tb, "string"), last_desc, "string"))
        return out

    def _keyset(self, sort: list[tuple[str, bool, str]], values: list[Any], params: Params) -> str:
        """Rows strictly after ``values`` in the sort order (NULLs sort as the largest value)."""
        ors: list[str] = []
        equal: list[str] = []

        def bind(v: Any, t: str) -> str:
            if not _fits(v, t):
                # a token edited by hand: the database would refuse to compare the value
                raise InvalidInput(
                    "token is not a paging token this server issued for this search; "
                    "follow the 'next' link as given",
                    field="token",
                )
            p = params.add(v)
            if t in ("integer", "number"):
                return self.dialect.bind_number(p)
            if t == "boolean":
                return self.dialect.bind_bool(p)
            return p

        for (expr, desc, t), v in zip(sort, values, strict=True):
            if v is None:
                after = f"{expr} IS NOT NULL" if desc else None
                eq = f"{expr} IS NULL"
            else:
                b = bind(v, t)
                after = f"{expr} < {b}" if desc else f"({expr} > {b} OR {expr} IS NULL)"
                eq = f"{expr} = {b}"
            if after is not None:
                ors.append("(" + " AND ".join([*equal, after]) + ")")
            equal.append(eq)
        if not ors:
            return "(1=0)"
        clause = "(" + " OR ".join(ors) + ")"
        first_expr, first_desc, first_t = sort[0]
        if values[0] is not None and first_expr == "i.datetime":
            # a redundant range bound that lets the datetime index start at the token
            b = bind(values[0], first_t)
            clause = f"({first_expr} {'<=' if first_desc else '>='} {b} AND {clause})"
        return clause

    def _contents(self, conn: Connection, pks: list[int]) -> list[bytes]:
        if not pks:
            return []
        binds = ", ".join(str(int(pk)) for pk in pks)
        rows = conn.execute(
            text(f"SELECT pk, content FROM item_content WHERE pk IN ({binds})")
        ).all()
        by_pk = {r[0]: r[1] for r in rows}
        out = []
        for pk in pks:
            c = by_pk[pk]
            out.append(c.encode() if isinstance(c, str) else bytes(c))
        return out


def _fits(v: Any, t: str) -> bool:
    """Whether a token's sort value has the type of its sort key (as ``_jsonable`` wrote it)."""
    if t == "timestamp":
        return isinstance(v, int) and not isinstance(v, bool)
    if t in ("integer", "number"):
        return isinstance(v, int | float) and not isinstance(v, bool)
    if t == "boolean":
        return isinstance(v, bool) or v in (0, 1)
    return isinstance(v, str)


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v).decode()
    if isinstance(v, float) and v.is_integer():
        return v
    return v


def _culprit(req: SearchRequest) -> str:
    """The parameter most likely to blame when the database refuses a search as too big."""
    if req.filter is not None:
        return "filter"
    if req.ids:
        return "ids"
    if req.intersects is not None:
        return "intersects"
    if req.q:
        return "q"
    return "token" if req.token else "search"


def _capped(req: SearchRequest) -> bool:
    """Whether ``req`` gets the default, capped count (``SearchRequest.count_cap``): on the
    first page only (the following pages of a search match the same items; a client paging
    through a big result does not pay for the count again)."""
    return req.count_cap is not None and not req.count and not req.count_refused and not req.token
