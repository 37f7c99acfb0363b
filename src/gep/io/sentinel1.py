"""Read Sentinel-1 IW SLC SAFE products (directories or zips) into GEP's SAR value types.

Why this module exists: the simulator and the DInSAR chain need the radar geometry of a swath
(timing, range sampling, orbit, bursts, calibration) as plain values, not as an ESA XML tree.
xarray-sentinel does most of the reading; this module adds what it lacks or gets in the way:

* xarray-sentinel's swath group (``IW1/VV``) opens the measurement TIFF, so it fails on the
  annotation-only products that metadata work (and GEP's tests) use. The swath header
  (``productInformation``, ``imageInformation``, ``swathTiming``) is therefore read here with
  ElementTree; the metadata groups (orbit, gcp, calibration, noise...) come from
  xarray-sentinel, which opens them without the TIFF.
* xarray-sentinel lists every file the manifest names, present or not; this module only
  offers swaths whose annotation file exists, and says which exist when asked for another.
* Zips are read in place through fsspec's zip filesystem (no extraction); a zip at an
  http(s) URL too, over range requests.
* Restituted/precise orbit files replace the annotation orbit when given
  (:mod:`gep.io.orbit_files`).

Everything raises :class:`gep.core.errors.InvalidInput` for bad input, naming what is there.
"""

from __future__ import annotations

import functools
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree

import fsspec
import numpy as np
import xarray as xr
import xarray_sentinel
from numpy.typing import NDArray
from scipy.interpolate import RegularGridInterpolator
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient
from xarray_sentinel import esa_safe

from gep.core.errors import InvalidInput
from gep.core.sar import SPEED_OF_LIGHT, StateVectors, SwathGeometry
from gep.io.orbit_files import DEFAULT_MARGIN_S, select_orbit

PathLike = str | os.PathLike[str]
CalibrationKind = Literal["sigma0", "beta0", "gamma0"]

#: nominal Sentinel-1 orbit period (12-day repeat, 175 orbits), s; used to tell which track a
#: burst belongs to when a product crosses the ascending node
ORBIT_PERIOD_S = 12 * 86400 / 175
_LUT_NAMES: dict[str, str] = {"sigma0": "sigmaNought", "beta0": "betaNought", "gamma0": "gamma"}
_GML = "{http://www.opengis.net/gml}"


@dataclass(frozen=True)
class Burst:
    """One TOPS burst of a swath: where it sits in the swath image, when, and where on Earth.

    Lines are swath lines (burst ``i`` starts at ``i * lines_per_burst``); the valid window
    is inclusive and excludes the zero-filled edges that every IW burst has, which is what
    mosaicking and interferogram formation must crop to.
    """

    index: int
    burst_id: str  # "117_249402_IW1" (track_relativeBurstId_swath, IPF >= 3.40), else ""
    relative_burst_id: int | None
    absolute_burst_id: int | None
    azimuth_time: np.datetime64  # zero-Doppler time of the burst's first line, UTC
    azimuth_time_last: np.datetime64  # zero-Doppler time of its last line, UTC
    azimuth_anx_time: float  # s since the ascending node
    sensing_start: np.datetime64  # acquisition time of its first line (annotation sensingTime)
    sensing_stop: np.datetime64  # sensing_start + (lines - 1) * azimuth_time_interval
    first_line: int
    lines: int
    samples: int
    first_valid_line: int  # swath line, inclusive
    last_valid_line: int  # swath line, inclusive
    first_valid_sample: int  # inclusive
    last_valid_sample: int  # inclusive
    footprint: Polygon  # lon/lat of the valid window, from the geolocation grid


@dataclass(frozen=True)
class _Product:
    """An opened SAFE: the filesystem it lives on and what its manifest says."""

    name: str
    source: str  # the resolved path the product was opened from
    mtime_ns: int  # of the manifest (or zip), to invalidate caches when the product changes
    fs: fsspec.AbstractFileSystem
    manifest: str  # path of manifest.safe inside fs
    attrs: dict[str, Any]  # xarray-sentinel's manifest attributes
    annotations: dict[tuple[str, str], str]  # (swath, pol) -> annotation path, present only
    calibrations: dict[tuple[str, str], str]
    noises: dict[tuple[str, str], str]
    footprint: Polygon | None

    @property
    def mission(self) -> str:
        return f"S1{self.attrs['number']}"

    def available(self) -> str:
        return ", ".join(f"{s}/{p}" for s, p in sorted(self.annotations)) or "none"


