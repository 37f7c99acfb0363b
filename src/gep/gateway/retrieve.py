"""Multi-source retrieval: one product, several places it can be read from, tried in order.

An asset whose href is remote is retrieved, never read blindly from its href. The sources,
in the order they are tried:

1. the **mirrors** of the item's collection (:mod:`gep.gateway.mirrors`), by priority (smaller
   first, then name): an administrator declared them because they are nearer, faster or hold
   credentials the public href lacks;
2. the asset's **href**;
3. its **alternate** hrefs (STAC alternate-assets extension), in the order the item lists them.

Before any source, the cache (:mod:`gep.gateway.cache`): a product fetched earlier (or
prefetched while its job waited) is not fetched again.

Each source is tried up to ``fetch_attempts`` times, waiting ``fetch_backoff_s`` and then
twice as long before each new try, when the failure may pass (HTTP 5xx, 408, 429, timeouts,
broken connections); other failures (404, a refused host, a file too big, a wrong checksum or
size, an HTML page where a product was expected) move on to the next source at once. The
bytes are written under a temporary name, checked against ``file:checksum`` and ``file:size``
(:mod:`gep.gateway.checksums`) while they arrive, and only then renamed into the cache: a
source that answers with garbage is a failed retrieval with its reason, never a cached file.

Every HTTP source goes through :func:`gep.gateway.http_fetch.fetch` (host checks at every hop,
``GEP_FETCH_ALLOW``, size and time bounds); an S3 mirror's endpoint is checked the same way;
a local one must lie in a data root, and a local href or alternate is confined by the gateway
as the job's owner. Files found locally are read in place, not cached.

The log (a job's, or the prefetcher's) names the source that served the bytes and why each
earlier one failed. Credentials are read from the environment when a source is tried, sent
only to that source's origin, and scrubbed from every reason before it is logged; URLs are
shown without user information or query strings.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import fsspec

from gep.core.access import Viewer
from gep.core.errors import UpstreamUnavailable
from gep.gateway.cache import Cache, CachedFile, safe_name
from gep.gateway.checksums import Expected, Verifier, expected_of
from gep.gateway.config import HrefRefused
from gep.gateway.http_fetch import FetchFailed, check_url, fetch
from gep.gateway.mirrors import Mirror, MirrorKind, MirrorStore
from gep.gateway.resolver import Gateway
from gep.io.hrefs import HrefKind, parse_href

#: (level name, message) → written to a job's log, or the server's
Log = Callable[[str, str], None]
#: the longest wait between two tries of one source
MAX_BACKOFF_S = 60.0
_S3_CHUNK = 8 << 20


class RetrievalFailed(UpstreamUnavailable):
    """No source served an asset; the message lists each source and why it failed."""


class SourceRole(StrEnum):
    """Where a candidate source comes from (the order they are tried in)."""

    MIRROR = "mirror"
    HREF = "href"
    ALTERNATE = "alternate"


@dataclass(frozen=True)
class AssetRequest:
    """One asset of a catalogue item, as the item (read by the caller) describes it."""

    collection: str
    item: str
    key: str
    asset: Mapping[str, Any]

    @property
    def href(self) -> str:
        return str(self.asset.get("href") or "")

    @property
    def what(self) -> str:
        return f"{self.collection}/{self.item} asset {self.key}"


@dataclass(frozen=True)
class Candidate:
    """One place to try."""

    role: SourceRole
    #: how logs name it: ``mirror <name>``, ``href``, ``alternate <name>``
    name: str
    #: how a local file, an S3 object or a URL is read
    kind: MirrorKind
    #: the path, ``bucket/key`` or URL (an href's may hold user information: never shown)
    location: str = field(repr=False)
    mirror: Mirror | None = None

    @property
    def shown(self) -> str:
        return shown_url(self.location)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.shown})"

    @property
    def stat(self) -> str:
        """The key of its counters in ``gateway_source_stats``."""
        if self.mirror is not None:
            return f"mirror:{self.mirror.name}"
        host = urlsplit(self.location).netloc.rpartition("@")[2] or "local"
        return f"{self.role}:{host}"


@dataclass
class Retrieved:
    """Where the asset's bytes are now, and how they got there."""

    path: Path
    #: how logs name the source (``mirror good (http://…/a.tif)``)
    source: str
    size: int
    #: served from the cache without fetching
    cache_hit: bool = False
    #: an entry of the cache (a hit, or fetched into it now)
    cached: CachedFile | None = None
    #: a file on this host, read where it is (a local mirror, a local href)
    in_place: bool = False
    #: why earlier sources failed, one line each
    failures: list[str] = field(default_factory=list)
    #: the source as data accounting and the stats name it (``mirror:<name>``, ``href:<host>``,
    #: ``cache`` for a hit)
    stat: str = "cache"


