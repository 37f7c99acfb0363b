"""Personal storage: an upload becomes a private STAC item in its owner's collection, its files
under ``uploads/<owner>/<item>/`` in GEP's storage, within the owner's quota.

Where items go. By default each user has a collection of their own, ``uploads-<user id>``,
which they own: the catalogue's existing rules then let them share, change and delete their
uploads through the STAC routes like anything else they own. The collection is public and each
item has a visibility of its own, private at first (as job results have in ``results``): an
item is visible only when its collection is, so a private collection would make sharing one
upload impossible. The collection's content names no one (its id carries the opaque user id).
A user may name instead any collection they may change (``collection``); the item is private
there too until shared.

Nothing is left behind by a refusal: the files are stored, then the item's visibility set, then
the item written; whatever fails undoes what was done before it.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from gep.accounts.data_usage import DataDirection, DataEvent, DataUsageStore
from gep.catalog.access import Access
from gep.catalog.search import build_search
from gep.catalog.store import CatalogStore
from gep.core.access import PRIVATE, PUBLIC, Viewer
from gep.core.errors import Conflict, Forbidden, NotFound, QuotaExceeded
from gep.core.ids import check_id
from gep.core.timeutil import format_rfc3339
from gep.gateway.storage import Storage
from gep.gateway.uploads.catalogue import catalogue_file
from gep.gateway.uploads.model import Catalogued, safe_name
from gep.gateway.uploads.sessions import SessionStore, UploadSession

#: the storage folder of uploads: ``uploads/<owner id>/<item id>/<file>``
AREA = "uploads"
#: the id of a user's own uploads collection is this prefix and their user id
COLLECTION_PREFIX = "uploads-"
FILE_EXTENSION = "https://stac-extensions.github.io/file/v2.1.0/schema.json"


def default_collection(user_id: str) -> str:
    return f"{COLLECTION_PREFIX}{user_id}"


@dataclass(frozen=True)
class Usage:
    """A user's storage: what their uploads (and open upload sessions) take, and the quota."""

    used: int
    quota: int

    @property
    def available(self) -> int:
        return max(0, self.quota - self.used)

    def as_dict(self) -> dict[str, int]:
        return {"used": self.used, "quota": self.quota, "available": self.available}


def quota_exceeded(filename: str, size: int, usage: Usage) -> QuotaExceeded:
    return QuotaExceeded(
        f"{filename}: storing it ({size} bytes) would pass your storage quota: you use "
        f"{usage.used} of {usage.quota} bytes ({usage.available} available); delete uploads "
        "you no longer need, or ask an administrator for more (GEP_UPLOAD_QUOTA_BYTES)",
        field="file",
        filename=filename,
        used=usage.used,
        quota=usage.quota,
        size=size,
    )


