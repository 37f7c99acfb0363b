"""Optical products: Landsat-8/9 and Sentinel-2 L1C metadata, band lookup, band reading.

* :func:`read_landsat_mtl` reads a Landsat ``*_MTL.txt`` (Collection 1 or 2, ODL text):
  per-band ``RADIANCE_MULT/ADD`` and ``REFLECTANCE_MULT/ADD``, the sun elevation, the
  Earth–Sun distance, the acquisition time and the band file names.
* :func:`read_s2_metadata` reads a Sentinel-2 L1C ``MTD_MSIL1C.xml`` (and the granule's
  ``MTD_TL.xml`` for the mean sun zenith): ``QUANTIFICATION_VALUE``, ``RADIO_ADD_OFFSET``
  (processing baseline 04.00 on; 0 before), the solar irradiance of each band and ``U``.
* Both give an :class:`OpticalMetadata`, whose :meth:`~OpticalMetadata.radiance` and
  :meth:`~OpticalMetadata.reflectance` turn digital numbers into TOA radiance
  (W m⁻² sr⁻¹ µm⁻¹) and reflectance, no-data (DN 0) and saturated pixels as NaN.
* :func:`band_asset` finds a band among a STAC item's assets by asset key, mission band name
  (``B5``, ``B05``, ``B8A``) or common name (``nir08``, ``swir16``...), and
  :func:`metadata_assets` the product's metadata files.
* :func:`read_window` reads a band over an area (lon/lat), on the band's own grid.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gep.core.errors import InvalidInput

__all__ = [
    "BandRadiometry",
    "OpticalMetadata",
    "Raster",
    "band_asset",
    "band_name",
    "metadata_assets",
    "read_landsat_mtl",
    "read_metadata",
    "read_s2_metadata",
    "read_window",
]

F32 = NDArray[np.float32]

#: mission band name -> (common name, centre wavelength µm)
LANDSAT_OLI = {
    "B1": ("coastal", 0.443), "B2": ("blue", 0.482), "B3": ("green", 0.561),
    "B4": ("red", 0.655), "B5": ("nir08", 0.865), "B6": ("swir16", 1.609),
    "B7": ("swir22", 2.201), "B8": ("pan", 0.590), "B9": ("cirrus", 1.373),
}  # fmt: skip
SENTINEL2_MSI = {
    "B01": ("coastal", 0.443), "B02": ("blue", 0.490), "B03": ("green", 0.560),
    "B04": ("red", 0.665), "B05": ("rededge071", 0.705), "B06": ("rededge075", 0.740),
    "B07": ("rededge078", 0.783), "B08": ("nir", 0.842), "B8A": ("nir08", 0.865),
    "B09": ("nir09", 0.945), "B10": ("cirrus", 1.375), "B11": ("swir16", 1.610),
    "B12": ("swir22", 2.190),
}  # fmt: skip
#: common names the NHI and the cloud test need, per mission family
ALIASES = {"nir": ("nir08", "nir"), "swir1": ("swir16",), "swir2": ("swir22",)}


@dataclass(frozen=True)
class BandRadiometry:
    """DN → TOA radiance / reflectance of one band.

    Landsat: L = M_L·DN + A_L, ρ = (M_ρ·DN + A_ρ) / sin(sun elevation). Sentinel-2:
    ρ = (DN + offset) / quantification, L = ρ · E_sun · cos θs · U / π.
    """

    radiance_mult: float | None = None
    radiance_add: float | None = None
    reflectance_mult: float | None = None
    reflectance_add: float | None = None
    quantification: float | None = None
    offset: float = 0.0
    solar_irradiance: float | None = None


@dataclass(frozen=True)
class OpticalMetadata:
    """What a product's metadata says about its radiometry and acquisition."""

    mission: str  # "landsat-8", "landsat-9", "sentinel-2a"...
    datetime: datetime
    sun_zenith: float  # degrees
    sun_distance_factor: float  # U = 1/d², d in astronomical units
    bands: dict[str, BandRadiometry]  # by mission band name (B5, B8A...)
    files: dict[str, str] = field(default_factory=dict)  # band -> file name, where given
    nodata: int = 0
    saturated: int | None = None
    #: (band, bit) of the product's cloud flag, where it has one (Landsat BQA / QA_PIXEL)
    cloud_flag: tuple[str, int] | None = None

    @property
    def family(self) -> str:
        return "sentinel-2" if self.mission.startswith("sentinel-2") else "landsat"

    def band(self, name: str) -> BandRadiometry:
        key = band_name(self.family, name)
        if key not in self.bands:
            raise InvalidInput(
                f"the {self.mission} metadata has no radiometry for band {name} "
                f"(it has: {', '.join(sorted(self.bands))})",
                field="inputs.products",
            )
        return self.bands[key]

    def _valid(self, dn: NDArray[Any]) -> NDArray[np.bool_]:
        ok = dn != self.nodata
        if self.saturated is not None:
            ok &= dn != self.saturated
        return np.asarray(ok)

    def reflectance(self, name: str, dn: NDArray[Any]) -> F32:
        """TOA reflectance (unitless; Landsat corrected for the sun elevation)."""
        b = self.band(name)
        d = dn.astype("float64")
        if b.quantification is not None:
            rho = (d + b.offset) / b.quantification
        elif b.reflectance_mult is not None and b.reflectance_add is not None:
            rho = (b.reflectance_mult * d + b.reflectance_add) / np.cos(np.radians(self.sun_zenith))
        else:
            raise InvalidInput(f"no reflectance rescaling for band {name}", field="inputs.products")
        out: F32 = np.where(self._valid(dn), rho, np.nan).astype("float32")
        return out

    def radiance(self, name: str, dn: NDArray[Any]) -> F32:
        """TOA spectral radiance, W m⁻² sr⁻¹ µm⁻¹."""
        b = self.band(name)
        if b.radiance_mult is not None and b.radiance_add is not None:
            rad = b.radiance_mult * dn.astype("float64") + b.radiance_add
            out: F32 = np.where(self._valid(dn), rad, np.nan).astype("float32")
            return out
        if b.solar_irradiance is None:
            raise InvalidInput(f"no radiance rescaling for band {name}", field="inputs.products")
        rho = self.reflectance(name, dn).astype("float64")
        mu = np.cos(np.radians(self.sun_zenith))
        out = (rho * b.solar_irradiance * mu * self.sun_distance_factor / np.pi).astype("float32")
        return out