class _SourceFailed(Exception):
    def __init__(self, reason: str, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


def shown_url(location: str) -> str:
    """A URL as logs may show it: no user information, no query string (tokens live there)."""
    parts = urlsplit(location)
    if parts.scheme.lower() not in ("http", "https"):
        return location[:300]
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))[:300]


def is_remote(gateway: Gateway, href: str) -> bool:
    """Whether an href is retrieved (and cached) rather than read in place: anything but a
    local path and an object of GEP's own storage."""
    return parse_href(href).kind is not HrefKind.LOCAL and not gateway.is_stored(href)


def alternates(asset: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """An asset's alternate hrefs (STAC alternate-assets), by name, in the item's order."""
    alt = asset.get("alternate")
    if isinstance(alt, Mapping):
        for name, value in alt.items():
            if isinstance(value, Mapping) and isinstance(value.get("href"), str):
                yield str(name), str(value["href"])


class Retriever:
    """Retrieves assets for one gateway (its configuration, its confinement), one cache and
    the mirrors in the database."""

    def __init__(
        self,
        gateway: Gateway,
        cache: Cache,
        mirrors: MirrorStore,
        *,
        environ: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.gateway = gateway
        self.config = gateway.config
        self.cache = cache
        self.mirrors = mirrors
        self.environ = os.environ if environ is None else environ
        self.sleep = sleep

    # ------------------------------------------------------------------ candidates
    def candidates(self, req: AssetRequest) -> tuple[list[Candidate], list[str]]:
        """The sources to try, in order, and the hrefs that cannot be one (with why)."""
        out: list[Candidate] = []
        skipped: list[str] = []
        for mirror in self.mirrors.for_collection(req.collection):
            where = mirror.location(req.href)
            if where is not None:
                out.append(
                    Candidate(
                        SourceRole.MIRROR, f"mirror {mirror.name}", mirror.kind, where, mirror
                    )
                )
        refs = [(SourceRole.HREF, "href", req.href)] + [
            (SourceRole.ALTERNATE, f"alternate {name}", href)
            for name, href in alternates(req.asset)
        ]
        for role, name, href in refs:
            parsed = parse_href(href)
            if parsed.kind is HrefKind.LOCAL:
                out.append(Candidate(role, name, MirrorKind.LOCAL, href))
            elif parsed.kind is HrefKind.HTTP and parsed.url is not None:
                out.append(Candidate(role, name, MirrorKind.HTTP, parsed.url))
            else:
                skipped.append(
                    f"{name} ({shown_url(href)}): not a URL the server fetches (http(s)), "
                    "and no mirror of the collection holds it"
                )
        return out, skipped

    # ------------------------------------------------------------------ retrieval
    def key_of(self, req: AssetRequest) -> str:
        """The asset's cache key (its collection, href and checksum or size)."""
        return Cache.key(req.collection, req.href, expected_of(req.asset).identity)

    def retrieve(
        self,
        req: AssetRequest,
        viewer: Viewer,
        log: Log,
        *,
        job: str | None = None,
        folder: Path | None = None,
        prefetch: bool = False,
    ) -> Retrieved:
        """The asset's bytes on local disk: in the cache when this host keeps one (pinned for
        ``job``), else in ``folder``; files found locally in place. RetrievalFailed, listing
        every source and its reason, when none serves it. ``prefetch``: an entry found is not
        counted as a hit (nobody read it yet)."""
        expected = expected_of(req.asset)
        if expected.unverifiable:
            log("WARNING", f"{req.what}: {expected.unverifiable}")
        use_cache = self.cache.usable()
        if not use_cache and folder is None:
            raise RetrievalFailed(
                f"{req.what}: this server keeps no cache (GEP_CACHE_MAX_BYTES=0)", field="cache"
            )
        key = self.key_of(req)
        if use_cache and (hit := self.cache.lookup(key, job=job, count=not prefetch)):
            return Retrieved(hit.path, hit.source, hit.size, cache_hit=True, cached=hit)
        candidates, failures = self.candidates(req)
        guard = self.cache.filling(key) if use_cache else contextlib.nullcontext()
        with guard:
            # filled by another process (the prefetcher) while this one waited for the lock
            if use_cache and (hit := self.cache.lookup(key, job=job, count=not prefetch)):
                return Retrieved(hit.path, hit.source, hit.size, cache_hit=True, cached=hit)
            for cand in candidates:
                try:
                    got = self._from(cand, req, viewer, expected, key, log, job, folder, use_cache)
                except _SourceFailed as exc:
                    reason = self._scrub(exc.reason, cand)
                    failures.append(f"{cand.label}: {reason}")
                    log("WARNING", f"{req.what}: {cand.label} failed: {reason}")
                    if cand.kind is not MirrorKind.LOCAL:
                        self.cache.record(cand.stat, failures=1)
                    continue
                got.failures = failures
                return got
        raise RetrievalFailed(
            f"{req.what}: no source could serve it: " + "; ".join(failures or ["no source"]),
            field=f"assets.{req.key}",
        )

    def _from(
        self,
        cand: Candidate,
        req: AssetRequest,
        viewer: Viewer,
        expected: Expected,
        key: str,
        log: Log,
        job: str | None,
        folder: Path | None,
        use_cache: bool,
    ) -> Retrieved:
        if cand.kind is MirrorKind.LOCAL:
            return self._local(cand, viewer, expected)
        attempts = max(1, self.config.fetch_attempts)
        name = PurePosixPath(urlsplit(cand.location).path).name or req.key
        for attempt in range(1, attempts + 1):
            if use_cache:
                part = self.cache.partial(key)
            else:
                assert folder is not None
                part = folder / "downloads" / f".{key[:12]}.part"
            part.parent.mkdir(parents=True, exist_ok=True)
            verifier = Verifier(expected)
            try:
                content_type = self._download(cand, part, verifier)
                problem = verifier.problem() or _garbage(content_type, req.asset)
                if problem:
                    raise _SourceFailed(problem)
                if use_cache:
                    cached = self.cache.admit(
                        key,
                        part,
                        name=name,
                        source=cand.stat,
                        job=job,
                        origin=(req.collection, req.item, req.key),
                    )
                    return Retrieved(
                        cached.path, cand.label, cached.size, cached=cached, stat=cand.stat
                    )
                assert folder is not None
                final = folder / "downloads" / f"{key[:12]}-{safe_name(name)}"
                os.replace(part, final)
                self.cache.record(cand.stat, misses=1, bytes_fetched=verifier.size)
                return Retrieved(final, cand.label, verifier.size, stat=cand.stat)
            except _SourceFailed as exc:
                if not exc.transient or attempt == attempts:
                    if attempt > 1:
                        exc.reason += f" (after {attempt} tries)"
                    raise
                delay = min(MAX_BACKOFF_S, self.config.fetch_backoff_s * 2 ** (attempt - 1))
                log(
                    "INFO",
                    f"{req.what}: {cand.label}: {self._scrub(exc.reason, cand)}; trying again "
                    f"in {delay:g} s (try {attempt + 1} of {attempts})",
                )
                self.sleep(delay)
            finally:
                part.unlink(missing_ok=True)
        raise AssertionError("unreachable")  # pragma: no cover

    def _local(self, cand: Candidate, viewer: Viewer, expected: Expected) -> Retrieved:
        """A file on this host, read in place: a local mirror's (inside a data root), or a
        local href or alternate (confined as the job's owner)."""
        if cand.mirror is not None:
            path = Path(os.path.realpath(cand.location))
            roots = self.config._roots
            if not any(path.is_relative_to(r) for r in roots) or not path.is_file():
                raise _SourceFailed("not in this mirror (or the mirror is not in a data root)")
        else:
            try:
                path = self.gateway.local_file(cand.location, viewer, cand.name)
            except HrefRefused as exc:
                raise _SourceFailed(exc.message.removeprefix(f"{cand.name}: ")) from None
        size = path.stat().st_size if path.is_file() else 0
        if expected.size is not None and path.is_file() and size != expected.size:
            raise _SourceFailed(f"wrong size: {size} bytes where file:size says {expected.size}")
        return Retrieved(path, cand.label, size, in_place=True, stat=cand.stat)

    def _download(self, cand: Candidate, part: Path, verifier: Verifier) -> str:
        """Fetch one candidate into ``part``; its Content-Type ('' when unknown)."""
        if cand.kind is MirrorKind.S3:
            self._s3(cand, part, verifier)
            return ""
        try:
            got = fetch(
                cand.location,
                part,
                self.config,
                cand.name,
                headers=self._http_headers(cand),
                on_chunk=verifier.update,
            )
        except FetchFailed as exc:
            raise _SourceFailed(self._reason(exc, cand), exc.transient) from None
        except HrefRefused as exc:
            raise _SourceFailed(self._reason(exc, cand)) from None
        return got.content_type

    def _reason(self, exc: HrefRefused, cand: Candidate) -> str:
        """The downloader's reason, without what the log line already says (the source, its
        URL); a URL it names after a redirect stays, shown without credentials."""
        text = exc.message.removeprefix(f"{cand.name}: ")
        text = text.replace(cand.location[:200], cand.shown)
        return text.removeprefix(f"{cand.shown} ")

    # ------------------------------------------------------------------ credentials
    def _secret(self, cand: Candidate, key: str) -> str:
        assert cand.mirror is not None
        name = cand.mirror.credential(key)
        value = self.environ.get(name, "")
        if not value:
            raise _SourceFailed(f"its credentials are not set on this host ({name} is empty)")
        return value

    def _http_headers(self, cand: Candidate) -> dict[str, str]:
        m = cand.mirror
        if m is None or not m.credentials:
            return {}
        if m.credential("token_env"):
            return {"Authorization": f"Bearer {self._secret(cand, 'token_env')}"}
        pair = f"{self._secret(cand, 'user_env')}:{self._secret(cand, 'password_env')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    def _scrub(self, text: str, cand: Candidate) -> str:
        """No credential value survives in a reason, whatever a library put in it."""
        m = cand.mirror
        if m is None:
            return text
        for key, name in m.credentials:
            value = self.environ.get(name, "") if key != "profile" else ""
            if len(value) >= 4:
                text = text.replace(value, "***")
        return text

    # ------------------------------------------------------------------ S3
    def _s3(self, cand: Candidate, part: Path, verifier: Verifier) -> None:
        m = cand.mirror
        assert m is not None
        timeout = min(60.0, self.config.timeout_s)
        kwargs: dict[str, Any] = {
            "skip_instance_cache": True,  # never another mirror's credentials
            "use_listings_cache": False,
            "config_kwargs": {
                "connect_timeout": timeout,
                "read_timeout": timeout,
                "retries": {"max_attempts": 1},  # the retries are ours, with their backoff
            },
        }
        if m.endpoint_url:
            try:
                check_url(m.endpoint_url, self.config, cand.name)
            except HrefRefused as exc:
                raise _SourceFailed(self._reason(exc, cand)) from None
            kwargs["client_kwargs"] = {"endpoint_url": m.endpoint_url}
        if m.credential("profile"):
            kwargs["profile"] = m.credential("profile")
        elif m.credential("key_env"):
            kwargs["key"] = self._secret(cand, "key_env")
            kwargs["secret"] = self._secret(cand, "secret_env")
        deadline = time.monotonic() + self.config.timeout_s
        try:
            fs = fsspec.filesystem("s3", **kwargs)
            size = int(fs.info(cand.location).get("size") or 0)
            if size > self.config.max_bytes:
                raise _SourceFailed(
                    f"it is {size} bytes, more than the {self.config.max_bytes} a job may "
                    "download (GEP_FETCH_MAX_BYTES)"
                )
            with fs.open(cand.location, "rb", block_size=_S3_CHUNK) as src, part.open("wb") as dst:
                shutil.copyfileobj(_Bounded(src, deadline, self.config.timeout_s, verifier), dst)
        except _SourceFailed:
            raise
        except FileNotFoundError:
            raise _SourceFailed("not in this mirror") from None
        except PermissionError:
            raise _SourceFailed("access denied (check the mirror's credentials)") from None
        except Exception as exc:  # botocore and aiohttp errors: the network or the server
            raise _SourceFailed(f"S3 read failed ({type(exc).__name__})", transient=True) from None


class _Bounded:
    """A readable that stops past the deadline and feeds the verifier."""

    def __init__(self, src: Any, deadline: float, timeout_s: float, verifier: Verifier) -> None:
        self.src, self.deadline, self.timeout_s, self.verifier = src, deadline, timeout_s, verifier

    def read(self, n: int = -1) -> bytes:
        if time.monotonic() > self.deadline:
            raise _SourceFailed(
                f"reading took more than {self.timeout_s:g} s (GEP_FETCH_TIMEOUT_S)", True
            )
        chunk: bytes = self.src.read(_S3_CHUNK if n < 0 else n)
        self.verifier.update(chunk)
        return chunk


def _garbage(content_type: str, asset: Mapping[str, Any]) -> str | None:
    """An HTML page where the asset is not one: what archives answer with 200 when a login
    or a quota got in the way."""
    declared = str(asset.get("type") or "").lower()
    got = content_type.split(";")[0].strip().lower()
    if got == "text/html" and declared and "html" not in declared:
        return f"answered an HTML page (text/html) where the asset is {declared}"
    return None
