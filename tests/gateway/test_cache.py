"""The programmed cache on both backends: LRU eviction under the quota, pins that hold while
their job is active, hits that stage a multi-GB file in place, and an index that notices a
file gone from under it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gep.catalog.store import CatalogStore
from gep.core.access import SYSTEM
from gep.gateway.cache import Cache, link_into
from gep.gateway.config import GatewayConfig, HrefRefused
from gep.gateway.resolver import Gateway

KB = 1000


def _cache(store: CatalogStore, tmp_path: Path, quota: int, active: set[str]) -> Cache:
    config = GatewayConfig(storage_root=tmp_path / "storage", cache_max_bytes=quota)
    cache = Cache(store.engine, config, job_active=active.__contains__)
    assert cache.usable()
    return cache


def _put(cache: Cache, name: str, size: int, job: str | None = None) -> str:
    """An entry of ``size`` bytes made the way retrieval makes one (a verified part renamed)."""
    key = Cache.key("c", f"https://archive.test/{name}", "")
    part = cache.partial(key)
    part.write_bytes(os.urandom(size))
    cache.admit(
        key, part, name=name, source=f"mirror:{name[0]}", origin=("c", name, "data"), job=job
    )
    time.sleep(0.002)  # distinct last-use times
    return key


def test_least_recently_used_entries_go_past_the_quota(store: CatalogStore, tmp_path: Path) -> None:
    cache = _cache(store, tmp_path, quota=10 * KB, active=set())
    a, b, c = (_put(cache, n, 4 * KB) for n in ("a.tif", "b.tif", "c.tif"))
    # 12 kB > 10 kB: the oldest (a) went when c came
    assert not cache.contains(a) and cache.contains(b) and cache.contains(c)
    assert cache.used_bytes() == 8 * KB
    assert cache.lookup(b) is not None  # b is used: c is now the least recent
    d = _put(cache, "d.tif", 4 * KB)
    assert cache.contains(b) and cache.contains(d) and not cache.contains(c)
    # the files went with their entries; only the kept ones are on disk
    files = {p.name for p in cache.folder.rglob("*.tif")}
    assert files == {"b.tif", "d.tif"}
    stats = cache.stats()
    assert stats["totals"]["evictions"] == 2 and stats["totals"]["bytes_evicted"] == 8 * KB
    assert stats["sources"]["mirror:a"]["evictions"] == 1
    assert stats["sources"]["mirror:b"]["hits"] == 1
    assert stats["totals"]["misses"] == 4 and stats["totals"]["bytes_fetched"] == 16 * KB
    assert stats["cache"] == {
        "entries": 2,
        "bytes": 8 * KB,
        "max_bytes": 10 * KB,
        "pinned_entries": 0,
    }


def test_pinned_entries_survive_eviction_while_their_job_is_active(
    store: CatalogStore, tmp_path: Path
) -> None:
    active = {"job-1"}
    cache = _cache(store, tmp_path, quota=10 * KB, active=active)
    pinned = _put(cache, "p.tif", 4 * KB, job="job-1")
    for name in ("x.tif", "y.tif", "z.tif"):
        _put(cache, name, 4 * KB)
    # the pinned entry is the oldest, yet it stays; the others made room
    assert cache.contains(pinned)
    assert cache.used_bytes() <= 10 * KB
    assert cache.stats()["cache"]["pinned_entries"] == 1
    # a pin taken by a job that looks an entry up protects it as well
    other = _put(cache, "o.tif", 1 * KB)
    assert cache.lookup(other, job="job-2") is not None
    active.add("job-2")
    _put(cache, "w.tif", 4 * KB)
    assert cache.contains(other) and cache.contains(pinned)
    # the jobs end: their pins no longer hold, and the next entry evicts the oldest (the
    # once-pinned p; o, used since, is not needed to fit)
    active.clear()
    _put(cache, "v.tif", 4 * KB)
    assert not cache.contains(pinned) and cache.contains(other)
    assert cache.used_bytes() <= 10 * KB
    assert cache.stats()["cache"]["pinned_entries"] == 0


def test_a_hit_stages_a_multi_gb_input_in_place_in_well_under_a_tenth_of_a_second(
    store: CatalogStore, tmp_path: Path
) -> None:
    cache = _cache(store, tmp_path, quota=8 << 30, active={"job-1"})
    key = Cache.key("c", "https://archive.test/big.SAFE.zip", "")
    part = cache.partial(key)
    with part.open("wb") as f:  # 3 GiB, sparse: as big as a SAFE zip, without the disk
        f.truncate(3 << 30)
    cache.admit(
        key, part, name="big.SAFE.zip", source="href:archive.test", origin=("c", "big", "data")
    )
    scratch = tmp_path / "job-1" / "scratch"
    t0 = time.perf_counter()
    hit = cache.lookup(key, job="job-1")
    assert hit is not None
    staged = link_into(hit, scratch)
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.1, elapsed
    assert staged.is_relative_to(scratch) and staged.stat().st_size == 3 << 30
    assert staged.stat().st_ino == hit.path.stat().st_ino  # the same file: nothing copied


def test_an_entry_whose_file_is_gone_is_fetched_again(store: CatalogStore, tmp_path: Path) -> None:
    cache = _cache(store, tmp_path, quota=10 * KB, active=set())
    key = _put(cache, "gone.tif", 1 * KB)
    hit = cache.lookup(key)
    assert hit is not None
    hit.path.unlink()
    assert cache.lookup(key) is None  # a miss, and the index forgot it
    assert cache.used_bytes() == 0
    damaged = _put(cache, "short.tif", 2 * KB)
    entry = cache.lookup(damaged)
    assert entry is not None
    entry.path.write_bytes(b"truncated")  # not the size the index holds
    assert cache.lookup(damaged) is None


def test_caches_of_two_hosts_share_the_index_not_their_entries(
    store: CatalogStore, tmp_path: Path
) -> None:
    here = _cache(store, tmp_path / "here", quota=10 * KB, active=set())
    there = _cache(store, tmp_path / "there", quota=10 * KB, active=set())
    key = _put(here, "a.tif", 1 * KB)
    assert here.contains(key) and not there.contains(key)
    assert here.id != there.id


def test_no_quota_means_no_cache(store: CatalogStore, tmp_path: Path) -> None:
    config = GatewayConfig(storage_root=tmp_path / "storage", cache_max_bytes=0)
    assert not Cache(store.engine, config).usable()


def test_no_href_reads_the_cache(store: CatalogStore, tmp_path: Path) -> None:
    cache = _cache(store, tmp_path, quota=10 * KB, active=set())
    hit = cache.lookup(_put(cache, "a.tif", 1 * KB))
    assert hit is not None
    gateway = Gateway(GatewayConfig(storage_root=tmp_path / "storage"))
    for href in (str(hit.path), hit.path.as_uri(), str(cache.folder)):
        with pytest.raises(HrefRefused):
            gateway.local_file(href, SYSTEM)
