"""Reading STAC records from files: Item, Collection, ItemCollection, NDJSON, static catalogues.

Ingestion reports a failing record with its position and id and goes on, so this reader yields
records one by one (with where they came from) instead of raising on the first bad one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import orjson

Kind = Literal["item", "collection", "error"]


@dataclass(slots=True)
class StacRecord:
    kind: Kind
    data: Any
    source: str
    #: the collection implied by the file's place in a static catalogue
    collection: str | None = None
    error: str | None = None


def _load_json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def iter_stac_records(path: str | Path) -> Iterator[StacRecord]:
    """Every collection and item found at ``path`` (file or folder), collections first per file."""
    p = Path(path)
    if p.is_dir():
        for root_name in ("catalog.json", "collection.json"):
            if (p / root_name).exists():  # a static catalogue: follow its links only
                yield from iter_stac_records(p / root_name)
                return
        for child in sorted(p.iterdir()):
            if child.is_dir() or child.suffix in (".json", ".geojson", ".ndjson", ".jsonl"):
                yield from iter_stac_records(child)
        return
    if not p.exists():
        yield StacRecord("error", None, str(p), error=f"{p} does not exist")
        return
    if p.suffix in (".ndjson", ".jsonl"):
        with p.open("rb") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield _classify(orjson.loads(line), f"{p}:{n}")
                except orjson.JSONDecodeError as exc:
                    yield StacRecord("error", None, f"{p}:{n}", error=f"not JSON: {exc}")
        return
    try:
        doc = _load_json(p)
    except orjson.JSONDecodeError as exc:
        yield StacRecord("error", None, str(p), error=f"not JSON: {exc}")
        return
    yield from _walk(doc, p, set())


def _classify(doc: Any, source: str, collection: str | None = None) -> StacRecord:
    if isinstance(doc, dict) and doc.get("type") == "Collection":
        return StacRecord("collection", doc, source)
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        return StacRecord("item", doc, source, collection=collection)
    return StacRecord(
        "error", doc, source, error="not a STAC Item, Collection, ItemCollection or Catalog"
    )


def _walk(
    doc: Any, path: Path, seen: set[Path], collection: str | None = None
) -> Iterator[StacRecord]:
    seen.add(path.resolve())
    if isinstance(doc, list):
        for n, d in enumerate(doc):
            yield _classify(d, f"{path}[{n}]", collection)
        return
    if not isinstance(doc, dict):
        yield StacRecord("error", doc, str(path), error="not a JSON object")
        return
    dtype = doc.get("type")
    if dtype == "FeatureCollection":
        for n, f in enumerate(doc.get("features") or []):
            yield _classify(f, f"{path}#features[{n}]", collection)
        return
    if dtype == "Feature":
        yield _classify(doc, str(path), collection)
        return
    if dtype in ("Catalog", "Collection"):
        if dtype == "Collection":
            yield StacRecord("collection", doc, str(path))
            collection = doc.get("id")
        for link in doc.get("links") or []:
            if not isinstance(link, dict) or link.get("rel") not in ("child", "item"):
                continue
            href = str(link.get("href", ""))
            if urlparse(href).scheme not in ("", "file"):
                yield StacRecord(
                    "error",
                    None,
                    href,
                    error="remote links are not followed by ingest; harvest them",
                )
                continue
            target = (path.parent / urlparse(href).path).resolve()
            if target in seen:
                continue
            if not target.exists():
                yield StacRecord("error", None, str(target), error="linked file does not exist")
                continue
            try:
                sub = _load_json(target)
            except orjson.JSONDecodeError as exc:
                yield StacRecord("error", None, str(target), error=f"not JSON: {exc}")
                continue
            yield from _walk(sub, target, seen, collection)
        return
    yield StacRecord("error", doc, str(path), error=f"unknown STAC type '{dtype}'")
