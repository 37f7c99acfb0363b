"""A job's results in the catalogue: published into its service's collection, shared, removed.

Each service's results go to a collection of their own whose id is the process id (``dinsar``,
``coin``, ``sbas``, a deployed package's id), created on the first publication with a
description, ``item_assets`` and ``summaries`` (:func:`result_collection_id`). Should that id be
taken by a collection that is not a result collection (a user's, made before the service was
deployed), the results go to ``results-<process id>`` instead: results are never written into a
collection someone else owns. Result collections are the platform's (no owner: only
administrators change them, ``gep.catalog.access``); every item has the visibility of its job.

Before per-service collections, every result went to ``results``; those items stay where they
are and keep working: a job's items are looked up in every result collection, ``results``
included (:func:`result_items`), so sharing, dismissing, retention and ``/jobs/{id}/results``
find old and new alike. No migration moves them (their GEP URLs, which users may have saved,
name ``results``).

What a result item says about itself (:func:`result_properties`): its ``datetime`` comes from the
acquisitions it was made from (a pair: ``start_datetime`` the earlier, ``end_datetime`` and
``datetime`` the later, the date the displacement is "as of"; a stack: its span, ``datetime``
its last date), ``created``/``updated`` when it was processed; the platform, constellation,
track (``sat:relative_orbit``) and pass (``sat:orbit_state``) its acquisitions share, and the
ids of every input (``gep:inputs``, a DEM once) are searchable properties; a ``derived_from``
link names each input item.

Results are catalogue items whose visibility follows their job's: written with it, changed with
it (``PATCH /jobs/{id}``) and removed with it (dismissing a finished job, or its expiry under
its collection's retention policy: ``gep.jobs.retention``). The worker publishes
(:func:`publish`, :func:`publish_items`); the job service shares and removes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

from gep.catalog.access import Access
from gep.catalog.search import build_search
from gep.catalog.store import CatalogStore
from gep.core.errors import GepError, NotFound
from gep.core.timeutil import format_rfc3339, from_micros, parse_instant, to_micros
from gep.gateway.resolver import job_folder
from gep.gateway.storage import Storage

#: where every job's results went before per-service collections (still searched: see above)
RESULTS_COLLECTION = "results"
#: the mark a result collection carries (so that publication never writes into another one)
RESULTS_MARK = "gep:results"
#: the mark of a subscription's information layer (its value: the subscription's id)
LAYER_MARK = "gep:subscription"
#: the prefix of the fallback id, when a process id is taken by another collection
RESULTS_PREFIX = "results-"

PROCESSING_EXT = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
SAT_EXT = "https://stac-extensions.github.io/sat/v1.0.0/schema.json"

#: properties an acquisition's item carries that a result made from it shares when all its
#: acquisitions agree (searchable: platform, track, pass…)
SHARED_PROPERTIES = (
    "platform",
    "constellation",
    "instruments",
    "sat:orbit_state",
    "sat:relative_orbit",
    "sar:instrument_mode",
)
#: the properties summarised on a result collection: few values, and none that places or dates
#: one user's result (the collection is everyone's; its items are each their owner's)
SUMMARISED = ("gep:process", "platform", "constellation", "instruments", "sat:orbit_state")
#: no summary lists more values, no ``item_assets`` more keys (a service with per-date assets)
_MAX_SUMMARY = 50
_MAX_ITEM_ASSETS = 64
_ACQUISITION_PREFIXES = ("sat:", "sar:", "eo:", "view:")


class InputItem(NamedTuple):
    """What a job read of one input item (``JobContext.stage`` records it)."""

    #: ``collection/id``
    ref: str
    properties: dict[str, Any]
    #: a digital elevation model (static reference data, not an acquisition)
    dem: bool


def is_acquisition(item: InputItem) -> bool:
    """An input that was acquired at a time by a sensor (not a DEM, a mask or a table):
    it has a date and says which platform or sensor made it."""
    props = item.properties
    if item.dem or not (props.get("datetime") or props.get("start_datetime")):
        return False
    return any(
        k in ("platform", "constellation", "instruments") or k.startswith(_ACQUISITION_PREFIXES)
        for k in props
    )


def _instant_us(props: Mapping[str, Any], key: str) -> int | None:
    value = props.get(key)
    if not isinstance(value, str):
        return None
    try:
        return to_micros(parse_instant(value))
    except (ValueError, GepError):  # an input's odd date does not fail its job's publication
        return None


def result_properties(inputs: Iterable[InputItem], processed_us: int) -> dict[str, Any]:
    """A result's time, shared acquisition properties and ``created``/``updated``.

    Acquisitions' times are their ``datetime`` (or their ``start_datetime``/``end_datetime``
    when they span one); a result of none (an upload's quicklook, a service without inputs) is
    dated when it was processed, as before."""
    acquisitions = [i for i in inputs if is_acquisition(i)]
    processed = format_rfc3339(from_micros(processed_us))
    out: dict[str, Any] = {"created": processed, "updated": processed}
    starts: list[int] = []
    ends: list[int] = []
    for acq in acquisitions:
        start = _instant_us(acq.properties, "start_datetime") or _instant_us(
            acq.properties, "datetime"
        )
        end = _instant_us(acq.properties, "end_datetime") or start
        if start is not None and end is not None:
            starts.append(start)
            ends.append(end)
    if not starts:
        out["datetime"] = processed
    elif len(starts) == 1 and starts[0] == ends[0]:
        out["datetime"] = format_rfc3339(from_micros(starts[0]))
    else:
        out["start_datetime"] = format_rfc3339(from_micros(min(starts)))
        out["end_datetime"] = format_rfc3339(from_micros(max(ends)))
        out["datetime"] = out["end_datetime"]
    for key in SHARED_PROPERTIES:
        values = [acq.properties.get(key) for acq in acquisitions]
        if values and all(v is not None and v == values[0] for v in values):
            out[key] = values[0]
    return out


def derived_from_links(refs: Iterable[str]) -> list[dict[str, str]]:
    """One ``derived_from`` link per input item, relative to the result item's own URL
    (``…/collections/C/items/I``): the API makes it absolute when it serves the item
    (``gep.api.stac_render``), so a changed base URL breaks no stored item."""
    links = []
    for ref in dict.fromkeys(refs):  # each input once, in the order the job read them
        collection, _, item_id = ref.partition("/")
        links.append(
            {
                "rel": "derived_from",
                "type": "application/geo+json",
                "href": f"../../{quote(collection, safe='')}/items/{quote(item_id, safe='')}",
                "title": ref,
            }
        )
    return links


def _stamp(
    job: Any, process: Any, inputs: list[InputItem], processed_us: int
) -> tuple[dict[str, Any], list[dict[str, str]], list[str]]:
    """What every item a job publishes says of its job, its inputs and its time."""
    refs = list(dict.fromkeys(i.ref for i in inputs))
    props = {
        **result_properties(inputs, processed_us),
        "processing:lineage": "GEP job " + job.id + (" on " + ", ".join(refs) if refs else ""),
        "processing:software": {process.id: process.version},
        "gep:job": job.id,
        "gep:process": process.id,
        "gep:inputs": refs,
    }
    extensions = [PROCESSING_EXT] + ([SAT_EXT] if any(k.startswith("sat:") for k in props) else [])
    return props, derived_from_links(refs), extensions


def publish(
    catalog: CatalogStore,
    job: Any,
    process: Any,
    *,
    assets: dict[str, dict[str, Any]],
    footprint: dict[str, Any] | None,
    inputs: list[InputItem],
    finished_us: int,
    properties: Mapping[str, Any] | None = None,
    extensions: Iterable[str] = (),
) -> str:
    """The job's results as one STAC item in its service's collection (upsert: a job
    published twice is still one item); returns ``collection/id``. ``properties`` and
    ``extensions``: what the assets' description adds (``renders``: ``gep.jobs.asset_meta``)."""
    collection = job_collection(catalog, job, process.id)
    props, links, ext = _stamp(job, process, inputs, finished_us)
    item = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": list(dict.fromkeys([*ext, *extensions])),
        "id": job.id,
        "collection": collection,
        "geometry": footprint,
        "properties": {
            "title": f"{process.title or process.id} results",
            **props,
            **(properties or {}),
        },
        "assets": assets,
        "links": links,
    }
    write_results(catalog, job, process, [item], collection)
    return f"{collection}/{job.id}"


