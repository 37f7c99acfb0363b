"""What cataloguing an upload produces, the kinds it knows, and the one way it refuses a file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from gep.core.errors import InvalidInput
from gep.core.timeutil import format_rfc3339


class UploadKind(StrEnum):
    """What an upload is, as its content says (never its name or declared type)."""

    GEOTIFF = "geotiff"
    GEOJSON = "geojson"
    KML = "kml"
    KMZ = "kmz"
    SHAPEFILE = "shapefile"
    GEOPACKAGE = "geopackage"
    CSV = "csv"
    SENTINEL1_SAFE = "sentinel-1-safe"

    @property
    def described(self) -> str:
        return _DESCRIBED[self]


_DESCRIBED = {
    UploadKind.GEOTIFF: "a GeoTIFF",
    UploadKind.GEOJSON: "GeoJSON",
    UploadKind.KML: "KML",
    UploadKind.KMZ: "KMZ (zipped KML)",
    UploadKind.SHAPEFILE: "a zipped Shapefile",
    UploadKind.GEOPACKAGE: "a GeoPackage",
    UploadKind.CSV: "a CSV time series",
    UploadKind.SENTINEL1_SAFE: "a Sentinel-1 SAFE zip",
}


class DatetimeSource(StrEnum):
    """Where an item's ``datetime`` came from (``gep:datetime_source``): a user must be able
    to tell an acquisition time from the moment the file happened to be uploaded."""

    TIFF_TAG = "tiff-tag"  # TIFFTAG_DATETIME
    FEATURE_FIELD = "feature-field"  # a date/time attribute of the features
    TIME_SERIES = "time-series"  # the series' first and last times
    PRODUCT = "product"  # the SAFE manifest's acquisition times
    UPLOAD = "upload"  # nothing in the file says: the time of the upload


@dataclass(frozen=True)
class StagedFile:
    """A local file to store with the item, as one of its assets."""

    path: Path
    #: the file name in storage (``uploads/<owner>/<item>/<name>``)
    name: str
    asset: str
    media_type: str
    roles: tuple[str, ...]
    title: str
    #: asset members besides href/type/roles/title (``raster:bands``…)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Catalogued:
    """An upload read: the item's metadata and the files to store, hrefs not yet known."""

    kind: UploadKind
    geometry: dict[str, Any]
    bbox: list[float]
    properties: dict[str, Any]
    files: list[StagedFile]
    extensions: list[str] = field(default_factory=list)
    #: a meaningful id stem (a SAFE's product name); the file name's otherwise
    name: str | None = None


def refuse(filename: str, reason: str) -> InvalidInput:
    """The one refusal of an upload: a 400 naming the file and why (``filename`` and
    ``reason`` also as problem members, for clients that show them apart)."""
    return InvalidInput(f"{filename}: {reason}", field="file", filename=filename, reason=reason)


def timestamp_properties(
    first: datetime | None, last: datetime | None, source: DatetimeSource, now: datetime
) -> dict[str, Any]:
    """``datetime`` (and a ``start``/``end`` pair for a span) from the file's own times, or
    the upload time when it has none, saying which (``gep:datetime_source``)."""
    if first is None or last is None:
        return {"datetime": format_rfc3339(now), "gep:datetime_source": DatetimeSource.UPLOAD}
    props: dict[str, Any] = {"datetime": format_rfc3339(first), "gep:datetime_source": source}
    if last != first:
        props["start_datetime"] = format_rfc3339(first)
        props["end_datetime"] = format_rfc3339(last)
    return props


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(filename: str, default: str = "upload") -> str:
    """A file name fit for a storage key and a URL: the base name, characters outside
    ``[A-Za-z0-9._-]`` replaced, no leading dots, at most 120 characters (suffix kept)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip(".")
    if len(cleaned) > 120:
        stem, dot, suffix = cleaned.rpartition(".")
        cleaned = (stem[: 119 - len(suffix)] + dot + suffix) if dot and len(suffix) < 10 else ""
        cleaned = cleaned or base[:120]
        cleaned = _UNSAFE.sub("_", cleaned).lstrip(".")[:120]
    return cleaned or default


def parse_time(text: str) -> datetime | None:
    """An instant written the common ways (ISO 8601 / RFC 3339, a date, ``YYYY:MM:DD
    HH:MM:SS`` as TIFF writes it); naive times are taken as UTC. None when it is not one."""
    value = text.strip()
    if len(value) < 8 or len(value) > 40 or not value[:4].isdigit() or value[4] not in "-:":
        return None  # 20210102 is as likely a number as a date: only separated forms
    if len(value) >= 19 and value[4] == ":" and value[7] == ":":  # TIFF's own form
        value = value[:4] + "-" + value[5:7] + "-" + value[8:]
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
