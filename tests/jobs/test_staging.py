"""The worker's side of remote inputs, through ``JobContext.stage`` itself, on both backends:
a miss fails over between mirrors and says which served; the next job hits the cache with a
hard link into its own folder; local hrefs are still read in place."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from gep.catalog.store import CatalogStore
from gep.core.access import SYSTEM
from gep.gateway.config import GatewayConfig
from gep.gateway.mirrors import MirrorStore, check_mirror, mirror_from_body
from gep.gateway.resolver import Gateway
from gep.jobs.context import JobContext
from gep.jobs.store import JobStore
from tests.support.replay_server import ReplayServer

PRODUCT = os.urandom(20_000)


def _context(store: CatalogStore, gateway: Gateway, tmp: Path) -> JobContext:
    jobs = JobStore(store.engine)
    job = jobs.create("quicklook", {})
    work = tmp / job.id
    (work / "scratch").mkdir(parents=True)
    (work / "out").mkdir()
    return JobContext(jobs, job.id, work / "scratch", work / "out", store, SYSTEM, gateway)


def _log(ctx: JobContext) -> list[str]:
    return [line["message"] for line in ctx.store.logs(ctx.job_id)]


def test_job_staging_fails_over_then_hits_the_cache(store: CatalogStore, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "local.tif").write_bytes(b"local bytes")
    config = GatewayConfig(
        storage_root=tmp_path / "storage",
        data_roots=(data,),
        fetch_allow=("127.0.0.1",),
        timeout_s=2,
        fetch_attempts=1,
    )
    gateway = Gateway(config)
    with ReplayServer() as good, ReplayServer() as bad:
        for name, url, prio in (("bad", bad.url, 1), ("good", good.url, 2)):
            body = {"kind": "http", "url": f"{url}/m", "collections": ["c"], "priority": prio}
            MirrorStore(store.engine).put(check_mirror(mirror_from_body(name, body), config))
        bad.fail("/m/p.tif", times=5, status=502)
        good.add("GET", "/m/p.tif", PRODUCT, "image/tiff")
        store.create_collection({"id": "c", "description": "c"})
        checksum = "1220" + hashlib.sha256(PRODUCT).hexdigest()
        item = {
            "type": "Feature",
            "id": "p",
            "collection": "c",
            "geometry": {"type": "Point", "coordinates": [15.0, 37.75]},
            "properties": {"datetime": "2024-01-01T00:00:00Z"},
            "assets": {
                "data": {
                    "href": f"{bad.url}/archive/p.tif",
                    "type": "image/tiff",
                    "file:checksum": checksum,
                },
                "local": {"href": (data / "local.tif").as_uri()},
            },
        }
        store.write_items([item])
        first = _context(store, gateway, tmp_path)
        _, path = first.stage("c/p", "data")
        assert path is not None and path.read_bytes() == PRODUCT
        assert path.is_relative_to(first.scratch)  # a link in the job's own folder
        logs = _log(first)
        miss = [m for m in logs if m.startswith("cache miss: c/p asset data served by mirror good")]
        assert miss and "mirror bad" in miss[0] and "HTTP 502" in miss[0], logs
        second = _context(store, gateway, tmp_path)
        _, again = second.stage("c/p", "data")
        assert again is not None and again.is_relative_to(second.scratch)
        assert again.stat().st_ino == path.stat().st_ino  # the cached file itself, not a copy
        assert any(m.startswith("cache hit: c/p asset data") for m in _log(second))
        assert len([r for r in good.requests if r.path == "/m/p.tif"]) == 1
        assert second.bytes_read == len(PRODUCT)
        # a local href is read in place, as before: no mirror, no cache
        _, local = second.stage("c/p", "local")
        assert local == data / "local.tif"
