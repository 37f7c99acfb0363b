"""The quicklook cache: keys that follow the item, atomic files that stay put, hostile ids."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from gep.tiles.quicklook import NoQuicklookSource
from gep.tiles.quicklook_cache import QuicklookCache, make_quicklooks, safe_name
from tests.support.quicklook_items import decode, item, landsat8_item, tif_asset, write_tif


@pytest.fixture
def grey_item(tmp_path: Path) -> dict[str, Any]:
    ramp = np.add.outer(np.arange(40.0), np.arange(60.0)).astype("float32")
    return item("ramp", {"data": tif_asset(write_tif(tmp_path / "ramp.tif", ramp))})


def test_rendered_once_then_served_from_the_cache(tmp_path: Path, grey_item: Any) -> None:
    cache = QuicklookCache(tmp_path / "storage", max_size=32)
    first = cache.get_or_create("coll", "ramp", grey_item)
    assert first.created and first.path.parent == cache.root / "coll"
    assert first.path.name == f"ramp-{first.key}.png"
    assert decode(first.path.read_bytes()).shape == (21, 32, 2)
    before = first.path.stat()

    again = cache.get_or_create("coll", "ramp", grey_item)
    assert not again.created and again.path == first.path and again.key == first.key
    after = again.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

    forced = cache.get_or_create("coll", "ramp", grey_item, force=True)
    assert forced.created and forced.key == first.key
    assert forced.path.stat().st_ino != before.st_ino  # a new file, swapped in atomically
    assert sorted(p.name for p in forced.path.parent.iterdir()) == [forced.path.name]


def test_a_changed_item_gets_a_new_key_and_the_old_file_goes(
    tmp_path: Path, grey_item: Any
) -> None:
    cache = QuicklookCache(tmp_path / "storage", max_size=32)
    old = cache.get_or_create("coll", "ramp", grey_item)
    # a neighbour whose id extends this one's must survive the clean-up
    neighbour = cache.get_or_create("coll", "ramp-0123456789abcdef", grey_item)

    raster = Path(grey_item["assets"]["data"]["href"].removeprefix("file://"))
    os.utime(raster, ns=(raster.stat().st_atime_ns, raster.stat().st_mtime_ns + 10**9))
    touched = cache.get_or_create("coll", "ramp", grey_item)
    assert touched.created and touched.key != old.key
    assert not old.path.exists() and neighbour.path.exists()

    edited = {**grey_item, "assets": {"data": {**grey_item["assets"]["data"], "nodata": 0}}}
    assert cache.key(edited) != touched.key
    # metadata that does not feed the picture leaves the key alone
    assert cache.key({**grey_item, "properties": {"datetime": None}}) == touched.key
    assert QuicklookCache(tmp_path / "storage", max_size=64).key(grey_item) != touched.key


@pytest.mark.parametrize(
    "ident",
    ["..", ".", "../../../etc/passwd", "..\\..\\x", ".hidden", "a b", "é/ü", "x" * 300, "", "-"],
)
def test_hostile_ids_stay_inside_the_cache(tmp_path: Path, grey_item: Any, ident: str) -> None:
    cache = QuicklookCache(tmp_path / "storage", max_size=16)
    ql = cache.get_or_create(ident, ident, grey_item)
    root = cache.root.resolve()
    assert ql.path.resolve().parent.parent == root
    assert ql.path.is_file() and len(ql.path.name) < 120
    assert not ql.path.name.startswith(".") and not ql.path.parent.name.startswith(".")
    assert [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(root)] == [
        tmp_path / "ramp.tif"
    ]


def test_safe_names_keep_plain_ids_and_never_collide() -> None:
    assert safe_name("S1A_IW_SLC__1SDV_20220104T170557.SAFE") == (
        "S1A_IW_SLC__1SDV_20220104T170557.SAFE"
    )
    hostile = ["a/b", "a\\b", "a:b", "a b", "a?b", "a*b", "..", "a..b/", "a/b/"]
    names = [safe_name(h) for h in hostile]
    assert len(set(names)) == len(hostile)
    assert all(n.replace("_", "").replace("-", "").replace(".", "").isalnum() for n in names)


def test_make_quicklooks_counts_what_it_did(tmp_path: Path, grey_item: Any) -> None:
    cache = QuicklookCache(tmp_path / "storage", max_size=16)
    remote = item("remote", {"data": {"href": "https://example.com/a.tif", "type": "image/tiff"}})
    with_thumb = {
        **grey_item,
        "id": "thumbed",
        "assets": {**grey_item["assets"], "thumbnail": {"href": "https://x/t.png"}},
    }
    gone = item("gone", {"data": tif_asset(tmp_path / "missing.tif")})
    rows = [
        ("c", it["id"], orjson.dumps(it))
        for it in (grey_item, remote, with_thumb, gone, landsat8_item())
    ]
    seen: list[int] = []
    report = make_quicklooks(cache, rows, on_item=lambda: seen.append(1))
    assert (report.made, report.cached, report.skipped, len(seen)) == (2, 0, 2, 5)
    assert [(c, i) for c, i, _ in report.failed] == [("c", "gone")]
    assert "does not exist" in report.failed[0][2]
    again = make_quicklooks(cache, rows)
    assert (again.made, again.cached, again.skipped) == (0, 2, 2)
    with pytest.raises(NoQuicklookSource):
        cache.key(remote)
