"""Subscriptions for every caller (the API, the CLI through it, the demo): create, edit, pause,
resume, delete, share, monitor, backfill.

Creation checks everything a trigger will need before anything exists: the service (visible
to the owner), the template (its placeholders are ones the trigger fills, and, filled with
sample values, it validates against the service's inputs), the trigger (a collection the owner
can read; for a pairing rule, SLC products and a template that takes the pair; for an event
trigger, a ``usgs`` harvest source), the budget, the cap, the webhook. Then the subscription
and its layer (an owned STAC collection, as private as the subscription) are created together.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gep.catalog.access import Access
from gep.catalog.areas import AreaStore
from gep.catalog.search import SearchRequest, place_area
from gep.catalog.store import CatalogStore
from gep.core.access import PRIVATE, Viewer
from gep.core.enums import TriggerKind
from gep.core.errors import Forbidden, GepError, InvalidInput, NotFound
from gep.core.timeutil import format_rfc3339, from_micros, to_micros
from gep.harvest.store import HarvestStore
from gep.jobs.publish import LAYER_MARK, RESULTS_MARK, remove_results, share_results
from gep.jobs.service import JobService
from gep.production import webhooks
from gep.production.dispatcher import Dispatcher, period_start
from gep.production.schedule import next_time
from gep.production.spec import (
    DataTrigger,
    EventTrigger,
    TimeTrigger,
    Trigger,
    parse_spec,
)
from gep.production.store import Subscription, SubscriptionStore
from gep.production.template import check_template, fill, placeholder_set, used

#: what a SAR collection's items call their product type, and the type pairs need
PRODUCT_TYPE = "sar:product_type"
#: the sample values a template is filled with to validate it against the service's inputs
_SAMPLE_AREA = {
    "type": "Polygon",
    "coordinates": [[[14.9, 37.6], [15.1, 37.6], [15.1, 37.8], [14.9, 37.8], [14.9, 37.6]]],
}


@dataclass
class SubscriptionService:
    catalog: CatalogStore
    store: SubscriptionStore
    jobs: JobService
    harvests: HarvestStore
    dispatcher: Dispatcher
    #: the server's secret, from which webhook signing secrets are derived
    secret_key: str

    # ------------------------------------------------------------------ checks

    def _resolver(self, viewer: Viewer) -> Any:
        areas = AreaStore(self.catalog.engine)

        def resolve(kind: str, name: str) -> BaseGeometry:
            if kind == "area":
                try:
                    return shape(areas.get(name, viewer).geometry)
                except NotFound:
                    raise InvalidInput(
                        f"trigger.area: no named area '{name}' (GET /areas lists yours)",
                        field="trigger.area",
                    ) from None
            return place_area(name, None, areas.entries(viewer), field="trigger.place")

        return resolve

    def _check(
        self,
        viewer: Viewer,
        process_id: str,
        inputs: dict[str, Any],
        trigger: Trigger,
        stored: dict[str, Any],
    ) -> None:
        try:
            self.jobs.visible_process(viewer, process_id)
        except NotFound:
            raise InvalidInput(
                f"process '{process_id}' does not exist (GET /processes lists them)",
                field="process",
            ) from None
        paired = isinstance(trigger, DataTrigger) and trigger.pairing is not None
        kind = placeholder_set(trigger.kind, paired)
        check_template(inputs, kind)
        if isinstance(trigger, DataTrigger | EventTrigger):
            self._readable_collection(viewer, trigger.collection, "trigger.collection")
        if (paired or isinstance(trigger, EventTrigger)) and not isinstance(trigger, TimeTrigger):
            names = used(inputs)
            if not {"reference", "secondary"} <= names:
                raise InvalidInput(
                    "a pairing rule gives each job a pair: the inputs must use "
                    "{{reference}} and {{secondary}}",
                    field="inputs",
                )
            self._slc_collection(viewer, trigger.collection)
        if isinstance(trigger, EventTrigger):
            try:
                source = self.harvests.get(trigger.feed, viewer)
            except NotFound:
                raise InvalidInput(
                    f"trigger.feed: no harvest source '{trigger.feed}' (gep harvest list)",
                    field="trigger.feed",
                ) from None
            if source.config.kind != "usgs":
                raise InvalidInput(
                    f"trigger.feed: source '{trigger.feed}' is a {source.config.kind} source; "
                    "an event trigger needs a usgs (earthquake feed) source",
                    field="trigger.feed",
                )
            stored["feed_collection"] = source.config.collection
        # the template, filled as a trigger would, against the service's own inputs
        sample = {
            "item": f"{getattr(trigger, 'collection', 'sample')}/sample-item",
            "collection": getattr(trigger, "collection", "sample"),
            "reference": f"{getattr(trigger, 'collection', 'sample')}/sample-reference",
            "secondary": f"{getattr(trigger, 'collection', 'sample')}/sample-secondary",
            "datetime": "2026-01-01T00:00:00Z",
            "start": "2025-12-25T00:00:00Z",
            "end": "2026-01-01T00:00:00Z",
            "area": _SAMPLE_AREA,
            "btemp": 12.0,
            "bperp": 30.0,
            "event": "earthquakes/sample-event",
            "magnitude": 6.0,
            "epicentre": {"type": "Point", "coordinates": [15.0, 37.7]},
            "event_time": "2026-01-01T00:00:00Z",
        }
        try:
            self.jobs.processes.validate_inputs(process_id, fill(inputs, sample))
        except InvalidInput as exc:
            raise InvalidInput(
                f"the inputs template does not fit process '{process_id}': {exc.message}",
                field=exc.field or "inputs",
            ) from None

    def _readable_collection(self, viewer: Viewer, collection: str, where: str) -> None:
        try:
            self.catalog.collection_access(collection, viewer)
        except NotFound:
            raise InvalidInput(
                f"{where}: collection '{collection}' does not exist (GET /collections)",
                field=where,
            ) from None

    def _slc_collection(self, viewer: Viewer, collection: str) -> None:
        """Interferometric pairs need single-look complex products: refuse a collection whose
        items (or summaries) say they are another type (GRD…)."""
        types: set[str] = set()
        try:
            summaries = self.catalog.get_collection(collection).get("summaries") or {}
            types.update(str(t) for t in summaries.get(PRODUCT_TYPE) or [])
        except NotFound:
            pass
        page = self.catalog.search(SearchRequest(collections=[collection], limit=5, viewer=viewer))
        for _, _, raw in page.items:
            value = (orjson.loads(raw).get("properties") or {}).get(PRODUCT_TYPE)
            if value:
                types.add(str(value))
        wrong = sorted(t for t in types if t.upper() != "SLC")
        if wrong:
            raise InvalidInput(
                f"trigger.collection: '{collection}' holds {', '.join(wrong)} products; "
                "interferometric pairs need SLC products (sar:product_type SLC)",
                field="trigger.collection",
            )

    # ------------------------------------------------------------------ create and edit

    def create(self, viewer: Viewer, body: Any) -> tuple[Subscription, dict[str, Any]]:
        """A new subscription of ``viewer``'s and its layer; also what is shown once (the
        webhook's signing secret) and, when asked, the backfill's report."""
        if viewer.anonymous:
            raise Forbidden("sign in to create subscriptions", field="Authorization")
        spec = parse_spec(body, self._resolver(viewer))
        trigger, stored = spec["trigger"]
        self._check(viewer, spec["process"], spec["inputs"], trigger, stored)
        budget = spec.get("budget")
        next_run = None
        if isinstance(trigger, TimeTrigger):
            next_run = to_micros(next_time(trigger.cron, trigger.timezone, datetime.now(UTC)))
        sub_id = "sub-" + uuid.uuid4().hex[:16]
        layer = "layer-" + sub_id[4:]
        self.catalog.create_collection(
            layer_collection(layer, sub_id, spec["title"], spec["process"], stored),
            owner=viewer.user_id,
            visibility=PRIVATE,
            viewer=viewer,
        )
        try:
            sub = self.store.create(
                sub_id=sub_id,
                title=spec["title"],
                owner=viewer.user_id,
                process_id=spec["process"],
                inputs=spec["inputs"],
                kind=trigger.kind,
                trigger=stored,
                layer=layer,
                max_jobs_per_trigger=spec.get("max_jobs_per_trigger", 20),
                budget_cents=None if budget is None else budget.cents,
                budget_period=None if budget is None else budget.period,
                webhook_url=spec.get("webhook"),
                next_run=next_run,
            )
        except Exception:
            self.catalog.delete_collection(layer)
            raise
        once: dict[str, Any] = {}
        if sub.webhook_url and sub.webhook_nonce:
            once["webhook_secret"] = webhooks.signing_secret(
                self.secret_key, sub.id, sub.webhook_nonce
            )
        if spec.get("backfill"):
            once["backfill"] = self.dispatcher.backfill(sub.id)
        return self.store.get(sub.id), once

    def own(self, viewer: Viewer, sub_id: str) -> Subscription:
        """A subscription ``viewer`` may change: 404 when they may not see it, 403 when it is
        not theirs."""
        sub = self.store.get(sub_id, viewer)
        if not viewer.may_change(sub.owner):
            raise Forbidden(f"subscription '{sub_id}' is not yours", field="subscriptionId")
        return sub

    def edit(self, viewer: Viewer, sub_id: str, body: Any) -> tuple[Subscription, dict[str, Any]]:
        """Change what a subscription does from its next trigger on (what it submitted stays)."""
        sub = self.own(viewer, sub_id)
        changes = parse_spec(body, self._resolver(viewer), partial=True)
        if "backfill" in changes:
            raise InvalidInput(
                "backfill is asked with POST /subscriptions/{id}/backfill", field="backfill"
            )
        inputs = changes.get("inputs", sub.inputs)
        if "trigger" in changes:
            trigger, stored = changes["trigger"]
            if trigger.kind != sub.kind:
                raise InvalidInput(
                    f"trigger.type cannot change ({sub.kind} → {trigger.kind}); create another "
                    "subscription",
                    field="trigger.type",
                )
        else:
            stored = dict(sub.trigger)
            trigger = self.dispatcher.trigger(sub)
        self._check(viewer, changes.get("process", sub.process_id), inputs, trigger, stored)
        fields: dict[str, Any] = {}
        if "title" in changes:
            fields["title"] = changes["title"]
        if "process" in changes:
            fields["process_id"] = changes["process"]
        if "inputs" in changes:
            fields["inputs"] = inputs
        if "trigger" in changes:
            fields["trigger"] = stored
            if isinstance(trigger, TimeTrigger):
                fields["next_run"] = to_micros(
                    next_time(trigger.cron, trigger.timezone, datetime.now(UTC))
                )
        if "max_jobs_per_trigger" in changes:
            fields["max_jobs_per_trigger"] = changes["max_jobs_per_trigger"]
        if "budget" in changes:
            budget = changes["budget"]
            fields["budget_cents"] = None if budget is None else budget.cents
            fields["budget_period"] = None if budget is None else str(budget.period)
        once: dict[str, Any] = {}
        if "webhook" in changes:
            url = changes["webhook"]
            nonce = uuid.uuid4().hex if url else None
            fields.update(
                webhook_url=url, webhook_nonce=nonce, webhook_failures=0, webhook_disabled=None
            )
            if url and nonce:
                once["webhook_secret"] = webhooks.signing_secret(self.secret_key, sub.id, nonce)
        return self.store.update(sub.id, **fields), once

    # ------------------------------------------------------------------ state

    def pause(self, viewer: Viewer, sub_id: str) -> Subscription:
        sub = self.own(viewer, sub_id)
        self.store.pause(sub.id, "paused by its owner", self.store.cursor())
        return self.store.get(sub.id)

    def resume(
        self, viewer: Viewer, sub_id: str, *, catch_up: bool = True
    ) -> tuple[Subscription, dict[str, Any]]:
        """Active again; by default what arrived while it was paused is caught up now (the
        ingestion log from the pause on, exactly once like the rest)."""
        sub = self.own(viewer, sub_id)
        start = self.store.resume(sub.id)
        report: dict[str, Any] = {}
        if start is not None and catch_up and sub.kind != TriggerKind.TIME:
            out = self.dispatcher.catch_up(sub.id, start)
            report = {
                "submitted": len(out.submitted),
                "duplicates": out.duplicates,
                "failed": out.failed,
                "paused": out.paused,
            }
        if sub.kind == TriggerKind.TIME and start is not None:
            trigger = self.dispatcher.trigger(sub)
            assert isinstance(trigger, TimeTrigger)
            # the runs missed while paused are not an outage: the schedule resumes from now
            self.store.update(
                sub.id,
                next_run=to_micros(next_time(trigger.cron, trigger.timezone, datetime.now(UTC))),
            )
        return self.store.get(sub.id), report

    def delete(self, viewer: Viewer, sub_id: str, *, keep_layer: bool) -> dict[str, Any]:
        """Remove a subscription; its layer stays (an ordinary collection of the owner's) or
        goes with its items and files (``keep_layer`` false). Its jobs stay in the job list."""
        sub = self.own(viewer, sub_id)
        self.store.delete(sub.id)
        removed = 0
        if not keep_layer:
            for job_id in self.store.job_ids(sub.id):
                removed += len(
                    remove_results(self.catalog, self.jobs.gateway.storage, job_id).items
                )
            with contextlib.suppress(NotFound):
                self.catalog.delete_collection(sub.layer)
        else:
            try:
                coll = dict(self.catalog.get_collection(sub.layer))
                coll.pop(LAYER_MARK, None)
                coll["description"] = (
                    str(coll.get("description") or "") + " (its subscription was deleted)"
                )
                self.catalog.replace_collection(sub.layer, coll)
            except NotFound:
                pass
        return {
            "id": sub.id,
            "layer": sub.layer,
            "layer_kept": keep_layer,
            "items_removed": removed,
        }

    def share(self, sub: Subscription, visibility: str) -> Subscription:
        """The subscription, its layer, its jobs and their results get ``visibility``."""
        self.store.update(sub.id, visibility=visibility)
        with contextlib.suppress(NotFound):
            self.catalog.set_collection_access(sub.layer, Access(sub.owner, visibility))
        for job_id in self.store.job_ids(sub.id):
            job = self.jobs.store.get(job_id)
            self.jobs.store.set_visibility(job_id, visibility)
            share_results(self.catalog, job, visibility)
        return self.store.get(sub.id)

    # ------------------------------------------------------------------ reading

    def describe(self, sub: Subscription, viewer: Viewer | None = None) -> dict[str, Any]:
        """The subscription as the API shows it; its webhook (whose URL may carry a token) and
        budget only to who may change it."""
        trigger = {k: v for k, v in sub.trigger.items() if k != "resolved_area"}
        doc: dict[str, Any] = {
            "id": sub.id,
            "title": sub.title,
            "process": sub.process_id,
            "inputs": sub.inputs,
            "trigger": trigger,
            "area": sub.trigger.get("resolved_area"),
            "state": str(sub.state),
            "reason": sub.reason,
            "layer": sub.layer,
            "owner": sub.owner,
            "visibility": sub.visibility,
            "max_jobs_per_trigger": sub.max_jobs_per_trigger,
            "budget": None
            if sub.budget_cents is None
            else {"credits": sub.budget_cents / 100, "period": str(sub.budget_period)},
            "webhook": None
            if not sub.webhook_url
            else {
                "url": sub.webhook_url,
                "enabled": sub.webhook_disabled is None,
                "disabled_reason": sub.webhook_disabled,
                "failed_deliveries": sub.webhook_failures,
            },
            "created": format_rfc3339(from_micros(sub.created)),
            "updated": format_rfc3339(from_micros(sub.updated)),
            "status": self.store.status(sub),
        }
        if viewer is not None and not viewer.may_change(sub.owner):
            doc.pop("webhook")
            doc.pop("budget")
            return doc
        if sub.budget_cents is not None and sub.budget_period is not None:
            start = period_start(sub.budget_period, datetime.now(UTC))
            doc["budget"]["spent"] = self.store.spent_cents(sub.id, to_micros(start)) / 100
        return doc

    def layer_dates(self, viewer: Viewer, sub: Subscription) -> list[dict[str, Any]]:
        """The layer's items per day (the time axis the map's slider walks)."""
        counts: dict[str, int] = {}
        req = SearchRequest(collections=[sub.layer], limit=1000, viewer=viewer)
        while True:
            try:
                page = self.catalog.search(req)
            except GepError:
                break
            for _, _, raw in page.items:
                when = str((orjson.loads(raw).get("properties") or {}).get("datetime") or "")[:10]
                if when:
                    counts[when] = counts.get(when, 0) + 1
            if not page.next_token:
                break
            req.token = page.next_token
        return [{"date": d, "items": n} for d, n in sorted(counts.items())]


def layer_collection(
    layer: str, sub_id: str, title: str, process_id: str, trigger: dict[str, Any]
) -> dict[str, Any]:
    """A subscription's information layer as first created: empty extent (it grows with each
    publication: the layer's coverage), the results mark so a job's items are found in it."""
    return {
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": layer,
        "title": title,
        "description": (
            f"Information layer of subscription {sub_id}: the results of `{process_id}` "
            f"triggered by {trigger.get('type')} "
            f"({trigger.get('collection') or trigger.get('cron') or ''})."
        ),
        "license": "other",
        "keywords": ["gep", "systematic", process_id],
        "extent": {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[None, None]]},
        },
        RESULTS_MARK: True,
        LAYER_MARK: sub_id,
        "gep:process": process_id,
        "item_assets": {},
        "summaries": {"gep:process": [process_id]},
        "links": [],
    }
