"""What differs between the SQLite and the PostGIS backends when a search becomes SQL.

Only expressions live here; the shape of the query, the keyset paging and the filter translation
are shared (``store.py``, ``cql2sql.py``), which is what keeps the two backends' answers identical.
"""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from gep.catalog.sqlbuild import Params, quote_literal

#: CQL2 spatial operator -> shapely predicate / PostGIS function
SPATIAL_FUNCS = {
    "s_intersects": ("intersects", "ST_Intersects"),
    "s_equals": ("equals", "ST_Equals"),
    "s_disjoint": ("disjoint", "ST_Disjoint"),
    "s_touches": ("touches", "ST_Touches"),
    "s_within": ("within", "ST_Within"),
    "s_overlaps": ("overlaps", "ST_Overlaps"),
    "s_crosses": ("crosses", "ST_Crosses"),
    "s_contains": ("contains", "ST_Contains"),
}

#: predicates for which the item must touch the literal's envelope (index-usable prefilter)
_ENVELOPE_PREFILTER = {
    "s_intersects",
    "s_equals",
    "s_touches",
    "s_within",
    "s_overlaps",
    "s_crosses",
    "s_contains",
}

#: properties promoted to dedicated (property, datetime) expression indexes: the selective
#: common EO queryables. Low-cardinality ones (orbit direction, platform, mode) are left out on
#: purpose: such an index does not beat the datetime index and every one costs on ingest.
INDEXED_PROPERTIES: dict[str, str] = {
    "sat:relative_orbit": "integer",
    "eo:cloud_cover": "number",
}


class Dialect:
    name = "abstract"
    false = "FALSE"

    def column(self, name: str, table: str = "i") -> str | None:
        col = {
            "id": "id",
            "collection": "collection",
            "datetime": "datetime",
            "start_datetime": "datetime",
            "end_datetime": "end_datetime",
        }.get(name)
        return None if col is None else _qualified(col, table)

    def property_expr(self, name: str, ptype: str, table: str = "i") -> str:
        """SQL for a property; ``table=""`` gives the unqualified form index DDL needs (the
        same expression, so the planner matches the index)."""
        raise NotImplementedError

    def bind_number(self, placeholder: str) -> str:
        return placeholder

    def bind_bool(self, placeholder: str) -> str:
        return placeholder

    def like(self, left: str, right: str) -> str:
        return f"({left} LIKE {right} ESCAPE '\\')"

    def spatial(
        self, op: str, geom: BaseGeometry, params: Params, use_index: bool | None = None
    ) -> str:
        """SQL for a spatial predicate; ``use_index`` lets the store say whether the spatial
        index should drive the query (None: the dialect decides)."""
        raise NotImplementedError

    def array_op(self, op: str, name: str, values: list[Any], params: Params) -> str:
        raise NotImplementedError

    def text_match(self, terms: list[str], params: Params) -> str:
        raise NotImplementedError

    def property_keys(self, table: str, alias: str) -> tuple[str, str]:
        """A FROM entry listing each property of ``table``'s rows as ``alias.key``, and the
        condition that keeps non-null values (the queryables ignore nulls)."""
        raise NotImplementedError

    def bbox_inside(self, boxes: list[tuple[float, float, float, float]], params: Params) -> str:
        """The item's bbox lies inside one of the boxes: then it intersects a box search for
        sure, and the exact (costly) geometry test can be skipped."""
        return (
            "("
            + " OR ".join(
                f"(i.minx >= {params.add(w)} AND i.maxx <= {params.add(e)} AND "
                f"i.miny >= {params.add(s)} AND i.maxy <= {params.add(n)})"
                for w, s, e, n in boxes
            )
            + ")"
        )

    def envelope_overlap(self, geom: BaseGeometry, params: Params) -> str:
        """Index-friendly prefilter: the item's bbox overlaps one of the literal's boxes."""
        parts = envelopes(geom)
        ors = []
        for w, s, e, n in parts:
            ors.append(
                f"(i.maxx >= {params.add(w)} AND i.minx <= {params.add(e)} AND "
                f"i.maxy >= {params.add(s)} AND i.miny <= {params.add(n)})"
            )
        return "(" + " OR ".join(ors) + ")"


