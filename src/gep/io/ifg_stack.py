"""Stacks of geocoded interferograms (GeoTIFF/COG) for the time-series inversion.

One interferogram is an unwrapped-phase raster (radians, or metres of LOS displacement), an
optional coherence raster on the same grid, and its metadata: the two acquisition dates, the
wavelength, and for a DEM-error estimate the perpendicular baseline, slant range and incidence.
The metadata come from GeoTIFF tags (PyRate's names, which GAMMA stacks prepared by PyRate and
GEP's own ``dinsar`` results both carry: ``FIRST_DATE``, ``SECOND_DATE``, ``WAVELENGTH_METRES``,
``DATA_UNITS``, ``INCIDENCE_DEGREES``, ``BPERP_METRES``, ``SLANT_RANGE_METRES``), completed or
overridden by the caller (e.g. from a catalogue item's properties).

Reading is by blocks of rows (``read_rows``) so that a stack larger than memory streams through
the inversion; outputs are written the same way (``BlockWriter``) and turned into COGs at the
end.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.windows import Window

from gep.core.errors import InvalidInput
from gep.io.writers import COG_BLOCK, overview_resampling

F32 = NDArray[np.float32]

#: GeoTIFF tags of the interferogram metadata (PyRate's names)
TAG_FIRST, TAG_SECOND = "FIRST_DATE", "SECOND_DATE"
TAG_WAVELENGTH, TAG_UNITS = "WAVELENGTH_METRES", "DATA_UNITS"
TAG_INCIDENCE, TAG_BPERP, TAG_RANGE = "INCIDENCE_DEGREES", "BPERP_METRES", "SLANT_RANGE_METRES"


@dataclass(frozen=True)
class Grid:
    """A raster's grid: what two interferograms must share to be inverted together."""

    width: int
    height: int
    transform: tuple[float, ...]
    crs: str

    def same_as(self, other: Grid, tol: float = 1e-9) -> bool:
        return (
            (self.width, self.height) == (other.width, other.height)
            and self.crs == other.crs
            and np.allclose(self.transform, other.transform, rtol=0, atol=tol)
        )

    def describe(self) -> str:
        t = self.transform
        return f"{self.width} × {self.height} px, origin ({t[2]:.6f}, {t[5]:.6f}), step {t[0]:.6g}"

    def pixel_of(self, lon: float, lat: float) -> tuple[int, int]:
        """(row, col) of the pixel containing (lon, lat); may be outside the grid."""
        a, _, c, _, e, f = self.transform[:6]
        return int(np.floor((lat - f) / e)), int(np.floor((lon - c) / a))

    def centre_of(self, row: int, col: int) -> tuple[float, float]:
        a, _, c, _, e, f = self.transform[:6]
        return c + (col + 0.5) * a, f + (row + 0.5) * e

    def contains(self, row: int, col: int) -> bool:
        return 0 <= row < self.height and 0 <= col < self.width


