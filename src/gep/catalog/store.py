"""The catalogue store: one interface, two backends (SQLite embedded, PostgreSQL + PostGIS).

The shared :class:`CatalogStore` owns everything that decides *which* items a search returns and
in *which order* (filters, keyset paging, counts), so both backends answer identically; the
subclasses own storage: DDL, bulk writes, and the few SQL expressions that differ (``dialects``).

Paging is keyset-based: a ``next`` token carries the sort values of the last item returned, so
pages stay correct while items are inserted (an offset would skip or repeat items).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import shapely
from shapely.geometry import box
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from gep.catalog import access
from gep.catalog.cql2sql import FilterTranslator
from gep.catalog.db_refusals import refused_by_database
from gep.catalog.dialects import Dialect
from gep.catalog.records import ItemRow, batch_geometries, item_to_row, json_type
from gep.catalog.search import SearchRequest, SortKey, decode_token, encode_token
from gep.catalog.sqlbuild import Params
from gep.core.access import PUBLIC, Viewer
from gep.core.errors import Conflict, Forbidden, GepError, InvalidInput, NotFound
from gep.core.ids import check_id
from gep.db.visible import select_all_visible

WriteMode = Literal["create", "upsert", "replace"]

#: the fields every item can be sorted by, besides its queryable properties
SORTABLE_COLUMNS = {"id", "collection", "datetime", "start_datetime", "end_datetime"}


@dataclass(slots=True)
class SearchPage:
    #: (collection, id, stored JSON) per item, in order
    items: list[tuple[str, str, bytes]]
    next_token: str | None
    number_matched: int | None = None


@dataclass(slots=True)
class IngestFailure:
    position: int
    item_id: str | None
    message: str


@dataclass(slots=True)
class IngestReport:
    written: int = 0
    failed: list[IngestFailure] = field(default_factory=list)
    created_collections: list[str] = field(default_factory=list)
    #: (collection, id) of the items that did not exist before (counted when ``origin`` is set)
    new: list[tuple[str, str]] = field(default_factory=list)
    #: records not written because a later record of the same batch has the same id (the
    #: last one is kept, as a sequence of single writes would leave it)
    superseded: list[IngestFailure] = field(default_factory=list)


@dataclass(slots=True)
class IngestionEvent:
    """One item that entered the catalogue; systematic processing subscribes to these."""

    seq: int
    collection: str
    item_id: str
    origin: str
    created: int


class CatalogStore(ABC):
    """What the API, the CLI and the harvesters use to read and write the catalogue."""

    dialect: Dialect
    #: items written per transaction by bulk ingestion
    batch_size = 5000

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ schema
    @abstractmethod
    def is_initialised(self) -> bool: ...

    def upgrade(self) -> None:
        """Bring the schema to the latest Alembic revision (``gep db upgrade``)."""
        from gep.db.migrate import upgrade

        upgrade(self.engine)
        with self.engine.begin() as conn:
            # results collections a user made before their ids were reserved go back to the
            # platform (a start-up step rather than a migration: cheap, and it runs again
            # wherever an old database is opened)
            access.reclaim_reserved_collections(conn)

    def analyze(self) -> None:
        """Refresh planner statistics after bulk loads."""
        with self.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ collections
    def list_collections(
        self,
        *,
        q: list[str] | None = None,
        bbox: Sequence[float] | None = None,
        datetime_range: tuple[int | None, int | None] | None = None,
        limit: int = 100,
        offset: int = 0,
        viewer: Viewer | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Collections ``viewer`` may see; text and extents filtered in Python: there are few,
        and their extents are JSON."""
        with self.engine.connect() as conn:
            rows = select_all_visible(conn, "collections", "content", viewer, "id")
        out = [orjson.loads(r[0]) for r in rows]
        if q:
            terms = [t.lower() for t in q]
            out = [c for c in out if any(t in _collection_text(c) for t in terms)]
        if bbox is not None:
            w, s, e, n = bbox
            qbox = (
                box(w, s, e, n) if w <= e else shapely.union(box(w, s, 180, n), box(-180, s, e, n))
            )
            out = [c for c in out if _collection_box(c).intersects(qbox)]
        if datetime_range is not None:
            out = [c for c in out if _collection_time_overlaps(c, datetime_range)]
        return out[offset : offset + limit], len(out)

    def get_collection(self, collection_id: str, viewer: Viewer | None = None) -> dict[str, Any]:
        with self.engine.connect() as conn:
            if viewer is not None:
                access.check_collection_visible(conn, viewer, collection_id)
            row = conn.execute(
                text("SELECT content FROM collections WHERE id = :id"), {"id": collection_id}
            ).first()
        if row is None:
            raise NotFound(f"collection '{collection_id}' does not exist", field="collectionId")
        return orjson.loads(row[0])  # type: ignore[no-any-return]

    def collection_exists(self, collection_id: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    text("SELECT 1 FROM collections WHERE id = :id"), {"id": collection_id}
                ).first()
                is not None
            )

    def create_collection(
        self,
        collection: dict[str, Any],
        *,
        upsert: bool = False,
        owner: str | None = None,
        visibility: str = PUBLIC,
        viewer: Viewer | None = None,
    ) -> None:
        """Store a new collection, owned by ``owner`` (None: the platform's). An upsert of an
        existing one keeps its owner and visibility.

        The reserved ids (``results``…) are the platform's alone. An id taken by a collection
        ``viewer`` may not see is "not available" (403), never "already exists": that would
        tell them it is there.
        """
        coll = validate_collection(collection)
        if owner is not None and access.is_reserved_collection(coll["id"]):
            raise Forbidden(
                f"collection id '{coll['id']}' is reserved for the platform's results; "
                "choose another",
                field="id",
            )
        with self.engine.begin() as conn:
            exists = access.collection_access(conn, coll["id"])
            if exists and not upsert:
                if viewer is not None and not viewer.may_see(exists.owner, exists.visibility):
                    raise Forbidden(
                        f"collection id '{coll['id']}' is not available; choose another",
                        field="id",
                    )
                raise Conflict(
                    f"collection '{coll['id']}' already exists; use PUT to replace it", field="id"
                )
            self._put_collection(conn, coll)
            if not exists:
                access.set_collection_access(conn, coll["id"], access.Access(owner, visibility))

    def replace_collection(self, collection_id: str, collection: dict[str, Any]) -> None:
        coll = validate_collection(collection)
        if coll["id"] != collection_id:
            raise InvalidInput(
                f"body id '{coll['id']}' differs from the path's '{collection_id}'", field="id"
            )
        with self.engine.begin() as conn:
            if (
                conn.execute(
                    text("SELECT 1 FROM collections WHERE id = :id"), {"id": collection_id}
                ).first()
                is None
            ):
                raise NotFound(f"collection '{collection_id}' does not exist", field="collectionId")
            self._put_collection(conn, coll)

    def _put_collection(self, conn: Connection, coll: dict[str, Any]) -> None:
        stored = {k: v for k, v in coll.items() if k != "links"}
        stored["links"] = [
            ln
            for ln in coll.get("links", [])
            if isinstance(ln, dict)
            and ln.get("rel") not in {"self", "root", "parent", "items", "queryables"}
        ]
        params = {"id": coll["id"], "content": orjson.dumps(stored).decode()}
        # an UPDATE, not a delete and insert: the owner and visibility stay
        if not conn.execute(
            text("UPDATE collections SET content = :content WHERE id = :id"), params
        ).rowcount:
            conn.execute(
                text("INSERT INTO collections (id, content) VALUES (:id, :content)"), params
            )

    def delete_collection(self, collection_id: str) -> None:
        self.get_collection(collection_id)
        with self._write() as w:
            self._delete_items_where(w, "collection = :c", {"c": collection_id})
            w.execute(text("DELETE FROM item_acl WHERE collection = :c"), {"c": collection_id})
            w.execute(text("DELETE FROM queryables WHERE collection = :c"), {"c": collection_id})
            w.execute(text("DELETE FROM collections WHERE id = :c"), {"c": collection_id})

    # ------------------------------------------------------------------ sharing
    def collection_access(self, collection_id: str, viewer: Viewer | None = None) -> access.Access:
        """Owner and visibility of a collection (NotFound when ``viewer`` may not see it)."""
        with self.engine.connect() as conn:
            if viewer is not None:
                return access.check_collection_visible(conn, viewer, collection_id)
            acc = access.collection_access(conn, collection_id)
        if acc is None:
            raise NotFound(f"collection '{collection_id}' does not exist", field="collectionId")
        return acc

    def item_access(
        self, collection_id: str, item_id: str, viewer: Viewer | None = None
    ) -> access.Access:
        """An item's effective owner and visibility (its own, else its collection's)."""
        self.get_item(collection_id, item_id, viewer)
        with self.engine.connect() as conn:
            own = access.item_access(conn, collection_id, item_id)
        return own or self.collection_access(collection_id)

    def set_collection_access(self, collection_id: str, acc: access.Access) -> None:
        self.collection_access(collection_id)
        with self.engine.begin() as conn:
            access.set_collection_access(conn, collection_id, acc)

    def set_item_access(
        self, collection_id: str, item_ids: Sequence[str], acc: access.Access
    ) -> None:
        """Give items a visibility of their own (job results, a shared item)."""
        with self.engine.begin() as conn:
            access.set_item_access(conn, collection_id, item_ids, acc)

    # ------------------------------------------------------------------ items
    def get_item(self, collection_id: str, item_id: str, viewer: Viewer | None = None) -> bytes:
        with self.engine.connect() as conn:
            if viewer is not None:
                access.check_item_visible(conn, viewer, collection_id, item_id)
            row = conn.execute(
                text(
                    "SELECT c.content FROM items i JOIN item_content c ON c.pk = i.pk "
                    "WHERE i.collection = :c AND i.id = :id"
                ),
                {"c": collection_id, "id": item_id},
            ).first()
        if row is None:
            if not self.collection_exists(collection_id):
                raise NotFound(f"collection '{collection_id}' does not exist", field="collectionId")
            raise NotFound(
                f"item '{item_id}' does not exist in collection '{collection_id}'",
                field="itemId",
            )
        content = row[0]
        return content.encode() if isinstance(content, str) else bytes(content)

    def delete_item(self, collection_id: str, item_id: str) -> None:
        self.get_item(collection_id, item_id)
        with self._write() as w:
            where, params = "collection = :c AND id = :id", {"c": collection_id, "id": item_id}
            self._delete_items_where(w, where, params)
            w.execute(text(f"DELETE FROM item_acl WHERE {where}"), params)

    def write_items(
        self,
        items: Iterable[Any],
        *,
        collection: str | None = None,
        mode: WriteMode = "upsert",
        atomic: bool = True,
        create_collections: bool = False,
        origin: str | None = None,
    ) -> IngestReport:
        """Validate and write items in batches.

        ``atomic=True`` (the API's transactions): one invalid item or conflict writes nothing.
        ``atomic=False`` (``gep catalog ingest``): failures are reported with their position and
        id, and the rest still goes in.
        ``origin`` (e.g. ``harvest:cdse``): record an ingestion event for each item that is new,
        in the same transaction as the write, so an event exists exactly when its item does.
        """
        report = IngestReport()
        if atomic:
            listed = list(items)
            geoms = batch_geometries(listed)
            rows = []
            for pos, item in enumerate(listed):
                where = f"items[{pos}]"
                if geoms is not None:
                    g, prep = geoms[pos]
                    rows.append(
                        item_to_row(item, collection, where=where, geometry=g, prepared=prep)
                    )
                else:
                    rows.append(item_to_row(item, collection, where=where))
            rows = _last_of_each(rows, list(range(len(rows))), report)
            self._check_collections(rows, report, create_collections)
            with self._write() as w:
                self._write_tracked(w, rows, mode, origin, report)
            report.written = len(rows)
            return report

        # prepare batch k+1 (Python: parsing, validation) while batch k is written (SQLite and
        # psycopg release the GIL while the database works): on 2 cores this overlaps the two
        def write(
            batch: list[tuple[int, Any]],
            prepared: tuple[list[ItemRow], list[IngestFailure], list[int]],
        ) -> None:
            rows, failed, positions = prepared
            report.failed.extend(failed)
            rows = _last_of_each(rows, positions, report)
            try:
                rows = self._check_collections(rows, report, create_collections, batch=batch)
                with self._write() as w:
                    self._write_tracked(w, rows, mode, origin, report)
                report.written += len(rows)
            except GepError as exc:
                for pos, item in batch:
                    report.failed.append(IngestFailure(pos, _item_id(item), exc.message))

        with ThreadPoolExecutor(1, thread_name_prefix="gep-ingest") as pool:
            previous: tuple[list[tuple[int, Any]], Future[Any]] | None = None
            for batch in _batched(enumerate(items), self.batch_size):
                future = pool.submit(self._prepare_batch, batch, collection)
                if previous is not None:
                    write(previous[0], previous[1].result())
                previous = (batch, future)
            if previous is not None:
                write(previous[0], previous[1].result())
        return report

    def _write_tracked(
        self, w: Any, rows: list[ItemRow], mode: WriteMode, origin: str | None, report: IngestReport
    ) -> None:
        if origin is None:
            self._write_rows(w, rows, mode)
            return
        keys = list(dict.fromkeys((r.collection, r.id) for r in rows))
        existing: set[tuple[str, str]] = set()
        by_coll: dict[str, list[str]] = {}
        for c, i in keys:
            by_coll.setdefault(c, []).append(i)
        for coll, ids in by_coll.items():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                binds = {f"i{n}": v for n, v in enumerate(chunk)}
                marks = ", ".join(f":{k}" for k in binds)
                for (iid,) in w.execute(
                    text(f"SELECT id FROM items WHERE collection = :c AND id IN ({marks})"),
                    {"c": coll, **binds},
                ):
                    existing.add((coll, iid))
        self._write_rows(w, rows, mode)
        fresh = [k for k in keys if k not in existing]
        if fresh:
            created = time.time_ns() // 1000
            w.execute(
                text(
                    "INSERT INTO ingestion_events (collection, item_id, origin, created) "
                    "VALUES (:c, :i, :o, :t)"
                ),
                [{"c": c, "i": i, "o": origin, "t": created} for c, i in fresh],
            )
        report.new.extend(fresh)

    def ingestion_events(
        self,
        *,
        after: int = 0,
        collection: str | None = None,
        limit: int = 1000,
        viewer: Viewer | None = None,
    ) -> list[IngestionEvent]:
        """Events with ``seq > after``, oldest first: a subscriber keeps the last seq it saw.
        With a ``viewer``, only events of collections they may see."""
        sql = (
            "SELECT seq, collection, item_id, origin, created FROM ingestion_events WHERE seq > :a"
        )
        params: dict[str, Any] = {"a": after, "n": limit}
        if collection:
            sql += " AND collection = :c"
            params["c"] = collection
        with self.engine.connect() as conn:
            if viewer is not None and not viewer.is_admin:
                sc = access.scope(conn, viewer, [collection] if collection else None)
                if sc.collections is not None:
                    if not sc.collections:
                        return []
                    names = [f":sc{n}" for n in range(len(sc.collections))]
                    params.update({f"sc{n}": c for n, c in enumerate(sc.collections)})
                    sql += f" AND collection IN ({', '.join(names)})"
            rows = conn.execute(text(sql + " ORDER BY seq LIMIT :n"), params).all()
        return [IngestionEvent(int(r[0]), r[1], r[2], r[3], int(r[4])) for r in rows]

    @staticmethod
    def _prepare_batch(
        batch: list[tuple[int, Any]], collection: str | None
    ) -> tuple[list[ItemRow], list[IngestFailure], list[int]]:
        """Rows for the valid items of a batch (with their positions), and a failure for each
        invalid one."""
        geoms = batch_geometries([it for _, it in batch])
        rows: list[ItemRow] = []
        positions: list[int] = []
        failed: list[IngestFailure] = []
        for n, (pos, item) in enumerate(batch):
            try:
                if geoms is not None:
                    g, prep = geoms[n]
                    rows.append(item_to_row(item, collection, "item", g, prep))
                else:
                    rows.append(item_to_row(item, collection, "item"))
                positions.append(pos)
            except GepError as exc:
                failed.append(IngestFailure(pos, _item_id(item), exc.message))
        return rows, failed, positions

    def _check_collections(
        self,
        rows: list[ItemRow],
        report: IngestReport,
        create: bool,
        batch: list[tuple[int, Any]] | None = None,
    ) -> list[ItemRow]:
        wanted = {r.collection for r in rows}
        with self.engine.connect() as conn:
            have = {r[0] for r in conn.execute(text("SELECT id FROM collections")).all()}
        missing = wanted - have
        if not missing:
            return rows
        if create:
            for cid in sorted(missing):
                self.create_collection(minimal_collection(cid), upsert=True)
                report.created_collections.append(cid)
            return rows
        if batch is None:
            cid = sorted(missing)[0]
            raise NotFound(
                f"collection '{cid}' does not exist; create it before adding items",
                field="collection",
            )
        keep = []
        for r in rows:
            if r.collection in missing:
                pos = next((p for p, it in batch if _item_id(it) == r.id), -1)
                report.failed.append(
                    IngestFailure(pos, r.id, f"collection '{r.collection}' does not exist")
                )
            else:
                keep.append(r)
        return keep

    # ------------------------------------------------------------------ writing (backend)
    @abstractmethod
    @contextmanager
    def _write(self) -> Iterator[Any]:
        """A write transaction (serialised on SQLite); yields an object with ``execute``."""

    @abstractmethod
    def _write_rows(self, w: Any, rows: list[ItemRow], mode: WriteMode) -> None: ...

    @abstractmethod
    def _delete_items_where(self, w: Any, where: str, params: dict[str, Any]) -> None: ...

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

    # ------------------------------------------------------------------ search
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
                    return SearchPage([], None, 0 if req.count else None)
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