def publish_items(
    catalog: CatalogStore,
    job: Any,
    process: Any,
    items: list[dict[str, Any]],
    inputs: list[InputItem],
    finished_us: int,
) -> int:
    """The items a service published itself (``ProcessContext.publish_item``), with the job's
    lineage, inputs and shared properties; an item's own time (an SBAS date) is kept. Returns
    how many."""
    collection = job_collection(catalog, job, process.id)
    props, links, extensions = _stamp(job, process, inputs, finished_us)
    stamped = []
    for it in items:
        own = dict(it.get("properties") or {})
        merged = {**props, **{k: v for k, v in own.items() if v is not None}}
        if own.get("datetime") or own.get("start_datetime"):  # its own time, whole
            for key in ("datetime", "start_datetime", "end_datetime"):
                if key in own:
                    merged[key] = own[key]
                else:
                    merged.pop(key, None)
        merged.update({k: props[k] for k in ("gep:job", "gep:process", "gep:inputs")})
        stamped.append(
            {
                **it,
                "collection": collection,
                "stac_extensions": list(
                    dict.fromkeys([*(it.get("stac_extensions") or []), *extensions])
                ),
                "properties": merged,
                "links": [*(it.get("links") or []), *links],
            }
        )
    write_results(catalog, job, process, stamped, collection)
    return len(items)