def _is_url(product: PathLike) -> bool:
    return isinstance(product, str) and product.startswith(("http://", "https://"))


def _open_url(url: str) -> tuple[fsspec.AbstractFileSystem, str, str]:
    """(zip filesystem, manifest path, name) of a SAFE zip at an http(s) URL: read in place
    with range requests (1 MiB read-ahead), so listing and annotations move a few MB."""
    try:
        fs = fsspec.filesystem(
            "zip",
            fo=url,
            target_protocol="http",
            target_options={"block_size": 1 << 20, "cache_type": "readahead"},
        )
        names = fs.zip.namelist()
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InvalidInput(f"cannot read the SAFE zip {url}: {exc}", field="product") from exc
    inner = [n for n in names if n.rsplit("/", 1)[-1] == "manifest.safe" and n.count("/") <= 1]
    stem = url.rsplit("/", 1)[-1].split("?", 1)[0]
    if len(inner) != 1:
        raise InvalidInput(
            f"{stem} is not a SAFE zip: expected one manifest.safe at its top, found {len(inner)}",
            field="product",
        )
    name = inner[0].rsplit("/", 1)[0] if "/" in inner[0] else stem.removesuffix(".zip")
    return fs, inner[0], name


def _open_product(product: PathLike) -> _Product:
    if _is_url(product):  # no modification time: cached by URL
        return _product(*_open_url(str(product)), str(product), 0)
    path = Path(os.fspath(product)).expanduser()
    if not path.exists():
        raise InvalidInput(f"Sentinel-1 product {path} does not exist", field="product")
    fs: fsspec.AbstractFileSystem
    if path.is_dir():
        manifest = path / "manifest.safe"
        if not manifest.is_file():
            raise InvalidInput(
                f"{path} is not a SAFE product: it has no manifest.safe", field="product"
            )
        fs, manifest_path, name = fsspec.filesystem("file"), str(manifest), path.name
    elif path.name == "manifest.safe":
        fs, manifest_path, name = fsspec.filesystem("file"), str(path), path.parent.name
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            inner = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == "manifest.safe"]
        inner = [n for n in inner if n.count("/") <= 1]
        if len(inner) != 1:
            raise InvalidInput(
                f"{path.name} is not a SAFE zip: expected one manifest.safe at its top, "
                f"found {len(inner)}",
                field="product",
            )
        fs = fsspec.filesystem("zip", fo=str(path))
        manifest_path = inner[0]
        name = inner[0].rsplit("/", 1)[0] if "/" in inner[0] else path.stem
    else:
        raise InvalidInput(
            f"{path} is not a SAFE product (a .SAFE directory, its manifest.safe or a SAFE .zip)",
            field="product",
        )
    mtime_ns = (path / "manifest.safe" if path.is_dir() else path).stat().st_mtime_ns
    return _product(fs, manifest_path, name, str(path.resolve()), mtime_ns)


def _product(
    fs: fsspec.AbstractFileSystem, manifest_path: str, name: str, source: str, mtime_ns: int
) -> _Product:
    """Index the manifest of a product opened on ``fs`` (local, zip, or zip over http)."""
    try:
        with fs.open(manifest_path, "rb") as f:
            attrs, files = esa_safe.parse_manifest_sentinel1(f)
            f.seek(0)
            root = ElementTree.parse(f).getroot()
    except (ValueError, ElementTree.ParseError) as exc:
        raise InvalidInput(
            f"{name}: manifest.safe is not a supported Sentinel-1 manifest ({exc})",
            field="product",
        ) from exc

    base = os.path.dirname(manifest_path)
    index: dict[str, dict[tuple[str, str], str]] = {
        "s1Level1ProductSchema": {},
        "s1Level1CalibrationSchema": {},
        "s1Level1NoiseSchema": {},
    }
    for href, (rep_id, _prefix, swath, pol, _date) in files.items():
        if rep_id not in index:
            continue
        full = os.path.join(base, os.path.normpath(href)) if base else os.path.normpath(href)
        if fs.exists(full):
            index[rep_id][(swath.upper(), pol.upper())] = full

    footprint = None
    coords = root.findtext(f".//{_GML}coordinates")
    if coords:
        latlon = [tuple(float(v) for v in c.split(",")) for c in coords.split()]
        footprint = Polygon([(lon, lat) for lat, lon in latlon])
    return _Product(
        name=name,
        source=source,
        mtime_ns=mtime_ns,
        fs=fs,
        manifest=manifest_path,
        attrs=dict(attrs),
        annotations=index["s1Level1ProductSchema"],
        calibrations=index["s1Level1CalibrationSchema"],
        noises=index["s1Level1NoiseSchema"],
        footprint=footprint,
    )


