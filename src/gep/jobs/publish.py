"""A job's results in the catalogue: published into ``results``, shared, and removed.

Results are catalogue items whose visibility follows their job's: written with it, changed with
it (``PATCH /jobs/{id}``) and removed with it (dismissing a finished job, or its expiry under
the collection's retention policy: ``gep.jobs.retention``). The worker publishes (:func:`publish`,
:func:`publish_items`); the job service shares and removes.
"""

from __future__ import annotations

import contextlib
from typing import Any, NamedTuple

from gep.catalog.access import Access
from gep.catalog.search import build_search
from gep.catalog.store import CatalogStore
from gep.catalog.store_search import SearchPage
from gep.core.errors import NotFound
from gep.core.timeutil import format_rfc3339, from_micros
from gep.gateway.resolver import job_folder
from gep.gateway.storage import Storage

#: the collection job results are published in (reserved for the platform: see
#: ``gep.catalog.access``)
RESULTS_COLLECTION = "results"


def publish(
    catalog: CatalogStore,
    job: Any,
    process: Any,
    *,
    assets: dict[str, dict[str, Any]],
    footprint: dict[str, Any] | None,
    lineage: list[str],
    finished_us: int,
) -> str:
    """The job's results as one STAC item in the ``results`` collection (upsert: a job
    published twice is still one item)."""
    item = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": ["https://stac-extensions.github.io/processing/v1.2.0/schema.json"],
        "id": job.id,
        "collection": RESULTS_COLLECTION,
        "geometry": footprint,
        "properties": {
            "datetime": format_rfc3339(from_micros(finished_us)),
            "title": f"{process.title or process.id} results",
            "processing:lineage": "GEP job "
            + job.id
            + (" on " + ", ".join(lineage) if lineage else ""),
            "processing:software": {process.id: process.version},
            "gep:job": job.id,
            "gep:process": process.id,
            "gep:inputs": lineage,
        },
        "assets": assets,
        "links": [],
    }
    write_results(catalog, job, [item])
    return f"{RESULTS_COLLECTION}/{job.id}"


def publish_items(
    catalog: CatalogStore,
    job: Any,
    process: Any,
    items: list[dict[str, Any]],
    lineage: list[str],
) -> int:
    """The items a service published itself (``ProcessContext.publish_item``), with the job's
    lineage; returns how many."""
    stamp = {
        "gep:job": job.id,
        "gep:process": process.id,
        "processing:software": {process.id: process.version},
        "gep:inputs": lineage,
    }
    write_results(
        catalog, job, [{**it, "properties": {**it["properties"], **stamp}} for it in items]
    )
    return len(items)


def write_results(catalog: CatalogStore, job: Any, items: list[dict[str, Any]]) -> None:
    """Publish a job's items in ``results``, visible as the job is: the visibility is set
    before the items exist, so that no reader ever sees them with the collection's."""
    if not catalog.collection_exists(RESULTS_COLLECTION):
        catalog.create_collection(results_collection(), upsert=True)
    catalog.set_item_access(
        RESULTS_COLLECTION, [it["id"] for it in items], Access(job.owner, job.visibility)
    )
    catalog.write_items(items, mode="upsert", atomic=True)


def results_collection() -> dict[str, Any]:
    return {
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": RESULTS_COLLECTION,
        "title": "Processing results",
        "description": "The published results of GEP jobs; each is visible to its owner and "
        "whoever they share it with.",
        "license": "other",
        "extent": {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[None, None]]},
        },
        "links": [],
    }


def share_results(catalog: CatalogStore, job: Any, visibility: str) -> int:
    """Give a job's published items the job's new visibility; returns how many."""
    ids = [item_id for _, item_id, _ in _results_page(catalog, job.id).items]
    catalog.set_item_access(RESULTS_COLLECTION, ids, Access(job.owner, visibility))
    return len(ids)


class Removed(NamedTuple):
    """What removing a job's results deleted."""

    #: the ids of the items deleted
    items: tuple[str, ...]
    #: how many files
    files: int


def result_item_ids(catalog: CatalogStore, job_id: str) -> list[str]:
    """The ids of the items a job published in ``results``."""
    return [item_id for _, item_id, _ in _results_page(catalog, job_id).items]


def remove_results(catalog: CatalogStore, storage: Storage, job_id: str) -> Removed:
    """Delete a job's published items, then its files (dismissal, retention).

    Items first: a removal interrupted midway then leaves files no item names (removed when it
    is done again), never an item naming a file that is gone."""
    ids = tuple(result_item_ids(catalog, job_id))
    for item_id in ids:
        with contextlib.suppress(NotFound):  # removed meanwhile (a dismissal, another sweep)
            catalog.delete_item(RESULTS_COLLECTION, item_id)
    return Removed(ids, storage.delete_prefix(job_folder(job_id)))


def _results_page(catalog: CatalogStore, job_id: str) -> SearchPage:
    """The items a job published (its own id, or prefixed with it)."""
    if not catalog.collection_exists(RESULTS_COLLECTION):
        return SearchPage([], None)
    mine = {
        "op": "or",
        "args": [
            {"op": "=", "args": [{"property": "id"}, job_id]},
            {"op": "like", "args": [{"property": "id"}, f"{job_id}-%"]},
        ],
    }
    return catalog.search(
        build_search(
            {"collections": [RESULTS_COLLECTION], "filter": mine, "limit": 10_000}, from_get=False
        )
    )