def job_collection(catalog: CatalogStore, job: Any, process_id: str) -> str:
    """Where a job's results go: its subscription's layer when it has one (created with the
    subscription, so it exists, and owned by the job's owner), else its service's collection."""
    origin = getattr(job, "origin", None)
    if origin is not None and origin.layer and catalog.collection_exists(origin.layer):
        return str(origin.layer)
    return result_collection_id(catalog, process_id)


def result_collection_id(catalog: CatalogStore, process_id: str) -> str:
    """Where ``process_id``'s results go: its id, unless a collection that is not a result
    collection has it (then ``results-<id>``, an id reserved for the platform)."""
    if not catalog.collection_exists(process_id):
        return process_id
    if _is_result_collection(catalog, process_id):
        return process_id
    return RESULTS_PREFIX + process_id


def _is_result_collection(catalog: CatalogStore, collection_id: str) -> bool:
    try:
        coll = catalog.get_collection(collection_id)
        acc = catalog.collection_access(collection_id)
    except NotFound:
        return False
    return acc.platform and (collection_id == RESULTS_COLLECTION or bool(coll.get(RESULTS_MARK)))


def write_results(
    catalog: CatalogStore,
    job: Any,
    process: Any,
    items: list[dict[str, Any]],
    collection: str,
) -> None:
    """Publish a job's items in ``collection``, visible as the job is: the visibility is set
    before the items exist, so that no reader ever sees them with the collection's."""
    ensure_result_collection(catalog, collection, process, items)
    ids = [it["id"] for it in items]
    catalog.set_item_access(collection, ids, Access(job.owner, job.visibility))
    origin = getattr(job, "origin", None)
    # a subscription's results are logged as ingestion events (the layer's Atom feed, its
    # webhooks and subscriptions chained on the layer read them); others are not
    catalog.write_items(
        items,
        mode="upsert",
        atomic=True,
        origin=None if origin is None else f"subscription:{origin.subscription}",
    )


def ensure_result_collection(
    catalog: CatalogStore, collection_id: str, process: Any, items: list[dict[str, Any]]
) -> None:
    """Create a service's result collection on its first publication, and keep its
    ``item_assets`` and ``summaries`` current: one read of one row per publication, and a
    write only when an asset key or a summarised value is new (rarely, after the first jobs).

    Its extent stays the whole world and all time: the collection is every user's, and an
    extent grown from private results would say where and when someone worked."""
    try:
        current = catalog.get_collection(collection_id)
    except NotFound:
        current = None
    coll = dict(current) if current is not None else new_result_collection(collection_id, process)
    item_assets = dict(coll.get("item_assets") or {})
    summaries = {k: list(v) for k, v in (coll.get("summaries") or {}).items()}
    for it in items:
        for key, asset in (it.get("assets") or {}).items():
            if key not in item_assets and len(item_assets) < _MAX_ITEM_ASSETS:
                item_assets[key] = {k: asset[k] for k in ("type", "roles", "title") if k in asset}
        props = it.get("properties") or {}
        for key in SUMMARISED:
            value = props.get(key)
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, (str, int)) and not isinstance(v, bool):
                    seen = summaries.setdefault(key, [])
                    if v not in seen and len(seen) < _MAX_SUMMARY:
                        seen.append(v)
    if coll.get(LAYER_MARK):
        # a subscription's layer is its owner's, visible as they chose: its extent says where
        # and when it has results (the coverage summary), so it grows with each publication
        coll["extent"] = grown_extent(coll.get("extent") or {}, items)
    if (
        current is not None
        and item_assets == (current.get("item_assets") or {})
        and summaries == (current.get("summaries") or {})
        and coll.get("extent") == current.get("extent")
    ):
        return
    coll["item_assets"] = item_assets
    coll["summaries"] = {k: sorted(v, key=str) for k, v in summaries.items()}
    if current is None:
        catalog.create_collection(coll, upsert=True)
    else:
        catalog.replace_collection(collection_id, coll)