def band_name(family: str, name: str) -> str:
    """The mission's band name for a band name, asset-style name or common name."""
    table = SENTINEL2_MSI if family == "sentinel-2" else LANDSAT_OLI
    n = name.strip()
    m = re.fullmatch(r"[Bb](\d{1,2}|8[Aa])", n)
    if m:
        digits = m.group(1).upper()
        if digits == "8A":
            return "B8A"
        return f"B{int(digits):02d}" if family == "sentinel-2" else f"B{int(digits)}"
    wanted = ALIASES.get(n.lower(), (n.lower(),))
    for w in wanted:
        for key, (common, _) in table.items():
            if common == w:
                return key
    return n


# ---------------------------------------------------------------------- Landsat MTL


def _parse_odl(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        if "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if key in ("GROUP", "END_GROUP"):
            continue
        values[key] = value.strip().strip('"')
    return values


def read_landsat_mtl(path: str | Path) -> OpticalMetadata:
    """Radiometry and acquisition of a Landsat-8/9 product from its ``*_MTL.txt``."""
    v = _parse_odl(Path(path).read_text(errors="replace"))
    spacecraft = v.get("SPACECRAFT_ID", "")
    if spacecraft not in ("LANDSAT_8", "LANDSAT_9"):
        raise InvalidInput(
            f"{Path(path).name}: SPACECRAFT_ID '{spacecraft}' is not Landsat 8 or 9 (OLI)",
            field="inputs.products",
        )
    bands: dict[str, BandRadiometry] = {}
    files: dict[str, str] = {}
    for b in LANDSAT_OLI:
        k = b[1:]
        if f"RADIANCE_MULT_BAND_{k}" in v:
            bands[b] = BandRadiometry(
                radiance_mult=float(v[f"RADIANCE_MULT_BAND_{k}"]),
                radiance_add=float(v[f"RADIANCE_ADD_BAND_{k}"]),
                reflectance_mult=float(v.get(f"REFLECTANCE_MULT_BAND_{k}", "nan")),
                reflectance_add=float(v.get(f"REFLECTANCE_ADD_BAND_{k}", "nan")),
            )
        if f"FILE_NAME_BAND_{k}" in v:
            files[b] = v[f"FILE_NAME_BAND_{k}"]
    qa = v.get("FILE_NAME_BAND_QUALITY") or v.get("FILE_NAME_QUALITY_L1_PIXEL")
    cloud_flag = None
    if qa:
        files["QA"] = qa
        # Collection 1 BQA: bit 4 cloud; Collection 2 QA_PIXEL: bit 3 cloud
        cloud_flag = ("QA", 3 if "QA_PIXEL" in qa else 4)
    when = f"{v.get('DATE_ACQUIRED', '1970-01-01')}T{v.get('SCENE_CENTER_TIME', '00:00:00Z')}"
    stamp = datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", when).replace("Z", "+00:00"))
    d = float(v.get("EARTH_SUN_DISTANCE", "1.0"))
    return OpticalMetadata(
        mission=spacecraft.lower().replace("_", "-"),
        datetime=stamp,
        sun_zenith=90.0 - float(v["SUN_ELEVATION"]),
        sun_distance_factor=1.0 / (d * d),
        bands=bands,
        files=files,
        nodata=0,
        saturated=65535,
        cloud_flag=cloud_flag,
    )


# ---------------------------------------------------------------------- Sentinel-2 L1C


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_s2_metadata(product: str | Path, tile: str | Path | None = None) -> OpticalMetadata:
    """Radiometry and acquisition of a Sentinel-2 L1C product from ``MTD_MSIL1C.xml`` (and
    ``MTD_TL.xml`` for the mean sun zenith; without it the product's own is not known and
    the tile file is required)."""
    root = ET.parse(product).getroot()
    by: dict[str, list[ET.Element]] = {}
    for el in root.iter():
        by.setdefault(_local(el.tag), []).append(el)

    def text(tag: str) -> str | None:
        els = by.get(tag)
        return els[0].text if els and els[0].text is not None else None

    quant = float(text("QUANTIFICATION_VALUE") or 10000)
    u = float(text("U") or 1.0)
    names = {
        el.get("bandId"): _s2_band(el.get("physicalBand") or "")
        for el in by.get("Spectral_Information", [])
    }
    irradiance = {
        names.get(el.get("bandId"), ""): float(el.text or "nan")
        for el in by.get("SOLAR_IRRADIANCE", [])
    }
    offsets = {
        names.get(el.get("band_id"), ""): float(el.text or 0)
        for el in by.get("RADIO_ADD_OFFSET", [])
    }
    bands = {
        b: BandRadiometry(
            quantification=quant, offset=offsets.get(b, 0.0), solar_irradiance=irradiance.get(b)
        )
        for b in SENTINEL2_MSI
        if b in irradiance
    }
    start = text("PRODUCT_START_TIME") or text("DATATAKE_SENSING_START") or "1970-01-01T00:00:00Z"
    stamp = datetime.fromisoformat(start.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    spacecraft = (text("SPACECRAFT_NAME") or "Sentinel-2").lower()
    if tile is None:
        raise InvalidInput(
            "the Sentinel-2 granule metadata (MTD_TL.xml) is needed for the sun zenith angle",
            field="inputs.products",
        )
    troot = ET.parse(tile).getroot()
    zenith = None
    for el in troot.iter():
        if _local(el.tag) == "Mean_Sun_Angle":
            for sub in el:
                if _local(sub.tag) == "ZENITH_ANGLE" and sub.text:
                    zenith = float(sub.text)
    if zenith is None:
        raise InvalidInput(f"{Path(tile).name} has no Mean_Sun_Angle", field="inputs.products")
    return OpticalMetadata(
        mission=spacecraft,
        datetime=stamp,
        sun_zenith=zenith,
        sun_distance_factor=u,
        bands=bands,
        nodata=0,
        saturated=65535,
    )


def _s2_band(physical: str) -> str:
    return band_name("sentinel-2", physical) if physical else ""


# ---------------------------------------------------------------------- STAC items


def _href_name(asset: dict[str, Any]) -> str:
    return Path(str(asset.get("href", "")).split("?")[0]).name


def metadata_assets(item: dict[str, Any]) -> dict[str, str]:
    """Asset keys of the product's metadata files: ``mtl`` (Landsat), ``product`` and
    ``tile`` (Sentinel-2 ``MTD_MSIL1C.xml`` / ``MTD_TL.xml``), found by file name."""
    out: dict[str, str] = {}
    for key, asset in (item.get("assets") or {}).items():
        name = _href_name(asset).upper()
        if name.endswith("_MTL.TXT") or name == "MTL.TXT":
            out["mtl"] = key
        elif name.startswith("MTD_MSIL1C") or name.startswith("MTD_MSIL2A"):
            out["product"] = key
        elif name.startswith("MTD_TL"):
            out["tile"] = key
    return out


def item_family(item: dict[str, Any]) -> str | None:
    """``landsat`` or ``sentinel-2`` from the item's platform or its metadata files."""
    platform = str((item.get("properties") or {}).get("platform", "")).lower()
    if "sentinel-2" in platform:
        return "sentinel-2"
    if "landsat" in platform:
        return "landsat"
    meta = metadata_assets(item)
    if "mtl" in meta:
        return "landsat"
    if "product" in meta:
        return "sentinel-2"
    return None


def band_asset(item: dict[str, Any], band: str, *, field: str = "inputs.band") -> str:
    """The asset key holding ``band``: the key itself, a mission band name (``B5``, ``B05``,
    ``B8A``: matched to keys and file names) or a common name (``eo:bands`` of the assets, or
    the mission's table). Refused with the bands the item has."""
    assets = item.get("assets") or {}
    if band in assets:
        return band
    family = item_family(item) or "landsat"
    wanted = band_name(family, band)
    table = SENTINEL2_MSI if family == "sentinel-2" else LANDSAT_OLI
    common = {table[wanted][0]} if wanted in table else set()
    for key, asset in assets.items():
        if band_name(family, key) == wanted:
            return key
        stem = _href_name(asset).rsplit(".", 1)[0].upper()
        if stem.endswith(f"_{wanted}") or stem == wanted:
            return key
        for b in list(asset.get("eo:bands") or []) + list(asset.get("bands") or []):
            names = {str(b.get("name", "")).upper(), str(b.get("common_name", "")).lower(),
                     str(b.get("eo:common_name", "")).lower()}  # fmt: skip
            if wanted.upper() in names or band.lower() in names or common & names:
                return key
    raster = [
        k for k, a in assets.items() if _href_name(a).lower().endswith((".tif", ".tiff", ".jp2"))
    ]
    raise InvalidInput(
        f"{field}: item '{item.get('id')}' has no band '{band}' "
        f"(its raster assets: {', '.join(sorted(raster)) or 'none'})",
        field=field,
    )


# ---------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Raster:
    """A band's pixels over an area, with the grid they sit on."""

    data: NDArray[Any]
    transform: tuple[float, float, float, float, float, float]  # rasterio order a..f
    crs: str  # WKT or "EPSG:n"
    epsg: int | None
    nodata: float | None = None  # as the file declares it

    @property
    def resolution(self) -> tuple[float, float]:
        a, b, _, d, e, _ = self.transform
        return float(np.hypot(a, d)), float(np.hypot(b, e))


def raster_grid(path: str | Path) -> tuple[str, int | None, tuple[float, ...], tuple[int, int]]:
    """(crs, epsg, transform, (rows, cols)) of a raster, without reading its pixels."""
    import rasterio

    with rasterio.open(path) as src:
        if src.crs is None:
            raise InvalidInput(
                f"{Path(path).name} has no georeferencing (no CRS); give a georeferenced "
                "GeoTIFF or JPEG 2000",
                field="inputs.products",
            )
        return src.crs.to_string(), src.crs.to_epsg(), tuple(src.transform)[:6], src.shape


def read_window(
    path: str | Path,
    bounds: tuple[float, float, float, float] | None = None,
    *,
    band: int = 1,
) -> Raster:
    """The band's pixels inside ``bounds`` (west, south, east, north in lon/lat; None: all),
    on the file's own grid (whole pixels, clipped to the raster)."""
    import rasterio
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window, from_bounds

    with rasterio.open(path) as src:
        if src.crs is None:
            raise InvalidInput(
                f"{Path(path).name} has no georeferencing (no CRS)", field="inputs.products"
            )
        if band > src.count:
            raise InvalidInput(
                f"{Path(path).name} has {src.count} band(s); band {band} was asked",
                field="inputs.band",
            )
        if bounds is None:
            window = Window(0, 0, src.width, src.height)
        else:
            w, s, e, n = transform_bounds("EPSG:4326", src.crs, *bounds, densify_pts=21)
            win = from_bounds(w, s, e, n, transform=src.transform)
            c0 = max(int(np.floor(win.col_off)), 0)
            r0 = max(int(np.floor(win.row_off)), 0)
            c1 = min(int(np.ceil(win.col_off + win.width)), src.width)
            r1 = min(int(np.ceil(win.row_off + win.height)), src.height)
            if c1 <= c0 or r1 <= r0:
                raise InvalidInput(f"inputs.aoi lies outside {Path(path).name}", field="inputs.aoi")
            window = Window(c0, r0, c1 - c0, r1 - r0)
        data = src.read(band, window=window)
        t = src.window_transform(window)
        crs = src.crs.to_string()
        return Raster(data, (t.a, t.b, t.c, t.d, t.e, t.f), crs, src.crs.to_epsg(), src.nodata)


def read_metadata(paths: dict[str, Path]) -> OpticalMetadata:
    """Metadata from the files :func:`metadata_assets` found (``mtl``, or ``product`` and
    ``tile``)."""
    if "mtl" in paths:
        return read_landsat_mtl(paths["mtl"])
    if "product" in paths:
        return read_s2_metadata(paths["product"], paths.get("tile"))
    raise InvalidInput(
        "the product's metadata (a Landsat *_MTL.txt, or Sentinel-2 MTD_MSIL1C.xml and "
        "MTD_TL.xml) must be among its assets to convert digital numbers to radiance",
        field="inputs.products",
    )


def _crs(text: str) -> Any:
    """A CRS object, so that two spellings of one CRS (WKT variants) compare equal."""
    from rasterio.crs import CRS

    return CRS.from_user_input(text)


def _grid_check(
    grids: list[tuple[str, int | None, tuple[float, ...], tuple[int, int]]], labels: list[str]
) -> None:
    crs0, _, t0, _ = grids[0]
    for k, (crs, _, t, _) in enumerate(grids):
        if abs(t[1]) > 1e-9 or abs(t[3]) > 1e-9:
            raise InvalidInput(
                f"{labels[k]} is on a rotated grid; only north-up grids are supported",
                field=labels[k],
            )
        if k == 0:
            continue
        if crs != crs0 and _crs(crs) != _crs(crs0):
            raise InvalidInput(
                f"{labels[k]} is in {crs}, {labels[0]} in {crs0}: the images must share one "
                "CRS (reproject them onto one grid first)",
                field=labels[k],
            )
        if not (np.isclose(t[0], t0[0], rtol=1e-6) and np.isclose(t[4], t0[4], rtol=1e-6)):
            raise InvalidInput(
                f"{labels[k]} has {abs(t[0]):g} × {abs(t[4]):g} pixels, {labels[0]} "
                f"{abs(t0[0]):g} × {abs(t0[4]):g}: the images must share one resolution "
                "(resample them onto one grid first)",
                field=labels[k],
            )
        col = (t[2] - t0[2]) / t0[0]
        row = (t[5] - t0[5]) / t0[4]
        if abs(col - round(col)) > 1e-3 or abs(row - round(row)) > 1e-3:
            raise InvalidInput(
                f"{labels[k]}'s grid is offset from {labels[0]}'s by a fraction of a pixel "
                f"({col:.3f}, {row:.3f} pixels): co-register the images first",
                field=labels[k],
            )


def read_aligned(
    paths: list[Path],
    labels: list[str],
    bounds: tuple[float, float, float, float] | None = None,
) -> list[Raster]:
    """The same area of several single-grid rasters, cut on one pixel grid.

    The rasters must share their CRS, resolution and pixel grid (origins whole pixels apart),
    else they are refused naming the one that differs (``labels`` are the inputs' paths in
    messages, e.g. ``inputs.products[1]``). The area is the rasters' common extent, within
    ``bounds`` (lon/lat) when given.
    """
    import rasterio
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window

    grids = [raster_grid(p) for p in paths]
    _grid_check(grids, labels)
    crs0, epsg0, t0, _ = grids[0]
    a, e = t0[0], t0[4]
    # every raster's extent in the first one's pixel coordinates (col0, row0, col1, row1)
    boxes = []
    for _, _, t, (rows, cols) in grids:
        c = round((t[2] - t0[2]) / a)
        r = round((t[5] - t0[5]) / e)
        boxes.append((c, r, c + cols, r + rows))
    c0 = max(b[0] for b in boxes)
    r0 = max(b[1] for b in boxes)
    c1 = min(b[2] for b in boxes)
    r1 = min(b[3] for b in boxes)
    if c1 <= c0 or r1 <= r0:
        raise InvalidInput(f"{', '.join(labels)} do not overlap", field=labels[-1])
    if bounds is not None:
        w, s, east, n = transform_bounds("EPSG:4326", crs0, *bounds, densify_pts=21)
        xs = sorted(((w - t0[2]) / a, (east - t0[2]) / a))
        ys = sorted(((n - t0[5]) / e, (s - t0[5]) / e))
        c0, c1 = max(c0, int(np.floor(xs[0]))), min(c1, int(np.ceil(xs[1])))
        r0, r1 = max(r0, int(np.floor(ys[0]))), min(r1, int(np.ceil(ys[1])))
        if c1 <= c0 or r1 <= r0:
            raise InvalidInput(
                "inputs.aoi lies outside the area the images cover together", field="inputs.aoi"
            )
    out = []
    transform = (a, 0.0, t0[2] + c0 * a, 0.0, e, t0[5] + r0 * e)
    for path, box in zip(paths, boxes, strict=True):
        with rasterio.open(path) as src:
            window = Window(c0 - box[0], r0 - box[1], c1 - c0, r1 - r0)
            out.append(Raster(src.read(1, window=window), transform, crs0, epsg0, src.nodata))
    return out


def read_on_grid(
    path: Path, crs: str, transform: tuple[float, ...], shape: tuple[int, int], *, label: str
) -> NDArray[Any]:
    """A band resampled onto another band's grid (same CRS; averaged when finer, nearest
    when coarser): Sentinel-2's 10 m visible bands on its 20 m SWIR grid."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.windows import from_bounds

    with rasterio.open(path) as src:
        if src.crs is None or src.crs.to_string() != crs:
            raise InvalidInput(f"{label} is not in {crs}", field=label)
        a, _, c, _, e, f = transform[:6]
        rows, cols = shape
        win = from_bounds(c, f + e * rows, c + a * cols, f, transform=src.transform)
        finer = abs(src.transform.a) < abs(a)
        data: NDArray[Any] = src.read(
            1,
            window=win,
            out_shape=shape,
            boundless=True,
            fill_value=0,
            resampling=Resampling.average if finer else Resampling.nearest,
        )
        return data
