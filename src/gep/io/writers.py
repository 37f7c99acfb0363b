"""Result files: COGs, PNG maps with a legend, KMZ overlays, GeoJSON, CSV — one writer each.

Every service writes its products through these (the SAR services on a geocoded EPSG:4326 grid,
the optical ones on the products' projected grid), so a COG is a COG whatever wrote it: deflate,
a no-data value, tags and band descriptions where the reader needs them (``sbas`` reads an
interferogram's dates back from its tags). Grids travel as a CRS and an affine transform (the
GDAL six numbers), or as (west, south, east, north) bounds for what is drawn, which keeps this
module below the science that defines the grids. Media types live in :mod:`gep.core.media`.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import orjson
from numpy.typing import NDArray
from shapely.geometry import box, mapping

from gep.core.render import RenderClass, RenderHint, RenderKind

#: the CRS of geocoded SAR products (longitude/latitude on WGS84)
GEOGRAPHIC = "EPSG:4326"

#: result COGs' block (and overview tile) size, not GDAL's default 512: a time series at a
#: point inflates one block per date, so 100 dates cost 100 blocks — 35 ms median with 128²
#: blocks against 122 ms with 256² and ~600 ms with 512² (bench/timeseries_point.py, quiet
#: 2-core VM); files grow < 1 % and a 256-px tile reads no slower (docs/benchmarks.md)
COG_BLOCK = 128

Transform = tuple[float, float, float, float, float, float]
Bounds = tuple[float, float, float, float]


def overview_resampling(
    dtype: Any, render: RenderHint | None = None, classes: Sequence[RenderClass] | None = None
) -> str:
    """How a COG's overviews (what maps draw at low zoom) are made from its pixels.

    AVERAGE for continuous floating-point fields: GDAL's average skips no-data, whereas the COG
    driver's default (cubic) turns every output pixel whose kernel touches a NaN into NaN, so a
    result with scattered holes (incoherent pixels) would vanish from its overviews. NEAREST
    for classes (an average of class values is no class), for cyclic quantities (the mean of
    −π and π is not 0) and for integer rasters."""
    cyclic = render is not None and render.kind is RenderKind.CYCLIC
    if classes or cyclic or not np.issubdtype(np.dtype(dtype), np.floating):
        return "NEAREST"
    return "AVERAGE"


def write_cog(
    path: Path,
    data: NDArray[Any],
    crs: str,
    transform: Transform,
    *,
    nodata: float | None = float("nan"),
    tags: dict[str, str] | None = None,
    descriptions: Sequence[str] | None = None,
    units: Sequence[str] | str | None = None,
    classes: Sequence[RenderClass] | None = None,
    render: RenderHint | None = None,
) -> None:
    """One band (rows, cols) or several (bands, rows, cols) as a deflate COG; ``tags`` are
    GeoTIFF metadata (e.g. an interferogram's dates), ``descriptions`` name the bands and
    ``units`` give their unit (one for all, or one each).

    Floating-point data get the floating-point predictor (PREDICTOR=3: deflate then finds the
    repeats in smooth fields, and readers undo it transparently). ``classes`` (a uint8 class
    mask) are written as the band's colour table, so QGIS and GDAL draw the mask in its
    classes' colours with no style. ``render`` — the output's declared hint — gives the
    description (its title), unit and classes when they are not given."""
    import rasterio
    from rasterio.transform import Affine

    arr = data if data.ndim == 3 else data[None]
    if render is not None:
        descriptions = descriptions or [render.title] * arr.shape[0]
        units = units if units is not None else (render.unit or None)
        classes = classes if classes is not None else (render.classes or None)
    floating = np.issubdtype(arr.dtype, np.floating)
    profile = {
        "driver": "COG",
        "width": arr.shape[2],
        "height": arr.shape[1],
        "count": arr.shape[0],
        "dtype": arr.dtype.name,
        "crs": crs,
        "transform": Affine(*transform),
        "compress": "deflate",
        "blocksize": COG_BLOCK,
        "overview_resampling": overview_resampling(arr.dtype, render, classes),
        **({"predictor": "FLOATING_POINT"} if floating else {}),
        **({"nodata": nodata} if nodata is not None else {}),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr)
        if tags:
            dst.update_tags(**tags)
        for k, text in enumerate(descriptions or []):
            dst.set_band_description(k + 1, text)
        if units:
            per_band = [units] * arr.shape[0] if isinstance(units, str) else list(units)
            dst.units = tuple(per_band)
        if classes:
            if arr.dtype != np.uint8 or arr.shape[0] != 1:
                raise ValueError("a colour table is for a one-band uint8 class mask")
            dst.write_colormap(1, {c.value: c.rgba for c in classes})


def bounds_of(transform: Transform, shape: tuple[int, int]) -> Bounds:
    """(west, south, east, north) of a north-up grid in its own CRS units."""
    a, _, c, _, e, f = transform
    rows, cols = shape
    xs = (c, c + a * cols)
    ys = (f, f + e * rows)
    return min(xs), min(ys), max(xs), max(ys)


def write_png_map(
    path: Path,
    data: NDArray[Any],
    bounds: Bounds,
    *,
    title: str,
    label: str,
    cmap: str,
    vmin: float,
    vmax: float,
    geographic: bool = False,
    units: str = "m",
    arrows: tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]] | None = None,
) -> None:
    """A map a person can read: the raster over ``bounds`` with axes and a labelled colour bar.

    ``geographic``: axes in degrees of longitude/latitude, the aspect corrected for the
    latitude (a degree of longitude is shorter than one of latitude); otherwise easting and
    northing in ``units``. ``arrows`` (x, y, u, v in the map's units) are drawn over it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w, s, e, n = bounds
    fig, ax = plt.subplots(figsize=(7, 6), dpi=110)
    im = ax.imshow(
        data, extent=(w, e, s, n), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest"
    )
    if arrows is not None and arrows[0].size:
        ax.quiver(*arrows, angles="xy", scale_units="xy", scale=1.0, width=0.003, color="k")
    if geographic:
        ax.set_aspect(1 / np.cos(np.radians((s + n) / 2)))
        ax.set_xlabel("longitude (°)")
        ax.set_ylabel("latitude (°)")
    else:
        ax.set_xlabel(f"easting ({units})")
        ax.set_ylabel(f"northing ({units})")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label=label)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_kmz(
    path: Path,
    data: NDArray[Any],
    bounds: Bounds,
    *,
    name: str,
    cmap: str,
    vmin: float,
    vmax: float,
    title: str | None = None,
    unit: str = "",
) -> None:
    """A Google Earth overlay of a lon/lat grid over ``bounds``: a PNG with a transparent
    no-data in a GroundOverlay, and its legend (``legend.png``, title ``title`` or ``name``)
    in a ScreenOverlay at the lower left, zipped.

    ``cmap`` is a colour map name as rio-tiler spells it (matplotlib's in any case: ``RdBu_r``
    reads as ``rdbu_r``); overlay and legend take their colours from rio-tiler
    (:mod:`gep.io.legend`), so Google Earth shows what the map tiles show."""
    from PIL import Image

    from gep.io.legend import LegendSpec, colours, legend_png

    name_l = cmap.lower()
    values = np.asarray(data, "float64")
    rgba = colours(values.ravel(), name_l, (vmin, vmax)).reshape(*values.shape, 4)
    rgba[..., 3] = np.where(np.isfinite(values), 255, 0)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    legend = legend_png(LegendSpec(title or name, unit, name_l, (vmin, vmax)))
    w, s, e, n = bounds
    kml = f"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2">
  <Document>
    <name>{escape(name)}</name>
    <GroundOverlay>
      <name>{escape(name)}</name>
      <Icon><href>overlay.png</href></Icon>
      <LatLonBox><north>{n}</north><south>{s}</south><east>{e}</east><west>{w}</west></LatLonBox>
    </GroundOverlay>
    <ScreenOverlay>
      <name>Legend</name>
      <Icon><href>legend.png</href></Icon>
      <overlayXY x="0" y="0" xunits="fraction" yunits="fraction"/>
      <screenXY x="0.02" y="0.06" xunits="fraction" yunits="fraction"/>
      <size x="0" y="0" xunits="fraction" yunits="fraction"/>
    </ScreenOverlay>
  </Document>
</kml>
"""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("doc.kml", kml)
        z.writestr("overlay.png", buf.getvalue())
        z.writestr("legend.png", legend)


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
    """A projected grid's outline as a lon/lat GeoJSON polygon (edges densified, as they bend
    once reprojected)."""
    w, s, e, n = bounds_of(transform, shape)
    t = np.linspace(0.0, 1.0, 9)
    xs = np.r_[w + (e - w) * t, np.full(9, e), e - (e - w) * t, np.full(9, w)]
    ys = np.r_[np.full(9, s), s + (n - s) * t, np.full(9, n), n - (n - s) * t]
    lon, lat = to_lonlat(crs, xs, ys)
    ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def bounds_footprint(bounds: Bounds) -> dict[str, Any]:
    """A lon/lat grid's outline as a GeoJSON polygon (its edges are straight in lon/lat)."""
    w, s, e, n = bounds
    return dict(mapping(box(w, s, e, n)))
