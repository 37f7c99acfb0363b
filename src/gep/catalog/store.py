"""The catalogue store: one interface, two backends (SQLite embedded, PostgreSQL + PostGIS).

The shared :class:`CatalogStore` owns everything that decides *which* items a search returns and
in *which order* (filters, keyset paging, counts), so both backends answer identically; the
subclasses own storage: DDL, bulk writes, and the few SQL expressions that differ (``dialects``).

:class:`CatalogStore` is the one name callers hold; its body is cut by role into parts, each a
module of its own so that none grows past a reading: this module (schema, collections, sharing,
single items), :mod:`~gep.catalog.store_search` (a search → SQL, keyset paging, counts),
:mod:`~gep.catalog.store_queryables` (the queryables, written with the items and read by
searches) and :mod:`~gep.catalog.store_writes` (batch writes, ingestion events, the backends'
write hooks).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import orjson
import shapely
from shapely.geometry import box
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from gep.catalog import access
from gep.catalog.dialects import Dialect
from gep.catalog.records import validate_collection
from gep.catalog.store_search import StoreSearch
from gep.catalog.store_writes import StoreWrites
from gep.core.access import PUBLIC, Viewer
from gep.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from gep.db.visible import select_all_visible


class CatalogStore(StoreWrites, StoreSearch):
    """What the API, the CLI and the harvesters use to read and write the catalogue."""

    dialect: Dialect

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

    def clear_item_access(self, collection_id: str, item_ids: Sequence[str]) -> None:
        """Forget items' own visibility (undoing :meth:`set_item_access` for items that were
        never written)."""
        with self.engine.begin() as conn:
            access.clear_item_access(conn, collection_id, item_ids)

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


# ---------------------------------------------------------------------- helpers


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