def grown_extent(extent: Mapping[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """``extent`` grown to hold ``items`` (their bboxes and times); an empty extent (a new
    layer: ``[[None, None]]`` and no bbox) is replaced by theirs."""
    boxes = (extent.get("spatial") or {}).get("bbox") or []
    box = (
        list(boxes[0])
        if boxes and len(boxes[0]) == 4 and boxes[0] != [-180, -90, 180, 90]
        else None
    )
    interval = ((extent.get("temporal") or {}).get("interval") or [[None, None]])[0]
    start, end = interval[0], interval[1]
    for it in items:
        b = it.get("bbox")
        if b is None and it.get("geometry") is not None:
            from shapely.geometry import shape

            b = list(shape(it["geometry"]).bounds)
        if b is not None and len(b) >= 4:
            b4 = [b[0], b[1], b[-2], b[-1]] if len(b) == 6 else list(b[:4])
            box = (
                b4
                if box is None
                else [
                    min(box[0], b4[0]),
                    min(box[1], b4[1]),
                    max(box[2], b4[2]),
                    max(box[3], b4[3]),
                ]
            )
        props = it.get("properties") or {}
        first = props.get("start_datetime") or props.get("datetime")
        last = props.get("end_datetime") or props.get("datetime")
        if isinstance(first, str) and (start is None or first < start):
            start = first
        if isinstance(last, str) and (end is None or last > end):
            end = last
    return {
        "spatial": {"bbox": [box if box is not None else [-180, -90, 180, 90]]},
        "temporal": {"interval": [[start, end]]},
    }


def new_result_collection(collection_id: str, process: Any) -> dict[str, Any]:
    """A service's result collection as first created (the platform's, public; its items
    each visible as their job is)."""
    title = getattr(process, "title", "") or process.id
    description = getattr(process, "description", "")
    return {
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": collection_id,
        "title": f"{title} results",
        "description": (
            f"The published results of GEP's `{process.id}` service"
            + (f": {description}" if description else ".")
            + " Each result is visible to the user who ran it and whoever they share it with."
        ),
        "keywords": list(getattr(process, "keywords", []) or []),
        "license": "other",
        "extent": {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[None, None]]},
        },
        RESULTS_MARK: True,
        "gep:process": process.id,
        "item_assets": {},
        "summaries": {"gep:process": [process.id]},
        "links": [],
    }


def results_collection() -> dict[str, Any]:
    """The former shared ``results`` collection (its items still work; nothing new goes in)."""
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
        RESULTS_MARK: True,
        "links": [],
    }


# ---------------------------------------------------------------------- a job's items


def result_collections(catalog: CatalogStore) -> list[str]:
    """Every result collection (the per-service ones and the former ``results``)."""
    found, _ = catalog.list_collections(limit=1 << 30)
    return [str(c["id"]) for c in found if c.get(RESULTS_MARK) or c.get("id") == RESULTS_COLLECTION]


def result_items(catalog: CatalogStore, job_id: str) -> list[tuple[str, str]]:
    """``(collection, id)`` of every item a job published (its own id, or prefixed with it),
    in whichever result collection it went to."""
    collections = result_collections(catalog)
    if not collections:
        return []
    mine = {
        "op": "or",
        "args": [
            {"op": "=", "args": [{"property": "id"}, job_id]},
            {"op": "like", "args": [{"property": "id"}, f"{job_id}-%"]},
        ],
    }
    page = catalog.search(
        build_search({"collections": collections, "filter": mine, "limit": 10_000}, from_get=False)
    )
    return [(coll, item_id) for coll, item_id, _ in page.items]


def result_item_ids(catalog: CatalogStore, job_id: str) -> list[str]:
    """The ids of the items a job published."""
    return [item_id for _, item_id in result_items(catalog, job_id)]


def main_result(catalog: CatalogStore, job_id: str) -> str | None:
    """The collection of the job's own item (id = the job's), if it published one."""
    for coll, item_id in result_items(catalog, job_id):
        if item_id == job_id:
            return coll
    return None


def share_results(catalog: CatalogStore, job: Any, visibility: str) -> int:
    """Give a job's published items the job's new visibility; returns how many."""
    found = result_items(catalog, job.id)
    by_collection: dict[str, list[str]] = {}
    for coll, item_id in found:
        by_collection.setdefault(coll, []).append(item_id)
    for coll, ids in by_collection.items():
        catalog.set_item_access(coll, ids, Access(job.owner, visibility))
    return len(found)


class Removed(NamedTuple):
    """What removing a job's results deleted."""

    #: the ids of the items deleted
    items: tuple[str, ...]
    #: how many files
    files: int


def remove_results(catalog: CatalogStore, storage: Storage, job_id: str) -> Removed:
    """Delete a job's published items, then its files (dismissal, retention).

    Items first: a removal interrupted midway then leaves files no item names (removed when it
    is done again), never an item naming a file that is gone."""
    found = result_items(catalog, job_id)
    for coll, item_id in found:
        with contextlib.suppress(NotFound):  # removed meanwhile (a dismissal, another sweep)
            catalog.delete_item(coll, item_id)
    return Removed(tuple(i for _, i in found), storage.delete_prefix(job_folder(job_id)))
