"""The gateway's settings as plain values, and its one error.

Kept apart from the resolver so that the HTTP fetcher and the resolver both depend on it and
not on each other; the values travel to Dask workers with each job.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gep.core.errors import InvalidInput


class HrefRefused(InvalidInput):
    """A href the caller may not have the server read (HTTP 400, naming the field)."""

    kind = "href-refused"


def split_list(text: str) -> tuple[str, ...]:
    """A setting holding several values separated by ``,`` (or ``:`` for paths)."""
    return tuple(p.strip() for p in re.split(r"[,\n]", text) if p.strip())


def split_paths(text: str) -> tuple[Path, ...]:
    return tuple(Path(p.strip()) for p in re.split(r"[,:\n]", text) if p.strip())


@dataclass(frozen=True)
class GatewayConfig:
    """What the gateway needs, as plain values (it travels to Dask workers with each job)."""

    #: the local storage folder: GEP's storage when it is local, else the server's own local
    #: area (quicklook cache) beside an object store
    storage_root: Path
    #: GEP's storage (``gep.gateway.storage``); empty = the folder ``storage_root``
    storage_url: str = ""
    #: the S3 endpoint of an S3-compatible server (SeaweedFS, MinIO); empty = AWS
    s3_endpoint_url: str = ""
    data_roots: tuple[Path, ...] = ()
    fetch_allow: tuple[str, ...] = ()
    max_bytes: int = 1 << 30
    timeout_s: float = 300.0
    #: the cache of remote inputs (``<storage_root>/cache``): its quota in bytes; 0 = no cache
    cache_max_bytes: int = 10 << 30
    #: multi-source retrieval: attempts per source, and the first back-off delay (doubling)
    fetch_attempts: int = 3
    fetch_backoff_s: float = 1.0
    #: files never readable through a href (the database and its journal)
    denied: tuple[Path, ...] = ()
    #: resolved forms, computed once
    _storage: Path = field(init=False, repr=False, compare=False)
    _roots: tuple[Path, ...] = field(init=False, repr=False, compare=False)
    _denied: frozenset[Path] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_storage", Path(os.path.realpath(self.storage_root)))
        object.__setattr__(
            self, "_roots", tuple(Path(os.path.realpath(r)) for r in self.data_roots)
        )
        if not self.storage_url:
            object.__setattr__(self, "storage_url", Path(self.storage_root).resolve().as_uri())
        denied = set()
        for d in self.denied:
            real = Path(os.path.realpath(d))
            denied |= {real, real.with_name(real.name + "-wal"), real.with_name(real.name + "-shm")}
            denied.add(real.with_name(real.name + "-journal"))
        object.__setattr__(self, "_denied", frozenset(denied))
