"""Geocoding radar-geometry rasters to a regular latitude/longitude grid.

Backward geocoding: every output node (with its DEM height) is taken to radar coordinates by
geo2rdr and the radar raster is interpolated there. Backward mapping leaves no holes and
handles any multilook factor; nodes that fall outside the radar image come back as NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from gep.algorithms.sar.geometry import Dem, lonlat_to_radar, radar_times, rdr2geo
from gep.core.sar import SwathGeometry

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class GeoGrid:
    """A north-up grid: (lat0, lon0) is the centre of pixel (0, 0); dlat < 0."""

    lat0: float
    lon0: float
    dlat: float
    dlon: float
    rows: int
    cols: int

    @classmethod
    def covering(cls, lat: F64, lon: F64, spacing_deg: float) -> GeoGrid:
        """The grid of ``spacing_deg`` covering the finite ``lat``/``lon`` points."""
        s, n = float(np.nanmin(lat)), float(np.nanmax(lat))
        w, e = float(np.nanmin(lon)), float(np.nanmax(lon))
        rows = max(int(np.ceil((n - s) / spacing_deg)) + 1, 2)
        cols = max(int(np.ceil((e - w) / spacing_deg)) + 1, 2)
        return cls(n, w, -spacing_deg, spacing_deg, rows, cols)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the pixel edges."""
        half_lat, half_lon = abs(self.dlat) / 2, self.dlon / 2
        south = self.lat0 + (self.rows - 1) * self.dlat
        east = self.lon0 + (self.cols - 1) * self.dlon
        return self.lon0 - half_lon, south - half_lat, east + half_lon, self.lat0 + half_lat

    @property
    def transform(self) -> tuple[float, float, float, float, float, float]:
        """The affine (a, b, c, d, e, f) of the pixel edges, as GeoTIFF writers take it: the
        same numbers as rasterio's ``from_origin(west, north, dlon, |dlat|)``."""
        w, _, _, n = self.bounds
        return (self.dlon, 0.0, w, 0.0, -abs(self.dlat), n)

    def nodes(self) -> tuple[F64, F64]:
        lat = self.lat0 + self.dlat * np.arange(self.rows)
        lon = self.lon0 + self.dlon * np.arange(self.cols)
        return np.meshgrid(lat, lon, indexing="ij")


def spacing_for_looks(geom: SwathGeometry, looks: tuple[int, int], incidence_deg: float) -> float:
    """Degrees of latitude matching the coarser side of a multilooked pixel on the ground."""
    ground_rg = looks[1] * geom.range_pixel_spacing / np.sin(np.radians(incidence_deg))
    ground_az = looks[0] * geom.azimuth_pixel_spacing
    return float(max(ground_rg, ground_az) / 111_320.0)


def radar_coordinates(grid: GeoGrid, geom: SwathGeometry, dem: Dem | float) -> tuple[F64, F64]:
    """Full-resolution (line, sample) of every grid node in ``geom``; NaN outside the image."""
    lat, lon = grid.nodes()
    line, sample = lonlat_to_radar(geom, lat, lon, dem)
    outside = (line < 0) | (line > geom.lines - 1) | (sample < 0) | (sample > geom.samples - 1)
    line[outside] = np.nan
    sample[outside] = np.nan
    return line, sample


def geocode(
    raster: NDArray[np.floating] | NDArray[np.complexfloating],
    line: F64,
    sample: F64,
    looks: tuple[int, int] = (1, 1),
    *,
    order: int = 1,
) -> NDArray[np.float32]:
    """Sample a (multilooked) radar raster at full-resolution radar coordinates.

    A multilooked pixel (a, b) is centred on full-resolution line a·la + (la − 1)/2; the
    coordinates are scaled accordingly. ``order`` 0 (nearest) is for classes and masks,
    1 (bilinear) for measurements. Complex rasters come back as their phase — geocode the
    wrapped phase through its complex value so that interpolation does not average across
    a 2π jump.
    """
    la, lr = looks
    a = (line - (la - 1) / 2) / la
    b = (sample - (lr - 1) / 2) / lr
    valid = np.isfinite(a) & np.isfinite(b)
    coords = [np.where(valid, a, 0.0), np.where(valid, b, 0.0)]
    data = np.asarray(raster)
    if np.iscomplexobj(data):
        re = ndimage.map_coordinates(
            data.real.astype("float64"), coords, order=order, mode="nearest"
        )
        im = ndimage.map_coordinates(
            data.imag.astype("float64"), coords, order=order, mode="nearest"
        )
        out = np.angle(re + 1j * im)
    else:
        arr = data.astype("float64")
        finite = np.isfinite(arr)
        out = ndimage.map_coordinates(
            np.where(finite, arr, 0.0), coords, order=order, mode="nearest"
        )
        if not finite.all():  # NaN wherever a NaN pixel contributes
            hole = ndimage.map_coordinates(
                (~finite).astype("float64"), coords, order=order, mode="nearest"
            )
            out[hole > 1e-6] = np.nan
    out[~valid] = np.nan
    return out.astype("float32")


def scene_grid(
    geometry: SwathGeometry,
    dem: Dem | float,
    looks: tuple[int, int],
    *,
    spacing: float | None = None,
) -> tuple[GeoGrid, F64, F64]:
    """The lat/lon grid covering a radar image, and each node's radar (line, sample).

    The extent comes from the image's edges taken to the ground (on the DEM); the spacing,
    unless given, matches a multilooked pixel.
    """
    lines, samples = geometry.lines, geometry.samples
    ramp_l, ramp_s = np.linspace(0, lines - 1, 9), np.linspace(0, samples - 1, 9)
    edge_l = np.r_[ramp_l, np.zeros(9), ramp_l, np.full(9, lines - 1)]
    edge_s = np.r_[np.zeros(9), ramp_s, np.full(9, samples - 1), ramp_s]
    lat, lon, _, _ = rdr2geo(
        radar_times(geometry, edge_l), geometry.slant_range(edge_s), geometry.orbit, dem
    )
    step = spacing or spacing_for_looks(geometry, looks, geometry.incidence_angle_mid)
    grid = GeoGrid.covering(lat, lon, step)
    line, sample = radar_coordinates(grid, geometry, dem)
    return grid, line, sample