def _key(prod: _Product, swath: str, polarisation: str) -> tuple[str, str]:
    key = (swath.upper(), polarisation.upper())
    if key not in prod.annotations:
        raise InvalidInput(
            f"{prod.name} has no annotation for {key[0]}/{key[1]}; available: {prod.available()}",
            field="swath" if all(k[0] != key[0] for k in prod.annotations) else "polarisation",
        )
    return key


def _group(prod: _Product, swath: str, polarisation: str, metadata: str) -> xr.Dataset:
    """One xarray-sentinel metadata group; a deep copy, so callers may modify it freely."""
    return _cached_group(prod.source, prod.mtime_ns, f"{swath}/{polarisation}/{metadata}").copy(
        deep=True
    )


@functools.lru_cache(maxsize=32)
def _cached_group(source: str, mtime_ns: int, group: str) -> xr.Dataset:
    """xarray-sentinel's schema-driven parse takes seconds per group on a full annotation,
    and open_swath, bursts and geolocation_grid all want the same grid: parse once per
    (product, modification time, group)."""
    prod = _open_product(source)
    return xarray_sentinel.open_sentinel1_dataset(prod.manifest, fs=prod.fs, group=group)


def _annotation(prod: _Product, key: tuple[str, str]) -> ElementTree.Element:
    with prod.fs.open(prod.annotations[key], "rb") as f:
        return ElementTree.parse(f).getroot()


def _text(root: ElementTree.Element, path: str) -> str:
    value = root.findtext(path)
    if value is None:
        raise InvalidInput(f"annotation lacks {path}", field="product")
    return value.strip()


def _float(root: ElementTree.Element, path: str) -> float:
    return float(_text(root, path))


def _int(root: ElementTree.Element, path: str) -> int:
    return int(_text(root, path))


def _time(value: str) -> np.datetime64:
    return np.datetime64(value.strip().rstrip("Z"), "ns")


def _ints(text: str | None) -> NDArray[np.int64]:
    return np.array((text or "").split(), dtype=np.int64)


def list_swaths(product: PathLike) -> list[tuple[str, str]]:
    """(swath, polarisation) pairs whose annotation is present, sorted."""
    return sorted(_open_product(product).annotations)


def product_footprint(product: PathLike) -> Polygon | None:
    """The manifest's footprint of the whole product (all swaths), lon/lat."""
    return _open_product(product).footprint


@dataclass(frozen=True)
class ProductSummary:
    """What a catalogue record needs from a SAFE product: the manifest, and an orbit when an
    annotation is present (a product may be listed from its manifest alone)."""

    name: str
    attrs: dict[str, Any]
    footprint: Polygon | None
    swaths: list[tuple[str, str]]
    orbit: StateVectors | None


def product_summary(product: PathLike) -> ProductSummary:
    """Manifest attributes, footprint, present annotations and the annotation orbit."""
    prod = _open_product(product)
    orbit = _annotation_orbit(prod, sorted(prod.annotations)[0]) if prod.annotations else None
    return ProductSummary(
        name=prod.name.removesuffix(".SAFE"),
        attrs=dict(prod.attrs),
        footprint=prod.footprint,
        swaths=sorted(prod.annotations),
        orbit=orbit,
    )


def geolocation_grid(product: PathLike, swath: str = "IW1", polarisation: str = "VV") -> xr.Dataset:
    """The annotation's geolocation grid (xarray-sentinel's ``gcp`` group).

    Dimensions ``azimuth_time`` × ``slant_range_time`` with ``line``/``pixel`` coordinates
    and ``latitude``, ``longitude``, ``height``, ``incidenceAngle``, ``elevationAngle``.
    In IW SLCs the grid rows sit on burst starts, so its azimuth times, not its lines, are
    the right axis to interpolate along.
    """
    prod = _open_product(product)
    swath, polarisation = _key(prod, swath, polarisation)
    return _group(prod, swath, polarisation, "gcp")


def _annotation_orbit(prod: _Product, key: tuple[str, str]) -> StateVectors:
    ds = _group(prod, *key, "orbit")
    return StateVectors(
        time=np.asarray(ds["azimuth_time"].values, dtype="datetime64[ns]"),
        position=np.ascontiguousarray(ds["position"].transpose("azimuth_time", "axis").values),
        velocity=np.ascontiguousarray(ds["velocity"].transpose("azimuth_time", "axis").values),
        source="annotation",
    )


