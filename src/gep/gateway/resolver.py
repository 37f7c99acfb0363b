"""The one place that decides what an asset or input href may reach.

Every read of a href on the server — a job staging its inputs, a quicklook, a CWL ``File``, an
SBAS stack, a SAFE folder — goes through :class:`Gateway`; no other module opens a ``file:``
href or fetches a URL on a user's behalf. The rules (``docs/security.md``):

* ``file:`` hrefs and absolute paths are honoured only inside roots the server owns: its storage
  and the data roots an administrator declares (``GEP_DATA_ROOTS``), after resolving symlinks;
  ``..`` is refused outright. In storage, a job's folder (``jobs/<id>/``) is readable by whoever
  may see the job (its results have the job's visibility); the quicklook cache and the storage
  root itself are the server's own. The database file is never readable, wherever it lives.
* remote hrefs are HTTP(S) only; loopback, link-local and private addresses are refused unless
  an administrator allows the host (``GEP_FETCH_ALLOW``); redirects are re-checked at every hop,
  and downloads are bounded in size and time (:mod:`gep.gateway.http_fetch`).
* every refusal of a local href reads the same whether the path exists or not, so the answer
  tells nothing about the server's files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Container, Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from gep.core.access import SYSTEM, Viewer
from gep.gateway.config import GatewayConfig, HrefRefused
from gep.gateway.http_fetch import check_url, download
from gep.gateway.storage import Storage, StorageConfig
from gep.io.hrefs import HrefKind, has_parent_step, is_within, parse_href
from gep.io.ranged import RangedFile

#: storage folders that are the server's own: no href reads them (the quicklook cache is
#: served by its own route, with the item's visibility; the cache of remote inputs only to
#: the jobs that staged them, :mod:`gep.gateway.cache`)
PRIVATE_AREAS = frozenset({"quicklooks", "tmp", "cache"})
#: the storage folder of job ``<id>``: ``jobs/<id>/…``, readable as the job is
JOBS_AREA = "jobs"


def job_folder(job_id: str) -> str:
    """The storage key prefix of a job's files (readable as the job is visible)."""
    return f"{JOBS_AREA}/{job_id}"


#: (job id, viewer) → whether the viewer may see that job; given by whoever owns the job store
JobVisible = Callable[[str, Viewer], bool]


def _refused(field_name: str, href: str) -> HrefRefused:
    shown = href if len(href) <= 200 else href[:200] + "…"
    return HrefRefused(
        f"{field_name}: '{shown}' cannot be read: a local href must name a file you may read "
        "in this server's storage or in a data root its administrator declared "
        "(GEP_DATA_ROOTS), without '..'; other hrefs must be http(s) URLs",
        field=field_name,
    )


