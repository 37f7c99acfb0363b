"""The programmed cache: remote inputs kept on local disk, bounded, shared by server and workers.

Products downloaded for a job (or prefetched while it waits, :mod:`gep.gateway.prefetch`) land
in ``<storage_root>/cache`` — a private storage area no href reads — and the next job that
needs them reads them in place: a cache hit hard-links the file into the job's folder (or
hands it the cached path where a link cannot be made), so staging a multi-GB input costs a few
database statements, not a copy.

The index lives in the database (revision 0011), so the server process that prefetches and the
worker processes that stage agree on what is there:

* ``gateway_cache``: one row per entry (its file, size, the source that served it, last use);
* ``gateway_cache_pins``: the jobs that need an entry. A pin protects its entry from eviction
  while the job is accepted or running; pins of jobs that have ended are dropped at the next
  eviction pass (a worker that dies cannot leave an entry pinned for ever);
* ``gateway_source_stats``: hits, misses, bytes and evictions per source, for
  ``GET /gateway/stats``.

The quota (``GEP_CACHE_MAX_BYTES``) is enforced after each new entry: least recently used
entries that no live job pins are removed until the cache fits. Pinned entries are never
removed, so the cache may pass its quota while the jobs that pin them run.

A file enters the cache only by a rename of a verified download (:meth:`Cache.admit`), so a
reader never sees a half-written or unverified file under an entry's name. Two processes
filling the same entry take a file lock (:meth:`Cache.filling`): the second waits, then finds
the entry the first made.

Each host has its own folder: ``cache`` in the tables names the folder (host name and path),
so workers on other hosts share the index without mixing their entries.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from gep.gateway.config import GatewayConfig

#: the storage area of the cache (private: ``gep.gateway.resolver.PRIVATE_AREAS``)
CACHE_AREA = "cache"
_COUNTERS = (
    "hits",
    "misses",
    "bytes_fetched",
    "bytes_served",
    "failures",
    "evictions",
    "bytes_evicted",
)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

#: job id → whether that job is accepted or running (given by whoever owns the job store)
JobActive = Callable[[str], bool]


def now_us() -> int:
    return time.time_ns() // 1000


def safe_name(name: str) -> str:
    """A file name for an entry (GDAL drivers look at extensions: keep them)."""
    clean = _SAFE_NAME.sub("_", name).strip("._") or "asset"
    return clean[-120:]


@dataclass(frozen=True)
class CachedFile:
    """An entry of the cache, as a reader gets it."""

    key: str
    path: Path
    size: int
    #: the source that served it (a stats key: ``mirror:<name>``, ``href:<host>``…)
    source: str


class Cache:
    """One host's cache folder and its share of the index."""

    def __init__(
        self, engine: Engine, config: GatewayConfig, job_active: JobActive | None = None
    ) -> None:
        self.engine = engine
        self.max_bytes = config.cache_max_bytes
        self.folder = Path(os.path.realpath(config.storage_root)) / CACHE_AREA
        self.id = f"{socket.gethostname()}:{self.folder}"
        self.job_active = job_active

    # ------------------------------------------------------------------ names
    @staticmethod
    def key(collection: str, href: str, identity: str) -> str:
        """An entry's key: the product as its collection and asset name it. The collection is
        part of it because mirrors (and their credentials) are per collection: the same href
        in another collection must not be served what a mirror of this one fetched."""
        return hashlib.sha256(f"{collection}\n{href}\n{identity}".encode()).hexdigest()[:40]

    def usable(self) -> bool:
        """Whether this host can keep a cache (a quota, and a folder it can write)."""
        if self.max_bytes <= 0:
            return False
        try:
            (self.folder / ".partial").mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        return True

    def partial(self, key: str) -> Path:
        """Where a download for ``key`` is written before it is verified."""
        return self.folder / ".partial" / f"{key}.{uuid.uuid4().hex}.part"

    def _path(self, key: str, name: str) -> Path:
        return self.folder / key[:2] / key / safe_name(name)

    @contextlib.contextmanager
    def filling(self, key: str) -> Iterator[None]:
        """Held while an entry is being filled: other processes and threads filling the same
        key wait (keys share 256 lock files)."""
        locks = self.folder / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / key[:2], "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ reads
    def lookup(self, key: str, *, job: str | None = None, count: bool = True) -> CachedFile | None:
        """The entry, if cached (its use recorded; ``job`` pins it first, so that it cannot be
        evicted between this answer and the job's read); None otherwise."""
        if job is not None:
            self.pin(key, job)
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT file, size, source FROM gateway_cache WHERE cache = :c AND key = :k"),
                {"c": self.id, "k": key},
            ).first()
        if row is None:
            return None
        path = self.folder / str(row[0])
        try:
            ok = path.stat().st_size == int(row[1])
        except OSError:
            ok = False
        if not ok:  # removed or damaged under the index: forget it, fetch again
            self._drop(key, str(row[0]))
            return None
        if count:
            with self.engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE gateway_cache SET last_used = :t, hits = hits + 1 "
                        "WHERE cache = :c AND key = :k"
                    ),
                    {"t": now_us(), "c": self.id, "k": key},
                )
            self.record(str(row[2]), hits=1, bytes_served=int(row[1]))
        return CachedFile(key, path, int(row[1]), str(row[2]))

    def contains(self, key: str) -> bool:
        """Whether an entry is there (nothing recorded)."""
        return self.lookup(key, count=False) is not None

    # ------------------------------------------------------------------ writes
    def admit(
        self,
        key: str,
        part: Path,
        *,
        name: str,
        source: str,
        origin: tuple[str, str, str],
        job: str | None = None,
    ) -> CachedFile:
        """Make a verified download (``part``, in the cache folder) the entry ``key`` by a
        rename, record it (``origin``: collection, item, asset), pin it for ``job``, then
        evict what passes the quota."""
        final = self._path(key, name)
        final.parent.mkdir(parents=True, exist_ok=True)
        size = part.stat().st_size
        os.replace(part, final)
        t = now_us()
        if job is not None:
            self.pin(key, job)
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO gateway_cache (cache, key, file, size, source, collection, "
                    "item, asset, created, last_used, hits) "
                    "VALUES (:c, :k, :f, :s, :src, :col, :item, :asset, :t, :t, 0) "
                    "ON CONFLICT (cache, key) DO UPDATE SET file = excluded.file, "
                    "size = excluded.size, source = excluded.source, "
                    "created = excluded.created, last_used = excluded.last_used"
                ),
                {
                    "c": self.id,
                    "k": key,
                    "f": final.relative_to(self.folder).as_posix(),
                    "s": size,
                    "src": source,
                    "col": origin[0],
                    "item": origin[1],
                    "asset": origin[2],
                    "t": t,
                },
            )
        self.record(source, misses=1, bytes_fetched=size)
        self.evict(protect=key)
        return CachedFile(key, final, size, source)

    def pin(self, key: str, job: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO gateway_cache_pins (cache, key, job_id, created) "
                    "VALUES (:c, :k, :j, :t) ON CONFLICT (cache, key, job_id) DO NOTHING"
                ),
                {"c": self.id, "k": key, "j": job, "t": now_us()},
            )

    def unpin_job(self, job: str) -> None:
        """Release every entry a job pinned (it ended)."""
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM gateway_cache_pins WHERE job_id = :j"), {"j": job})

    def release_finished(self) -> int:
        """Drop the pins of jobs that are no longer accepted or running; how many jobs."""
        if self.job_active is None:
            return 0
        with self.engine.connect() as conn:
            jobs = [
                str(r[0])
                for r in conn.execute(
                    text("SELECT DISTINCT job_id FROM gateway_cache_pins WHERE cache = :c"),
                    {"c": self.id},
                )
            ]
        ended = [j for j in jobs if not self.job_active(j)]
        for job in ended:
            self.unpin_job(job)
        return len(ended)

    def evict(self, protect: str | None = None) -> int:
        """Remove least recently used entries no live job pins until the cache fits its quota
        (``protect``: the entry just made, kept even when it alone passes the quota, since
        its job is about to read it). Returns how many went."""
        total = self.used_bytes()
        if total <= self.max_bytes:
            return 0
        self.release_finished()
        unpinned = (
            "NOT EXISTS (SELECT 1 FROM gateway_cache_pins p "
            "WHERE p.cache = gateway_cache.cache AND p.key = gateway_cache.key)"
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT key, file, size, source FROM gateway_cache "
                    f"WHERE cache = :c AND {unpinned} ORDER BY last_used, key"
                ),
                {"c": self.id},
            ).all()
        gone = 0
        for key, file, size, source in rows:
            if total <= self.max_bytes:
                break
            if key == protect:
                continue
            with self.engine.begin() as conn:  # pinned since the listing: it stays
                deleted = conn.execute(
                    text(f"DELETE FROM gateway_cache WHERE cache = :c AND key = :k AND {unpinned}"),
                    {"c": self.id, "k": key},
                ).rowcount
            if deleted:
                self._unlink(str(file))
                total -= int(size)
                gone += 1
                self.record(str(source), evictions=1, bytes_evicted=int(size))
        return gone

    def _drop(self, key: str, file: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("DELETE FROM gateway_cache WHERE cache = :c AND key = :k"),
                {"c": self.id, "k": key},
            )
        self._unlink(file)

    def _unlink(self, file: str) -> None:
        path = self.folder / file
        path.unlink(missing_ok=True)
        shutil.rmtree(path.parent, ignore_errors=True)  # the entry's own folder

    # ------------------------------------------------------------------ numbers
    def used_bytes(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT coalesce(sum(size), 0) FROM gateway_cache WHERE cache = :c"),
                    {"c": self.id},
                ).scalar()
                or 0
            )

    def record(self, source: str, **counts: int) -> None:
        """Add to a source's counters (``hits=1``, ``bytes_fetched=n``…)."""
        values = {c: int(counts.get(c, 0)) for c in _COUNTERS}
        cols = ", ".join(_COUNTERS)
        marks = ", ".join(f":{c}" for c in _COUNTERS)
        sets = ", ".join(f"{c} = gateway_source_stats.{c} + excluded.{c}" for c in _COUNTERS)
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO gateway_source_stats (source, {cols}, updated) "
                    f"VALUES (:source, {marks}, :t) ON CONFLICT (source) DO UPDATE SET "
                    f"{sets}, updated = excluded.updated"
                ),
                {"source": source[:200], "t": now_us(), **values},
            )

    def stats(self) -> dict[str, Any]:
        """Counters per source and in total, and what this host's cache holds."""
        self.release_finished()  # pinned means: by a job that is still accepted or running
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT source, {', '.join(_COUNTERS)} FROM gateway_source_stats")
            ).all()
            entries, size = conn.execute(
                text("SELECT count(*), coalesce(sum(size), 0) FROM gateway_cache WHERE cache = :c"),
                {"c": self.id},
            ).one()
            pinned = conn.execute(
                text("SELECT count(DISTINCT key) FROM gateway_cache_pins WHERE cache = :c"),
                {"c": self.id},
            ).scalar()
        sources = {
            str(r[0]): {c: int(v) for c, v in zip(_COUNTERS, r[1:], strict=True)}
            for r in sorted(rows, key=lambda r: str(r[0]))
        }
        totals = {c: sum(s[c] for s in sources.values()) for c in _COUNTERS}
        return {
            "sources": sources,
            "totals": totals,
            "cache": {
                "entries": int(entries),
                "bytes": int(size),
                "max_bytes": self.max_bytes,
                "pinned_entries": int(pinned or 0),
            },
        }


def link_into(cached: CachedFile, folder: Path) -> Path:
    """The cached file inside a job's folder without copying it: a hard link (which also
    keeps the bytes should the entry be evicted while the job reads), or the cached path
    itself where a link cannot be made (another filesystem; the job's pin keeps it)."""
    target = folder / "inputs" / cached.key[:12] / cached.path.name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        os.link(cached.path, target)
    except OSError:
        return cached.path
    return target
