"""Quicklook timing (issue #5, "Quicklooks"): the STAC hot path and the rendering.

    .venv/bin/python bench/quicklook.py [--repeats 7] [--slc-lines 2048 --slc-samples 8192]

1. **Catalogue pages.** Every item of every page goes through ``render_item``, which now asks
   whether the item needs a generated ``thumbnail`` asset. Timed per 100-item page, best of
   ``repeats`` (each timing loops until ~0.2 s), on items from ``s1_items.py``:
   ``remote S1`` (as generated: remote hrefs and thumbnail), ``remote + file:size`` (no
   thumbnail, a ``file:size`` field, as Earth Search / Planetary Computer items carry) and
   ``local L8`` (file:// band hrefs, no thumbnail: these get one, so they are parsed and
   re-serialised). Beside them: the bare splice GEP did before quicklooks (the floor), and
   the first committed check (``ff03fc8``), which matched ``file:`` anywhere.
2. **Rendering.** ``quicklook_png`` (512 px) on the real Landsat-8 and Sentinel-2 test bands and
   on a simulated SLC of ``slc-lines`` × ``slc-samples`` complex64 pixels (tiled, deflate, as
   GEP writes them), and a cache hit through ``QuicklookCache``. The peer on the same optical
   files: rio-tiler's ``Reader.preview`` + ``render`` (what a TiTiler ``/preview`` does).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from optical_items import L8, L8_BAND, S2, landsat8_item, sentinel2_item  # noqa: E402
from s1_items import generate_items  # noqa: E402

from gep.api.asset_urls import AssetUrls  # noqa: E402
from gep.api.stac_render import item_links, render_item  # noqa: E402
from gep.gateway.storage import Storage  # noqa: E402
from gep.tiles.quicklook import quicklook_png, wants_generated_thumbnail  # noqa: E402
from gep.tiles.quicklook_cache import QuicklookCache  # noqa: E402

BASE = "http://gep.test"
#: how the API names stored files (a local storage: only local hrefs are rewritten)
URLS = AssetUrls(BASE, Storage.from_url("file:///tmp/gep-bench-storage"))
_TAIL = b'"links":[]}'


def splice_only(content: bytes, collection: str, item_id: str) -> bytes:
    """``render_item`` before quicklooks: the standard links spliced in as bytes."""
    links = item_links(BASE, collection, item_id)
    return content[: -len(_TAIL)] + b'"links":' + orjson.dumps(links) + b"}"


def first_check(content: bytes, collection: str, item_id: str) -> bytes:
    """The check as first committed (ff03fc8): ``file:`` anywhere and a raster hint → parse."""
    local = (b"file:", b'"/')
    raster = (b"image/tiff", b"image/jp2", b".tif", b".TIF", b".jp2", b".zip", b".SAFE")
    if any(h in content for h in local) and any(h in content for h in raster):
        item = orjson.loads(content)
        if wants_generated_thumbnail(item):
            return orjson.dumps(item)
    return splice_only(content, collection, item_id)


def now(content: bytes, collection: str, item_id: str) -> bytes:
    return render_item(content, BASE, collection, item_id, URLS)


def best_per_call(fn: Callable[[], Any], repeats: int) -> float:
    """Best of ``repeats`` mean times (s) of ``fn``, each over a loop of about 0.2 s."""
    fn()
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t > 0.2:
            break
        n *= 2
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t) / n)
    return min(times)


def pages() -> dict[str, list[tuple[str, str, bytes]]]:
    s1 = list(generate_items(100))
    plain = []
    for it in s1:
        it = {**it, "assets": {"data": {**it["assets"]["data"], "file:size": 4_500_000_000}}}
        plain.append(it)
    local = []
    for n in range(100):
        it = landsat8_item(L8, f"LC08_{n:03d}")
        it["collection"] = "landsat"
        local.append(it)

    def rows(items: list[dict[str, Any]]) -> list[tuple[str, str, bytes]]:
        out = []
        for it in items:
            # stored items end with their links (records.py), which the splice relies on
            content = orjson.dumps({k: v for k, v in it.items() if k != "links"} | {"links": []})
            assert content.endswith(_TAIL)
            out.append((str(it["collection"]), str(it["id"]), content))
        return out

    return {"remote S1": rows(s1), "remote + file:size": rows(plain), "local L8": rows(local)}


def bench_pages(repeats: int) -> None:
    print("1. render_item over a 100-item page (µs per page, best of", repeats, ")")
    variants = {"splice only (before)": splice_only, "first check": first_check, "now": now}
    print(f"   {'items':<20}" + "".join(f"{v:>22}" for v in variants))
    for name, rows in pages().items():
        cells = []
        for fn in variants.values():
            if name == "local L8" and fn is splice_only:
                cells.append("(no thumbnail)")
                continue
            t = best_per_call(
                lambda fn=fn, rows=rows: [fn(c, coll, i) for coll, i, c in rows], repeats
            )
            cells.append(f"{t * 1e6:.0f}")
        print(f"   {name:<20}" + "".join(f"{c:>22}" for c in cells))
    size = sum(len(c) for _, _, c in pages()["remote S1"]) / 100
    print(f"   (remote S1 items are {size:.0f} bytes each)")


def _slc(folder: Path, lines: int, samples: int) -> dict[str, Any]:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    rng = np.random.default_rng(0)
    path = folder / "slc.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(
            path, "w", driver="GTiff", width=samples, height=lines, count=1, dtype="complex64",
            tiled=True, blockxsize=256, blockysize=256, compress="deflate",
        ) as dst:  # fmt: skip
            for row in range(0, lines, 256):
                h = min(256, lines - row)
                z = rng.normal(size=(h, samples)) + 1j * rng.normal(size=(h, samples))
                window = rasterio.windows.Window(0, row, samples, h)
                dst.write(z.astype("complex64"), 1, window=window)
    return {
        "type": "Feature",
        "id": "slc",
        "properties": {"sar:product_type": "SLC"},
        "assets": {"slc": {"href": path.as_uri(), "type": "image/tiff", "roles": ["data"]}},
    }


def _peer(files: list[Path]) -> bytes:
    """rio-tiler on the same bands: preview each (average, 512 px), stack, render a PNG."""
    from rio_tiler.errors import NoOverviewWarning
    from rio_tiler.io import Reader
    from rio_tiler.utils import render

    arrays, masks = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoOverviewWarning)
        warnings.filterwarnings("ignore", message="Dataset has no geotransform")
        for f in files:
            with Reader(str(f)) as r:
                img = r.preview(indexes=1, max_size=512, resampling_method="average")
            lo, hi = np.percentile(img.array.compressed(), [2, 98])
            arrays.append(np.clip((img.array.data[0] - lo) * 255 / (hi - lo), 0, 255))
            masks.append(img.mask)
        return render(
            np.stack(arrays).astype("uint8"), mask=np.minimum.reduce(masks), img_format="PNG"
        )


def bench_render(repeats: int, lines: int, samples: int) -> None:
    print(f"2. quicklook_png, 512 px (ms, best of {repeats})")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        slc = _slc(Path(tmp), lines, samples)
        print(f"   (wrote the {lines} × {samples} SLC in {time.perf_counter() - t:.1f} s)")
        cases: list[tuple[str, dict[str, Any], list[Path] | None]] = [
            ("Landsat-8 B4/B3/B2 259 × 255 GeoTIFF", landsat8_item(), None),
            ("Sentinel-2 B04/B03/B02 687² JPEG 2000", sentinel2_item(), None),
            (f"SLC {lines} × {samples} complex64", slc, None),
        ]
        l8_files = [L8 / L8_BAND.format(n) for n in (4, 3, 2)]
        s2_files = [S2 / f"B0{n}.jp2" for n in (4, 3, 2)]
        cases[0] = (cases[0][0], cases[0][1], l8_files)
        cases[1] = (cases[1][0], cases[1][1], s2_files)
        cache = QuicklookCache(Path(tmp) / "storage")
        for name, it, files in cases:
            gep = best_per_call(lambda it=it: quicklook_png(it), repeats)
            cache.get_or_create("c", str(it["id"]), it)
            hit = best_per_call(lambda it=it: cache.get_or_create("c", str(it["id"]), it), repeats)
            line = f"   {name:<40} GEP {gep * 1e3:8.1f}   cache hit {hit * 1e3:6.2f}"
            if files:
                peer = best_per_call(lambda files=files: _peer(files), repeats)
                line += f"   rio-tiler preview+render {peer * 1e3:8.1f}"
            print(line)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--slc-lines", type=int, default=2048)
    ap.add_argument("--slc-samples", type=int, default=8192)
    args = ap.parse_args(argv)
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    bench_pages(args.repeats)
    bench_render(args.repeats, args.slc_lines, args.slc_samples)
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
