"""STAC Transaction extension (items one by one and in bulk; collections too).

Every write is one database transaction: a bulk request with one bad item writes nothing, and
the error names the item's position.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.auth import require_user
from gep.api.deps import asset_urls, base_url, get_store, json_body
from gep.api.openapi import answer, json_request, no_content, problems, request_header
from gep.api.services import services
from gep.api.sharing import check_sharing, delete_route, share_member
from gep.api.stac import _coll_url, _json, _render_collection
from gep.api.stac_render import GEOJSON, render_item
from gep.catalog.access import Access, is_reserved_collection
from gep.catalog.store import CatalogStore
from gep.catalog.store_writes import WriteMode
from gep.core.access import PRIVATE, PUBLIC, Viewer
from gep.core.errors import Forbidden, InvalidInput, NotFound
from gep.core.ids import ID_PATTERN, MAX_ID_LENGTH
from gep.gateway.config import HrefRefused
from gep.gateway.resolver import item_hrefs
from gep.gateway.uploads import collection_upload_folders, remove_folders, upload_folders

#: new items written through the API are ingestion events like harvested ones: subscriptions
#: (``gep.production``) see them
ORIGIN = "stac-api"
router = APIRouter(prefix="/stac", tags=["STAC Transactions"])

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
_PREFER = request_header("Prefer", "return=minimal: answer 204 without the resource (RFC 7240)")
_MINIMAL = no_content("Done, under Prefer: return=minimal")
#: a Collection or an Item, as far as the document checks them (the store checks the rest)
_WITH_ID = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": ID_PATTERN}
    },
}
_WRITE = (400, 401, 403, 404, 415)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _minimal(request: Request) -> Response | None:
    """204 without a body when the client sent RFC 7240 ``Prefer: return=minimal``.

    The Transaction extension lets a PUT or PATCH answer 200 with the updated resource or 204;
    200 stays the default, and a client that does not want the resource back can say so
    (stac-api-validator accepts only 204, so it is run with this header).
    """
    for header in request.headers.getlist("prefer"):
        for pref in header.split(","):
            if pref.split(";")[0].replace(" ", "").lower() == "return=minimal":
                return Response(status_code=204, headers={"Preference-Applied": "return=minimal"})
    return None


def _platform_refusal(viewer: Viewer, collection_id: str, acc: Access) -> None:
    """403 for a user who is not an administrator touching a platform collection or its items.

    The platform's collections (``results`` above all) hold other people's objects: a job's
    owner shares or dismisses the job (``/jobs``), never its published items here.
    """
    if acc.platform and not viewer.is_admin:
        raise Forbidden(
            f"collection '{collection_id}' belongs to the platform; only an administrator "
            "changes it or its items",
            field="collectionId",
        )


def _writable_collection(request: Request, store: CatalogStore, collection_id: str) -> Access:
    """The collection's access when the caller may change it: 404 when they may not see it,
    403 when they may see but not change it, 401 when anonymous."""
    viewer = require_user(request)
    acc = store.collection_access(collection_id, viewer)
    _platform_refusal(viewer, collection_id, acc)
    if not viewer.may_change(acc.owner):
        raise Forbidden(
            f"collection '{collection_id}' is not yours; only its owner changes it",
            field="collectionId",
        )
    return acc


def _writable_item(
    request: Request, store: CatalogStore, collection_id: str, item_id: str
) -> Access:
    """An item its collection's owner, or its own owner, may change (in a platform
    collection: administrators only)."""
    viewer = require_user(request)
    acc = store.item_access(collection_id, item_id, viewer)
    coll = store.collection_access(collection_id)
    _platform_refusal(viewer, collection_id, coll)
    if not (viewer.may_change(acc.owner) or viewer.may_change(coll.owner)):
        raise Forbidden(
            f"item '{item_id}' of '{collection_id}' is not yours to change", field="itemId"
        )
    return acc


@router.post(
    "/collections",
    status_code=201,
    summary="Create a collection",
    response_class=Response,
    responses={
        **answer(JSON, "The new collection", status=201),
        **problems(400, 401, 403, 409, 415),
    },
    openapi_extra=json_request(
        'A STAC Collection (with "gep:visibility": private, group:<name> or public)',
        _WITH_ID,
    ),
)
async def create_collection(request: Request, store: CatalogStore = Depends(get_store)) -> Response:
    """The caller owns the new collection; it is private unless the body says
    ``"gep:visibility"`` (administrators' collections are public by default: they curate the
    platform's catalogue).

    The reserved ids (``results``, ``results-…``, and each service's id, which names its
    result collection) are the platform's: an administrator may
    create them (the platform then owns them), nobody else. An id a collection the caller may
    not see already has is "not available" (403), as if it meant nothing.
    """
    viewer = require_user(request)
    body = await json_body(request)
    default = PUBLIC if viewer.is_admin else PRIVATE
    visibility = default
    if isinstance(body, dict) and "gep:visibility" in body:
        visibility = check_sharing(request, viewer, body.pop("gep:visibility"))
    coll_id = body.get("id") if isinstance(body, dict) else None
    owner = viewer.user_id
    # a service's id names its result collection (gep.jobs.publish): reserved as ``results``
    if isinstance(coll_id, str) and (
        is_reserved_collection(coll_id) or services(request).processes.has(coll_id)
    ):
        if not viewer.is_admin:
            raise Forbidden(
                f"collection id '{coll_id}' is reserved for the platform's results; choose another",
                field="id",
            )
        owner = None
    await run_in_threadpool(
        lambda: store.create_collection(body, owner=owner, visibility=visibility, viewer=viewer)
    )
    base = base_url(request)
    coll = await run_in_threadpool(store.get_collection, body["id"])
    return _json(
        _render_collection(coll, base),
        status=201,
        headers={"Location": _coll_url(base, body["id"])},
    )


@router.put(
    "/collections/{collection_id}",
    summary="Replace a collection",
    response_class=Response,
    responses={**answer(JSON, "The collection as stored"), **_MINIMAL, **problems(*_WRITE)},
    openapi_extra={**json_request("The new STAC Collection", _WITH_ID), **_PREFER},
)
async def replace_collection(
    collection_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    await run_in_threadpool(_writable_collection, request, store, collection_id)
    body = await json_body(request)
    await run_in_threadpool(store.replace_collection, collection_id, body)
    if (minimal := _minimal(request)) is not None:
        return minimal
    coll = await run_in_threadpool(store.get_collection, collection_id)
    return _json(_render_collection(coll, base_url(request)))


@router.patch(
    "/collections/{collection_id}",
    summary="Update or share a collection (merge patch)",
    response_class=Response,
    responses={**answer(JSON, "The collection as stored"), **_MINIMAL, **problems(*_WRITE)},
    openapi_extra={
        **json_request("An RFC 7396 merge patch", media=(JSON, MERGE_PATCH)),
        **_PREFER,
    },
)
async def patch_collection(
    collection_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    """A JSON merge patch of the collection; a ``"visibility"`` member (``private``,
    ``group:<name>``, ``public``) shares or unshares it instead of being stored."""
    acc = await run_in_threadpool(_writable_collection, request, store, collection_id)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("a merge patch must be a JSON object", field="body")
    await share_member(
        request, body, lambda v: store.set_collection_access(collection_id, Access(acc.owner, v))
    )
    current = await run_in_threadpool(store.get_collection, collection_id)
    updated = merge_patch(current, body)
    updated["id"] = collection_id
    if body:
        await run_in_threadpool(store.replace_collection, collection_id, updated)
    if (minimal := _minimal(request)) is not None:
        return minimal
    return _json(_render_collection(updated, base_url(request)))


@delete_route(router, "/collections/{collection_id}", summary="Delete a collection and its items")
def delete_collection(
    collection_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    _writable_collection(request, store, collection_id)
    storage = services(request).gateway.storage  # uploads' files go with their items
    folders = collection_upload_folders(store, storage, collection_id)
    store.delete_collection(collection_id)
    remove_folders(storage, folders)
    return Response(status_code=204)


def _check_hrefs(
    request: Request, items: list[tuple[str, Any]], store: CatalogStore, collection_id: str
) -> None:
    """Only administrators catalogue the server's files: a user's item may name files only in
    their own jobs' folders (the gateway's rule), so that no item becomes a way to read
    someone else's results or the server's own files. An update may keep the hrefs its stored
    version has (an administrator wrote them)."""
    viewer = require_user(request)
    if viewer.is_admin:
        return
    svc = services(request)
    gateway, jobs = svc.gateway, svc.job_store

    def own(job_id: str) -> bool:
        try:
            return viewer.may_change(jobs.get(job_id, viewer).owner)
        except NotFound:
            return False

    for where, item in items:
        if not isinstance(item, dict):
            continue
        try:
            gateway.check_item_hrefs(item, viewer, own, where)
        except HrefRefused as refused:
            try:
                stored = orjson.loads(store.get_item(collection_id, str(item.get("id")), viewer))
            except NotFound:
                raise refused from None
            gateway.check_item_hrefs(item, viewer, own, where, kept=item_hrefs(stored))


def _check_item_collection(item: Any, collection_id: str, where: str) -> None:
    if isinstance(item, dict) and item.get("collection") not in (None, collection_id):
        raise InvalidInput(
            f"{where}.collection is '{item.get('collection')}' but the URL names '{collection_id}'",
            field=f"{where}.collection",
        )


@router.post(
    "/collections/{collection_id}/items",
    status_code=201,
    summary="Create an item, or items in bulk (a FeatureCollection)",
    response_class=Response,
    responses={
        **answer(
            (GEOJSON, JSON),
            "The new item (GeoJSON), or {created: n} for a FeatureCollection",
            status=201,
        ),
        **problems(400, 401, 403, 404, 409, 415),
    },
    openapi_extra=json_request(
        "A STAC Item, or a FeatureCollection of items", _WITH_ID, media=(JSON, GEOJSON)
    ),
)
async def create_items(
    collection_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    await run_in_threadpool(_writable_collection, request, store, collection_id)
    body = await json_body(request)
    base = base_url(request)
    if isinstance(body, dict) and body.get("type") == "FeatureCollection":
        feats = body.get("features")
        if not isinstance(feats, list):
            raise InvalidInput("features must be a list of STAC Items", field="features")
        for n, f in enumerate(feats):
            _check_item_collection(f, collection_id, f"features[{n}]")
        _check_hrefs(
            request, [(f"features[{n}]", f) for n, f in enumerate(feats)], store, collection_id
        )
        report = await run_in_threadpool(
            lambda: store.write_items(
                feats, collection=collection_id, mode="create", atomic=True, origin=ORIGIN
            )
        )
        superseded = [{"position": f.position, "id": f.item_id} for f in report.superseded]
        return _json({"created": report.written, "superseded": superseded}, status=201)
    _check_item_collection(body, collection_id, "item")
    _check_hrefs(request, [("item", body)], store, collection_id)
    await run_in_threadpool(
        lambda: store.write_items(
            [body], collection=collection_id, mode="create", atomic=True, origin=ORIGIN
        )
    )
    iid = body["id"]
    content = await run_in_threadpool(store.get_item, collection_id, iid)
    return _json(
        render_item(content, base, collection_id, iid, asset_urls(request)),
        status=201,
        media=GEOJSON,
        headers={"Location": f"{_coll_url(base, collection_id)}/items/{quote(iid, safe='')}"},
    )


@router.post(
    "/collections/{collection_id}/bulk_items",
    summary='Bulk insert or upsert ({"items": {id: item}, "method": ...})',
    response_class=Response,
    responses={**answer(JSON, "{written: n}"), **problems(400, 401, 403, 404, 409, 415)},
    openapi_extra=json_request(
        "Items by id, and insert (refuses existing ids) or upsert",
        {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": {"type": "object", "additionalProperties": _WITH_ID},
                "method": {"type": "string", "enum": ["insert", "upsert"]},
            },
        },
    ),
)
async def bulk_items(
    collection_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    await run_in_threadpool(_writable_collection, request, store, collection_id)
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("items"), dict):
        raise InvalidInput(
            'body must be {"items": {"<id>": <item>, ...}, "method": "insert"|"upsert"}',
            field="items",
        )
    method = body.get("method", "insert")
    if method not in ("insert", "upsert"):
        raise InvalidInput("method must be 'insert' or 'upsert'", field="method")
    feats = list(body["items"].values())
    for key, f in body["items"].items():
        if isinstance(f, dict) and f.get("id") != key:
            raise InvalidInput(
                f"items['{key}'].id is '{f.get('id')}'; keys must be item ids",
                field=f"items.{key}.id",
            )
        _check_item_collection(f, collection_id, f"items.{key}")
    _check_hrefs(
        request, [(f"items.{key}", f) for key, f in body["items"].items()], store, collection_id
    )
    mode: WriteMode = "create" if method == "insert" else "upsert"
    report = await run_in_threadpool(
        lambda: store.write_items(
            feats, collection=collection_id, mode=mode, atomic=True, origin=ORIGIN
        )
    )
    return _json({"written": report.written})


async def _replace(
    request: Request, store: CatalogStore, collection_id: str, item_id: str, item: Any
) -> Response:
    """Write the new version (404 from the store when the item is not there), then answer with
    it, or 204 under ``Prefer: return=minimal``. An item sent back as the API showed it
    keeps its stored hrefs (:meth:`AssetUrls.restore`)."""
    if isinstance(item, dict):
        stored = orjson.loads(await run_in_threadpool(store.get_item, collection_id, item_id))
        asset_urls(request).restore(item, stored, collection_id, item_id)
    await run_in_threadpool(_check_hrefs, request, [("item", item)], store, collection_id)
    await run_in_threadpool(
        lambda: store.write_items([item], collection=collection_id, mode="replace", atomic=True)
    )
    if (minimal := _minimal(request)) is not None:
        return minimal
    content = await run_in_threadpool(store.get_item, collection_id, item_id)
    return _json(
        render_item(content, base_url(request), collection_id, item_id, asset_urls(request)),
        media=GEOJSON,
    )


@router.put(
    "/collections/{collection_id}/items/{item_id}",
    summary="Replace an item",
    response_class=Response,
    responses={**answer(GEOJSON, "The item as stored"), **_MINIMAL, **problems(*_WRITE)},
    openapi_extra={**json_request("The new STAC Item", _WITH_ID, media=(JSON, GEOJSON)), **_PREFER},
)
async def replace_item(
    collection_id: str, item_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    await run_in_threadpool(_writable_item, request, store, collection_id, item_id)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a STAC Item", field="body")
    body.setdefault("id", item_id)  # the Transaction extension lets the URL supply it
    if body.get("id") != item_id:
        raise InvalidInput(
            f"body id '{body.get('id')}' differs from the path's '{item_id}'", field="id"
        )
    _check_item_collection(body, collection_id, "item")
    return await _replace(request, store, collection_id, item_id, body)


@router.patch(
    "/collections/{collection_id}/items/{item_id}",
    summary="Update or share an item (JSON merge patch)",
    response_class=Response,
    responses={**answer(GEOJSON, "The item as stored"), **_MINIMAL, **problems(*_WRITE)},
    openapi_extra={
        **json_request("An RFC 7396 merge patch", media=(JSON, MERGE_PATCH)),
        **_PREFER,
    },
)
async def patch_item(
    collection_id: str, item_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    """A JSON merge patch of the item; a ``"visibility"`` member shares or unshares this item
    alone (it then no longer follows its collection's)."""
    acc = await run_in_threadpool(_writable_item, request, store, collection_id, item_id)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("a merge patch must be a JSON object", field="body")
    if body.get("id", item_id) != item_id:
        raise InvalidInput("the id of an item cannot be changed by PATCH", field="id")
    await share_member(
        request,
        body,
        lambda v: store.set_item_access(collection_id, [item_id], Access(acc.owner, v)),
    )
    current = orjson.loads(await run_in_threadpool(store.get_item, collection_id, item_id))
    if not body:
        if (minimal := _minimal(request)) is not None:
            return minimal
        base = base_url(request)
        return _json(
            render_item(orjson.dumps(current), base, collection_id, item_id, asset_urls(request)),
            media=GEOJSON,
        )
    return await _replace(request, store, collection_id, item_id, merge_patch(current, body))


@delete_route(router, "/collections/{collection_id}/items/{item_id}", summary="Delete an item")
def delete_item(
    collection_id: str, item_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    acc = _writable_item(request, store, collection_id, item_id)
    item = orjson.loads(store.get_item(collection_id, item_id))
    store.delete_item(collection_id, item_id)
    storage = services(request).gateway.storage  # an upload's files go with its item
    remove_folders(storage, upload_folders(storage, item, acc.owner))
    return Response(status_code=204)