class Gateway:
    """Confines every href the server reads to what the caller may read."""

    def __init__(self, config: GatewayConfig, job_visible: JobVisible | None = None) -> None:
        self.config = config
        self.job_visible = job_visible

    @cached_property
    def storage(self) -> Storage:
        """GEP's own files (a folder or an S3 prefix): job outputs, uploads, the cache."""
        return Storage(StorageConfig(self.config.storage_url, self.config.s3_endpoint_url))

    # ------------------------------------------------------------------ local files
    def local_file(self, href: str, viewer: Viewer, field: str = "href") -> Path:
        """The resolved path of a local href the viewer may read; HrefRefused otherwise (the
        same refusal whether the path exists, is elsewhere or is not theirs)."""
        parsed = parse_href(href)
        if parsed.kind is not HrefKind.LOCAL or parsed.path is None:
            raise _refused(field, href)
        path = self._confined(parsed.path, viewer)
        if path is None or not path.exists():
            raise _refused(field, href)
        return path

    def _confined(self, raw: str, viewer: Viewer) -> Path | None:
        if has_parent_step(raw):
            return None
        real = Path(os.path.realpath(raw))
        cfg = self.config
        if real in cfg._denied:
            return None
        if any(is_within(real, root) for root in cfg._roots):
            return real
        if not is_within(real, cfg._storage):
            return None
        return real if self._storage_area_readable(real, viewer) else None

    def _storage_area_readable(self, real: Path, viewer: Viewer) -> bool:
        return self._key_readable(real.relative_to(self.config._storage).parts, viewer)

    def _key_readable(self, parts: tuple[str, ...], viewer: Viewer) -> bool:
        """Whether a storage key (as its parts) is readable by the viewer: the same rule for a
        folder and an object store."""
        if not parts or parts[0] in PRIVATE_AREAS:
            return False
        if parts[0] == JOBS_AREA:
            if len(parts) < 2:
                return False
            if viewer == SYSTEM:
                return True
            return self.job_visible is not None and self.job_visible(parts[1], viewer)
        return True

    # ------------------------------------------------------------------ object storage
    def stored_key(self, href: str, viewer: Viewer, field: str = "href") -> str:
        """The key of an object-storage href (``s3://…`` under GEP's storage) the viewer may
        read; HrefRefused otherwise (also for s3:// URLs outside GEP's storage: the server
        holds credentials for its own bucket only). Local storage answers through
        :meth:`local_file`."""
        storage = self.storage
        key = None if storage.is_local else storage.key_of(href)
        if key is None or not self._key_readable(tuple(key.split("/")), viewer):
            raise _refused(field, href)
        return key

    def is_stored(self, href: str) -> bool:
        """Whether a href names an object in GEP's (object) storage, whoever may read it."""
        storage = self.storage
        return not storage.is_local and storage.key_of(href) is not None

    def storage_owner_job(self, href: str) -> str | None:
        """The job whose storage folder a href names, if any (for write checks)."""
        if self.is_stored(href):
            parts = tuple((self.storage.key_of(href) or "").split("/"))
        else:
            parsed = parse_href(href)
            if parsed.path is None or has_parent_step(parsed.path):
                return None
            real = Path(os.path.realpath(parsed.path))
            if not is_within(real, self.config._storage):
                return None
            parts = real.relative_to(self.config._storage).parts
        return parts[1] if len(parts) >= 2 and parts[0] == JOBS_AREA else None

    # ------------------------------------------------------------------ what a job reads
    def stage(self, href: str, folder: Path, viewer: Viewer, field: str = "href") -> Path:
        """A local path for the href: confined local files in place (never copied), HTTP(S)
        downloaded into ``folder`` within the configured bounds."""
        parsed = parse_href(href)
        if parsed.kind is HrefKind.LOCAL:
            return self.local_file(href, viewer, field)
        if parsed.kind is HrefKind.HTTP and parsed.url is not None:
            return download(parsed.url, folder, self.config, field)
        if self.is_stored(href):  # a result or an upload in the bucket: a local copy
            key = self.stored_key(href, viewer, field)
            return self.storage.get_file(key, folder / key.rsplit("/", 1)[-1])
        raise _refused(field, href)

    def ranged(self, href: str, viewer: Viewer, field: str = "href") -> Path | RangedFile | None:
        """Where a job may read a large file by ranges, without copying it first: a confined
        local path, or an object of GEP's storage opened for ranged reads (the same
        confinement as :meth:`stage`); None for an HTTP(S) href, which only :meth:`stage` may
        fetch (its hosts, redirects and size bounds are checked there)."""
        parsed = parse_href(href)
        if parsed.kind is HrefKind.LOCAL:
            return self.local_file(href, viewer, field)
        if parsed.kind is HrefKind.HTTP:
            return None
        if self.is_stored(href):
            key = self.stored_key(href, viewer, field)
            storage = self.storage
            try:
                size = storage.info(key).size
            except FileNotFoundError:
                raise _refused(field, href) from None
            return RangedFile(
                name=key.rsplit("/", 1)[-1],
                size=size,
                # ranged GETs of 1 MiB read ahead: a burst's strips are contiguous, and
                # s3fs's default 5 MiB blocks would fetch most of a small product for a header
                open=lambda: storage.fs.open(  # type: ignore[no-any-return]
                    storage.path(key), "rb", block_size=1 << 20, cache_type="readahead"
                ),
                location=f"{storage.url.rstrip('/')}/{key}",
            )
        raise _refused(field, href)

    def check_item_reads(self, item: Mapping[str, Any], viewer: Viewer, field: str) -> None:
        """Before a job exists: every local href of an input item must be confined to what the
        viewer may read, and every HTTP(S) one must name a host the server may contact. (A file
        that does not exist is the job's to report: checking existence here would tell.)"""
        assets = item.get("assets")
        if not isinstance(assets, Mapping):
            return
        hosts_ok: set[str] = set()
        for key, asset in assets.items():
            href = str(asset.get("href") or "") if isinstance(asset, Mapping) else ""
            where = f"{field}.assets.{key}"
            parsed = parse_href(href)
            if parsed.kind is HrefKind.LOCAL and parsed.path is not None:
                if self._confined(parsed.path, viewer) is None:
                    raise _refused(where, href)
            elif parsed.kind is HrefKind.HTTP and parsed.url is not None:
                netloc = parsed.url.split("/", 3)[2] if parsed.url.count("/") >= 2 else ""
                if netloc not in hosts_ok:
                    check_url(parsed.url, self.config, where)
                    hosts_ok.add(netloc)
            elif self.is_stored(href):
                self.stored_key(href, viewer, where)
            elif href.lower().startswith(("file:", "/vsi")):
                raise _refused(where, href)

    # ------------------------------------------------------------------ writes
    def check_item_hrefs(
        self,
        item: Mapping[str, Any],
        viewer: Viewer,
        is_own_job: Callable[[str], bool],
        where: str = "item",
        kept: Container[str] = (),
    ) -> None:
        """A user who is not an administrator may not catalogue an item whose assets name the
        server's files — except the folders of their own jobs — nor GDAL virtual paths
        (``/vsicurl/…`` reads any URL, unchecked). Hrefs in ``kept`` (those of the stored
        version an update replaces, which an administrator wrote) may stay."""
        if viewer.is_admin:
            return
        assets = item.get("assets")
        if not isinstance(assets, Mapping):
            return
        for key, asset in assets.items():
            href = str(asset.get("href") or "") if isinstance(asset, Mapping) else ""
            for name, value in _hrefs_of(key, href, asset):
                if value not in kept:
                    self._check_written(f"{where}.{name}", value, is_own_job)

    def _check_written(self, name: str, href: str, is_own_job: Callable[[str], bool]) -> None:
        text = href.strip()
        # a file: URL of any host, a GDAL /vsi… path, any absolute path or an object in GEP's
        # bucket names the server's files
        if (
            not text.lower().startswith("file:")
            and not (text.startswith("/") and not text.startswith("//"))
            and not self.is_stored(text)
        ):
            return
        job = self.storage_owner_job(text)
        if job is not None and is_own_job(job):
            return
        raise HrefRefused(
            f"{name}: '{text[:200]}' names a file on this server; only administrators may "
            "catalogue server files (use an http(s) URL, or the results of your own jobs)",
            field=name,
        )


def item_hrefs(item: Mapping[str, Any]) -> set[str]:
    """Every asset href of an item (alternates included)."""
    assets = item.get("assets")
    if not isinstance(assets, Mapping):
        return set()
    return {
        value
        for key, asset in assets.items()
        if isinstance(asset, Mapping)
        for _, value in _hrefs_of(key, str(asset.get("href") or ""), asset)
    }


def _hrefs_of(key: str, href: str, asset: Any) -> Iterable[tuple[str, str]]:
    """An asset's href and its alternates' (STAC alternate-assets extension)."""
    yield f"assets.{key}.href", href
    alternates = asset.get("alternate") if isinstance(asset, Mapping) else None
    if isinstance(alternates, Mapping):
        for name, alt in alternates.items():
            if isinstance(alt, Mapping):
                yield f"assets.{key}.alternate.{name}.href", str(alt.get("href") or "")
