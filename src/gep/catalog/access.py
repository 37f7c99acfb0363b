"""Who may see and change what in the catalogue: owners and visibility of collections and items.

A collection has an owner and a visibility (columns of ``collections``). An item inherits its
collection's, unless it has its own (a row of ``item_acl``): the results of a job sit in its
service's result collection (``dinsar``…, or the former shared ``results``), each visible to its
job's owner and whoever they shared it with.
An item is visible when its collection is, and its own visibility (if any) allows it too.

Searches apply this inside the SQL (:func:`scope` narrows the collections, :func:`item_clause`
tests item rows) so that pages and ``numberMatched`` only ever count what the caller may see.
The item test is added only when a searched collection has item-level visibility at all
(``collections.item_acl``), so the catalogue's big public collections pay nothing for it.

A collection without an owner is the platform's (ingested, harvested, the results): only
administrators change it or its items, and the ids of result collections are reserved
(:func:`is_reserved_collection`; services' ids, which name their result collections, are
reserved by the API, which knows the services) so that no user can own where everyone's
results go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from gep.catalog.sqlbuild import Params
from gep.core.access import PUBLIC, Viewer, visibility_clause
from gep.core.errors import NotFound
from gep.db.visible import select_visible


@dataclass(frozen=True)
class Scope:
    #: collections the search may read (None: every collection)
    collections: list[str] | None
    #: some of them have items with a visibility of their own
    item_acl: bool


def _visibility(conn: Connection, viewer: Viewer) -> tuple[dict[str, bool], int]:
    """The collections ``viewer`` may see (id → has item-level visibility), and how many
    collections there are in all."""
    params: dict[str, Any] = {}
    clause = visibility_clause(viewer, "owner", "visibility", params)
    # the visibility test as a column: one read tells visible from hidden collections
    rows = conn.execute(
        text(
            f"SELECT id, item_acl, CASE WHEN {clause or '1=1'} THEN 1 ELSE 0 END FROM collections"
        ),
        params,
    ).all()
    return {r[0]: bool(r[1]) for r in rows if r[2]}, len(rows)


def visible_collections(
    conn: Connection, viewer: Viewer, wanted: Sequence[str] | None
) -> dict[str, bool]:
    """Those of ``wanted`` (all when None) ``viewer`` may see, each with whether some of its
    items have a visibility of their own (their metadata must then be read item by item)."""
    visible, _ = _visibility(conn, viewer)
    if wanted is None:
        return visible
    return {c: visible[c] for c in wanted if c in visible}


def scope(conn: Connection, viewer: Viewer, wanted: Sequence[str] | None) -> Scope:
    """The collections ``viewer`` may search among ``wanted`` (all when None)."""
    visible, total = _visibility(conn, viewer)
    if wanted is None:
        everything = len(visible) == total
        chosen = None if everything else sorted(visible)
        acl = any(visible.values())
    else:
        chosen = [c for c in wanted if c in visible]
        acl = any(visible[c] for c in chosen)
    return Scope(chosen, acl)


def item_clause(viewer: Viewer, params: Params, alias: str = "i", id_column: str = "id") -> str:
    """True for item rows (or rows naming an item: ``id_column`` holds its id) whose own
    visibility (if any) lets ``viewer`` see them."""
    grants = [f"a.visibility = {params.add(PUBLIC)}"]
    if not viewer.anonymous:
        grants.append(f"a.owner = {params.add(viewer.user_id)}")
        tags = viewer.group_tags()
        if tags:
            grants.append("a.visibility IN (" + ", ".join(params.add(t) for t in tags) + ")")
    return (
        f"NOT EXISTS (SELECT 1 FROM item_acl a WHERE a.collection = {alias}.collection AND "
        f"a.id = {alias}.{id_column} AND NOT ({' OR '.join(grants)}))"
    )


# ---------------------------------------------------------------------- the platform's own

#: the collection job results are published in (``gep.jobs.publish.RESULTS_COLLECTION`` names
#: it there: the jobs layer sits above this one)
RESULTS = "results"


def is_reserved_collection(collection_id: str) -> bool:
    """Ids only the platform's collections may take: ``results`` and any future
    ``results-<…>`` (per-service result collections).

    Whoever owns the collection results are published in would own everyone's results (they
    could read, unshare or delete them), so no user may create one under these ids, whether
    or not it exists yet.
    """
    return collection_id == RESULTS or collection_id.startswith(RESULTS + "-")


def reclaim_reserved_collections(conn: Connection) -> list[str]:
    """Give back to the platform the reserved collections a user created before the ids were
    reserved; returns their ids.

    The squatter's own items keep the visibility they had (it becomes their item-level
    visibility) and job results keep theirs; the collection becomes the platform's and public,
    so each item's own visibility decides who sees it. Idempotent: a start-up step.
    """
    rows = conn.execute(
        text(
            "SELECT id, owner, visibility FROM collections WHERE owner IS NOT NULL "
            "AND (id = :r OR id LIKE :prefix)"
        ),
        {"r": RESULTS, "prefix": RESULTS + "-%"},
    ).all()
    for cid, owner, visibility in rows:
        conn.execute(
            text(
                "INSERT INTO item_acl (collection, id, owner, visibility) "
                "SELECT i.collection, i.id, :o, :v FROM items i WHERE i.collection = :c "
                "AND NOT EXISTS (SELECT 1 FROM item_acl a "
                "WHERE a.collection = i.collection AND a.id = i.id)"
            ),
            {"c": cid, "o": owner, "v": visibility},
        )
        conn.execute(
            text(
                "UPDATE collections SET owner = NULL, visibility = :v, item_acl = 1 WHERE id = :c"
            ),
            {"c": cid, "v": PUBLIC},
        )
    return [r[0] for r in rows]


@dataclass(frozen=True)
class Access:
    """An object's owner and visibility."""

    owner: str | None
    visibility: str

    def as_dict(self) -> dict[str, Any]:
        return {"owner": self.owner, "visibility": self.visibility}

    @property
    def platform(self) -> bool:
        """Owned by the platform (ingested, harvested, seeded, the results): administrators
        alone change it and what it holds."""
        return self.owner is None