def envelopes(geom: BaseGeometry) -> list[tuple[float, float, float, float]]:
    """Envelopes of the parts: keeps a two-part antimeridian geometry from spanning the globe."""
    if hasattr(geom, "geoms") and len(geom.geoms) > 1:
        return [tuple(g.bounds) for g in geom.geoms]  # type: ignore[misc]
    return [tuple(geom.bounds)]  # type: ignore[list-item]


def _is_boxes(geom: BaseGeometry, boxes: list[tuple[float, float, float, float]]) -> bool:
    """True when the geometry is exactly its envelope part(s) (a bbox search)."""
    return abs(geom.area - sum((e - w) * (n - s) for w, s, e, n in boxes)) <= 1e-12 * max(
        geom.area, 1.0
    ) and geom.geom_type in ("Polygon", "MultiPolygon")


class SqliteDialect(Dialect):
    name = "sqlite"
    false = "0"

    def property_expr(self, name: str, ptype: str, table: str = "i") -> str:
        col = self.column(name, table)
        if col is not None:
            return col
        props = _qualified("properties", table)
        return f"json_extract({props}, {quote_literal(json_path(name))})"

    def property_keys(self, table: str, alias: str) -> tuple[str, str]:
        return f"json_each({table}.properties) {alias}", f"{alias}.type <> 'null'"

    def bind_bool(self, placeholder: str) -> str:
        # json_extract yields 1/0 for true/false
        return f"(CASE WHEN {placeholder} THEN 1 ELSE 0 END)"

    #: when the store does not probe (filters), above this envelope area (deg²) the R*Tree is
    #: not used as the driving index: a big box matches so much that walking the
    #: (datetime, bbox) covering index in sort order is cheaper than sorting every R*Tree hit
    RTREE_MAX_AREA = 400.0

    def spatial(
        self, op: str, geom: BaseGeometry, params: Params, use_index: bool | None = None
    ) -> str:
        pred = SPATIAL_FUNCS[op][0]
        boxes = envelopes(geom)
        wkb = params.add(shapely.to_wkb(geom))
        exact = f"gep_spatial('{pred}', i.geometry, {wkb})"
        if op == "s_intersects" and _is_boxes(geom, boxes):
            exact = f"(CASE WHEN {self.bbox_inside(boxes, params)} THEN 1 ELSE {exact} END)"
        if op not in _ENVELOPE_PREFILTER:
            return f"(i.geometry IS NOT NULL AND {exact})"
        if use_index is None:
            use_index = sum((e - w) * (n - s) for w, s, e, n in boxes) <= self.RTREE_MAX_AREA
        if not use_index:
            return f"({self.envelope_overlap(geom, params)} AND {exact})"
        rtree = []
        for w, s, e, n in boxes:
            rtree.append(
                f"(r.maxx >= {params.add(w)} AND r.minx <= {params.add(e)} AND "
                f"r.maxy >= {params.add(s)} AND r.miny <= {params.add(n)})"
            )
        sub = "SELECT r.pk FROM items_rtree r WHERE " + " OR ".join(rtree)
        return f"(i.geometry IS NOT NULL AND i.pk IN ({sub}) AND {exact})"

    def array_op(self, op: str, name: str, values: list[Any], params: Params) -> str:
        path = quote_literal(json_path(name))
        each = f"json_each(i.properties, {path})"
        binds = ", ".join(params.add(v) for v in values) or "NULL"
        if op == "a_contains":
            n = len(set(map(repr, values)))
            return (
                f"((SELECT count(DISTINCT je.value) FROM {each} je "
                f"WHERE je.value IN ({binds})) = {n})"
            )
        if op == "a_containedby":
            return (
                f"(json_extract(i.properties, {path}) IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM {each} je WHERE je.value NOT IN ({binds})))"
            )
        if op == "a_overlaps":
            return f"(EXISTS (SELECT 1 FROM {each} je WHERE je.value IN ({binds})))"
        import orjson

        return (
            f"(json_extract(i.properties, {path}) = "
            f"json({params.add(orjson.dumps(values).decode())}))"
        )

    def text_match(self, terms: list[str], params: Params) -> str:
        query = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        return f"(i.pk IN (SELECT rowid FROM items_fts WHERE items_fts MATCH {params.add(query)}))"