def annotation_orbit(
    product: PathLike, swath: str = "IW1", polarisation: str = "VV"
) -> StateVectors:
    """The orbit state vectors the annotation carries (``source="annotation"``)."""
    prod = _open_product(product)
    return _annotation_orbit(prod, _key(prod, swath, polarisation))


def _mid_swath_incidence(gcp: xr.Dataset, lines: int, samples: int) -> float:
    """Ellipsoid incidence at the swath's centre pixel, bilinear in the grid's line/pixel."""
    inc = np.asarray(gcp["incidenceAngle"].values, dtype=np.float64)
    pixel = np.asarray(gcp["pixel"].values, dtype=np.float64)
    line = np.asarray(gcp["line"].values, dtype=np.float64)
    per_row = np.array([np.interp((samples - 1) / 2.0, pixel, row) for row in inc])
    return float(np.interp((lines - 1) / 2.0, line, per_row))


class _GridInterpolator:
    """Bilinear lat/lon on the geolocation grid in (azimuth time, slant range time).

    Same maths as xarray-sentinel's ``get_footprint_linestring`` (linear, extrapolating past
    the last grid row), without xarray's per-call overhead, which made a 9-burst footprint
    take seconds.
    """

    def __init__(self, gcp: xr.Dataset) -> None:
        times = np.asarray(gcp["azimuth_time"].values, dtype="datetime64[ns]")
        self.epoch = times[0]
        axes = ((times - self.epoch) / np.timedelta64(1, "s"), gcp["slant_range_time"].values)
        opts: dict[str, Any] = {"method": "linear", "bounds_error": False, "fill_value": None}
        self.lat = RegularGridInterpolator(axes, gcp["latitude"].values, **opts)
        self.lon = RegularGridInterpolator(axes, gcp["longitude"].values, **opts)

    def footprint(
        self, times: tuple[np.datetime64, np.datetime64], ranges: tuple[float, float]
    ) -> Polygon:
        """Counter-clockwise lon/lat polygon of the (time × range) rectangle's corners."""
        t = [(ti - self.epoch) / np.timedelta64(1, "s") for ti in times]
        corners = np.array(
            [(t[0], ranges[0]), (t[1], ranges[0]), (t[1], ranges[1]), (t[0], ranges[1])]
        )
        return orient(Polygon(zip(self.lon(corners), self.lat(corners), strict=True)), sign=1.0)


