"""The :class:`~gep.processes.base.ProcessContext` a worker hands a running service.

Kept apart from the engine and the worker because it is what services see: staging through
the gateway with the job owner's permissions, progress and logs into the job store, and the
results (assets, footprint, extra items) collected for publication when the service returns.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson

from gep.catalog.store import CatalogStore
from gep.core.access import Viewer
from gep.core.errors import InvalidInput
from gep.gateway.resolver import Gateway
from gep.jobs.publish import RESULTS_COLLECTION
from gep.jobs.store import JobStore
from gep.processes.base import parse_item_ref


class JobDismissed(Exception):
    """Raised inside a running service when its job was dismissed: stops it cooperatively."""


class JobContext:
    """The :class:`~gep.processes.base.ProcessContext` a worker gives a service."""

    def __init__(
        self,
        store: JobStore,
        job_id: str,
        scratch: Path,
        output_dir: Path,
        catalog: CatalogStore | None,
        viewer: Viewer,
        gateway: Gateway,
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.scratch = scratch
        self.output_dir = output_dir
        self.catalog = catalog
        #: whose permissions the job reads the catalogue with: the user who submitted it
        self.viewer = viewer
        #: the one way the job reads an asset href (confined to what its owner may read)
        self.gateway = gateway
        #: bytes of the input files the job staged (usage accounting)
        self.bytes_read = 0
        self.assets: dict[str, dict[str, Any]] = {}
        self.footprint: dict[str, Any] | None = None
        self.extra_items: list[dict[str, Any]] = []
        #: the catalogue items the job read, for processing:lineage
        self.lineage: list[str] = []
        self.logger = logging.getLogger(f"gep.job.{job_id}")
        self.logger.propagate = False
        self.logger.handlers = [_DbLogHandler(store, job_id)]
        self.logger.setLevel(logging.DEBUG)

    def progress(self, percent: int, message: str = "") -> None:
        if not self.store.set_progress(self.job_id, percent, message):
            raise JobDismissed(self.job_id)

    def stage(self, item: Any, asset: str | None = None) -> tuple[dict[str, Any], Path | None]:
        if self.catalog is None:
            raise InvalidInput("this job has no catalogue to read items from", field="inputs")
        collection, item_id = parse_item_ref(item)
        record = orjson.loads(self.catalog.get_item(collection, item_id, self.viewer))
        if f"{collection}/{item_id}" not in self.lineage:
            self.lineage.append(f"{collection}/{item_id}")
        if asset is None:
            return record, None
        assets = record.get("assets") or {}
        if asset not in assets:
            raise InvalidInput(
                f"item '{collection}/{item_id}' has no asset '{asset}'; it has: "
                + ", ".join(sorted(assets)),
                field="inputs.asset",
            )
        href = str(assets[asset].get("href", ""))
        local = self.gateway.stage(
            href, self.scratch, self.viewer, field=f"{collection}/{item_id}: asset {asset}"
        )
        self.bytes_read += size_of(local)
        self.logger.info("staged %s/%s asset %s", collection, item_id, asset)
        return record, local

    def add_asset(
        self, key: str, path: Path, media_type: str, roles: list[str], title: str = ""
    ) -> str:
        href = path.resolve().as_uri()
        self.assets[key] = {
            "href": href,
            "type": media_type,
            "roles": roles,
            **({"title": title} if title else {}),
        }
        return href

    def set_footprint(self, geometry: dict[str, Any]) -> None:
        self.footprint = geometry

    def publish_item(self, item: dict[str, Any]) -> str:
        """Queue an item of the job's own (e.g. from a STAC catalogue output) for publication
        with the job: its id is prefixed with the job's, so jobs never overwrite each other."""
        source_id = str(item.get("id", "item"))
        published = {
            **item,
            "id": f"{self.job_id}-{source_id}",
            "collection": RESULTS_COLLECTION,
            "links": [],
        }
        props = dict(published.get("properties") or {})
        props["gep:source_id"] = source_id
        published["properties"] = props
        self.extra_items.append(published)
        return f"{RESULTS_COLLECTION}/{published['id']}"

    def search(self, params: dict[str, Any], limit: int = 500) -> list[dict[str, Any]]:
        if self.catalog is None:
            raise InvalidInput("this job has no catalogue to search", field="inputs")
        from gep.catalog.search import build_search

        req = build_search({**params, "limit": max(1, min(int(limit), 10_000))}, from_get=False)
        req.viewer = self.viewer
        page = self.catalog.search(req)
        return [orjson.loads(raw) for _, _, raw in page.items]


def size_of(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (a SAFE)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class _DbLogHandler(logging.Handler):
    def __init__(self, store: JobStore, job_id: str) -> None:
        super().__init__()
        self.store = store
        self.job_id = job_id

    def emit(self, record: logging.LogRecord) -> None:
        self.store.log(self.job_id, record.levelname, record.getMessage())
