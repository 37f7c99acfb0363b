"""An uploaded Sentinel-1 SAFE zip, catalogued by the crosswalk the SAFE-folder harvester
uses (:func:`gep.io.sentinel1_stac.safe_item`), so that an uploaded product and a harvested
one carry the same ``sar:*``/``sat:*`` properties, footprint and times."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gep.core.errors import GepError
from gep.gateway.uploads.model import (
    Catalogued,
    DatetimeSource,
    StagedFile,
    UploadKind,
    refuse,
    safe_name,
)
from gep.io.sentinel1_stac import STAC_EXTENSIONS, ZIP, safe_item


def catalogue_safe(path: Path, filename: str) -> Catalogued:
    """The product's item metadata; the zip itself is stored as the asset ``product``."""
    try:
        item: dict[str, Any] = safe_item(path)
    except GepError as exc:
        reason = _reason(exc.message, path)
        raise refuse(filename, f"not a readable Sentinel-1 SAFE zip ({reason})") from None
    except (OSError, KeyError, ValueError) as exc:
        reason = _reason(str(exc), path)
        raise refuse(filename, f"not a readable Sentinel-1 SAFE zip ({reason})") from None
    props = dict(item["properties"])
    props["gep:datetime_source"] = DatetimeSource.PRODUCT
    return Catalogued(
        kind=UploadKind.SENTINEL1_SAFE,
        geometry=item["geometry"],
        bbox=list(item["bbox"]),
        properties=props,
        files=[
            StagedFile(
                path,
                safe_name(filename, f"{item['id']}.zip"),
                "product",
                ZIP,
                ("data",),
                "SAFE product",
            )
        ],
        extensions=list(STAC_EXTENSIONS),
        name=str(item["id"]),
    )


def _reason(text: str, path: Path) -> str:
    """The reader's words without the server's temporary path."""
    text = text.replace(str(path.resolve()), "the zip").replace(str(path), "the zip")
    text = text.replace(path.name, "the zip")
    return text if len(text) <= 300 else text[:300] + "…"
