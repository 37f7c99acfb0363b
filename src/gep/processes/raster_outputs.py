"""Result files on any grid: COGs in the product's own CRS, PNG maps with a legend, GeoJSON, CSV.

The SAR services write geocoded (EPSG:4326) grids through ``sar_common``; the optical ones keep
the products' projected grid (UTM for Landsat and Sentinel-2), so their writers take a CRS and
an affine transform. What they share with the SAR writers (deflate COGs with a no-data value,
a map a person can read with its colour bar and axis units) is kept the same.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

COG = "image/tiff; application=geotiff; profile=cloud-optimized"
GEOJSON = "application/geo+json"
CSV = "text/csv"
PNG = "image/png"

Transform = tuple[float, float, float, float, float, float]


def write_cog(
    path: Path,
    data: NDArray[Any],
    crs: str,
    transform: Transform,
    *,
    nodata: float | None = float("nan"),
    descriptions: Sequence[str] | None = None,
) -> None:
    """One band (rows, cols) or several (bands, rows, cols) as a deflate COG."""
    import rasterio
    from rasterio.transform import Affine

    arr = data if data.ndim == 3 else data[None]
    profile = {
        "driver": "COG",
        "width": arr.shape[2],
        "height": arr.shape[1],
        "count": arr.shape[0],
        "dtype": arr.dtype.name,
        "crs": crs,
        "transform": Affine(*transform),
        "compress": "deflate",
        **({"nodata": nodata} if nodata is not None else {}),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr)
        for k, text in enumerate(descriptions or []):
            dst.set_band_description(k + 1, text)


def bounds_of(transform: Transform, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a north-up grid in its own CRS units."""
    a, _, c, _, e, f = transform
    rows, cols = shape
    xs = (c, c + a * cols)
    ys = (f, f + e * rows)
    return min(xs), min(ys), max(xs), max(ys)


def write_png_map(
    path: Path,
    data: NDArray[Any],
    transform: Transform,
    *,
    title: str,
    label: str,
    cmap: str,
    vmin: float,
    vmax: float,
    units: str = "m",
    arrows: tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]] | None = None,
) -> None:
    """The map with axes in the CRS's units and a labelled colour bar; ``arrows`` (x, y, u, v
    in CRS units) are drawn over it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w, s, e, n = bounds_of(transform, data.shape[-2:])
    fig, ax = plt.subplots(figsize=(7, 6), dpi=110)
    im = ax.imshow(
        data, extent=(w, e, s, n), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest"
    )
    if arrows is not None and arrows[0].size:
        ax.quiver(*arrows, angles="xy", scale_units="xy", scale=1.0, width=0.003, color="k")
    ax.set_xlabel(f"easting ({units})")
    ax.set_ylabel(f"northing ({units})")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label=label)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_geojson(path: Path, features: Iterable[dict[str, Any]]) -> int:
    """A FeatureCollection (lon/lat, RFC 7946); returns the number of features."""
    feats = list(features)
    path.write_bytes(
        orjson.dumps(
            {"type": "FeatureCollection", "features": feats}, option=orjson.OPT_SERIALIZE_NUMPY
        )
    )
    return len(feats)


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """A CSV with a header; floats written with 6 significant digits, NaN as empty."""
    n = 0
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(columns)
        for row in rows:
            out.writerow([_cell(v) for v in row])
            n += 1
    return n


def _cell(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return "" if not np.isfinite(v) else f"{float(v):.6g}"
    return v


def to_lonlat(crs: str, x: NDArray[Any], y: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """Points of ``crs`` in longitude/latitude (WGS84)."""
    from rasterio.warp import transform as warp

    if x.size == 0:
        return x.astype("float64"), y.astype("float64")
    lon, lat = warp(crs, "EPSG:4326", np.ravel(x).tolist(), np.ravel(y).tolist())
    return np.reshape(lon, np.shape(x)), np.reshape(lat, np.shape(y))


def footprint(crs: str, transform: Transform, shape: tuple[int, int]) -> dict[str, Any]:
    """The grid's outline as a lon/lat GeoJSON polygon (edges densified)."""
    w, s, e, n = bounds_of(transform, shape)
    t = np.linspace(0.0, 1.0, 9)
    xs = np.r_[w + (e - w) * t, np.full(9, e), e - (e - w) * t, np.full(9, w)]
    ys = np.r_[np.full(9, s), s + (n - s) * t, np.full(9, n), n - (n - s) * t]
    lon, lat = to_lonlat(crs, xs, ys)
    ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}
