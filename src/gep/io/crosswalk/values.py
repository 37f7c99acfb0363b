"""Field values as archives write them: nulls, numbers, checksums, polarisations, media types.

Why shared: ASF, OData and OpenSearch records are messy in the same ways (``"None"``, ``"NA"``,
``"nan"`` for missing values, ``"VV+VH"`` or ``["VV", "VH"]`` for polarisations), and two
archives describing one product must yield the same item, so each reading is written once.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

#: every way a record says "no value" (compared lower case, stripped)
NULL_STRINGS = frozenset({"", "none", "null", "na", "n/a", "nan", "not provided"})

#: multihash codes (https://github.com/multiformats/multicodec) of the checksums archives give
_MULTIHASH = {"md5": ("d5", 16), "sha1": ("11", 20), "sha256": ("12", 32), "blake3": ("1e", 32)}

_POLARISATION = re.compile(r"\b(HH|HV|VH|VV)\b")

#: file suffix → media type, for assets whose record does not say
_MEDIA_TYPES = (
    (".zip", "application/zip"),
    (".tiff", "image/tiff; application=geotiff"),
    (".tif", "image/tiff; application=geotiff"),
    (".nc", "application/netcdf"),
    (".h5", "application/x-hdf5"),
    (".xml", "application/xml"),
    (".jpg", "image/jpeg"),
    (".jpeg", "image/jpeg"),
    (".png", "image/png"),
    (".json", "application/json"),
)


def clean(value: Any) -> Any:
    """None for the ways archives write "no value" (``None``, ``""``, ``"null"``, ``"NA"``…),
    else the value itself."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in NULL_STRINGS:
        return None
    return value


def to_int(value: Any, what: str) -> int | None:
    """A whole number, None when absent; ValueError for anything else (the record is broken)."""
    number = to_float(value, what)
    if number is None:
        return None
    if not number.is_integer():
        raise ValueError(f"{what} {value!r} is not a whole number")
    return int(number)


def to_float(value: Any, what: str) -> float | None:
    """A finite number, None when absent; ValueError for anything else."""
    value = clean(value)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} {value!r} is not a finite number")
    return number


def multihash(algorithm: str, hexdigest: str) -> str | None:
    """``file:checksum`` (a hex multihash) of a digest, or None for an unknown algorithm."""
    code = _MULTIHASH.get(algorithm.lower().replace("-", ""))
    digest = hexdigest.strip().lower()
    if code is None or not re.fullmatch(r"[0-9a-f]+", digest) or len(digest) != 2 * code[1]:
        return None
    return f"{code[0]}{code[1]:02x}{digest}"


def polarisations(value: Any) -> list[str]:
    """``"VV&VH"``, ``"VV+VH"``, ``"Dual VV"``, ``["VV", "VH"]`` → ``["VV", "VH"]`` (order kept)."""
    value = clean(value)
    if value is None:
        return []
    found: list[str] = []
    for part in value if isinstance(value, list) else [value]:
        for pol in _POLARISATION.findall(str(part).upper()):
            if pol not in found:
                found.append(pol)
    return found


def media_type(href: str, default: str = "application/octet-stream") -> str:
    """The media type of a file from its suffix (archive URLs nearly always end with one)."""
    path = urlsplit(href).path.lower()
    for suffix, media in _MEDIA_TYPES:
        if path.endswith(suffix):
            return media
    return default
