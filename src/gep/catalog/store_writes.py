"""Writing items: validation in batches, duplicate ids, missing collections, ingestion events.

Split from :mod:`gep.catalog.store` along the seam between *what* is written (this module: the
batching, the per-item report, the events a subscriber reads) and *how* a backend stores rows
(the abstract hooks at the bottom, implemented by ``sqlite_store`` and ``postgis_store``).
:class:`StoreWrites` is a part of :class:`~gep.catalog.store.CatalogStore`, not a store of its
own: it reads the engine and the collection methods the store defines.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine, text

from gep.catalog import access
from gep.catalog.records import ItemRow, batch_geometries, item_to_row, minimal_collection
from gep.catalog.sqlbuild import Params
from gep.core.access import PUBLIC, Viewer
from gep.core.errors import GepError, NotFound

WriteMode = Literal["create", "upsert", "replace"]


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


class StoreWrites(ABC):
    """The write half of :class:`~gep.catalog.store.CatalogStore`."""

    engine: Engine
    #: items written per transaction by bulk ingestion
    batch_size = 5000

    @abstractmethod
    def create_collection(
        self,
        collection: dict[str, Any],
        *,
        upsert: bool = False,
        owner: str | None = None,
        visibility: str = PUBLIC,
        viewer: Viewer | None = None,
    ) -> None: ...

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
        With a ``viewer``, only events of items they may see (their collection's visibility,
        and the item's own where it has one: a private result in a shared collection)."""
        sql = (
            "SELECT e.seq, e.collection, e.item_id, e.origin, e.created FROM ingestion_events e "
            "WHERE e.seq > :a"
        )
        params: dict[str, Any] = {"a": after, "n": limit}
        if collection:
            sql += " AND e.collection = :c"
            params["c"] = collection
        with self.engine.connect() as conn:
            if viewer is not None and not viewer.is_admin:
                sc = access.scope(conn, viewer, [collection] if collection else None)
                if sc.collections is not None:
                    if not sc.collections:
                        return []
                    names = [f":sc{n}" for n in range(len(sc.collections))]
                    params.update({f"sc{n}": c for n, c in enumerate(sc.collections)})
                    sql += f" AND e.collection IN ({', '.join(names)})"
                if sc.item_acl:
                    acl = Params()
                    sql += " AND " + access.item_clause(viewer, acl, "e", "item_id")
                    params.update(acl.values)
            rows = conn.execute(text(sql + " ORDER BY e.seq LIMIT :n"), params).all()
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
