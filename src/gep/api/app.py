"""``create_app(settings)``: the GEP HTTP API (OGC API Common landing, STAC API, OpenSearch)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, Response

import gep
from gep import web
from gep.accounts.credits import CreditStore
from gep.accounts.data_usage import DataMeter, DataUsageStore
from gep.accounts.store import AccountStore
from gep.accounts.usage import UsageStore
from gep.api import (
    accounts,
    apps,
    assets,
    errors,
    gazetteer,
    harvest,
    insar,
    oidc,
    openapi,
    opensearch,
    processes,
    stac,
    stac_transactions,
    subscriptions,
    ui,
)
from gep.api.body_limit import BodyLimit
from gep.api.cors import install_cors
from gep.api.deps import base_url
from gep.api.login_limit import LoginLimiter
from gep.api.services import Services
from gep.catalog.backends import open_store
from gep.core.enums import ACTIVE_STATUSES
from gep.gateway.config import GatewayConfig, split_list, split_paths
from gep.gateway.resolver import Gateway
from gep.gateway.signing import UrlSigner, load_key
from gep.harvest.scheduler import HarvestScheduler
from gep.harvest.store import HarvestStore
from gep.jobs.deployed import DeployedStore
from gep.jobs.engine import JobEngine
from gep.jobs.retention import Retention, RetentionScheduler
from gep.jobs.service import JobService
from gep.jobs.store import JobStore, job_visible
from gep.processes.cwl import container_runtime
from gep.processes.registry import ProcessRegistry
from gep.production.dispatcher import Dispatcher
from gep.production.scheduler import ProductionScheduler
from gep.production.service import SubscriptionService
from gep.production.store import SubscriptionStore
from gep.production.webhooks import WebhookSender
from gep.settings import Settings

JSON = "application/json"

COMMON_CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/landing-page",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
]


def gateway_config(settings: Settings, storage: Path) -> GatewayConfig:
    """What hrefs may reach, from the settings; the embedded database is never readable."""
    url = settings.resolved_database_url()
    denied = (Path(url.removeprefix("sqlite:///")),) if url.startswith("sqlite:///") else ()
    storage_url = settings.resolved_storage_url()
    return GatewayConfig(
        storage_root=storage,
        storage_url=storage_url if not storage_url.startswith("file:") else "",
        s3_endpoint_url=settings.s3_endpoint_url,
        data_roots=split_paths(settings.data_roots),
        fetch_allow=split_list(settings.fetch_allow),
        max_bytes=settings.fetch_max_bytes,
        timeout_s=settings.fetch_timeout_s,
        cache_max_bytes=settings.cache_max_bytes,
        fetch_attempts=settings.fetch_attempts,
        fetch_backoff_s=settings.fetch_backoff_s,
        denied=denied,
    )


def local_storage_root(settings: Settings) -> Path:
    """The storage folder when storage is local; the server's local area (the quicklook
    cache) beside an object store otherwise."""
    url = settings.resolved_storage_url()
    if url.startswith("file:"):
        return Path(unquote(urlsplit(url).path))
    return (settings.home / "storage").resolve()


def production(
    settings: Settings,
    store: Any,
    harvests: HarvestStore,
    gateway: Gateway,
    jobs: JobService,
    key: bytes,
) -> dict[str, Any]:
    """The subscription service and the thread that runs their triggers (``Services`` members):
    both submit through the job service, as the API does."""
    subs = SubscriptionStore(store.engine)
    dispatcher = Dispatcher(store, subs, jobs)
    secret = key.hex()
    return {
        "subscriptions": SubscriptionService(store, subs, jobs, harvests, dispatcher, secret),
        "production_scheduler": ProductionScheduler(
            dispatcher,
            WebhookSender(store.engine, secret, gateway.config),
            settings.subscriptions_poll_s or 2.0,
        ),
    }


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    store = open_store(settings.resolved_database_url())
    store.upgrade()  # idempotent: applies migrations added since the database was made

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # jobs accepted before a restart are queued again; the cluster starts only if any are
        jobs_store, engine = svc.job_store, svc.job_engine
        if jobs_store.list_jobs(status=list(ACTIVE_STATUSES), limit=1)[1]:
            # running jobs of a previous server: their workers renew a lease if alive; the
            # watchdog re-queues those whose lease expires
            engine.requeue(jobs_store)
            engine.start_watchdog()
        if settings.harvest_poll_s > 0:
            svc.harvest_scheduler.start()
        sweeper = RetentionScheduler(
            Retention(store, jobs_store, svc.gateway.storage), settings.retention_poll_s
        )
        sweeper.start()  # (0: never)
        if settings.subscriptions_poll_s > 0:
            svc.production_scheduler.start()
        yield
        svc.production_scheduler.stop()
        sweeper.stop()
        svc.harvest_scheduler.stop()
        svc.data_meter.close()  # the downloads counted since the last batch
        svc.job_engine.close()
        store.close()

    app = FastAPI(
        title="GEP — open Geohazards Exploitation Platform",
        version=gep.__version__,
        openapi_url=None,  # served below, with the media type the service-desc links declare
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    registry = ProcessRegistry()
    credits = CreditStore(store.engine)
    job_store = JobStore(store.engine, credits)
    cwl_runtime = container_runtime(settings.cwl_runtime)
    deployed = DeployedStore(store.engine)
    account_store = AccountStore(store.engine)
    usage = UsageStore(store.engine)
    data_usage = DataUsageStore(store.engine)
    if settings.admin_token:
        account_store.ensure_bootstrap_admin(settings.admin_token)
    login_limiter = LoginLimiter.from_settings(store.engine, settings)
    harvests = HarvestStore(store.engine)
    harvest_scheduler = HarvestScheduler(store, harvests, poll_s=settings.harvest_poll_s or 30.0)
    for deployed_process in deployed.all(cwl_runtime):
        registry.add(deployed_process)
    storage = local_storage_root(settings)
    gateway = Gateway(
        gateway_config(settings, storage),
        job_visible=lambda job_id, viewer: job_visible(job_store, job_id, viewer),
    )
    job_engine = JobEngine(
        settings.resolved_database_url(),
        storage,
        settings.dask_scheduler,
        settings.jobs_workers,
        store=job_store,
        cwl_runtime=cwl_runtime,
        lease_s=settings.jobs_lease_s,
        provider=settings.provider,
        gateway_config=gateway.config,
    )
    job_service = JobService(
        catalog=store,
        processes=registry,
        deployed=deployed,
        credits=credits,
        store=job_store,
        engine=job_engine,
        gateway=gateway,
        limits=settings,  # read at each call: a changed setting applies at once
    )
    url_key = load_key(settings.secret_key, settings.home)
    # the one place routers find what they use (gep.api.services); nothing else on app.state
    svc = app.state.services = Services(
        settings=settings,
        store=store,
        processes=registry,
        credits=credits,
        job_store=job_store,
        cwl_runtime=cwl_runtime,
        deployed=deployed,
        accounts=account_store,
        usage=usage,
        data_usage=data_usage,
        data_meter=DataMeter(data_usage),
        login_limiter=login_limiter,
        harvests=harvests,
        harvest_scheduler=harvest_scheduler,
        gateway=gateway,
        url_signer=UrlSigner(url_key),
        job_engine=job_engine,
        jobs=job_service,
        oidc_pending=oidc.PendingLogins(),
        **production(settings, store, harvests, gateway, job_service, url_key),
    )
    errors.install(app)
    from gep.api import uploads  # (beside its first use: one-hunk edits, hoist freely)

    app.add_middleware(  # 413 past the cap; uploads are held to the storage quota instead
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        routes=uploads.body_limits(settings.upload_quota_bytes),
    )
    install_cors(app, split_list(settings.cors_origins))  # added last: outermost, on every answer
    openapi.install(app)  # problem+json answers, 400 (not 422), the Problem schema

    @app.get("/api", include_in_schema=False)
    def openapi_document() -> Response:
        # FastAPI's own route answers application/json; clients follow a service-desc link with
        # its type as Accept and expect that type back (stac-api-validator checks it)
        return Response(orjson.dumps(app.openapi()), media_type=stac.OPENAPI_JSON)

    @app.get("/api.html", include_in_schema=False)
    def openapi_html(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        if not web.built():  # Swagger UI from its CDN: blank offline until `make ui` has run
            return get_swagger_ui_html(openapi_url=f"{root}/api", title=f"{app.title} - API")
        # Swagger UI as the map app's build ships it: the page works offline
        return get_swagger_ui_html(
            openapi_url=f"{root}/api",
            title=f"{app.title} - API",
            swagger_js_url=f"{root}/ui/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/ui/swagger/swagger-ui.css",
            swagger_favicon_url=f"{root}/ui/swagger/favicon-32x32.png",
        )

    @app.get("/", tags=["OGC API Common"], summary="Landing page")
    def landing(request: Request) -> Response:
        base = base_url(request)
        links: list[dict[str, Any]] = [
            {"rel": "self", "type": JSON, "href": f"{base}/"},
            {
                "rel": "service-desc",
                "type": stac.OPENAPI_JSON,
                "href": f"{base}/api",
            },
            {"rel": "service-doc", "type": "text/html", "href": f"{base}/api.html"},
            {"rel": "conformance", "type": JSON, "href": f"{base}/conformance"},
            {
                "rel": "data",
                "type": JSON,
                "href": f"{base}/stac/collections",
                "title": "STAC collections",
            },
            {
                "rel": "search",
                "type": "application/geo+json",
                "href": f"{base}/stac/search",
                "title": "STAC item search",
            },
            {"rel": "child", "type": JSON, "href": f"{base}/stac", "title": "STAC API"},
            # OGC API - Processes: where the services and the caller's jobs are
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/processes",
                "type": JSON,
                "href": f"{base}/processes",
                "title": "Processing services",
            },
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/job-list",
                "type": JSON,
                "href": f"{base}/jobs",
                "title": "Jobs",
            },
            # a STAC client opening the root (pystac-client, GDAL's OAPIF) finds a catalogue
            {"rel": "root", "type": JSON, "href": f"{base}/"},
            {
                "rel": "search",
                "type": "application/geo+json",
                "href": f"{base}/stac/search",
                "method": "POST",
                "title": "STAC item search",
            },
        ]
        return Response(
            orjson.dumps(
                {
                    # the OGC landing page is also a STAC Catalog (the one at /stac, with the
                    # processes beside it), so clients that open the root need no path
                    "type": "Catalog",
                    "stac_version": stac.STAC_VERSION,
                    "id": "gep-root",
                    "title": "GEP — open Geohazards Exploitation Platform",
                    "description": "Find Earth-observation products, run geohazard processing "
                    "services on them and share the results.",
                    "conformsTo": COMMON_CONFORMANCE + stac.CONFORMANCE + processes.CONFORMANCE,
                    "links": links,
                }
            ),
            media_type=JSON,
        )

    @app.get("/collections", include_in_schema=False)
    @app.get("/collections/{rest:path}", include_in_schema=False)
    def root_collections(request: Request, rest: str = "") -> Response:
        # OGC API - Features clients that take the root for the Features API and append
        # /collections (GDAL's OAPIF driver) are sent to the STAC API's, which it is
        target = f"{base_url(request)}/stac/collections" + (f"/{rest}" if rest else "")
        if request.url.query:
            target += f"?{request.url.query}"
        return Response(status_code=308, headers={"Location": target})

    @app.get("/conformance", tags=["OGC API Common"], summary="Conformance classes")
    def conformance() -> Response:
        return Response(
            orjson.dumps(
                {"conformsTo": COMMON_CONFORMANCE + stac.CONFORMANCE + processes.CONFORMANCE}
            ),
            media_type=JSON,
        )

    app.include_router(stac.router)
    app.include_router(stac_transactions.router)
    app.include_router(opensearch.router)
    app.include_router(processes.router)
    app.include_router(insar.router)
    app.include_router(gazetteer.router)
    app.include_router(harvest.router)
    app.include_router(subscriptions.router)
    app.include_router(apps.router)
    app.include_router(accounts.router)
    app.include_router(oidc.router)
    from gep.api import quicklooks  # (kept beside its include: one-hunk edit, hoist freely)

    app.include_router(quicklooks.router)
    app.include_router(assets.router)
    from gep.api import gateway as gateway_routes  # (beside its include, as quicklooks)

    app.include_router(gateway_routes.router)
    app.include_router(uploads.router)
    from gep.api import retention  # (beside its include, as quicklooks)

    app.include_router(retention.router)
    from gep.api import tiles  # (beside its include, as quicklooks)

    tiles.install(app)
    from gep.api import timeseries as timeseries_routes  # (beside its include, as quicklooks)

    app.include_router(timeseries_routes.router)
    from gep.api import vectors as vector_routes  # (beside its include, as quicklooks)

    app.include_router(vector_routes.router)
    from gep.api import legends  # (beside its include, as quicklooks)

    app.include_router(legends.router)
    ui.install(app)  # last: the /ui mount must not shadow an API route
    return app
