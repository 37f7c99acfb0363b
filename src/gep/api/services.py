"""The one typed container of what the routers use, built once by ``create_app``.

Routers receive it through FastAPI's dependency injection (``Depends(services)``) or call
:func:`services` on the request, rather than reading untyped ``app.state`` attributes: a typo
is a type error, and what the API depends on is listed in one place.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from gep.accounts.credits import CreditStore
from gep.accounts.data_usage import DataMeter, DataUsageStore
from gep.accounts.store import AccountStore
from gep.accounts.usage import UsageStore
from gep.api.login_limit import LoginLimiter
from gep.catalog.store import CatalogStore
from gep.gateway.resolver import Gateway
from gep.gateway.signing import UrlSigner
from gep.harvest.scheduler import HarvestScheduler
from gep.harvest.store import HarvestStore
from gep.jobs.deployed import DeployedStore
from gep.jobs.engine import JobEngine
from gep.jobs.service import JobService
from gep.jobs.store import JobStore
from gep.processes.registry import ProcessRegistry
from gep.production.scheduler import ProductionScheduler
from gep.production.service import SubscriptionService
from gep.settings import Settings
from gep.tiles.sources import Sources

if TYPE_CHECKING:  # gep.api.oidc reads the services itself: a run-time import would be a cycle
    from gep.api.oidc import PendingLogins


@dataclass
class Services:
    settings: Settings
    #: the catalogue (and the engine every other store shares)
    store: CatalogStore
    processes: ProcessRegistry
    credits: CreditStore
    job_store: JobStore
    #: how deployed packages' tools run (``gep.processes.sandbox.Runtime`` values)
    cwl_runtime: str
    deployed: DeployedStore
    accounts: AccountStore
    usage: UsageStore
    #: bytes read and written per user, source and collection (and their prices)
    data_usage: DataUsageStore
    #: downloads counted in memory, written in batches
    data_meter: DataMeter
    login_limiter: LoginLimiter
    harvests: HarvestStore
    harvest_scheduler: HarvestScheduler
    gateway: Gateway
    #: signs and checks expiring asset URLs (gep.gateway.signing)
    url_signer: UrlSigner
    job_engine: JobEngine
    #: the job service: quote, submit, dismiss, share, results (the API's one way to jobs)
    jobs: JobService
    #: OpenID Connect logins sent to the provider and not back yet
    oidc_pending: PendingLogins
    #: subscriptions (systematic production) and the thread that runs their triggers
    subscriptions: SubscriptionService
    production_scheduler: ProductionScheduler
    #: names of the harvest sources running now (a manual run refuses a second one)
    harvests_running: set[str] = field(default_factory=set)
    harvests_lock: threading.Lock = field(default_factory=threading.Lock)
    #: map tiles' item resolver and its short cache (``gep.tiles.sources``), made on first use
    tile_sources: Sources | None = None


def services(request: Request) -> Services:
    """The app's services (a FastAPI dependency)."""
    return request.app.state.services  # type: ignore[no-any-return]
