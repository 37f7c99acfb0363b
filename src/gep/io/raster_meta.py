"""What a STAC client needs to know about a raster file, read from the file: ``proj:*``,
``raster:bands`` (data type, no-data, unit, statistics) and ``file:size``.

Used for uploads (``gep.gateway.uploads.raster``) and for job results (``gep.jobs.asset_meta``),
so that both describe a GeoTIFF the same way. Statistics come from a decimated read (GDAL
serves it from the overviews of a COG), so describing a 10 000² result reads about a
million pixels, not a hundred million; a raster no larger than ``max_side`` is read whole and
its statistics are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: rasterio's data types as the raster extension names them
DATA_TYPES = {"complex64": "cfloat32", "complex128": "cfloat64", "complex_int16": "cint16"}
#: longest side read for statistics (larger rasters are read decimated, from overviews)
STATS_MAX_SIDE = 2048


@dataclass(frozen=True)
class BandSample:
    """Percentiles of one band's valid pixels, for choosing a colour range (None: no valid
    pixel)."""

    abs_p99: float | None
    p2: float | None
    p98: float | None


@dataclass
class RasterSummary:
    """A raster file's asset fields and its bands' percentiles."""

    #: ``proj:*``, ``raster:bands`` (with ``statistics``) and ``file:size``
    fields: dict[str, Any]
    bands: list[BandSample] = field(default_factory=list)
    #: whether the statistics come from every pixel (False: a decimated read)
    exact: bool = True


def json_number(value: float) -> float | int | str:
    """The raster extension writes NaN and infinities as strings (JSON has no such numbers)."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return int(value) if float(value).is_integer() else float(value)


def projection(src: Any) -> dict[str, Any]:
    """``proj:code`` and ``proj:epsg`` (or ``proj:wkt2`` for a CRS without an EPSG code),
    ``proj:shape``, ``proj:transform`` and ``proj:bbox`` of an open rasterio dataset.

    Projection v1.2.0, which has both ``proj:code`` and ``proj:epsg``: stackstac (0.5) reads a
    CRS only from ``proj:epsg``, which v2.0.0's schema forbids; odc-stac reads either."""
    crs = src.crs
    epsg = crs.to_epsg() if crs else None
    t = src.transform
    props: dict[str, Any] = {
        "proj:code": f"EPSG:{epsg}" if epsg else None,
        "proj:epsg": epsg,
        "proj:shape": [src.height, src.width],
        "proj:transform": [t.a, t.b, t.c, t.d, t.e, t.f],
        "proj:bbox": list(src.bounds),
    }
    if crs and not epsg:
        props["proj:wkt2"] = crs.to_wkt()
    return props


def band_fields(src: Any, index: int) -> dict[str, Any]:
    """One band's ``raster:bands`` entry (data type, no-data, unit, scale, offset), without
    statistics."""
    dtype = str(src.dtypes[index - 1])
    band: dict[str, Any] = {"data_type": DATA_TYPES.get(dtype, dtype)}
    nodata = src.nodatavals[index - 1]
    if nodata is not None:
        band["nodata"] = json_number(nodata)
    unit = src.units[index - 1]
    if unit:
        band["unit"] = unit
    scale, offset = src.scales[index - 1], src.offsets[index - 1]
    if scale not in (None, 1.0):
        band["scale"] = scale
    if offset not in (None, 0.0):
        band["offset"] = offset
    return band


def valid_pixels(data: NDArray[Any], nodata: float | None) -> NDArray[np.bool_]:
    """Where a band holds a value: finite and not the no-data value."""
    if np.iscomplexobj(data):
        valid = np.isfinite(data.real) & np.isfinite(data.imag)
    else:
        valid = np.isfinite(data)
    if nodata is not None and not math.isnan(nodata):
        valid &= data != nodata
    return valid  # type: ignore[no-any-return]


def band_statistics(data: NDArray[Any], nodata: float | None) -> tuple[dict[str, Any], BandSample]:
    """The raster extension's ``statistics`` of one band (minimum, maximum, mean, stddev,
    valid_percent) and its percentiles; complex bands are described by their modulus."""
    values = np.abs(data) if np.iscomplexobj(data) else data
    valid = valid_pixels(data, nodata)
    n = int(valid.sum())
    stats: dict[str, Any] = {"valid_percent": round(100.0 * n / max(valid.size, 1), 4)}
    if n == 0:
        return stats, BandSample(None, None, None)
    v = values[valid].astype("float64")
    stats.update(
        minimum=float(v.min()),
        maximum=float(v.max()),
        mean=float(v.mean()),
        stddev=float(v.std()),
    )
    p2, p98, ap99 = (
        float(np.percentile(v, 2)),
        float(np.percentile(v, 98)),
        float(np.percentile(np.abs(v), 99)),
    )
    return stats, BandSample(ap99, p2, p98)


def summarise(path: Path, *, max_side: int = STATS_MAX_SIDE) -> RasterSummary:
    """The asset fields of a raster file (``proj:*``, ``raster:bands`` with statistics,
    ``file:size``) and its bands' percentiles."""
    import rasterio
    from rasterio.enums import Resampling

    with rasterio.open(path) as src:
        fields = projection(src)
        factor = max(1.0, max(src.width, src.height) / max_side)
        shape = (max(1, round(src.height / factor)), max(1, round(src.width / factor)))
        bands, samples = [], []
        for index in range(1, src.count + 1):
            band = band_fields(src, index)
            data = src.read(index, out_shape=shape, resampling=Resampling.nearest)
            stats, sample = band_statistics(data, src.nodatavals[index - 1])
            band["statistics"] = stats
            bands.append(band)
            samples.append(sample)
    fields["raster:bands"] = bands
    fields["file:size"] = path.stat().st_size
    return RasterSummary(fields, samples, exact=factor == 1.0)
