"""What an uploaded file is, from its bytes: magic numbers, then the structure behind them.

The name and the declared media type are a claim, not evidence: a ``.tif`` that holds text is
refused as "not what it claims", and a GeoTIFF named ``data.bin`` is still a GeoTIFF. A zip is
told apart by what it holds (a SAFE manifest, a KML, a ``.shp``), and a truncated one is caught
here, as its central directory (at the end) is missing.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from gep.core.errors import InvalidInput
from gep.gateway.uploads.model import UploadKind, refuse

_TIFF = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_SQLITE = b"SQLite format 3\x00"
#: how much of a text file is looked at to tell JSON, XML and CSV apart
_HEAD = 64 * 1024

#: what a file name's suffix claims it is
CLAIMS: dict[str, frozenset[UploadKind]] = {
    ".tif": frozenset({UploadKind.GEOTIFF}),
    ".tiff": frozenset({UploadKind.GEOTIFF}),
    ".geotiff": frozenset({UploadKind.GEOTIFF}),
    ".json": frozenset({UploadKind.GEOJSON}),
    ".geojson": frozenset({UploadKind.GEOJSON}),
    ".kml": frozenset({UploadKind.KML}),
    ".kmz": frozenset({UploadKind.KMZ}),
    ".zip": frozenset({UploadKind.SHAPEFILE, UploadKind.SENTINEL1_SAFE, UploadKind.KMZ}),
    ".gpkg": frozenset({UploadKind.GEOPACKAGE}),
    ".csv": frozenset({UploadKind.CSV}),
    ".tsv": frozenset({UploadKind.CSV}),
    ".txt": frozenset({UploadKind.CSV}),
}

ACCEPTED = (
    "a GeoTIFF, GeoJSON, KML, KMZ, a zipped Shapefile, a GeoPackage, a CSV time series "
    "or a Sentinel-1 SAFE zip"
)


class _Unrecognised(Exception):
    """The content is none of the kinds; the message says what it looks like instead."""


class _Damaged(Exception):
    """The content starts as one of the kinds but is cut short or broken."""


def detect(path: Path, filename: str) -> UploadKind:
    """The kind of the file at ``path`` (uploaded as ``filename``); a refusal naming the file
    when its content is none of the kinds, or another kind than its name claims."""
    claimed = CLAIMS.get(PurePosixPath(filename.lower()).suffix)
    try:
        kind = _sniff(path)
    except _Damaged as what:
        raise refuse(filename, str(what)) from None
    except _Unrecognised as what:
        if claimed:
            names = " or ".join(sorted(k.described for k in claimed))
            raise refuse(
                filename, f"not what its name claims: it should be {names}, but it is {what}"
            ) from None
        raise refuse(filename, f"{what}; GEP catalogues {ACCEPTED}") from None
    if claimed and kind not in claimed:
        names = " or ".join(sorted(k.described for k in claimed))
        raise refuse(
            filename,
            f"not what its name claims: it should be {names}, but its content is {kind.described}",
        )
    return kind


def _sniff(path: Path) -> UploadKind:
    with open(path, "rb") as f:
        head = f.read(_HEAD)
    if not head:
        raise _Unrecognised("empty")
    if head[:4] in _TIFF:
        return UploadKind.GEOTIFF
    if head[:16] == _SQLITE:
        return UploadKind.GEOPACKAGE
    if head[:4] in _ZIP:
        return _zip_kind(path)
    return _text_kind(head)


def _zip_kind(path: Path) -> UploadKind:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _Damaged(f"a truncated or damaged zip ({exc})") from None
    lower = [n.lower() for n in names]
    if any(n.rsplit("/", 1)[-1] == "manifest.safe" and n.count("/") <= 1 for n in lower):
        return UploadKind.SENTINEL1_SAFE
    if any(n.endswith(".shp") for n in lower):
        return UploadKind.SHAPEFILE
    if any(n.endswith(".kml") for n in lower):
        return UploadKind.KMZ
    raise _Unrecognised(
        "a zip that holds no Sentinel-1 SAFE (manifest.safe), no Shapefile (.shp) and no KML"
    )


def _text_kind(head: bytes) -> UploadKind:
    if b"\x00" in head:
        raise _Unrecognised("binary data of a format GEP does not read")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the end of the sample
            text = head.decode("latin-1")
        else:
            text = head[: exc.start].decode("utf-8")
    body = text.lstrip("\ufeff \t\r\n")
    if not body:
        raise _Unrecognised("blank text")
    if body[0] in "{[":
        return UploadKind.GEOJSON
    if body[0] == "<":
        if "<kml" in body[:4096].lower():
            return UploadKind.KML
        raise _Unrecognised("XML (or HTML) that is not KML")
    first = body.splitlines()[0]
    if any(d in first for d in ",;\t|"):
        return UploadKind.CSV
    raise _Unrecognised("text that is neither GeoJSON, KML nor a CSV table")


def check_zip_bounds(path: Path, filename: str, max_bytes: int) -> None:
    """Refuse a zip whose members would expand past ``max_bytes`` (a zip bomb) or whose
    members' data is cut short (``testzip`` reads every member and checks its CRC)."""
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(i.file_size for i in zf.infolist())
            if total > max_bytes:
                raise refuse(
                    filename,
                    f"the zip expands to {total} bytes, more than the {max_bytes} accepted",
                )
            bad = zf.testzip()
    except InvalidInput:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise refuse(filename, f"a truncated or damaged zip ({exc})") from None
    if bad is not None:
        raise refuse(filename, f"a damaged zip: member '{bad}' fails its checksum")