@dataclass(frozen=True)
class Interferogram:
    """One interferogram of a stack: its files and metadata."""

    label: str
    path: Path
    grid: Grid
    nodata: float | None
    first_date: str | None
    second_date: str | None
    units: str  # "radians" or "metres"
    wavelength: float | None
    coherence_path: Path | None = None
    incidence: float | None = None
    bperp: float | None = None
    slant_range: float | None = None
    tags: dict[str, str] = field(default_factory=dict, repr=False)

    def with_metadata(self, **values: Any) -> Interferogram:
        """Fill in (or override) metadata, e.g. from the catalogue item."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def _float(tags: dict[str, str], key: str) -> float | None:
    try:
        return float(tags[key]) if key in tags else None
    except ValueError:
        return None


def _grid(src: Any) -> Grid:
    return Grid(
        src.width, src.height, tuple(src.transform)[:6], src.crs.to_string() if src.crs else ""
    )


def read_interferogram(
    path: str | os.PathLike[str], label: str, coherence: str | os.PathLike[str] | None = None
) -> Interferogram:
    """The header and tags of an unwrapped interferogram (and its coherence's grid check)."""
    p = Path(path)
    try:
        with rasterio.open(p) as src:
            grid, nodata, tags = _grid(src), src.nodata, dict(src.tags())
            if src.count < 1:
                raise InvalidInput(f"{label}: {p.name} has no band", field=label)
    except rasterio.errors.RasterioIOError as exc:
        raise InvalidInput(
            f"{label}: cannot read {p.name} as a raster ({exc})", field=label
        ) from exc
    units_tag = tags.get(TAG_UNITS, "").lower()
    units = "metres" if units_tag.startswith(("m", "metre", "meter")) else "radians"
    coh_path = Path(coherence) if coherence is not None else None
    if coh_path is not None:
        with rasterio.open(coh_path) as src:
            if not _grid(src).same_as(grid):
                raise InvalidInput(
                    f"{label}: the coherence raster's grid ({_grid(src).describe()}) differs from "
                    f"the interferogram's ({grid.describe()})",
                    field=label,
                )
    return Interferogram(
        label=label,
        path=p,
        grid=grid,
        nodata=nodata,
        first_date=tags.get(TAG_FIRST),
        second_date=tags.get(TAG_SECOND),
        units=units,
        wavelength=_float(tags, TAG_WAVELENGTH),
        coherence_path=coh_path,
        incidence=_float(tags, TAG_INCIDENCE),
        bperp=_float(tags, TAG_BPERP),
        slant_range=_float(tags, TAG_RANGE),
        tags=tags,
    )


def check_same_grid(ifgs: list[Interferogram], field_name: str) -> Grid:
    """The stack's common grid; refused, naming the first interferogram that differs."""
    grid = ifgs[0].grid
    for k, ifg in enumerate(ifgs[1:], start=1):
        if not ifg.grid.same_as(grid):
            raise InvalidInput(
                f"{field_name}[{k}] ({ifg.label}) is on another grid ({ifg.grid.describe()}) than "
                f"{field_name}[0] ({grid.describe()}); all interferograms must share one grid",
                field=f"{field_name}[{k}]",
            )
    return grid


def _read(path: Path, window: Window, nodata: float | None) -> F32:
    with rasterio.open(path) as src:
        a = src.read(1, window=window, boundless=False).astype(np.float32)
    if nodata is not None and not np.isnan(nodata):
        a[a == np.float32(nodata)] = np.nan
    return a


def read_rows(
    ifgs: list[Interferogram], rows: slice, *, coherence: bool = True
) -> tuple[F32, F32 | None]:
    """The (M, rows, cols) unwrapped values and coherence of a block of rows; no-data → NaN."""
    width = ifgs[0].grid.width
    window = Window(0, rows.start, width, rows.stop - rows.start)
    phase = np.stack([_read(i.path, window, i.nodata) for i in ifgs])
    coh = None
    if coherence and all(i.coherence_path is not None for i in ifgs):
        coh = np.stack([_read(i.coherence_path, window, i.nodata) for i in ifgs])  # type: ignore[arg-type]
    return phase, coh


def read_pixels(ifgs: list[Interferogram], row: int, col: int, size: int = 1) -> F32:
    """(M, size²) values of a ``size`` × ``size`` area whose top-left pixel is (row, col)."""
    window = Window(col, row, size, size)
    return np.stack([_read(i.path, window, i.nodata).ravel() for i in ifgs])


def mean_coherence(ifgs: list[Interferogram], rows: slice) -> F32 | None:
    if not all(i.coherence_path is not None for i in ifgs):
        return None
    width = ifgs[0].grid.width
    window = Window(0, rows.start, width, rows.stop - rows.start)
    acc = np.zeros((rows.stop - rows.start, width), np.float64)
    for i in ifgs:
        acc += np.nan_to_num(_read(i.coherence_path, window, i.nodata))  # type: ignore[arg-type]
    return (acc / len(ifgs)).astype(np.float32)


class BlockWriter:
    """A float32 raster written block by block (tiled GeoTIFF in a scratch folder), then
    copied to a COG with overviews: outputs never need the whole stack in memory."""

    def __init__(
        self,
        scratch: Path,
        name: str,
        grid: Grid,
        *,
        bands: int = 1,
        tags: dict[str, str] | None = None,
    ) -> None:
        self.path = scratch / f"{name}.tmp.tif"
        self.grid = grid
        self._dst = rasterio.open(
            self.path, "w", driver="GTiff", width=grid.width, height=grid.height, count=bands,
            dtype="float32", crs=grid.crs or None, transform=rasterio.Affine(*grid.transform),
            nodata=float("nan"), tiled=True, blockxsize=256, blockysize=256, compress="deflate",
            BIGTIFF="IF_SAFER",
        )  # fmt: skip
        if tags:
            self._dst.update_tags(**tags)

    def write(self, rows: slice, data: NDArray[Any], band: int = 1) -> None:
        window = Window(0, rows.start, self.grid.width, rows.stop - rows.start)
        self._dst.write(np.asarray(data, np.float32), band, window=window)

    def set_descriptions(self, names: list[str]) -> None:
        for k, name in enumerate(names, start=1):
            self._dst.set_band_description(k, name)

    def describe(self, description: str, unit: str) -> None:
        """Every band's description and unit (kept by the COG copy: QGIS and gdalinfo show
        them)."""
        self.set_descriptions([description] * self._dst.count)
        if unit:
            self._dst.units = (unit,) * self._dst.count

    def finish(self, target: Path) -> Path:
        """Close and copy to ``target`` as a COG (deflate, overviews)."""
        self._dst.close()
        from rasterio.shutil import copy as rio_copy

        rio_copy(
            self.path, target, driver="COG", compress="DEFLATE", PREDICTOR="YES",
            BLOCKSIZE=COG_BLOCK, OVERVIEW_RESAMPLING=overview_resampling("float32"),
        )  # fmt: skip
        self.path.unlink(missing_ok=True)
        return target

    def close(self) -> None:
        if not self._dst.closed:
            self._dst.close()
