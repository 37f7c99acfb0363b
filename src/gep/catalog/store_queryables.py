"""Queryables: the property names and types of a catalogue, derived from the data as written.

Split from :mod:`gep.catalog.store` because both other halves lean on it: the backends' writes
keep the table current (:meth:`StoreQueryables._record_batch_meta`, once per batch) and a search
reads it to type its filter and sort keys. :class:`StoreQueryables` is a part of
:class:`~gep.catalog.store.CatalogStore`, not a store of its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from gep.catalog import access
from gep.catalog.dialects import Dialect
from gep.catalog.records import ItemRow, json_type
from gep.catalog.sqlbuild import Params
from gep.core.access import Viewer

_PY_TYPES: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _widen(old: str, new: str) -> str:
    if old == new:
        return old
    if {old, new} == {"integer", "number"}:
        return "number"
    if {old, new} == {"datetime", "string"}:
        return "string"
    return "string" if "string" in (old, new) else old


def _schema_for(t: str) -> dict[str, Any]:
    if t == "datetime":
        return {"type": "string", "format": "date-time"}
    return {"type": t}


class StoreQueryables(ABC):
    """The queryables part of :class:`~gep.catalog.store.CatalogStore`."""

    engine: Engine
    dialect: Dialect

    @abstractmethod
    def get_collection(
        self, collection_id: str, viewer: Viewer | None = None
    ) -> dict[str, Any]: ...

    def _record_batch_meta(self, w: Any, rows: list[ItemRow]) -> None:
        """Keep the queryables and the longest item duration current, once per batch."""
        types: dict[tuple[str, str], str] = {}
        longest = 0
        skip = ("datetime", "start_datetime", "end_datetime")
        for r in rows:
            longest = max(longest, r.end_datetime - r.datetime)
            coll = r.collection
            for k, v in r.properties.items():
                if v is None or k in skip:
                    continue
                key = (coll, k)
                old = types.get(key)
                t = _PY_TYPES.get(type(v))
                if t is None or (t == "string" and old in (None, "datetime")):
                    t = json_type(v)  # strings: tell timestamps apart; subclasses: full check
                if old != t:
                    types[key] = t if old is None else _widen(old, t)
        if types:
            colls = sorted({c for c, _ in types})
            existing: dict[tuple[str, str], str] = {}
            for c in colls:
                for name, t in w.execute(
                    text("SELECT name, type FROM queryables WHERE collection = :c"), {"c": c}
                ).all():
                    existing[(c, name)] = t
            for key, t in types.items():
                old = existing.get(key)
                if old is None:
                    w.execute(
                        text("INSERT INTO queryables (collection, name, type) VALUES (:c, :n, :t)"),
                        {"c": key[0], "n": key[1], "t": t},
                    )
                elif _widen(old, t) != old:
                    w.execute(
                        text("UPDATE queryables SET type = :t WHERE collection = :c AND name = :n"),
                        {"c": key[0], "n": key[1], "t": _widen(old, t)},
                    )
        if longest > 0:
            w.execute(
                text(
                    "UPDATE store_meta SET value = :v WHERE key = 'max_duration_us' AND value < :v"
                ),
                {"v": longest},
            )

    # ------------------------------------------------------------------ queryables
    def queryable_types(
        self, collections: Sequence[str] | None = None, viewer: Viewer | None = None
    ) -> dict[str, str]:
        """Property name → type over ``collections`` (all when None).

        With a ``viewer`` (not an administrator), over what they may see only: collections
        they may not see count for nothing, and in a collection whose items have visibilities
        of their own (``results``) a name counts only when an item they may see has it — a
        property name can itself tell what someone else works on.
        """
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            acl: list[str] = []
            if viewer is not None and not viewer.is_admin:
                visible = access.visible_collections(conn, viewer, collections or None)
                if not visible:
                    return out
                collections = sorted(visible)
                acl = [c for c, has in visible.items() if has]
            sql = "SELECT collection, name, type FROM queryables"
            params: dict[str, Any] = {}
            if collections:
                binds = []
                for i, c in enumerate(collections):
                    params[f"c{i}"] = c
                    binds.append(f":c{i}")
                sql += f" WHERE collection IN ({', '.join(binds)})"
            rows = conn.execute(text(sql), params).all()
            if acl and viewer is not None:
                # only names no other visible collection already shows need the item scan
                shown = {r[1] for r in rows if r[0] not in acl}
                unsure = sorted({r[0] for r in rows if r[0] in acl and r[1] not in shown})
                seen = self._visible_property_names(conn, viewer, unsure) if unsure else set()
                rows = [r for r in rows if r[1] in shown or (r[0], r[1]) in seen]
        for _, name, t in rows:
            out[name] = t if name not in out else _widen(out[name], t)
        return out

    def _visible_property_names(
        self, conn: Connection, viewer: Viewer, collections: Sequence[str]
    ) -> set[tuple[str, str]]:
        """(collection, name) of the non-null properties of the items ``viewer`` may see in
        ``collections`` (those with item-level visibility: few, and small)."""
        params = Params()
        source, not_null = self.dialect.property_keys("i", "k")
        sql = (
            f"SELECT DISTINCT i.collection, k.key FROM items i, {source} WHERE i.collection IN ("
            + ", ".join(params.add(c) for c in collections)
            + f") AND {not_null} AND {access.item_clause(viewer, params)}"
        )
        return {(r[0], r[1]) for r in conn.execute(text(sql), params.values).all()}

    def queryables_schema(
        self, collection: str | None = None, viewer: Viewer | None = None
    ) -> dict[str, Any]:
        """Queryables as JSON Schema, derived from the properties actually ingested (and, with
        a ``viewer``, that they may see)."""
        if collection is not None:
            self.get_collection(collection, viewer)
        types = self.queryable_types([collection] if collection else None, viewer)
        props: dict[str, Any] = {
            "id": {"title": "Item ID", "type": "string"},
            "collection": {"title": "Collection ID", "type": "string"},
            "datetime": {"title": "Acquisition time", "type": "string", "format": "date-time"},
            "geometry": {"title": "Footprint", "$ref": "https://geojson.org/schema/Geometry.json"},
        }
        for name, t in sorted(types.items()):
            props[name] = _schema_for(t)
        return {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": "queryables",
            "type": "object",
            "title": f"Queryables for {collection}" if collection else "Queryables",
            "properties": props,
            "additionalProperties": False,
        }
