"""CQL2-JSON (as parsed and validated by the ``cql2`` library) to SQL, for both backends.

The parser is a maintained library; this module only *translates* its JSON tree. Every property
named in a filter must be a queryable of the searched collections: an unknown one is refused with
the list of queryables, so a typo never silently matches nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
import shapely
from shapely.geometry import box

from gep.catalog.sqlbuild import Params
from gep.core.errors import InvalidInput
from gep.core.geometry import check_geometry, parse_geojson_geometry
from gep.core.timeutil import parse_instant, to_micros

if TYPE_CHECKING:
    from gep.catalog.dialects import Dialect

#: properties that live in columns rather than in the JSON properties
COLUMN_PROPERTIES = {"id", "collection", "datetime", "start_datetime", "end_datetime", "geometry"}

_COMPARISONS = {"=": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SPATIAL = {
    "s_intersects",
    "s_equals",
    "s_disjoint",
    "s_touches",
    "s_within",
    "s_overlaps",
    "s_crosses",
    "s_contains",
}
_TEMPORAL = {
    "t_intersects",
    "anyinteracts",
    "t_before",
    "t_after",
    "t_during",
    "t_equals",
    "t_disjoint",
    "t_starts",
    "t_finishes",
    "t_contains",
}
_ARRAY = {"a_equals", "a_contains", "a_containedby", "a_overlaps"}


class FilterTranslator:
    """Translate one CQL2-JSON tree into a SQL boolean expression for a dialect."""

    def __init__(self, dialect: Dialect, queryables: dict[str, str], params: Params) -> None:
        self.d = dialect
        self.q = queryables  # name -> json type
        self.p = params

    # ---------------------------------------------------------------- entry point
    def translate(self, node: Any) -> str:
        if isinstance(node, bool):
            return "(1=1)" if node else "(1=0)"
        if not isinstance(node, dict) or "op" not in node:
            raise InvalidInput("filter: expected a boolean expression", field="filter")
        op = str(node["op"]).lower() if node["op"] not in ("isNull",) else "isnull"
        args = node.get("args", [])
        if not isinstance(args, list):
            raise InvalidInput(f"filter: the args of '{node['op']}' must be a list", field="filter")
        if op in ("and", "or", "not") and not args:
            raise InvalidInput(f"filter: '{op}' needs at least one argument", field="filter")
        handler: Callable[[list[Any]], str] | None = {
            "and": self._and,
            "or": self._or,
            "not": self._not,
            "isnull": self._isnull,
            "like": self._like,
            "between": self._between,
            "in": self._in,
        }.get(op)
        if handler is not None:
            return handler(args)
        if op in _COMPARISONS:
            return self._compare(_COMPARISONS[op], args)
        if op in _SPATIAL:
            return self._spatial(op, args)
        if op in _TEMPORAL:
            return self._temporal(op, args)
        if op in _ARRAY:
            return self._array(op, args)
        raise InvalidInput(
            f"filter: operator '{node['op']}' is not supported here; supported: and, or, not, "
            "=, <>, <, <=, >, >=, like, between, in, isNull, casei, s_intersects, s_within, "
            "s_contains, s_disjoint, s_equals, s_touches, s_crosses, s_overlaps, t_intersects, "
            "t_before, t_after, t_during, t_equals, t_disjoint, a_equals, a_contains, "
            "a_containedby, a_overlaps",
            field="filter",
        )

    # ---------------------------------------------------------------- logic
    def _and(self, args: list[Any]) -> str:
        return _joined(" AND ", [self.translate(a) for a in args])

    def _or(self, args: list[Any]) -> str:
        return _joined(" OR ", [self.translate(a) for a in args])

    def _not(self, args: list[Any]) -> str:
        # a comparison on a missing property is NULL; NOT NULL must stay false (CQL2 semantics)
        return f"(COALESCE(NOT {self.translate(args[0])}, {self.d.false}))"

    # ---------------------------------------------------------------- operands
    def _property(self, node: Any) -> tuple[str, str] | None:
        """SQL expression and JSON type of a property reference (or casei() of one)."""
        if isinstance(node, dict) and "property" in node:
            name = str(node["property"])
            if name.startswith("properties."):
                name = name[len("properties.") :]
            return self.d.property_expr(name, self.type_of(name)), self.type_of(name)
        if isinstance(node, dict) and str(node.get("op", "")).lower() == "casei":
            inner = self._property(node["args"][0])
            if inner is None:
                return "lower(" + self._value(node["args"][0], "string") + ")", "string"
            return f"lower({inner[0]})", "string"
        return None

    def type_of(self, name: str) -> str:
        if name in ("datetime", "start_datetime", "end_datetime"):
            return "timestamp"
        if name in ("id", "collection"):
            return "string"
        if name == "geometry":
            return "geometry"
        if name not in self.q:
            raise InvalidInput(
                f"filter: '{name}' is not a queryable here; queryables are: "
                + ", ".join(sorted({*self.q, "id", "collection", "datetime", "geometry"})),
                field="filter",
            )
        return self.q[name]

    def _value(self, node: Any, ptype: str) -> str:
        """Bind a literal, converted to how the property is stored."""
        if isinstance(node, dict) and str(node.get("op", "")).lower() == "casei":
            return "lower(" + self._value(node["args"][0], "string") + ")"
        if isinstance(node, dict) and ("timestamp" in node or "date" in node):
            text = node.get("timestamp") or node.get("date")
            instant = parse_instant(str(text), "filter")
            if ptype == "timestamp":
                return self.p.add(to_micros(instant))
            return self.p.add(str(text))
        if isinstance(node, dict):
            raise InvalidInput(
                f"filter: expected a literal value, got {orjson.dumps(node).decode()[:80]}",
                field="filter",
            )
        if ptype == "timestamp":
            if isinstance(node, str):
                return self.p.add(to_micros(parse_instant(node, "filter")))
            raise InvalidInput("filter: compare datetime with a TIMESTAMP or DATE", field="filter")
        if ptype in ("integer", "number"):
            if isinstance(node, bool) or not isinstance(node, int | float):
                raise InvalidInput(
                    f"filter: a numeric property is compared with {node!r}; use a number",
                    field="filter",
                )
            return self.d.bind_number(self.p.add(node))
        if ptype == "boolean":
            if not isinstance(node, bool):
                raise InvalidInput(
                    f"filter: a boolean property is compared with {node!r}; use true or false",
                    field="filter",
                )
            return self.d.bind_bool(self.p.add(node))
        if isinstance(node, bool | int | float) and ptype in ("string", "datetime"):
            return self.p.add(str(node).lower() if isinstance(node, bool) else _num_text(node))
        if isinstance(node, list | dict):
            raise InvalidInput("filter: a list is not a scalar value", field="filter")
        return self.p.add(node)

    def _operands(self, args: list[Any]) -> tuple[str, str, str]:
        if len(args) != 2:
            raise InvalidInput("filter: a comparison takes two arguments", field="filter")
        left = self._property(args[0])
        right = self._property(args[1])
        if left and right:
            return left[0], right[0], left[1]
        if left:
            return left[0], self._value(args[1], left[1]), left[1]
        if right:
            return self._value(args[0], right[1]), right[0], right[1]
        raise InvalidInput("filter: a comparison needs a property on one side", field="filter")

    # ---------------------------------------------------------------- predicates
    def _compare(self, op: str, args: list[Any]) -> str:
        left, right, ptype = self._operands(args)
        if ptype in ("array", "object"):
            raise InvalidInput(
                "filter: use a_equals/a_contains for array properties", field="filter"
            )
        return f"({left} {op} {right})"

    def _isnull(self, args: list[Any]) -> str:
        prop = self._property(args[0])
        if prop is None:
            raise InvalidInput("filter: isNull takes a property", field="filter")
        return f"({prop[0]} IS NULL)"

    def _like(self, args: list[Any]) -> str:
        left, right, _ = self._operands(args)
        return self.d.like(left, right)

    def _between(self, args: list[Any]) -> str:
        if len(args) != 3:
            raise InvalidInput("filter: between takes a property and two values", field="filter")
        prop = self._property(args[0])
        if prop is None:
            raise InvalidInput("filter: between needs a property first", field="filter")
        lo = self._value(args[1], prop[1])
        hi = self._value(args[2], prop[1])
        return f"({prop[0]} BETWEEN {lo} AND {hi})"

    def _in(self, args: list[Any]) -> str:
        prop = self._property(args[0])
        if prop is None or len(args) != 2 or not isinstance(args[1], list) or not args[1]:
            raise InvalidInput("filter: in takes a property and a non-empty list", field="filter")
        vals = ", ".join(self._value(v, prop[1]) for v in args[1])
        return f"({prop[0]} IN ({vals}))"

    def _geometry_literal(self, node: Any) -> shapely.Geometry:
        if isinstance(node, dict) and "bbox" in node:
            b = node["bbox"]
            if not isinstance(b, list) or len(b) not in (4, 6):
                raise InvalidInput("filter: BBOX needs 4 or 6 numbers", field="filter")
            w, s, e, n = (b[0], b[1], b[3], b[4]) if len(b) == 6 else b
            if w > e:  # antimeridian
                geom = shapely.union(box(w, s, 180, n), box(-180, s, e, n))
            else:
                geom = box(w, s, e, n)
            return check_geometry(geom, "filter")
        return parse_geojson_geometry(node, "filter")

    def _spatial(self, op: str, args: list[Any]) -> str:
        if len(args) != 2:
            raise InvalidInput(f"filter: {op} takes two arguments", field="filter")
        a, b = args
        if isinstance(b, dict) and b.get("property") == "geometry":
            a, b = b, a
            op = {"s_within": "s_contains", "s_contains": "s_within"}.get(op, op)
        if not (isinstance(a, dict) and a.get("property") == "geometry"):
            raise InvalidInput(
                f"filter: {op} compares the 'geometry' property with a geometry literal",
                field="filter",
            )
        return self.d.spatial(op, self._geometry_literal(b), self.p)

    def _interval(self, node: Any) -> tuple[int | None, int | None]:
        if isinstance(node, dict) and "interval" in node:
            a, b = node["interval"]

            def bound(v: Any, end: bool) -> int | None:
                if v == ".." or v is None:
                    return None
                if isinstance(v, dict):
                    v = v.get("timestamp") or v.get("date")
                return to_micros(parse_instant(str(v), "filter", end_of_day=end))

            return bound(a, False), bound(b, True)
        if isinstance(node, dict) and ("timestamp" in node or "date" in node):
            text = str(node.get("timestamp") or node.get("date"))
            return (
                to_micros(parse_instant(text, "filter")),
                to_micros(parse_instant(text, "filter", end_of_day="date" in node)),
            )
        raise InvalidInput("filter: expected TIMESTAMP, DATE or INTERVAL", field="filter")

    def _temporal(self, op: str, args: list[Any]) -> str:
        if len(args) != 2:
            raise InvalidInput(f"filter: {op} takes two arguments", field="filter")
        prop = args[0]
        if not (
            isinstance(prop, dict)
            and prop.get("property") in ("datetime", "start_datetime", "end_datetime")
        ):
            raise InvalidInput(
                f"filter: {op} applies to datetime, start_datetime or end_datetime",
                field="filter",
            )
        name = prop["property"]
        start_col = self.d.property_expr("start_datetime", "timestamp")
        end_col = self.d.property_expr("end_datetime", "timestamp")
        if name == "end_datetime":
            start_col = end_col
        elif name != "datetime":
            end_col = start_col
        lo, hi = self._interval(args[1])
        lo_p = self.p.add(lo if lo is not None else -(2**62))
        hi_p = self.p.add(hi if hi is not None else 2**62)
        if op in ("t_intersects", "anyinteracts"):
            return f"({start_col} <= {hi_p} AND {end_col} >= {lo_p})"
        if op == "t_disjoint":
            return f"({start_col} > {hi_p} OR {end_col} < {lo_p})"
        if op == "t_before":
            return f"({end_col} < {lo_p})"
        if op == "t_after":
            return f"({start_col} > {hi_p})"
        if op == "t_during":
            return f"({start_col} > {lo_p} AND {end_col} < {hi_p})"
        if op == "t_equals":
            return f"({start_col} = {lo_p} AND {end_col} = {hi_p})"
        if op == "t_starts":
            return f"({start_col} = {lo_p} AND {end_col} < {hi_p})"
        if op == "t_finishes":
            return f"({start_col} > {lo_p} AND {end_col} = {hi_p})"
        return f"({start_col} < {lo_p} AND {end_col} > {hi_p})"  # t_contains

    def _array(self, op: str, args: list[Any]) -> str:
        if len(args) != 2:
            raise InvalidInput(f"filter: {op} takes two arguments", field="filter")
        a, b = args
        if not (isinstance(a, dict) and "property" in a) or not isinstance(b, list):
            raise InvalidInput(
                f"filter: {op} compares an array property with a list of values", field="filter"
            )
        name = str(a["property"])
        ptype = self.type_of(name)
        if ptype != "array":
            raise InvalidInput(f"filter: '{name}' is not an array property", field="filter")
        return self.d.array_op(op, name, b, self.p)


#: operands joined flat by one AND/OR; more are grouped into a tree of such groups
_FLAT = 16


def _joined(op: str, parts: list[str]) -> str:
    """``(a OP b OP …)``, grouped into a balanced tree when long.

    SQLite parses ``a OR b OR c …`` into a chain as deep as it is long and refuses a statement
    past 1 000 levels ("Expression tree is too large"); groups of 16 keep a filter of thousands
    of terms a few levels deep, and leave the SQL of every ordinary filter as it was.
    """
    while len(parts) > _FLAT:
        parts = ["(" + op.join(parts[i : i + _FLAT]) + ")" for i in range(0, len(parts), _FLAT)]
    return "(" + op.join(parts) + ")"


def _num_text(v: float | int) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
