"""Staging a large remote input through the gateway, as a job does: once from its source (a
cache miss), then from the programmed cache (hits).

The path timed is the worker's own: ``JobContext.stage(item, asset)`` on a job of the job
store, with a real catalogue item whose asset is remote (an http href on the benchmark's nginx,
with ``file:size`` and ``file:checksum``), through ``gep.jobs.staging.stage_remote`` →
``Retriever.retrieve`` → ``Cache.lookup`` (pin, index, stat) → ``link_into`` (a hard link into
the job's scratch folder), the job's log line included. The miss downloads the whole file
through ``gep.gateway.http_fetch`` into the cache, verifying size and checksum on the way.

Each hit is a new job with an empty scratch folder, so nothing is reused from the previous
hit but the cache itself. The target (issue #16): a cache hit stages a 1 GB input in ≤ 0.1 s.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gep.catalog.backends import open_store
from gep.core.access import SYSTEM
from gep.gateway.config import GatewayConfig
from gep.gateway.resolver import Gateway
from gep.jobs.context import JobContext
from gep.jobs.store import JobStore

COLLECTION = "bench-remote"
ITEM = "cog"


@dataclass(frozen=True)
class Staging:
    size: int
    miss_s: float
    hits_s: tuple[float, ...]

    @property
    def hit_median_s(self) -> float:
        return statistics.median(self.hits_s)

    @property
    def hit_max_s(self) -> float:
        return max(self.hits_s)


def sha256_multihash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return "1220" + h.hexdigest()


def stage_cached(file: Path, url: str, hits: int) -> Staging:
    """Stage ``url`` (serving ``file``'s bytes) once as a miss, then ``hits`` times as hits;
    raises when a staged file is not the file, or a hit's log does not say "cache hit"."""
    size = file.stat().st_size
    checksum = sha256_multihash(file)
    with tempfile.TemporaryDirectory(prefix="gep-bench-staging-") as tmp:
        home = Path(tmp)
        db = home / "gep.db"
        catalog = open_store(f"sqlite:///{db}")
        try:
            catalog.upgrade()
            catalog.create_collection({"id": COLLECTION, "description": "a remote archive"})
            asset = {
                "href": url,
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
                "file:size": size,
                "file:checksum": checksum,
            }
            item = {
                "type": "Feature",
                "stac_version": "1.1.0",
                "id": ITEM,
                "geometry": {"type": "Point", "coordinates": [15.0, 37.75]},
                "properties": {"datetime": "2024-01-01T00:00:00Z"},
                "assets": {"data": asset},
                "links": [],
            }
            catalog.write_items([item], collection=COLLECTION)
            config = GatewayConfig(
                storage_root=home / "storage",
                fetch_allow=("127.0.0.1",),  # the "archive" is on loopback
                max_bytes=2 * size,
                cache_max_bytes=4 * size,
                denied=(db,),
            )
            gateway = Gateway(config)
            store = JobStore(catalog.engine)

            def stage_once() -> tuple[float, Path, str]:
                job = store.create("bench-staging", {"item": f"{COLLECTION}/{ITEM}"})
                scratch = home / "work" / job.id
                scratch.mkdir(parents=True)
                ctx = JobContext(store, job.id, scratch, scratch / "out", catalog, SYSTEM, gateway)
                t = time.perf_counter()
                _, local = ctx.stage(f"{COLLECTION}/{ITEM}", "data")
                elapsed = time.perf_counter() - t
                assert local is not None
                log = " | ".join(str(e["message"]) for e in store.logs(job.id))
                return elapsed, local, log

            miss_s, local, log = stage_once()
            if local.stat().st_size != size or "cache miss" not in log:
                raise RuntimeError(f"the first staging was not a verified miss: {log}")
            times = []
            for _ in range(hits):
                elapsed, local, log = stage_once()
                if "cache hit" not in log or local.stat().st_size != size:
                    raise RuntimeError(f"a staging was not a cache hit: {log}")
                times.append(elapsed)
            with open(local, "rb") as a, open(file, "rb") as b:  # the bytes, not just the size
                for off in (0, size // 2, size - (1 << 16)):
                    if os.pread(a.fileno(), 1 << 16, off) != os.pread(b.fileno(), 1 << 16, off):
                        raise RuntimeError(f"the staged file differs from the source at {off}")
        finally:
            catalog.close()
    return Staging(size, miss_s, tuple(times))
