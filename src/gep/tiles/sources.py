"""Which rasters of an item a caller may read, as paths GDAL opens — the one way tiles,
time series and vectors reach an item's files.

An item is read from the catalogue with the caller's visibility (a hidden item is the same
404 as a missing one), and each asset href goes through the gateway, as the asset route and
the quicklooks do (``docs/security.md``):

* a local file (GEP's storage folder, a data root) → its confined path
  (:meth:`gep.gateway.resolver.Gateway.local_file`, job folders readable as the job is);
* an object of GEP's S3 storage (``s3://bucket/prefix/…``) → ``/vsis3/bucket/prefix/…``, read
  inside a ``rasterio.Env`` carrying the storage's endpoint and the credentials botocore finds
  (the ones s3fs uses for the same bucket) (:meth:`Gateway.stored_key` confines the key);
* a GEP URL (``{GEP_BASE_URL}/stac/collections/{c}/items/{i}/assets/{k}``, e.g. an item a
  user catalogued pointing at a result) → the stored href of that asset, read with the same
  caller's visibility;
* an http(s) URL (a remote product's COG) → ``/vsicurl/…`` only when the gateway would fetch
  from that host (:func:`gep.gateway.http_fetch.check_url`: public hosts, or those an
  administrator allows in ``GEP_FETCH_ALLOW``); otherwise a 400 naming the asset.

A map asks for dozens of tiles of one item within a second; :class:`Sources` keeps each
resolved item (its JSON parsed, its paths resolved) for ``ttl_s`` seconds (:data:`ITEM_TTL_S`),
keyed by viewer and item, so that a burst does not query the catalogue and re-check every href
per tile. The price is stated in ``docs/tiles.md``: a change of visibility (an item made
private, a job unshared) or an item edited reaches tiles within that TTL, never later.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import rasterio
from rasterio.session import Session

from gep.catalog.store import CatalogStore
from gep.core.access import Viewer
from gep.core.errors import GepError, NotFound
from gep.core.media import is_raster
from gep.gateway.config import HrefRefused
from gep.gateway.http_fetch import check_url
from gep.gateway.resolver import Gateway
from gep.io.hrefs import HrefKind, parse_href

#: seconds a resolved item is reused for the same viewer (visibility changes reach tiles
#: within this time)
ITEM_TTL_S = 5.0
#: resolved items kept at most (least recently used dropped first)
ITEM_CACHE_SIZE = 1024


def is_raster_asset(asset: Mapping[str, Any]) -> bool:
    """A GeoTIFF/COG or JPEG 2000 asset (:func:`gep.core.media.is_raster`)."""
    return is_raster(asset.get("type"), urlsplit(str(asset.get("href") or "")).path)


class StorageSession(Session):
    """GDAL's ``/vsis3/`` credentials for GEP's bucket: those botocore resolves (environment,
    profile, instance role), as s3fs does for the same bucket, so GDAL and GEP's storage
    never read with different keys."""

    def __init__(self) -> None:
        import botocore.session  # s3fs's dependency: present wherever S3 storage works

        self._session = botocore.session.get_session()

    @classmethod
    def hascreds(cls, config: Mapping[str, Any]) -> bool:
        return ("AWS_ACCESS_KEY_ID" in config and "AWS_SECRET_ACCESS_KEY" in config) or (
            "AWS_NO_SIGN_REQUEST" in config
        )

    def get_credential_options(self) -> dict[str, str]:
        creds = self._session.get_credentials()
        if creds is None:
            return {"AWS_NO_SIGN_REQUEST": "YES"}
        frozen = creds.get_frozen_credentials()
        opts = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
        if frozen.token:
            opts["AWS_SESSION_TOKEN"] = frozen.token
        region = self._session.get_config_variable("region")
        if region:
            opts["AWS_REGION"] = str(region)
        return opts


def s3_env(endpoint_url: str) -> dict[str, Any]:
    """``rasterio.Env`` options for ``/vsis3/`` paths of GEP's storage: its endpoint (an
    S3-compatible server such as SeaweedFS or MinIO: path-style, http or https as given) and
    the credentials session."""
    env: dict[str, Any] = {"session": StorageSession(), "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}
    if endpoint_url:
        parts = urlsplit(endpoint_url)
        env["AWS_S3_ENDPOINT"] = parts.netloc or parts.path
        env["AWS_HTTPS"] = "NO" if parts.scheme.lower() == "http" else "YES"
        env["AWS_VIRTUAL_HOSTING"] = "FALSE"
    return env


def http_env(timeout_s: float) -> dict[str, Any]:
    """``rasterio.Env`` options for ``/vsicurl/`` reads of a remote COG: no directory
    listing (one request fewer per open), bounded waits."""
    return {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "GDAL_HTTP_TIMEOUT": str(int(max(1, min(timeout_s, 60)))),
        "GDAL_HTTP_MAX_RETRY": "2",
        "GDAL_HTTP_RETRY_DELAY": "0.5",
    }


@dataclass(frozen=True)
class GdalSource:
    """A path GDAL opens and the ``rasterio.Env`` options it needs (empty for local files)."""

    path: str
    env: Mapping[str, Any] = field(default_factory=dict)
    #: read over the network (HTTP or S3): failures there are the remote's, not the caller's
    remote: bool = False

    @contextlib.contextmanager
    def open(self) -> Iterator[Any]:
        """The dataset, opened inside its environment (for windowed reads by the caller)."""
        with rasterio.Env(**dict(self.env)), rasterio.open(self.path) as ds:
            yield ds


def item_for(
    store: CatalogStore, gateway: Gateway, viewer: Viewer, collection_id: str, item_id: str
) -> dict[str, Any]:
    """The item as ``viewer`` may see it; NotFound (the same as for a missing item) when they
    may not. (``gateway`` is taken for symmetry with :func:`gdal_path`: visibility is the
    catalogue's, the files' the gateway's.)"""
    del gateway
    return orjson.loads(store.get_item(collection_id, item_id, viewer))  # type: ignore[no-any-return]


def parse_asset_url(href: str, base_url: str) -> tuple[str, str, str] | None:
    """(collection, item, asset key) of a GEP asset URL under ``base_url``, else None."""
    if not base_url:
        return None
    prefix = base_url.rstrip("/") + "/stac/collections/"
    if not href.startswith(prefix):
        return None
    parts = urlsplit(href[len(prefix) - len("/stac/collections/") :]).path.split("/")
    # ['', 'stac', 'collections', c, 'items', i, 'assets', k]
    if len(parts) != 8 or parts[4] != "items" or parts[6] != "assets":
        return None
    c, i, k = (unquote(p) for p in (parts[3], parts[5], parts[7]))
    return (c, i, k) if c and i and k else None


def gdal_path(
    gateway: Gateway,
    viewer: Viewer,
    href: str,
    *,
    field: str = "assets",
    store: CatalogStore | None = None,
    base_url: str = "",
) -> GdalSource:
    """The path GDAL opens for an asset href that ``viewer`` may read, or a refusal naming
    ``field``: NotFound for server files they may not read (the same whether the file exists,
    is elsewhere or is not theirs), HrefRefused (400) for URLs the server does not fetch.
    GEP URLs are followed once (``store`` and ``base_url`` needed), with the same viewer."""
    parsed = parse_href(href)
    if parsed.kind is HrefKind.LOCAL:
        try:
            return GdalSource(str(gateway.local_file(href, viewer, field=field)))
        except HrefRefused as exc:
            raise NotFound(exc.message, field=field) from None
    if gateway.is_stored(href):
        try:
            key = gateway.stored_key(href, viewer, field=field)
        except HrefRefused as exc:
            raise NotFound(exc.message, field=field) from None
        return GdalSource(
            f"/vsis3/{gateway.storage.path(key)}", s3_env(gateway.config.s3_endpoint_url), True
        )
    if parsed.kind is HrefKind.HTTP and parsed.url is not None:
        named = parse_asset_url(parsed.url, base_url)
        if named is not None and store is not None:
            c, i, k = named
            try:
                target = item_for(store, gateway, viewer, c, i)
            except NotFound:
                raise NotFound(
                    f"{field}: '{href}' names no asset you may read", field=field
                ) from None
            asset = (target.get("assets") or {}).get(k)
            inner = str(asset.get("href") or "") if isinstance(asset, dict) else ""
            if not inner or parse_asset_url(inner, base_url) is not None:
                raise NotFound(f"{field}: '{href}' names no asset you may read", field=field)
            return gdal_path(gateway, viewer, inner, field=field)
        check_url(parsed.url, gateway.config, field)
        return GdalSource(f"/vsicurl/{parsed.url}", http_env(gateway.config.timeout_s), True)
    raise HrefRefused(
        f"{field}: '{href[:200]}' is neither a file of this server nor an http(s) URL; "
        "tiles are made from local, stored or http(s) rasters only",
        field=field,
    )


class ResolvedItem:
    """An item as one viewer may see it, with its raster assets' GDAL paths resolved on
    first use (and kept, with refusals, for the life of the cache entry)."""

    def __init__(
        self,
        sources: Sources,
        viewer: Viewer,
        collection_id: str,
        item_id: str,
        item: dict[str, Any],
    ) -> None:
        self.sources = sources
        self.viewer = viewer
        self.collection_id = collection_id
        self.item_id = item_id
        self.item = item
        self._paths: dict[str, GdalSource | GepError] = {}
        self._lock = threading.Lock()
        #: what readers compute from the item once (pystac item, bounds, zooms): theirs to fill
        self.memo: dict[Any, Any] = {}

    @property
    def assets(self) -> dict[str, Any]:
        assets = self.item.get("assets")
        return assets if isinstance(assets, dict) else {}

    def raster_assets(self) -> list[str]:
        """Asset keys GDAL can read as rasters (by media type or file name)."""
        return [k for k, a in self.assets.items() if isinstance(a, dict) and is_raster_asset(a)]

    def source(self, key: str, field: str = "assets") -> GdalSource:
        """The GDAL path of raster asset ``key``; NotFound or HrefRefused naming ``field``."""
        with self._lock:
            found = self._paths.get(key)
        if found is None:
            asset = self.assets.get(key)
            if not isinstance(asset, dict) or not is_raster_asset(asset):
                raise NotFound(
                    f"{field}: item '{self.item_id}' has no raster asset '{key}'; its raster "
                    f"assets are {self.raster_assets()}",
                    field=field,
                )
            try:
                found = gdal_path(
                    self.sources.gateway,
                    self.viewer,
                    str(asset.get("href") or ""),
                    field=field,
                    store=self.sources.store,
                    base_url=self.sources.base_url,
                )
            except GepError as exc:
                found = exc
            with self._lock:
                self._paths[key] = found
        if isinstance(found, GepError):
            raise type(found)(found.message, field=found.field, **found.extra)
        return found


class Sources:
    """Items and their rasters for one server (its catalogue and gateway), each resolved item
    kept :data:`ITEM_TTL_S` seconds per viewer (see the module's docstring for why and what
    it costs)."""

    def __init__(
        self,
        store: CatalogStore,
        gateway: Gateway,
        base_url: str = "",
        ttl_s: float = ITEM_TTL_S,
        size: int = ITEM_CACHE_SIZE,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.base_url = base_url.rstrip("/")
        self.ttl_s = ttl_s
        self.size = size
        self._items: OrderedDict[tuple[Viewer, str, str], tuple[float, ResolvedItem]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def cached(self, viewer: Viewer, collection_id: str, item_id: str) -> ResolvedItem | None:
        """The fresh cached resolution, or None (never touches the catalogue: callable from
        an event loop)."""
        key = (viewer, collection_id, item_id)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and time.monotonic() - hit[0] < self.ttl_s:
                self._items.move_to_end(key)
                return hit[1]
        return None

    def item(self, viewer: Viewer, collection_id: str, item_id: str) -> ResolvedItem:
        """The item as ``viewer`` may see it (NotFound otherwise), from the cache when it was
        resolved less than ``ttl_s`` ago for the same viewer."""
        key = (viewer, collection_id, item_id)
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.ttl_s:
                self._items.move_to_end(key)
                return hit[1]
        item = item_for(self.store, self.gateway, viewer, collection_id, item_id)
        return self._keep(key, ResolvedItem(self, viewer, collection_id, item_id, item), now)

    def resolved(
        self, viewer: Viewer, collection_id: str, item_id: str, item: dict[str, Any]
    ) -> ResolvedItem:
        """An item a visibility-filtered search just returned to ``viewer``: the cached
        resolution while it is fresh, else this one (kept for the next tiles)."""
        key = (viewer, collection_id, item_id)
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.ttl_s:
                return hit[1]
        return self._keep(key, ResolvedItem(self, viewer, collection_id, item_id, item), now)

    def _keep(
        self, key: tuple[Viewer, str, str], resolved: ResolvedItem, now: float
    ) -> ResolvedItem:
        with self._lock:
            self._items[key] = (now, resolved)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return resolved

    def forget(self) -> None:
        """Drop every resolved item (tests, or an administrator's change that must apply
        at once)."""
        with self._lock:
            self._items.clear()