class UploadService:
    """Uploads of every user: quota, collection, cataloguing, storing, sessions."""

    def __init__(
        self,
        catalog: CatalogStore,
        storage: Storage,
        *,
        quota_bytes: int,
        scratch: Path,
        sessions: SessionStore | None = None,
        data_usage: DataUsageStore | None = None,
    ) -> None:
        self.catalog = catalog
        #: where the bytes stored are accounted (``gep.accounts.data_usage``)
        self.data_usage = data_usage
        self.storage = storage
        self.quota_bytes = quota_bytes
        #: a local folder for work files (the upload being read, its COG or GeoJSON)
        self.scratch = scratch
        self.sessions = sessions or SessionStore(storage)

    # ------------------------------------------------------------------ quota
    def usage(self, owner: str) -> Usage:
        used = self.storage.size_of(f"{AREA}/{owner}") + self.sessions.reserved(owner)
        return Usage(used, self.quota_bytes)

    def check_quota(self, owner: str, filename: str, size: int) -> Usage:
        """``size`` more bytes fit in the owner's quota, or 413 with the numbers."""
        usage = self.usage(owner)
        if size > usage.available:
            raise quota_exceeded(filename, size, usage)
        return usage

    # ------------------------------------------------------------------ collection
    def collection_for(self, viewer: Viewer, requested: str | None) -> str:
        """The collection an upload goes to: ``requested`` when the viewer may add to it,
        else their own uploads collection (made on first use)."""
        if requested:
            check_id(requested, field="collection", what="collection")
            acc = self.catalog.collection_access(requested, viewer)  # 404 when not visible
            if acc.platform and not viewer.is_admin:
                raise Forbidden(
                    f"collection '{requested}' belongs to the platform; upload to one of yours",
                    field="collection",
                )
            if not viewer.may_change(acc.owner):
                raise Forbidden(
                    f"collection '{requested}' is not yours; upload to one of yours",
                    field="collection",
                )
            return requested
        owner = _owner(viewer)
        cid = default_collection(owner)
        try:
            acc = self.catalog.collection_access(cid)
        except NotFound:
            with contextlib.suppress(Conflict):  # another upload of the same user made it now
                self.catalog.create_collection(
                    _uploads_collection(cid), owner=owner, visibility=PUBLIC
                )
            acc = self.catalog.collection_access(cid)
        if acc.owner != owner:
            raise Conflict(
                f"collection '{cid}', where your uploads go, was made by someone else; "
                "name a collection of yours (collection)",
                field="collection",
            )
        return cid

    # ------------------------------------------------------------------ uploads
    def ingest(
        self, viewer: Viewer, path: Path, filename: str, collection: str | None = None
    ) -> tuple[str, str]:
        """Catalogue the local file ``path`` (uploaded as ``filename``) for ``viewer``;
        returns the (collection, item id) of the new item. The caller removes ``path``."""
        owner = _owner(viewer)
        self.check_quota(owner, filename, path.stat().st_size)
        target = self.collection_for(viewer, collection)
        now = datetime.now(UTC)
        self.scratch.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="upload-", dir=self.scratch))
        try:
            cat = catalogue_file(path, filename, workdir, now=now, max_expand=self.quota_bytes)
            sizes = {f.asset: f.path.stat().st_size for f in cat.files}
            self.check_quota(owner, filename, sum(sizes.values()))
            item_id = _new_id(cat.name or filename)
            self._publish(owner, target, item_id, filename, cat, sizes, now)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if self.data_usage is not None:
            stored = sum(sizes.values())
            self.data_usage.record(
                [DataEvent(owner, DataDirection.WRITE, "upload", target, stored)]
            )
        return target, item_id

    def _publish(
        self,
        owner: str,
        collection: str,
        item_id: str,
        filename: str,
        cat: Catalogued,
        sizes: dict[str, int],
        now: datetime,
    ) -> None:
        prefix = f"{AREA}/{owner}/{item_id}"
        access_set = False
        try:
            assets: dict[str, Any] = {}
            for f in cat.files:
                href = self.storage.put_file(f.path, f"{prefix}/{f.name}")
                assets[f.asset] = {
                    "href": href,
                    "type": f.media_type,
                    "roles": list(f.roles),
                    "title": f.title,
                    "file:size": sizes[f.asset],
                    **f.extra,
                }
            item = {
                "type": "Feature",
                "stac_version": "1.1.0",
                "stac_extensions": sorted({*cat.extensions, FILE_EXTENSION}),
                "id": item_id,
                "collection": collection,
                "geometry": cat.geometry,
                "bbox": cat.bbox,
                "properties": {
                    **cat.properties,
                    "title": filename[:256],
                    "created": format_rfc3339(now),
                    "gep:uploaded": format_rfc3339(now),
                    "gep:upload_kind": cat.kind.value,
                    "gep:filename": filename[:256],
                },
                "assets": assets,
                "links": [],
            }
            # private before it exists: no reader ever sees it with the collection's visibility
            self.catalog.set_item_access(collection, [item_id], Access(owner, PRIVATE))
            access_set = True
            # an ingestion event, so that the owner's subscriptions on their uploads fire
            self.catalog.write_items(
                [item], collection=collection, mode="create", atomic=True, origin="upload"
            )
        except BaseException:
            self.storage.delete_prefix(prefix)
            if access_set:
                self.catalog.clear_item_access(collection, [item_id])
            raise

    # ------------------------------------------------------------------ sessions
    def open_session(
        self, viewer: Viewer, filename: str, size: int, collection: str | None
    ) -> UploadSession:
        """A resumable upload of ``size`` bytes: the quota and the collection are checked now,
        before any byte is sent."""
        owner = _owner(viewer)
        self.check_quota(owner, filename, size)
        target = self.collection_for(viewer, collection)
        return self.sessions.create(owner, filename, size, target)

    def complete_session(self, viewer: Viewer, session: UploadSession) -> tuple[str, str]:
        """The chunks as one file, catalogued; the session is gone afterwards, whatever the
        outcome (a refused file leaves nothing)."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="session-", dir=self.scratch))
        try:
            whole = self.sessions.assemble(session, workdir / "upload")
            self.sessions.drop(session.owner, session.id)
            return self.ingest(viewer, whole, session.filename, session.collection)
        finally:
            self.sessions.drop(session.owner, session.id)
            shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------- removal
# Files and items go together: whoever deletes an item (the STAC DELETE routes) removes its
# upload folder with it. Only folders of the item's own owner are touched: an item naming
# another user's upload (which only an administrator could have written) never removes it.


def upload_folders(storage: Storage, item: Mapping[str, Any], owner: str | None) -> set[str]:
    """The upload folders (``uploads/<owner>/<item>``) of ``owner`` an item's assets name."""
    found: set[str] = set()
    assets = item.get("assets")
    if owner is None or not isinstance(assets, Mapping):
        return found
    for asset in assets.values():
        if not isinstance(asset, Mapping):
            continue
        hrefs = [asset.get("href")]
        alternates = asset.get("alternate")
        if isinstance(alternates, Mapping):
            hrefs += [a.get("href") for a in alternates.values() if isinstance(a, Mapping)]
        for href in hrefs:
            key = storage.key_of(href) if isinstance(href, str) else None
            parts = key.split("/") if key else []
            if len(parts) >= 4 and parts[0] == AREA and parts[1] == owner:
                found.add("/".join(parts[:3]))
    return found