class PostgresDialect(Dialect):
    name = "postgresql"

    def property_keys(self, table: str, alias: str) -> tuple[str, str]:
        return (
            f"jsonb_each({table}.properties) {alias}",
            f"jsonb_typeof({alias}.value) <> 'null'",
        )

    def property_expr(self, name: str, ptype: str, table: str = "i") -> str:
        col = self.column(name, table)
        if col is not None:
            return col
        lit = quote_literal(name)
        props = _qualified("properties", table)
        if ptype in ("integer", "number"):
            # a CASE rather than a bare cast: one malformed value must not break every query
            return (
                f"(CASE WHEN jsonb_typeof({props}->{lit}) = 'number' "
                f"THEN ({props}->>{lit})::float8 END)"
            )
        if ptype == "boolean":
            return (
                f"(CASE WHEN jsonb_typeof({props}->{lit}) = 'boolean' "
                f"THEN ({props}->>{lit})::boolean END)"
            )
        if ptype in ("array", "object"):
            return f"({props}->{lit})"
        return f'(({props}->>{lit}) COLLATE "C")'

    def bind_number(self, placeholder: str) -> str:
        return f"CAST({placeholder} AS float8)"

    def bind_bool(self, placeholder: str) -> str:
        return f"CAST({placeholder} AS boolean)"

    def spatial(
        self, op: str, geom: BaseGeometry, params: Params, use_index: bool | None = None
    ) -> str:
        # PostgreSQL's planner weighs GIST against btree itself; the store overrides it only
        # for dense areas (use_index False), where it otherwise collects and sorts every match
        fn = SPATIAL_FUNCS[op][1]
        wkb = params.add(shapely.to_wkb(geom))
        lit = f"ST_GeomFromWKB({wkb}, 4326)"
        if op in _ENVELOPE_PREFILTER and use_index is False:
            boxes = envelopes(geom)
            exact = f"{fn}(i.geometry, {lit})"
            if op == "s_intersects" and _is_boxes(geom, boxes):
                inside = self.bbox_inside(boxes, params)
                exact = f"(CASE WHEN {inside} THEN TRUE ELSE {exact} END)"
            else:  # a CASE hides the predicate from the planner, so GIST is not chosen
                exact = f"(CASE WHEN i.geometry IS NULL THEN FALSE ELSE {exact} END)"
            return f"({self.envelope_overlap(geom, params)} AND {exact})"
        if op in _ENVELOPE_PREFILTER:
            return f"(i.geometry && {lit} AND {fn}(i.geometry, {lit}))"
        return f"(i.geometry IS NOT NULL AND {fn}(i.geometry, {lit}))"

    def array_op(self, op: str, name: str, values: list[Any], params: Params) -> str:
        import orjson

        arr = f"CAST({params.add(orjson.dumps(values).decode())} AS jsonb)"
        prop = f"(i.properties->{quote_literal(name)})"
        if op == "a_contains":
            return f"(jsonb_typeof({prop}) = 'array' AND {prop} @> {arr})"
        if op == "a_containedby":
            return f"(jsonb_typeof({prop}) = 'array' AND {prop} <@ {arr})"
        if op == "a_overlaps":
            return (
                f"(jsonb_typeof({prop}) = 'array' AND EXISTS (SELECT 1 FROM "
                f"jsonb_array_elements({prop}) e WHERE e.value IN "
                f"(SELECT jsonb_array_elements({arr}))))"
            )
        return f"({prop} = {arr})"

    def text_match(self, terms: list[str], params: Params) -> str:
        q = " || ".join(f"phraseto_tsquery('simple', {params.add(t)})" for t in terms)
        return f"(i.text_tsv @@ ({q}))"


def _qualified(column: str, table: str) -> str:
    return f"{table}.{column}" if table else column


def json_path(name: str) -> str:
    """SQLite JSON path for a top-level property whose name may hold ':' or '.'."""
    return '$."' + name.replace('"', '\\"') + '"'