def collection_access(conn: Connection, collection_id: str) -> Access | None:
    row = conn.execute(
        text("SELECT owner, visibility FROM collections WHERE id = :id"), {"id": collection_id}
    ).first()
    return None if row is None else Access(row[0], row[1])


def item_access(conn: Connection, collection_id: str, item_id: str) -> Access | None:
    """The item's own owner and visibility; None when it inherits its collection's."""
    row = conn.execute(
        text("SELECT owner, visibility FROM item_acl WHERE collection = :c AND id = :id"),
        {"c": collection_id, "id": item_id},
    ).first()
    return None if row is None else Access(row[0], row[1])


def check_collection_visible(conn: Connection, viewer: Viewer, collection_id: str) -> Access:
    """The collection's access, or the same NotFound a missing collection gets."""
    row = select_visible(conn, "collections", "owner, visibility", {"id": collection_id}, viewer)
    if row is None:
        raise NotFound(f"collection '{collection_id}' does not exist", field="collectionId")
    return Access(row[0], row[1])


def check_item_visible(
    conn: Connection, viewer: Viewer, collection_id: str, item_id: str
) -> Access:
    """The item's effective access (its own, else its collection's), or NotFound as if it did
    not exist."""
    coll = check_collection_visible(conn, viewer, collection_id)
    own = item_access(conn, collection_id, item_id)
    if own is not None and not viewer.may_see(own.owner, own.visibility):
        raise NotFound(
            f"item '{item_id}' does not exist in collection '{collection_id}'", field="itemId"
        )
    return own or coll


def set_item_access(
    conn: Connection, collection_id: str, item_ids: Sequence[str], acc: Access
) -> None:
    """Give items a visibility of their own (and mark their collection as having such)."""
    for item_id in item_ids:
        conn.execute(
            text("DELETE FROM item_acl WHERE collection = :c AND id = :id"),
            {"c": collection_id, "id": item_id},
        )
        conn.execute(
            text(
                "INSERT INTO item_acl (collection, id, owner, visibility) VALUES (:c, :id, :o, :v)"
            ),
            {"c": collection_id, "id": item_id, "o": acc.owner, "v": acc.visibility},
        )
    if item_ids:
        conn.execute(
            text("UPDATE collections SET item_acl = 1 WHERE id = :c AND item_acl = 0"),
            {"c": collection_id},
        )


def clear_item_access(conn: Connection, collection_id: str, item_ids: Sequence[str]) -> None:
    """Forget items' own visibility (an item whose write failed after its visibility was set:
    a later item of that id must not inherit it)."""
    for item_id in item_ids:
        conn.execute(
            text("DELETE FROM item_acl WHERE collection = :c AND id = :id"),
            {"c": collection_id, "id": item_id},
        )


def set_collection_access(conn: Connection, collection_id: str, acc: Access) -> None:
    conn.execute(
        text("UPDATE collections SET owner = :o, visibility = :v WHERE id = :id"),
        {"o": acc.owner, "v": acc.visibility, "id": collection_id},
    )
