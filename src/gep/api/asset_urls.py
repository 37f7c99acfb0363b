"""Stored files named by GEP URLs: the hrefs clients see in items, results and feeds.

An item keeps, in the catalogue, the href its file has in storage (``file:///…`` on a folder,
``s3://bucket/prefix/…`` on an object store) or in a data root: that is what the gateway
resolves, and it does not change when the server's public address does. Every answer of the
API shows instead the URL of the asset route (``{GEP_BASE_URL}/stac/collections/{c}/items/{i}/
assets/{key}``), which any client — GDAL's ``/vsicurl/``, QGIS, odc-stac, a browser — can read
with the caller's visibility. On an object store the storage URL stays as an ``alternate`` href
(STAC alternate-assets) for clients holding credentials to the bucket; a server path is never
shown.

The rewrite is decided from the stored bytes first, so a page of remote products (the common
case) is spliced without a parse, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import quote

from gep.gateway.storage import Storage
from gep.io.hrefs import LOCAL_HREF_HINTS, HrefKind, parse_href

ALTERNATE_ASSETS = "https://stac-extensions.github.io/alternate-assets/v1.2.0/schema.json"


def asset_url(base: str, collection: str, item_id: str, key: str) -> str:
    """The GEP URL of an item's asset."""
    return (
        f"{base}/stac/collections/{quote(collection, safe='')}/items/"
        f"{quote(item_id, safe='')}/assets/{quote(key, safe='')}"
    )


@dataclass(frozen=True)
class AssetUrls:
    """Which hrefs name files this server serves, and their GEP URLs."""

    base: str
    storage: Storage

    @cached_property
    def _hints(self) -> tuple[bytes, ...]:
        if self.storage.is_local:
            return LOCAL_HREF_HINTS
        return (*LOCAL_HREF_HINTS, b'"href":"' + self.storage.url.encode() + b"/")

    def wanted(self, content: bytes) -> bool:
        """Whether a stored item (its JSON bytes) has an href to rewrite: two or three byte
        scans, no parse. (Every item that may need a generated quicklook is among these: a
        quicklook is made only from local files.)"""
        return any(h in content for h in self._hints)

    def served(self, href: str) -> bool:
        """A local file (storage or a data root: the route decides who may read it) or an
        object in GEP's bucket."""
        if parse_href(href).kind is HrefKind.LOCAL:
            return True
        return not self.storage.is_local and self.storage.key_of(href) is not None

    def rewrite(self, item: dict[str, Any], collection: str, item_id: str) -> bool:
        """Give the item's served assets their GEP URLs (in place); True when one changed."""
        assets = item.get("assets")
        if not isinstance(assets, dict):
            return False
        changed = False
        for key, asset in assets.items():
            if not isinstance(asset, dict):
                continue
            href = asset.get("href")
            if not isinstance(href, str) or not self.served(href):
                continue
            asset["href"] = asset_url(self.base, collection, item_id, str(key))
            changed = True
            if not self.storage.is_local and parse_href(href).kind is not HrefKind.LOCAL:
                alternates = asset.get("alternate")
                alternates = dict(alternates) if isinstance(alternates, dict) else {}
                alternates.setdefault("s3", {"href": href, "title": "The object in storage"})
                asset["alternate"] = alternates
                extensions = list(item.get("stac_extensions") or [])
                if ALTERNATE_ASSETS not in extensions:
                    item["stac_extensions"] = [*extensions, ALTERNATE_ASSETS]
        return changed

    def restore(
        self, item: dict[str, Any], stored: dict[str, Any], collection: str, item_id: str
    ) -> None:
        """Undo :meth:`rewrite` on an item a client sends back (GET, edit, PUT): an asset whose
        href is its own GEP URL gets its stored href again, and the ``s3`` alternate this
        server added is dropped, so a round trip never replaces a file by a URL to itself."""
        assets, before = item.get("assets"), stored.get("assets")
        if not isinstance(assets, dict) or not isinstance(before, dict):
            return
        for key, asset in assets.items():
            old = before.get(key)
            if not isinstance(asset, dict) or not isinstance(old, dict):
                continue
            if asset.get("href") != asset_url(self.base, collection, item_id, str(key)):
                continue
            asset["href"] = old.get("href")
            alternates = asset.get("alternate")
            if (
                isinstance(alternates, dict)
                and "s3" in alternates
                and "s3" not in (old.get("alternate") or {})
            ):
                rest = {k: v for k, v in alternates.items() if k != "s3"}
                if rest:
                    asset["alternate"] = rest
                else:
                    asset.pop("alternate")

    def replace_in(self, value: Any, urls: dict[str, str]) -> Any:
        """A JSON value (a job's outputs) with each string that is a stored href replaced
        by its GEP URL from ``urls`` (href → URL)."""
        if isinstance(value, str):
            return urls.get(value, value)
        if isinstance(value, list):
            return [self.replace_in(v, urls) for v in value]
        if isinstance(value, dict):
            return {k: self.replace_in(v, urls) for k, v in value.items()}
        return value
