"""HTTP byte ranges (RFC 9110 §14) and conditional requests, as pure functions of header text.

The asset route (:mod:`gep.api.assets`) asks here which bytes of a file to send and whether the
client's copy is still good; nothing here opens a file or knows the framework, so every rule is
unit-tested on strings (``tests/api/test_byte_ranges.py``). The choices:

* one range (``bytes=0-99``, ``bytes=100-``, ``bytes=-500``) is a slice, answered 206;
* several ranges are answered with the whole file (200): RFC 9110 lets a server ignore
  ``Range``, and the clients GEP serves (GDAL's ``/vsicurl/``, rasterio, QGIS, browsers) send
  one range per request;
* a ``Range`` that does not parse, or uses another unit, is ignored (200, whole), as RFC 9110
  asks; a well-formed single range that starts past the end is unsatisfiable (416);
* ``If-Range`` that names another version of the file (ETag or date) turns the range off, so a
  client resuming a download of a file that changed gets the new file whole.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime

_SINGLE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` (inclusive) to ``end`` (exclusive) of a file of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end - 1}/{self.size}"


class RangeNotSatisfiable(Exception):
    """A well-formed single range that selects nothing of the file (HTTP 416)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"no byte of the range requested lies within the file's {size} bytes")
        self.size = size

    @property
    def content_range(self) -> str:
        return f"bytes */{self.size}"


def select_range(header: str | None, size: int) -> ByteRange | None:
    """The slice a ``Range`` header asks for; None to send the whole file (no header, one that
    does not parse, several ranges); :class:`RangeNotSatisfiable` when it selects nothing."""
    if header is None or "," in header:
        return None
    match = _SINGLE.match(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first:
        if not last:
            return None  # "bytes=-" is no range at all
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(0, size - suffix), size, size)
    start = int(first)
    if last and int(last) < start:
        return None  # "bytes=9-3" is invalid: ignored, not refused
    if start >= size:
        raise RangeNotSatisfiable(size)
    end = size if not last else min(int(last) + 1, size)
    return ByteRange(start, end, size)


def file_etag(size: int, mtime_ns: int) -> str:
    """A strong ETag from the file's size and modification time: it changes when the file is
    rewritten, and costs a ``stat``, not a read of the file."""
    digest = hashlib.blake2b(f"{size}-{mtime_ns}".encode(), digest_size=12).hexdigest()
    return f'"{digest}"'


def http_date(mtime: float) -> str:
    return formatdate(mtime, usegmt=True)


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names this ETag (weak comparison, as RFC 9110 asks there)."""
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def not_modified_since(header: str | None, mtime: float) -> bool:
    """Whether ``If-Modified-Since`` is at or after the file's modification time (whole
    seconds: an HTTP date has no finer unit). A date that does not parse is ignored."""
    since = _parse_date(header)
    return since is not None and int(mtime) <= since


def range_applies(if_range: str | None, etag: str, mtime: float) -> bool:
    """Whether a ``Range`` is honoured under ``If-Range``: absent, or naming this version (the
    strong ETag, or a date no earlier than the modification time)."""
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith('"') or value.startswith("W/"):
        return value == etag  # a weak tag never matches (strong comparison)
    since = _parse_date(value)
    return since is not None and int(mtime) <= since


def _parse_date(header: str | None) -> int | None:
    if not header:
        return None
    try:
        when = parsedate_to_datetime(header)
        if when.tzinfo is None:  # "-0000": UTC, its source unknown
            when = when.replace(tzinfo=UTC)
        return int(when.timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
