"""``/subscriptions``: systematic production — rules that submit a service on new data, on a
schedule or after an event, into a persistent information layer (``gep.production``)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.auth import caller, require_user
from gep.api.deps import asset_urls, base_url, json_body
from gep.api.openapi import answer, json_request, problems
from gep.api.services import services
from gep.api.sharing import delete_route, share_member
from gep.api.stac_render import render_item
from gep.catalog.search import SearchRequest, SortKey
from gep.core.errors import InvalidInput
from gep.production import webhooks
from gep.production.feed import layer_atom
from gep.production.service import SubscriptionService
from gep.production.store import Subscription

router = APIRouter(prefix="/subscriptions", tags=["Systematic production"])
JSON = "application/json"
ATOM = "application/atom+xml"
#: entries in a layer's Atom feed
FEED_ENTRIES = 50

_BODY = json_request(
    "A subscription: the service, its input template (placeholders such as {{reference}}) "
    "and the trigger (data, time or event)",
    {
        "type": "object",
        "required": ["title", "process", "inputs", "trigger"],
        "properties": {
            "title": {"type": "string"},
            "process": {"type": "string"},
            "inputs": {"type": "object"},
            "trigger": {"type": "object"},
            "budget": {"type": ["object", "null"]},
            "max_jobs_per_trigger": {"type": "integer"},
            "webhook": {"type": ["object", "null"]},
            "backfill": {"type": "boolean"},
        },
    },
)
_PATCH = json_request(
    "Members to change (a merge patch); visibility shares the subscription and its layer",
    {"type": "object"},
)


def _subs(request: Request) -> SubscriptionService:
    return services(request).subscriptions


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type=JSON, headers=headers)


def _doc(
    request: Request, sub: Subscription, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    base = base_url(request)
    own = f"{base}/subscriptions/{sub.id}"
    doc = _subs(request).describe(sub, caller(request))
    doc["links"] = [
        {"rel": "self", "type": JSON, "href": own},
        {"rel": "layer", "type": JSON, "href": f"{base}/stac/collections/{sub.layer}"},
        {
            "rel": "items",
            "type": "application/geo+json",
            "href": f"{base}/stac/collections/{sub.layer}/items",
        },
        {"rel": "alternate", "type": ATOM, "href": f"{own}/feed", "title": "New layer items"},
        {"rel": "jobs", "type": JSON, "href": f"{own}/jobs"},
    ]
    if extra:
        doc.update(extra)
    return doc


@router.post(
    "",
    summary="Create a subscription",
    status_code=201,
    responses=problems(400, 401, 403, 415),
    openapi_extra=_BODY,
)
async def create(request: Request) -> Response:
    """Everything is checked before the subscription exists (the service, the template against
    its inputs, the trigger); ``backfill: true`` also runs the rule over the archive already
    catalogued. A webhook's signing secret is in the answer, once."""
    viewer = require_user(request)
    body = await json_body(request)
    sub, once = await run_in_threadpool(_subs(request).create, viewer, body)
    doc = _doc(request, sub, once)
    return _json(doc, 201, {"Location": doc["links"][0]["href"]})


@router.get("", summary="Subscriptions you may see", responses=problems(401))
def list_subscriptions(request: Request) -> Response:
    svc = _subs(request)
    subs = svc.store.all(caller(request))
    return _json({"subscriptions": [_doc(request, s) for s in subs]})


@router.get(
    "/{subscription_id}",
    summary="A subscription, with its counts, last trigger, next run and failures",
    responses=problems(401, 404),
)
def get_subscription(request: Request, subscription_id: str) -> Response:
    sub = _subs(request).store.get(subscription_id, caller(request))
    return _json(_doc(request, sub))


@router.patch(
    "/{subscription_id}",
    summary="Edit a subscription (applies to its next triggers) or share it",
    responses=problems(400, 401, 403, 404, 415),
    openapi_extra=_PATCH,
)
async def edit(request: Request, subscription_id: str) -> Response:
    viewer = require_user(request)
    svc = _subs(request)
    sub = await run_in_threadpool(svc.own, viewer, subscription_id)
    patch = await json_body(request)
    if not isinstance(patch, dict):
        raise InvalidInput("the body must be an object of members to change", field="body")
    await share_member(request, patch, lambda v: svc.share(sub, v))
    once: dict[str, Any] = {}
    if patch:
        sub, once = await run_in_threadpool(svc.edit, viewer, subscription_id, patch)
    return _json(_doc(request, svc.store.get(sub.id), once))


@delete_route(
    router, "/{subscription_id}", summary="Delete a subscription (keep_layer decides its layer)"
)
def delete(
    request: Request,
    subscription_id: str,
    keep_layer: bool = Query(True, description="keep the layer and its results (default)"),
) -> Response:
    _subs(request).delete(require_user(request), subscription_id, keep_layer=keep_layer)
    return Response(status_code=204)


