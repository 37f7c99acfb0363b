"""A file read by byte ranges where it lies, instead of copied whole first.

A Sentinel-1 product is 4–8 GB; a job over one burst needs ~100 MB of it. When a product sits
in GEP's object store the gateway hands the job a :class:`RangedFile` — a name, a size and a
way to open it for seeking reads (s3fs's ranged GETs underneath) — and the reader takes only
the bytes it needs. Kept apart from both sides (the gateway makes these, the Sentinel-1 reader
consumes them) so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class RangedFile:
    """A remote file opened for ranged reads; ``name`` is its file name (``….zip``)."""

    name: str
    size: int
    open: Callable[[], BinaryIO]
    #: where it is, for messages and caches (``s3://bucket/key``); never a credential
    location: str