# ---------------------------------------------------------------------- helpers

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


def _last_of_each(rows: list[ItemRow], positions: list[int], report: IngestReport) -> list[ItemRow]:
    """The rows of a batch with each (collection, id) once, the last occurrence kept; the
    earlier ones go to ``report.superseded``. Written together they would clash in the
    backends' indexes and fail the whole batch."""
    last: dict[tuple[str, str], int] = {}
    for n, r in enumerate(rows):
        last[(r.collection, r.id)] = n
    if len(last) == len(rows):
        return rows
    kept = []
    for n, r in enumerate(rows):
        winner = last[(r.collection, r.id)]
        if winner == n:
            kept.append(r)
        else:
            report.superseded.append(
                IngestFailure(
                    positions[n],
                    r.id,
                    f"id '{r.id}' appears again later in the batch (position "
                    f"{positions[winner]}); that later record was written instead",
                )
            )
    return kept


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


def _item_id(item: Any) -> str | None:
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        return item["id"]
    return None


def _batched(it: Iterable[Any], n: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for x in it:
        batch.append(x)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


def _collection_text(c: dict[str, Any]) -> str:
    parts = [c.get("id", ""), c.get("title", ""), c.get("description", "")]
    parts += [str(k) for k in c.get("keywords", []) or []]
    return " ".join(str(p) for p in parts).lower()


def _collection_box(c: dict[str, Any]) -> Any:
    try:
        bboxes = c["extent"]["spatial"]["bbox"]
        w, s, e, n = (
            bboxes[0][:4]
            if len(bboxes[0]) == 4
            else (bboxes[0][0], bboxes[0][1], bboxes[0][3], bboxes[0][4])
        )
    except (KeyError, IndexError, TypeError):
        return box(-180, -90, 180, 90)
    if w > e:
        return shapely.union(box(w, s, 180, n), box(-180, s, e, n))
    return box(w, s, e, n)


def _collection_time_overlaps(c: dict[str, Any], rng: tuple[int | None, int | None]) -> bool:
    from gep.core.timeutil import parse_instant, to_micros

    try:
        a, b = c["extent"]["temporal"]["interval"][0]
    except (KeyError, IndexError, TypeError, ValueError):
        return True
    lo = to_micros(parse_instant(a)) if a else None
    hi = to_micros(parse_instant(b)) if b else None
    qlo, qhi = rng
    if qhi is not None and lo is not None and lo > qhi:
        return False
    return not (qlo is not None and hi is not None and hi < qlo)


def validate_collection(c: Any) -> dict[str, Any]:
    if not isinstance(c, dict):
        raise InvalidInput("a collection must be a JSON object", field="collection")
    if c.get("type", "Collection") != "Collection":
        raise InvalidInput("collection.type must be 'Collection'", field="type")
    cid = check_id(c.get("id"), "id", "collection.id")
    out = dict(c)
    out["type"] = "Collection"
    out.setdefault("stac_version", "1.1.0")
    out.setdefault("description", cid)
    out.setdefault("license", "other")
    out.setdefault("links", [])
    ext = out.get("extent")
    if ext is None:
        out["extent"] = {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[None, None]]},
        }
    elif not (
        isinstance(ext, dict)
        and isinstance(ext.get("spatial"), dict)
        and isinstance(ext.get("temporal"), dict)
    ):
        raise InvalidInput("collection.extent needs 'spatial' and 'temporal'", field="extent")
    return out


def minimal_collection(cid: str) -> dict[str, Any]:
    return validate_collection({"id": cid, "description": f"Items ingested into {cid}"})