def _burst_track(relative_orbit: int, azimuth_anx_time: float) -> int:
    """Track of a burst: the product's, or the next one's when the burst is past the ANX."""
    extra = int(azimuth_anx_time // ORBIT_PERIOD_S)
    return (relative_orbit - 1 + extra) % 175 + 1


def open_swath(
    product: PathLike,
    swath: str = "IW1",
    polarisation: str = "VV",
    orbit_files: Sequence[PathLike] = (),
) -> SwathGeometry:
    """Geometry of one swath; the orbit comes from ``orbit_files`` when any are given.

    Given orbit files must cover the swath (with a margin): silently falling back to the
    annotation orbit would hide a wrong download, so an uncovered span raises.
    """
    prod = _open_product(product)
    key = _key(prod, swath, polarisation)
    ann = _annotation(prod, key)
    gcp = _group(prod, *key, "gcp")

    lines = _int(ann, "imageAnnotation/imageInformation/numberOfLines")
    samples = _int(ann, "imageAnnotation/imageInformation/numberOfSamples")
    ati = _float(ann, "imageAnnotation/imageInformation/azimuthTimeInterval")
    first_line_time = _time(_text(ann, "imageAnnotation/imageInformation/productFirstLineUtcTime"))
    last_line_time = _time(_text(ann, "imageAnnotation/imageInformation/productLastLineUtcTime"))
    lines_per_burst = int(ann.findtext("swathTiming/linesPerBurst") or 0)
    burst_times = tuple(_time(b.findtext("azimuthTime") or "") for b in ann.iter("burst"))
    if burst_times:
        last_line_time = max(
            last_line_time,
            burst_times[-1] + np.timedelta64(round((lines_per_burst - 1) * ati * 1e9), "ns"),
        )
        first_line_time = min(first_line_time, burst_times[0])
    else:
        lines_per_burst = 0

    if orbit_files:
        try:
            orbit = select_orbit(orbit_files, first_line_time, last_line_time, mission=prod.mission)
        except InvalidInput as exc:
            raise InvalidInput(
                f"{prod.name} {key[0]}/{key[1]} ({first_line_time}..{last_line_time} UTC): "
                f"{exc.message}",
                field="orbit_files",
            ) from exc
    else:
        orbit = _annotation_orbit(prod, key)
        if not orbit.covers(first_line_time, last_line_time, margin_s=DEFAULT_MARGIN_S / 3):
            raise InvalidInput(
                f"{prod.name}: the annotation orbit does not cover the swath", field="product"
            )

    radar_frequency = _float(ann, "generalAnnotation/productInformation/radarFrequency")
    heading = _float(ann, "generalAnnotation/productInformation/platformHeading") % 360.0
    return SwathGeometry(
        mission=prod.mission,
        swath=key[0],
        polarisation=key[1],
        pass_direction=str(prod.attrs["pass"]).lower(),
        relative_orbit=int(prod.attrs["relative_orbit_number"]),
        wavelength=SPEED_OF_LIGHT / radar_frequency,
        first_line_time=first_line_time,
        azimuth_time_interval=ati,
        slant_range_time=_float(ann, "imageAnnotation/imageInformation/slantRangeTime"),
        range_sampling_rate=_float(ann, "generalAnnotation/productInformation/rangeSamplingRate"),
        lines=lines,
        samples=samples,
        range_pixel_spacing=_float(ann, "imageAnnotation/imageInformation/rangePixelSpacing"),
        azimuth_pixel_spacing=_float(ann, "imageAnnotation/imageInformation/azimuthPixelSpacing"),
        incidence_angle_mid=_mid_swath_incidence(gcp, lines, samples),
        heading=heading,
        orbit=orbit,
        lines_per_burst=lines_per_burst,
        burst_start_times=burst_times,
        extra={
            "product": prod.name,
            "absolute_orbit": int(prod.attrs["orbit_number"]),
            "ascending_node_time": _time(str(prod.attrs["ascending_node_time"])),
            "last_line_time": last_line_time,
            "radar_frequency": radar_frequency,
            "azimuth_steering_rate": float(
                ann.findtext("generalAnnotation/productInformation/azimuthSteeringRate") or 0.0
            ),
            "incidence_angle_mid_annotation": _float(
                ann, "imageAnnotation/imageInformation/incidenceAngleMidSwath"
            ),
            "number_of_bursts": len(burst_times),
        },
    )


def bursts(product: PathLike, swath: str = "IW1", polarisation: str = "VV") -> list[Burst]:
    """The swath's bursts with their timing, valid window, burst id and footprint."""
    prod = _open_product(product)
    key = _key(prod, swath, polarisation)
    ann = _annotation(prod, key)
    grid = _GridInterpolator(_group(prod, *key, "gcp"))
    lines_per_burst = _int(ann, "swathTiming/linesPerBurst")
    samples = _int(ann, "imageAnnotation/imageInformation/numberOfSamples")
    ati = _float(ann, "imageAnnotation/imageInformation/azimuthTimeInterval")
    srt0 = _float(ann, "imageAnnotation/imageInformation/slantRangeTime")
    rsr = _float(ann, "generalAnnotation/productInformation/rangeSamplingRate")
    relative_orbit = int(prod.attrs["relative_orbit_number"])
    out: list[Burst] = []
    for i, b in enumerate(ann.iter("burst")):
        t0 = _time(b.findtext("azimuthTime") or "")
        first_valid = _ints(b.findtext("firstValidSample"))
        last_valid = _ints(b.findtext("lastValidSample"))
        valid = np.flatnonzero(first_valid >= 0)
        if valid.size == 0:
            raise InvalidInput(f"{prod.name} {key}: burst {i} has no valid line", field="product")
        fvs, lvs = int(first_valid[valid].max()), int(last_valid[valid].min())
        fvl, lvl = int(valid[0]), int(valid[-1])
        anx = float(b.findtext("azimuthAnxTime") or "nan")
        bid = b.find("burstId")
        rel_id = int(bid.text) if bid is not None and bid.text else None
        abs_attr = bid.get("absolute") if bid is not None else None
        burst_id = f"{_burst_track(relative_orbit, anx)}_{rel_id}_{key[0]}" if rel_id else ""

        def at(line: int, t0: np.datetime64 = t0) -> np.datetime64:
            return t0 + np.timedelta64(round(line * ati * 1e9), "ns")

        footprint = grid.footprint((at(fvl), at(lvl)), (srt0 + fvs / rsr, srt0 + lvs / rsr))
        sensing_start = _time(b.findtext("sensingTime") or "")
        first_line = i * lines_per_burst
        out.append(
            Burst(
                index=i,
                burst_id=burst_id,
                relative_burst_id=rel_id,
                absolute_burst_id=int(abs_attr) if abs_attr else None,
                azimuth_time=t0,
                azimuth_time_last=at(lines_per_burst - 1),
                azimuth_anx_time=anx,
                sensing_start=sensing_start,
                sensing_stop=at(lines_per_burst - 1, sensing_start),
                first_line=first_line,
                lines=lines_per_burst,
                samples=samples,
                first_valid_line=first_line + fvl,
                last_valid_line=first_line + lvl,
                first_valid_sample=fvs,
                last_valid_sample=lvs,
                footprint=footprint,
            )
        )
    return out


def calibration(product: PathLike, swath: str = "IW1", polarisation: str = "VV") -> xr.Dataset:
    """Calibration LUTs (``sigmaNought``, ``betaNought``, ``gamma``, ``dn``), line × pixel.

    They are kept as LUTs, not applied, because a burst or crop must be calibrated where it
    lies in the swath (see :func:`calibrate`).
    """
    prod = _open_product(product)
    key = _key(prod, swath, polarisation)
    if key not in prod.calibrations:
        have = ", ".join(f"{s}/{p}" for s, p in sorted(prod.calibrations)) or "none"
        raise InvalidInput(
            f"{prod.name} has no calibration file for {key[0]}/{key[1]}; present for: {have}",
            field="polarisation",
        )
    return _group(prod, *key, "calibration")


def noise_range(product: PathLike, swath: str = "IW1", polarisation: str = "VV") -> xr.Dataset:
    """Range noise LUT (``noiseRangeLut``) on a line×pixel grid, for thermal denoising."""
    prod = _open_product(product)
    key = _key(prod, swath, polarisation)
    if key not in prod.noises:
        have = ", ".join(f"{s}/{p}" for s, p in sorted(prod.noises)) or "none"
        raise InvalidInput(
            f"{prod.name} has no noise file for {key[0]}/{key[1]}; present for: {have}",
            field="polarisation",
        )
    return _group(prod, *key, "noise_range")


def calibrate(
    digital_numbers: NDArray[np.complexfloating[Any, Any]] | NDArray[np.floating[Any]],
    calibration_ds: xr.Dataset,
    kind: CalibrationKind = "sigma0",
    *,
    first_line: int = 0,
    first_sample: int = 0,
) -> NDArray[np.float32]:
    """Calibrated intensity |DN|² / LUT² (linear, not dB) of a block of the swath.

    ``first_line``/``first_sample`` place the block in the swath, because the LUT varies
    along both axes and a burst or crop must be calibrated where it lies. The LUT is
    interpolated bilinearly (xarray-sentinel's ``calibrate_intensity``).
    """
    if kind not in _LUT_NAMES:
        raise InvalidInput(
            f"calibration kind {kind!r}; use one of {', '.join(_LUT_NAMES)}", field="kind"
        )
    dn = np.asarray(digital_numbers)
    if dn.ndim != 2:
        raise InvalidInput(f"digital numbers must be 2-D, got shape {dn.shape}", field="data")
    lut = calibration_ds[_LUT_NAMES[kind]]
    line = np.arange(first_line, first_line + dn.shape[0])
    pixel = np.arange(first_sample, first_sample + dn.shape[1])
    lut_line, lut_pixel = lut["line"].values, lut["pixel"].values
    if line[0] < lut_line.min() or line[-1] > lut_line.max():
        raise InvalidInput(
            f"lines {line[0]}..{line[-1]} fall outside the calibration LUT "
            f"({lut_line.min()}..{lut_line.max()})",
            field="first_line",
        )
    if pixel[0] < lut_pixel.min() or pixel[-1] > lut_pixel.max():
        raise InvalidInput(
            f"samples {pixel[0]}..{pixel[-1]} fall outside the calibration LUT "
            f"({lut_pixel.min()}..{lut_pixel.max()})",
            field="first_sample",
        )
    da = xr.DataArray(dn, dims=("line", "pixel"), coords={"line": line, "pixel": pixel})
    intensity = xarray_sentinel.calibrate_intensity(da, lut)
    return np.asarray(intensity.values, dtype=np.float32)
