"""Assets larger than the route's read sizes, on a local folder and on a real S3 server: whole
files and ranges that cross chunk boundaries arrive byte for byte; ranges small enough to be
read in one go are answered the same way; a local file's descriptor is closed after each
answer. (The files in ``test_assets.py`` fit in one chunk, so they never reach the streaming
path.)"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gep.api.assets import CHUNK, STORED_CHUNK
from gep.gateway.storage import Storage, StorageConfig
from tests.support.app import ADMIN_HEADERS, api_client

URL = "/stac/collections/pub/items/big/assets/data"


@dataclass
class World:
    c: TestClient
    storage: Storage
    raw: bytes


@pytest.fixture
def world(tmp_path: Path, storage_config: StorageConfig) -> Iterator[World]:
    with _world(tmp_path, storage_config) as w:
        yield w


@contextmanager
def _world(tmp_path: Path, storage_config: StorageConfig) -> Iterator[World]:
    storage = Storage(storage_config)
    storage.ensure()
    step = max(CHUNK, STORED_CHUNK)
    raw = os.urandom(2 * step + step // 3 + 12_345)  # three reads of each size, the last short
    src = tmp_path / "big.bin"
    src.write_bytes(raw)
    href = storage.put_file(src, "demo/big.bin")
    settings: dict[str, Any] = {
        "storage_url": storage_config.url,
        "s3_endpoint_url": storage_config.s3_endpoint_url,
    }
    with api_client(tmp_path / "home", admin=False, **settings) as c:
        body = {"id": "pub", "description": "public", "gep:visibility": "public"}
        assert c.post("/stac/collections", json=body, headers=ADMIN_HEADERS).status_code == 201
        item = {
            "type": "Feature",
            "id": "big",
            "geometry": {"type": "Point", "coordinates": [15.0, 37.75]},
            "properties": {"datetime": "2024-01-01T00:00:00Z"},
            "assets": {"data": {"href": href, "type": "application/octet-stream"}},
        }
        r = c.post("/stac/collections/pub/items", json=item, headers=ADMIN_HEADERS)
        assert r.status_code == 201, r.text
        yield World(c, storage, raw)


def _ranges(size: int) -> list[tuple[int, int]]:
    """(first, last) byte pairs: inside one read, across read boundaries of both sizes, the
    tail, a range exactly one read long."""
    out = [(0, 0), (100, 16_483), (size - 1, size - 1), (0, CHUNK - 1), (CHUNK, size - 1)]
    for step in (CHUNK, STORED_CHUNK):
        out += [(step - 10, step + 9), (step - 1, 2 * step + 1), (1, 2 * step + 5_000)]
    return out


def test_whole_file_and_ranges_across_read_boundaries(world: World) -> None:
    size = len(world.raw)
    r = world.c.get(URL)
    assert r.status_code == 200 and r.headers["content-length"] == str(size)
    assert r.content == world.raw
    for first, last in _ranges(size):
        r = world.c.get(URL, headers={"Range": f"bytes={first}-{last}"})
        assert r.status_code == 206, (first, last, r.text[:300])
        assert r.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert r.headers["content-length"] == str(last - first + 1)
        assert r.content == world.raw[first : last + 1], (first, last)
    r = world.c.get(URL, headers={"Range": "bytes=-70000"})  # a suffix
    assert r.status_code == 206 and r.content == world.raw[-70000:]


def test_local_files_are_closed_after_each_answer(tmp_path: Path) -> None:
    with _world(tmp_path, StorageConfig((tmp_path / "storage").as_uri())) as world:
        _read_everything_checking_descriptors(world)


def _read_everything_checking_descriptors(world: World) -> None:
    fds = Path("/proc/self/fd")
    world.c.get(URL, headers={"Range": "bytes=0-99"})  # anything opened once, opened now
    before = len(list(fds.iterdir()))
    for first, last in _ranges(len(world.raw)) * 3:
        world.c.get(URL, headers={"Range": f"bytes={first}-{last}"})
    world.c.get(URL)
    assert len(list(fds.iterdir())) <= before
