"""The quicklook cache: PNGs under ``<storage>/quicklooks/{collection}/{item}-{hash}.png``.

``hash`` is :func:`gep.tiles.quicklook.fingerprint`: it changes when the item's source assets,
their files, the size or the renderer change, so a changed item gets a new quicklook (and the
old file is removed). Collection and item ids are user input: an id that is not a plain
filename (letters, digits, ``._-``, not starting with a dot, at most 100 characters) becomes a
sanitised slug plus a hash of the id, so no path ever leaves the cache folder. Writes are atomic
(a temporary file in the same folder, then ``os.replace``), so readers never see half a PNG and
concurrent generations of one quicklook are harmless.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import orjson

from gep.core.errors import GepError
from gep.tiles.quicklook import (
    DEFAULT_MAX_SIZE,
    Resolve,
    fingerprint,
    may_want_quicklook,
    quicklook_png,
    unconfined,
    wants_generated_thumbnail,
)

_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
_HASH = re.compile(r"[0-9a-f]{16}")


def storage_root(storage_url: str, fallback: Path) -> Path:
    """The local folder of a storage URL (``file://`` or a path); ``fallback`` otherwise."""
    parsed = urlparse(storage_url)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    if parsed.scheme == "" and storage_url:
        return Path(storage_url)
    return fallback


def safe_name(ident: str) -> str:
    """A filename for an id: the id itself when harmless, else a slug and a hash of the id."""
    if _SAFE_NAME.fullmatch(ident):
        return ident
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", ident)[:60].strip("_") or "id"
    return f"{slug}_{hashlib.sha256(ident.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


@dataclass(frozen=True, slots=True)
class Quicklook:
    path: Path
    #: the fingerprint, usable as an ETag
    key: str
    #: False when the PNG came from the cache
    created: bool


class QuicklookCache:
    def __init__(
        self, storage: Path, max_size: int = DEFAULT_MAX_SIZE, resolve: Resolve = unconfined
    ) -> None:
        self.root = Path(storage) / "quicklooks"
        self.max_size = max_size
        #: how asset hrefs become files: the gateway's, for one caller, on the API
        self.resolve = resolve

    def key(self, item: dict[str, Any]) -> str:
        """The item's current fingerprint (NoQuicklookSource / NotFound when none can be made)."""
        return fingerprint(item, self.max_size, self.resolve)

    def path_for(self, collection: str, item_id: str, key: str) -> Path:
        if not _HASH.fullmatch(key):
            raise ValueError(f"not a quicklook key: {key!r}")
        path = self.root / safe_name(collection) / f"{safe_name(item_id)}-{key}.png"
        # defence in depth: safe_name already makes this impossible
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ValueError(f"quicklook path {path} escapes {self.root}")
        return path

    def get_or_create(
        self, collection: str, item_id: str, item: dict[str, Any], *, force: bool = False
    ) -> Quicklook:
        """The cached PNG, rendered (and older versions removed) when missing or ``force``."""
        key = self.key(item)
        path = self.path_for(collection, item_id, key)
        if path.is_file() and not force:
            return Quicklook(path, key, created=False)
        png = quicklook_png(item, self.max_size, self.resolve)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".png")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(png)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # earlier versions of this item: same stem, another 16-hex key (safe names hold no
        # glob metacharacters, and the fixed-length pattern cannot match a longer item id)
        for old in path.parent.glob(f"{safe_name(item_id)}-" + "?" * 16 + ".png"):
            if old != path and _HASH.fullmatch(old.name[-20:-4]):
                old.unlink(missing_ok=True)
        return Quicklook(path, key, created=True)


@dataclass
class QuicklookReport:
    made: int = 0
    cached: int = 0
    #: items that have a thumbnail of their own or no local raster to render
    skipped: int = 0
    #: (collection, item id, message) of items that advertise a quicklook but cannot make it
    failed: list[tuple[str, str, str]] = field(default_factory=list)


def make_quicklooks(
    cache: QuicklookCache,
    items: Iterable[tuple[str, str, bytes]],
    *,
    force: bool = False,
    on_item: Callable[[], None] | None = None,
) -> QuicklookReport:
    """Render (or find cached) the quicklook of every stored item that would advertise one.

    ``items`` are (collection, id, stored JSON) as the store's search pages give them; items
    that cannot want one are told from their bytes, unparsed. ``on_item`` runs after each item.
    """
    report = QuicklookReport()
    for coll, item_id, content in items:
        item = orjson.loads(content) if may_want_quicklook(content) else None
        if item is None or not wants_generated_thumbnail(item):
            report.skipped += 1
        else:
            try:
                ql = cache.get_or_create(coll, item_id, item, force=force)
            except GepError as exc:
                report.failed.append((coll, item_id, exc.message))
            else:
                if ql.created:
                    report.made += 1
                else:
                    report.cached += 1
        if on_item is not None:
            on_item()
    return report