def collection_upload_folders(
    catalog: CatalogStore, storage: Storage, collection_id: str
) -> set[str]:
    """The upload folders of every item of a collection (each item's own owner's), gathered
    before the collection is deleted."""
    folders: set[str] = set()
    token: str | None = None
    while True:
        params: dict[str, Any] = {"collections": [collection_id], "limit": 1000}
        if token:
            params["token"] = token
        page = catalog.search(build_search(params, from_get=False))
        for _, item_id, content in page.items:
            if AREA.encode() not in content:  # no stored upload: nothing to read
                continue
            owner = catalog.item_access(collection_id, item_id).owner
            folders |= upload_folders(storage, orjson.loads(content), owner)
        token = page.next_token
        if not token:
            return folders


def remove_folders(storage: Storage, folders: Iterable[str]) -> int:
    """Delete upload folders; returns the files removed."""
    return sum(storage.delete_prefix(folder) for folder in sorted(folders))


# ---------------------------------------------------------------------- helpers


def _owner(viewer: Viewer) -> str:
    if viewer.user_id is None:  # the API asks for a user first; this is the library's guard
        raise Forbidden("uploads need an account", field="Authorization")
    return viewer.user_id


def _new_id(name: str) -> str:
    """The file's name and a random suffix: readable, unique, and not guessable (the id is part
    of the storage key)."""
    stem = safe_name(name, "upload")
    if "." in stem and not stem.endswith(".SAFE"):
        stem = stem.rsplit(".", 1)[0] or "upload"
    return f"{stem[:100]}-{secrets.token_hex(6)}"


def _uploads_collection(cid: str) -> dict[str, Any]:
    return {
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": cid,
        "title": "Uploads",
        "description": "Files uploaded to GEP by one user, catalogued on arrival; each item is "
        "visible to its owner and whoever they share it with.",
        "license": "other",
        "extent": {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[None, None]]},
        },
        "links": [],
    }