@router.post(
    "/{subscription_id}/pause", summary="Pause a subscription", responses=problems(401, 403, 404)
)
def pause(request: Request, subscription_id: str) -> Response:
    sub = _subs(request).pause(require_user(request), subscription_id)
    return _json(_doc(request, sub))


@router.post(
    "/{subscription_id}/resume",
    summary="Resume a subscription (catching up what arrived while it was paused)",
    responses=problems(400, 401, 403, 404),
)
def resume(
    request: Request,
    subscription_id: str,
    catch_up: bool = Query(True, description="submit what matched while it was paused"),
) -> Response:
    sub, report = _subs(request).resume(require_user(request), subscription_id, catch_up=catch_up)
    return _json(_doc(request, sub, {"catch_up": report}))


@router.post(
    "/{subscription_id}/backfill",
    summary="Run the rule over the archive already catalogued",
    responses=problems(400, 401, 403, 404),
)
def backfill(
    request: Request,
    subscription_id: str,
    dry_run: bool = Query(False, description="list the jobs it would submit, submit none"),
    limit: int | None = Query(None, ge=1, le=1_000_000, description="items of the archive read"),
) -> Response:
    svc = _subs(request)
    svc.own(require_user(request), subscription_id)
    return _json(svc.dispatcher.backfill(subscription_id, dry_run=dry_run, limit=limit))


@router.get(
    "/{subscription_id}/layer",
    summary="The subscription's information layer: its collection, coverage and dates",
    responses=problems(401, 404),
)
def layer(request: Request, subscription_id: str) -> Response:
    viewer = caller(request)
    svc = _subs(request)
    sub = svc.store.get(subscription_id, viewer)
    coll = svc.catalog.get_collection(sub.layer)
    base = base_url(request)
    return _json(
        {
            "collection": sub.layer,
            "extent": coll.get("extent"),
            "item_assets": coll.get("item_assets"),
            "dates": svc.layer_dates(viewer, sub),
            "links": [
                {"rel": "collection", "type": JSON, "href": f"{base}/stac/collections/{sub.layer}"},
                {
                    "rel": "items",
                    "type": "application/geo+json",
                    "href": f"{base}/stac/collections/{sub.layer}/items",
                },
                {
                    "rel": "tilejson",
                    "type": JSON,
                    "href": f"{base}/stac/collections/{sub.layer}/WebMercatorQuad/tilejson.json",
                    "title": "the layer as a map mosaic, newest on top (give assets=…)",
                },
            ],
        }
    )


@router.get(
    "/{subscription_id}/feed",
    summary="Atom feed of the layer's newest items",
    response_class=Response,
    responses={**answer(ATOM, "An Atom 1.0 feed"), **problems(401, 404)},
)
def feed(request: Request, subscription_id: str) -> Response:
    viewer = caller(request)
    svc = _subs(request)
    sub = svc.store.get(subscription_id, viewer)
    base = base_url(request)
    page = svc.catalog.search(
        SearchRequest(
            collections=[sub.layer],
            sortby=[SortKey("datetime", True)],
            limit=FEED_ENTRIES,
            viewer=viewer,
        )
    )
    urls = asset_urls(request)
    items = [
        orjson.loads(render_item(raw, base, coll, item_id, urls))
        for coll, item_id, raw in page.items
    ]
    xml = layer_atom(
        sub.title,
        f"{base}/stac/collections/{sub.layer}",
        f"{base}/subscriptions/{sub.id}/feed",
        items,
        None,
    )
    return Response(xml, media_type=ATOM)


@router.get(
    "/{subscription_id}/jobs",
    summary="The jobs a subscription submitted, newest first",
    responses=problems(401, 404),
)
def jobs(request: Request, subscription_id: str) -> Response:
    svc = _subs(request)
    viewer = caller(request)
    sub = svc.store.get(subscription_id, viewer)
    base = base_url(request)
    out = []
    for job_id in reversed(svc.store.job_ids(sub.id)):
        job = svc.jobs.store.get(job_id)
        out.append(
            {
                "jobID": job.id,
                "status": str(job.status),
                "trigger": None if job.origin is None else job.origin.trigger_key,
                "inputs": job.inputs,
                "message": job.message,
                "links": [{"rel": "monitor", "type": JSON, "href": f"{base}/jobs/{job.id}"}],
            }
        )
    return _json({"subscription": sub.id, "jobs": out})


@router.get(
    "/{subscription_id}/deliveries",
    summary="The webhook's recent deliveries",
    responses=problems(401, 403, 404),
)
def deliveries(request: Request, subscription_id: str) -> Response:
    svc = _subs(request)
    sub = svc.own(require_user(request), subscription_id)
    return _json(
        {
            "pending": webhooks.pending_count(svc.catalog.engine, sub.id),
            "deliveries": webhooks.recent(svc.catalog.engine, sub.id),
        }
    )
