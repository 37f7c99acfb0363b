"""The :class:`~gep.processes.base.ProcessContext` a worker hands a running service.

Kept apart from the engine and the worker because it is what services see: staging through
the gateway with the job owner's permissions, progress and logs into the job store, and the
results (assets, footprint, extra items) collected for publication when the service returns.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import orjson

from gep.accounts.data_usage import DataDirection, DataEvent
from gep.catalog.store import CatalogStore
from gep.core.access import Viewer
from gep.core.errors import InvalidInput
from gep.gateway.resolver import Gateway, job_folder
from gep.gateway.retrieve import AssetRequest, is_remote
from gep.io.hrefs import local_path
from gep.io.ranged import RangedFile
from gep.jobs.publish import InputItem, result_collection_id
from gep.jobs.staging import stage_remote
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
        #: each asset's local file under ``output_dir`` (described before it is stored:
        #: ``gep.jobs.asset_meta``)
        self.asset_files: dict[str, Path] = {}
        #: the local file of each stored href handed out (items the service publishes itself
        #: name their files by these)
        self.stored_files: dict[str, Path] = {}
        self.footprint: dict[str, Any] | None = None
        self.extra_items: list[dict[str, Any]] = []
        #: what the job read, per source and collection (data accounting)
        self.data_events: list[DataEvent] = []
        #: where each asset opened with open_ranged lies ("storage" or "data-root")
        self._ranged: dict[tuple[str, str, str], str] = {}
        #: the catalogue items the job read, for processing:lineage
        self.lineage: list[str] = []
        #: what the published results say of their inputs (time, platform, track: see
        #: ``gep.jobs.publish``), one per item in ``lineage``
        self.inputs: list[InputItem] = []
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
        if f"{collection}/{item_id}" not in self.lineage:  # a DEM staged twice is one input
            self.lineage.append(f"{collection}/{item_id}")
            self.inputs.append(input_item(f"{collection}/{item_id}", record))
        if asset is None:
            return record, None
        assets = record.get("assets") or {}
        href = _asset_href(record, collection, item_id, asset)
        if is_remote(self.gateway, href):  # mirrors, checksums, the cache (gep.jobs.staging)
            req = AssetRequest(collection, item_id, asset, assets[asset])
            local, source = stage_remote(
                self.gateway, self.store, self.job_id, self.scratch, self.viewer, req, self.logger
            )
        else:
            source = self._source_of(href)
            local = self.gateway.stage(
                href, self.scratch, self.viewer, field=f"{collection}/{item_id}: asset {asset}"
            )
        n = size_of(local)
        self.bytes_read += n
        self.data_events.append(
            DataEvent(
                self.viewer.user_id, DataDirection.READ, source, collection, n,
                self.job_id,
            )
        )  # fmt: skip
        self.logger.info("staged %s/%s asset %s", collection, item_id, asset)
        return record, local

    def open_ranged(self, item: Any, asset: str) -> tuple[dict[str, Any], Path | RangedFile | None]:
        """An asset to read by ranges where it lies (a confined local path, or an object of
        GEP's storage opened for ranged reads) instead of staged whole; None for an HTTP(S)
        asset, which :meth:`stage` must fetch. What is read is counted by the caller
        (:meth:`count_read`), not the file's size."""
        collection, item_id = parse_item_ref(item)
        record, _ = self.stage(item)
        href = _asset_href(record, collection, item_id, asset)
        if is_remote(self.gateway, href):
            return record, None
        where = self.gateway.ranged(
            href, self.viewer, field=f"{collection}/{item_id}: asset {asset}"
        )
        self._ranged[(collection, item_id, asset)] = self._source_of(href)
        self.logger.info("opened %s/%s asset %s in place", collection, item_id, asset)
        return record, where

    def count_read(self, item: Any, asset: str, n: int) -> None:
        """Account ``n`` bytes read from an asset opened with :meth:`open_ranged`."""
        collection, item_id = parse_item_ref(item)
        source = self._ranged[(collection, item_id, asset)]
        self.bytes_read += n
        self.data_events.append(
            DataEvent(self.viewer.user_id, DataDirection.READ, source, collection, n, self.job_id)
        )

    def _source_of(self, href: str) -> str:
        """Where a local or stored input came from, for data accounting: GEP's storage or a
        data root (remote inputs are named by their retrieval, ``gep.jobs.staging``)."""
        storage = self.gateway.storage
        if self.gateway.is_stored(href):
            return "storage"
        path = local_path(href)
        inside = (
            path is not None
            and storage.local_root is not None
            and path.resolve().is_relative_to(storage.local_root)
        )
        return "storage" if inside else "data-root"

    def add_asset(
        self, key: str, path: Path, media_type: str, roles: list[str], title: str = ""
    ) -> str:
        href = self.stored_href(path)
        self.asset_files[key] = self._local_output(path)
        self.assets[key] = {
            "href": href,
            "type": media_type,
            "roles": roles,
            **({"title": title} if title else {}),
        }
        return href

    def stored_href(self, path: Path) -> str:
        """The storage href a result file will have once the job's outputs are stored
        (``jobs/<id>/outputs/<path under output_dir>``). The files are written locally and
        stored when the service returns (:func:`gep.jobs.worker.run_job`); a file declared
        from elsewhere is first copied in under its name."""
        real = self._local_output(path)
        href = self.gateway.storage.href(
            output_key(self.job_id, real.relative_to(self.output_dir.resolve()))
        )
        self.stored_files[href] = real
        return href

    def local_file(self, href: str) -> Path | None:
        """The local file an href of the job's outputs names, before they are stored: one
        :meth:`stored_href` handed out, or a local path under the output folder."""
        if href in self.stored_files:
            return self.stored_files[href]
        path = local_path(href)
        if path is None or not path.is_file():
            return None
        real = path.resolve()
        return real if real.is_relative_to(self.output_dir.resolve()) else None

    def _local_output(self, path: Path) -> Path:
        """``path`` under the output folder (a file from elsewhere copied in first)."""
        out = self.output_dir.resolve()
        real = path.resolve()
        if not real.is_relative_to(out):
            target = out / real.name
            if real.is_dir():
                shutil.copytree(real, target, dirs_exist_ok=True)
            elif not target.exists():
                shutil.copyfile(real, target)
            real = target
        return real

    def set_footprint(self, geometry: dict[str, Any]) -> None:
        self.footprint = geometry

    def publish_item(self, item: dict[str, Any]) -> str:
        """Queue an item of the job's own (e.g. from a STAC catalogue output) for publication
        with the job: its id is prefixed with the job's, so jobs never overwrite each other."""
        source_id = str(item.get("id", "item"))
        collection = self._result_collection()
        published = {
            **item,
            "id": f"{self.job_id}-{source_id}",
            "collection": collection,
            "links": [],
        }
        props = dict(published.get("properties") or {})
        props["gep:source_id"] = source_id
        published["properties"] = props
        self.extra_items.append(published)
        return f"{collection}/{published['id']}"

    def _result_collection(self) -> str:
        """The collection the job's results will be published in (its service's)."""
        process_id = self.store.get(self.job_id).process_id
        if self.catalog is None:
            return process_id
        return result_collection_id(self.catalog, process_id)

    def search(self, params: dict[str, Any], limit: int = 500) -> list[dict[str, Any]]:
        if self.catalog is None:
            raise InvalidInput("this job has no catalogue to search", field="inputs")
        from gep.catalog.search import build_search

        req = build_search({**params, "limit": max(1, min(int(limit), 10_000))}, from_get=False)
        req.viewer = self.viewer
        page = self.catalog.search(req)
        return [orjson.loads(raw) for _, _, raw in page.items]


def _asset_href(record: dict[str, Any], collection: str, item_id: str, asset: str) -> str:
    """The href of an item's asset; a 400 naming the assets it has when it lacks that one."""
    assets = record.get("assets") or {}
    if asset not in assets:
        raise InvalidInput(
            f"item '{collection}/{item_id}' has no asset '{asset}'; it has: "
            + ", ".join(sorted(assets)),
            field="inputs.asset",
        )
    return str(assets[asset].get("href", ""))


def input_item(ref: str, record: dict[str, Any]) -> InputItem:
    """What a result keeps of an input item: its properties, and whether it is a DEM (an asset
    keyed or with the role ``dem``/``elevation``: a height model is no acquisition)."""
    assets = record.get("assets") or {}
    dem = "dem" in assets or any(
        {"dem", "elevation"} & set(a.get("roles") or [])
        for a in assets.values()
        if isinstance(a, dict)
    )
    return InputItem(ref, dict(record.get("properties") or {}), dem)


def outputs_prefix(job_id: str) -> str:
    """Where a job's result files are stored (its storage folder is ``jobs/<id>``)."""
    return f"{job_folder(job_id)}/outputs"


def output_key(job_id: str, relative: Path) -> str:
    """The storage key of a result file (relative to the job's output folder)."""
    return f"{outputs_prefix(job_id)}/{relative.as_posix()}"


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
