"""The COG the gateway benchmark reads: made once per size into ``bench/.data`` (git-ignored).

A single-band uint16 Cloud-Optimized GeoTIFF (512² tiles, overviews, uncompressed so that its
size is what was asked for and no server spends time on anything but moving bytes). The
pixels are a cheap pattern with noise: range reads do not care what the bytes mean, but the
file must be a real COG that GDAL opens, as a user's would be. Written under a temporary name
and renamed, so an interrupted run never leaves a file a later run would take for whole.

    .venv/bin/python bench/cog_file.py --size-mb 1024      # prints the path and how long it took
"""

from __future__ import annotations

import argparse
import math
import os
import time
import uuid
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / ".data"
TILE = 512
#: overviews (2, 4, 8…) add a third to the full-resolution bytes
_OVERVIEW_SHARE = 4 / 3


def side_for(size_bytes: int) -> int:
    """The square image side (a multiple of the tile) whose COG, overviews included, is
    about ``size_bytes``."""
    pixels = size_bytes / _OVERVIEW_SHARE / 2  # uint16
    return max(TILE, int(math.sqrt(pixels)) // TILE * TILE)


def cog_path(size_mb: int, folder: Path = DATA) -> Path:
    return folder / f"gateway-{size_mb}mb.tif"


def ensure_cog(size_mb: int, folder: Path = DATA) -> Path:
    """The benchmark's COG of about ``size_mb`` MiB, made if absent (about 20–40 s per GB
    here)."""
    path = cog_path(size_mb, folder)
    if path.exists():
        return path
    import rasterio
    from rasterio.shutil import copy as rio_copy
    from rasterio.transform import from_origin

    folder.mkdir(parents=True, exist_ok=True)
    side = side_for(size_mb << 20)
    tmp = folder / f".{path.stem}.{uuid.uuid4().hex}.plain.tif"
    part = folder / f".{path.name}.{uuid.uuid4().hex}.part"
    rng = np.random.default_rng(0)
    profile = {
        "driver": "GTiff",
        "width": side,
        "height": side,
        "count": 1,
        "dtype": "uint16",
        "crs": "EPSG:32633",
        "transform": from_origin(400_000.0, 4_200_000.0, 10.0, 10.0),
        "tiled": True,
        "blockxsize": TILE,
        "blockysize": TILE,
        "BIGTIFF": "IF_SAFER",
    }
    ramp = (np.arange(side, dtype=np.uint32) * 7 % 4096).astype(np.uint16)
    try:
        with rasterio.open(tmp, "w", **profile) as dst:
            for row in range(0, side, TILE):
                noise = rng.integers(0, 4096, size=(TILE, side), dtype=np.uint16)
                block = noise + ramp[None, :] + np.uint16(row % 4096)
                dst.write(block, 1, window=rasterio.windows.Window(0, row, side, TILE))
        with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS", GDAL_CACHEMAX=1024):
            rio_copy(
                tmp, part, driver="COG", compress="NONE", blocksize=TILE,
                overview_resampling="nearest", bigtiff="IF_SAFER",
            )  # fmt: skip
        os.replace(part, path)
    finally:
        tmp.unlink(missing_ok=True)
        part.unlink(missing_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    path = ensure_cog(args.size_mb)
    print(f"{path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
