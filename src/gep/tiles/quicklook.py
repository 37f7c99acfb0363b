"""Quicklooks: a small PNG of a catalogue item that ships none (issue 5, "Quicklooks").

Two steps, kept apart so that the STAC API can advertise a quicklook without opening a file:

* :func:`find_source` looks at the item's *metadata only* (asset keys, roles, media types,
  ``eo:bands``, ``sar:*`` properties, hrefs) and says what a quicklook would be made of: SAR
  amplitude, an optical RGB composite, or one grey band. It never touches the filesystem, and
  :func:`may_want_quicklook` answers the same question from the stored JSON bytes without
  parsing them, so that a page of ordinary (remote) items is spliced as before.
* :func:`quicklook_png` reads the chosen rasters, decimated, and encodes the PNG.

What is rendered:

* **SAR** (the item has ``sar:*`` properties, or a complex ``raster:bands`` data type): one
  amplitude raster — a GEP SLC product's ``slc`` asset, a GRD/RTC GeoTIFF (co-polarised
  preferred), or the measurement TIFF inside a local Sentinel-1 SAFE (folder or zip). Shown as
  multilooked power in dB, 2–98 % stretch, greyscale; see :func:`_looks` for how rasters are
  read and :func:`_sar_grey`.
* **Optical**: red, green and blue from ``eo:bands`` common names (STAC 1.0 ``eo:bands`` or
  STAC 1.1 ``bands`` with ``eo:common_name``), from asset keys ``red``/``green``/``blue``, or
  from the band names of Sentinel-2 (B04/B03/B02) and Landsat (B4/B3/B2 for Landsat 8/9,
  B3/B2/B1 before). Each band decimated by averaging (no-data excluded), 2–98 % stretch per
  band, no-data transparent.
* Otherwise one single-band data raster, linear 2–98 % stretch (a DEM, an index, ...).

Only local assets are rendered: absolute paths and ``file://`` URLs (stored items carry no self
link, so a relative href has nothing to be relative to). Remote (http, s3, ...) assets are
refused with a clear message, and so are GDAL virtual paths (``/vsi...``) and any format but
GeoTIFF and JPEG 2000, told by the file's signature (a VRT could point GDAL anywhere).
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlparse

import numpy as np
import orjson
from numpy.typing import NDArray

from gep.core.errors import NotFound
from gep.io.hrefs import LOCAL_HREF_HINTS, local_path, local_str

#: part of every cache key: bump it when the rendering changes, so cached PNGs are remade
RENDERER_VERSION = "2"
#: looks per axis averaged (in power) into each output pixel of a SAR quicklook
SAR_LOOKS = 4
DEFAULT_MAX_SIZE = 512

_RASTER_TYPES = ("image/tiff", "image/jp2", "application/x-geotiff", "image/geotiff")
_RASTER_SUFFIXES = (".tif", ".tiff", ".jp2")
_NOT_SOURCE_ROLES = {"thumbnail", "overview", "metadata", "mask", "cloud", "snow-ice"}
_PREVIEW_ROLES = {"thumbnail", "overview"}
_PREVIEW_KEYS = {"thumbnail", "overview"}
#: asset keys that are never the picture itself even with a "data" role
_AUXILIARY_KEY = re.compile(
    r"(mask|truth|incidence|layover|shadow|angle|qa|bqa|scl|cloud|aot|wvp|aux|"
    r"local_incidence|number_of_looks|rtc_anf|static)",
    re.IGNORECASE,
)
_COMPLEX_TYPES = ("cint16", "cint32", "cfloat32", "cfloat64", "complex")

Kind = Literal["sar", "rgb", "grey"]


class NoQuicklookSource(NotFound):
    """The item has no local raster asset a quicklook can be made from (HTTP 404)."""

    kind = "no-quicklook-source"


class QuicklookFailed(NotFound):
    """A file the item names could not be read or rendered as a raster (HTTP 404: there is no
    quicklook of this item, whoever catalogued a file that is not a raster)."""

    kind = "quicklook-failed"


@dataclass(frozen=True, slots=True)
class QuicklookSource:
    """What a quicklook is made of: (asset key, 1-based band) per output channel."""

    kind: Kind
    layers: tuple[tuple[str, int], ...]
    #: the asset is a Sentinel-1 SAFE (folder or zip): its measurement TIFF is rendered
    safe: bool = False

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(key for key, _ in self.layers))


# ---------------------------------------------------------------------- hrefs


#: the one parser of local hrefs (gep.io.hrefs); reading them goes through the resolver given
#: to :func:`source_paths` (the gateway's, on the API)
_local = local_str

#: href → the local file it names, or an error (NotFound, the gateway's HrefRefused)
Resolve = Callable[[str], Path]


def _describe_assets(item: dict[str, Any]) -> str:
    assets = item.get("assets") or {}
    if not isinstance(assets, dict) or not assets:
        return "it has no assets"
    parts = []
    for key, asset in sorted(assets.items()):
        if not isinstance(asset, dict):
            continue
        href = str(asset.get("href") or "")
        where = "local" if _local(href) else (urlparse(href).scheme or "relative")
        parts.append(
            f"'{key}' ({asset.get('type') or 'no type'}, "
            f"roles {','.join(_roles(asset)) or 'none'}, {where})"
        )
    return "its assets are " + "; ".join(parts)


# ---------------------------------------------------------------------- choosing a source

#: an item needs no generated quicklook unless an href is local (as the store serialises it:
#: compact JSON, and :func:`local_path` takes only "/..." and lower-case "file:" hrefs) ...
_LOCAL_HREFS = LOCAL_HREF_HINTS
#: ... and a raster or a SAFE is named (by media type or file name; in lower case) ...
_SOURCE_HINTS = (b"image/tiff", b"image/jp2", b"geotiff", b".tif", b".jp2", b".zip", b".safe")
#: ... and no preview: an asset key or role (any string spelled so counts: see below)
_PREVIEW_HINTS = (b'"thumbnail"', b'"overview"')


def may_want_quicklook(content: bytes) -> bool:
    """Whether a stored item's JSON might need a generated quicklook, without parsing it.

    False for every item that :func:`wants_generated_thumbnail` refuses for lack of a local
    href or a raster, and for items that carry a thumbnail or overview of their own. The one
    approximation: an item in which some other string is exactly "thumbnail" or "overview"
    (any case) is taken as having a preview. The STAC API calls this for every item of every
    page: for remote items it is two byte scans (about 1 µs for 1.5 kB, ``bench/quicklook.py``).
    """
    if _LOCAL_HREFS[0] not in content and _LOCAL_HREFS[1] not in content:
        return False
    low = content.lower()
    return any(h in low for h in _SOURCE_HINTS) and not any(h in low for h in _PREVIEW_HINTS)


def _roles(asset: dict[str, Any]) -> list[str]:
    roles = asset.get("roles") or []
    return [str(r).lower() for r in roles] if isinstance(roles, list) else []


def _is_raster(asset: dict[str, Any]) -> bool:
    mtype = str(asset.get("type") or "").lower()
    if mtype:
        return mtype.startswith(_RASTER_TYPES)
    return urlparse(str(asset.get("href") or "")).path.lower().endswith(_RASTER_SUFFIXES)


def _is_safe(asset: dict[str, Any]) -> bool:
    path = urlparse(str(asset.get("href") or "")).path.rstrip("/").lower()
    return path.endswith((".safe", ".safe.zip")) or (
        path.endswith(".zip") and os.path.basename(path).startswith(("s1a_", "s1b_", "s1c_"))
    )


def _candidates(item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Assets that are local and may be the picture (not previews, masks or metadata)."""
    assets = item.get("assets") or {}
    if not isinstance(assets, dict):
        return {}
    return {
        str(key): asset
        for key, asset in assets.items()
        if isinstance(asset, dict)
        and str(key).lower() not in _PREVIEW_KEYS
        and not _NOT_SOURCE_ROLES.intersection(_roles(asset))
        and _local(str(asset.get("href") or "")) is not None
    }


def _band_list(asset: dict[str, Any]) -> list[dict[str, Any]]:
    for field in ("eo:bands", "bands", "raster:bands"):
        bands = asset.get(field)
        if isinstance(bands, list) and bands and all(isinstance(b, dict) for b in bands):
            return bands
    return []


def _common_names(asset: dict[str, Any]) -> list[str | None]:
    """The common name of each band of an asset (STAC 1.0 ``eo:bands``, STAC 1.1 ``bands``)."""
    for field in ("eo:bands", "bands"):
        bands = asset.get(field)
        if isinstance(bands, list) and bands and all(isinstance(b, dict) for b in bands):
            names = [b.get("common_name") or b.get("eo:common_name") for b in bands]
            return [str(n).lower() if n else None for n in names]
    return []


def _is_sar(item: dict[str, Any]) -> bool:
    props = item.get("properties") or {}
    if isinstance(props, dict) and any(str(k).startswith("sar:") for k in props):
        return True
    dtypes = (
        str(b.get("data_type") or b.get("raster:data_type") or "").lower()
        for asset in (item.get("assets") or {}).values()
        if isinstance(asset, dict)
        for b in _band_list(asset)
    )
    return any(d.startswith(_COMPLEX_TYPES) for d in dtypes)


def _sar_rank(key: str, asset: dict[str, Any]) -> tuple[int, int, str]:
    """Lower is better: co-polarised before cross-polarised, "data" before other roles."""
    text = f"{key} {asset.get('title') or ''}".lower()
    if re.search(r"(?<![a-z])(vv|hh)(?![a-z])", text):
        pol = 0
    elif re.search(r"(?<![a-z])(vh|hv)(?![a-z])", text):
        pol = 2
    else:
        pol = 1
    return (pol, 0 if "data" in _roles(asset) else 1, key)


#: band numbers of red, green, blue in the asset names of each mission family
_BAND_NUMBERS = {
    "sentinel-2": (4, 3, 2),
    "landsat-new": (4, 3, 2),  # Landsat 8/9 OLI
    "landsat-old": (3, 2, 1),  # Landsat 4/5 TM, 7 ETM+
}
_BAND_KEY = re.compile(r"(?:^|[_\-.])B0?(\d{1,2})(?:\.tiff?|\.jp2)?$", re.IGNORECASE)
_RGB = ("red", "green", "blue")


def _mission_family(item: dict[str, Any]) -> str | None:
    props = item.get("properties") or {}
    words: list[str] = [str(item.get("collection") or "")]
    for key in ("platform", "constellation", "instruments"):
        value = props.get(key) if isinstance(props, dict) else None
        words += [str(v) for v in value] if isinstance(value, list) else [str(value or "")]
    text = " ".join(words).lower()
    tokens = set(re.split(r"[^a-z0-9]+", text))
    if "sentinel-2" in text or "sentinel2" in text or "msi" in tokens:
        return "sentinel-2"
    match = re.search(r"landsat[-_ ]?(\d)", text)
    if match:
        return "landsat-new" if int(match.group(1)) >= 8 else "landsat-old"
    return "landsat-new" if "oli" in tokens else None


def _rgb(cands: dict[str, dict[str, Any]], item: dict[str, Any]) -> QuicklookSource | None:
    rasters = {k: a for k, a in cands.items() if _is_raster(a)}
    # one asset holding the three bands (a "visual" / true-colour asset first)
    for key, asset in sorted(rasters.items(), key=lambda kv: "visual" not in _roles(kv[1])):
        names = _common_names(asset)
        if all(c in names for c in _RGB):
            return QuicklookSource("rgb", tuple((key, names.index(c) + 1) for c in _RGB))
    found: dict[str, str] = {}
    # single-band assets named by their eo:bands common name, or by their key
    for key, asset in rasters.items():
        names = _common_names(asset)
        if len(names) == 1 and names[0] in _RGB:
            found.setdefault(names[0], key)
    for key in rasters:
        if key.lower() in _RGB:
            found.setdefault(key.lower(), key)
    # ... or by the mission's band numbers
    family = _mission_family(item)
    if family and len(found) < 3:
        numbers = dict(zip(_BAND_NUMBERS[family], _RGB, strict=True))
        for key in sorted(rasters):
            match = _BAND_KEY.search(key)
            if match and int(match.group(1)) in numbers and not _AUXILIARY_KEY.search(key):
                found.setdefault(numbers[int(match.group(1))], key)
    if all(c in found for c in _RGB):
        return QuicklookSource("rgb", tuple((found[c], 1) for c in _RGB))
    return None


def find_source(item: dict[str, Any]) -> QuicklookSource | None:
    """What a quicklook of ``item`` would be made of, from its metadata alone (no file I/O)."""
    cands = _candidates(item)
    if not cands:
        return None
    if _is_sar(item):
        rasters = [
            (k, a) for k, a in cands.items() if _is_raster(a) and not _AUXILIARY_KEY.search(k)
        ]
        if rasters:
            key, _ = min(rasters, key=lambda kv: _sar_rank(*kv))
            return QuicklookSource("sar", ((key, 1),))
        safes = sorted(k for k, a in cands.items() if _is_safe(a))
        return QuicklookSource("sar", ((safes[0], 1),), safe=True) if safes else None
    rgb = _rgb(cands, item)
    if rgb is not None:
        return rgb
    grey = sorted(
        (0 if "data" in _roles(a) else 1, k)
        for k, a in cands.items()
        if _is_raster(a) and not _AUXILIARY_KEY.search(k) and len(_band_list(a)) <= 1
    )
    return QuicklookSource("grey", ((grey[0][1], 1),)) if grey else None


def has_preview(item: dict[str, Any]) -> bool:
    """Whether the item already carries a thumbnail or overview asset."""
    assets = item.get("assets") or {}
    return isinstance(assets, dict) and any(
        isinstance(a, dict)
        and (str(k).lower() in _PREVIEW_KEYS or bool(_PREVIEW_ROLES.intersection(_roles(a))))
        for k, a in assets.items()
    )


def wants_generated_thumbnail(item: dict[str, Any]) -> bool:
    """No thumbnail/overview of its own, and a local raster to make one from (metadata only)."""
    return not has_preview(item) and find_source(item) is not None


def require_source(item: dict[str, Any]) -> QuicklookSource:
    source = find_source(item)
    if source is None:
        raise NoQuicklookSource(
            f"item '{item.get('id')}' has no local raster asset a quicklook can be made from "
            "(SAR amplitude, optical red/green/blue or a single-band GeoTIFF/JPEG 2000 whose "
            "href is an absolute local path or file:// URL; remote assets are not rendered); "
            + _describe_assets(item),
            field="assets",
        )
    return source


def unconfined(href: str) -> Path:
    """The local file a href names, unchecked: for the operator's own commands
    (``gep catalog quicklooks``) and tests; the API reads through the gateway instead."""
    path = local_path(href)
    if path is None:
        raise NotFound(f"{href!r} is not a local file", field="href")
    return path


def source_paths(
    item: dict[str, Any], source: QuicklookSource, resolve: Resolve = unconfined
) -> dict[str, Path]:
    """The local path of each asset of ``source``; NotFound when a file is missing, the
    resolver's refusal when it may not be read."""
    assets = item.get("assets") or {}
    out: dict[str, Path] = {}
    for key in source.assets:
        try:
            path = resolve(str(assets[key].get("href") or ""))
        except NotFound as exc:  # the resolver's words, on this asset
            raise NotFound(exc.message, field=f"assets.{key}.href") from None
        if not path.exists():
            raise NotFound(
                f"asset '{key}' of item '{item.get('id')}' names {assets[key].get('href')!r}, "
                "which does not exist on this server",
                field=f"assets.{key}.href",
            )
        out[key] = path
    return out


def fingerprint(
    item: dict[str, Any], max_size: int = DEFAULT_MAX_SIZE, resolve: Resolve = unconfined
) -> str:
    """A short hash that changes when the quicklook would: the source assets' metadata, their
    files (size and modification time), the size and the renderer version."""
    source = require_source(item)
    assets = item.get("assets") or {}
    stats = {}
    for key, path in source_paths(item, source, resolve).items():
        st = path.stat()
        stats[key] = [st.st_size, st.st_mtime_ns]
    doc = [
        RENDERER_VERSION,
        max_size,
        source.kind,
        [list(layer) for layer in source.layers],
        source.safe,
        {k: assets[k] for k in source.assets},
        stats,
    ]
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


# ---------------------------------------------------------------------- reading


_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_JP2_MAGIC = (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")


def _driver(path: str | Path) -> str:
    """GTiff or JP2OpenJPEG from the file's signature: GDAL is never left to guess the format
    (a VRT or another text format could make it read any file or URL)."""
    name = os.fspath(path)
    if name.startswith("/vsizip/"):
        return "GTiff"  # a measurement TIFF found in a SAFE zip by _measurement
    try:
        with open(name, "rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        raise QuicklookFailed(f"{name!r} cannot be read ({exc.strerror})") from exc
    if head.startswith(_TIFF_MAGIC):
        return "GTiff"
    if head.startswith(_JP2_MAGIC):
        return "JP2OpenJPEG"
    raise QuicklookFailed(f"{name!r} is neither a GeoTIFF nor a JPEG 2000 file")


@contextmanager
def _open(path: str | Path, **options: Any) -> Iterator[Any]:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    driver = _driver(path)
    with warnings.catch_warnings():
        # SLCs are in radar geometry, some previews lack georeferencing: fine for a picture
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, driver=driver, **options) as src:
            yield src


def fit(height: int, width: int, max_size: int) -> tuple[int, int]:
    """Output (height, width): the longest side at most ``max_size``, aspect kept, no upscaling."""
    if max(height, width) <= max_size:
        return height, width
    scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def stretch(values: NDArray[Any], valid: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """Linear 2–98 % stretch of the valid values to 0–255 (invalid pixels are 0)."""
    out = np.zeros(values.shape, dtype=np.uint8)
    if not valid.any():
        return out
    data = values.astype("float64")
    lo, hi = np.percentile(data[valid], [2, 98])
    if hi <= lo:
        out[valid] = 128
        return out
    scaled = np.clip((data[valid] - lo) * (255.0 / (hi - lo)), 0, 255)
    out[valid] = np.round(scaled).astype(np.uint8)
    return out


def _measurement(safe: Path) -> str:
    """The measurement TIFF of a SAFE (folder or zip) to render: co-polarised, first swath."""
    if safe.is_dir():
        names = [p.relative_to(safe).as_posix() for p in (safe / "measurement").glob("*.tif*")]
    elif zipfile.is_zipfile(safe):
        with zipfile.ZipFile(safe) as zf:
            names = [n for n in zf.namelist() if "/measurement/" in n and ".tif" in n.lower()]
    else:
        raise QuicklookFailed(f"{os.fspath(safe)!r} is neither a SAFE folder nor a zip")
    if not names:
        raise NotFound(
            f"the Sentinel-1 product {safe.name} has no measurement TIFF here (an annotation-"
            "only product); a quicklook needs the image data",
            field="assets",
        )

    def rank(name: str) -> tuple[int, str]:
        base = PurePosixPath(name).name.lower()
        return (0 if re.search(r"-(vv|hh)-", base) else 1, base)

    best = min(names, key=rank)
    return os.fspath(safe / best) if safe.is_dir() else f"/vsizip/{os.fspath(safe)}/{best}"


def _box_mean(
    values: NDArray[np.float64], valid: NDArray[np.bool_], ly: int, lx: int
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Mean of the valid values of each ly × lx box, and whether the box had any."""
    h, w = values.shape[0] // ly, values.shape[1] // lx
    v = np.where(valid, values, 0.0)[: h * ly, : w * lx].reshape(h, ly, w, lx)
    n = valid[: h * ly, : w * lx].reshape(h, ly, w, lx).sum(axis=(1, 3))
    total = v.sum(axis=(1, 3))
    mean = np.divide(total, n, out=np.zeros_like(total), where=n > 0)
    return mean, n > 0


def _looks(
    path: str | Path, band: int, size: tuple[int, int] | None, max_size: int, nodata: float | None
) -> tuple[NDArray[Any], NDArray[np.bool_], int, int]:
    """Samples of one band for an output of ``size`` (default: fitted to ``max_size``):
    (values, valid, ly, lx), with ly × lx samples per output pixel.

    Why not GDAL's average resampling: for complex data it averages the complex values, whose
    phase cancels to a dark, meaningless image (the overviews of complex rasters are built the
    same way, so they are ignored), and it cannot be told a no-data value the file does not
    declare (Landsat and Sentinel-2 L1 digital numbers use 0 as fill without saying so), which
    darkens the scene's edge. So the band is read with nearest-neighbour sampling at up to
    ``SAR_LOOKS`` × the output size per axis (GDAL reads only those pixels, or an overview) and
    the caller averages each box over its valid samples. No-data: ``nodata`` (from the asset),
    else the file's, else 0 for unsigned integers; non-finite values are never valid.
    """
    from rasterio.enums import Resampling

    def sample(src: Any) -> tuple[NDArray[Any], int, int]:
        height, width = size or fit(src.height, src.width, max_size)
        ly = max(1, min(SAR_LOOKS, src.height // height))
        lx = max(1, min(SAR_LOOKS, src.width // width))
        out = (height * ly, width * lx)
        return src.read(band, out_shape=out, resampling=Resampling.nearest), ly, lx

    with _open(path) as src:
        if not 1 <= band <= src.count:
            raise QuicklookFailed(f"{os.fspath(path)!r} has {src.count} band(s), not band {band}")
        dtype = src.dtypes[band - 1]
        is_complex = dtype.startswith("complex")
        if nodata is None:
            nodata = src.nodata
        if nodata is None and not is_complex and np.dtype(dtype).kind == "u":
            nodata = 0.0
        plain = is_complex and bool(src.overviews(band))
        if not plain:
            raw, ly, lx = sample(src)
    if plain:  # opened again, without its overviews
        with _open(path, OVERVIEW_LEVEL="NONE") as src:
            raw, ly, lx = sample(src)
    values = raw.astype(np.complex128 if is_complex else np.float64)
    valid = np.isfinite(values)
    if nodata is not None and not is_complex:
        valid &= values != nodata
    return values, valid, ly, lx


def _sar_grey(path: str | Path, band: int, max_size: int) -> tuple[NDArray[np.uint8], ...]:
    """SAR amplitude as multilooked dB: (grey, alpha).

    The power |z|² of each box of samples is averaged (16 looks: single-look speckle, about
    5.6 dB of noise, down about 4×) before taking dB; see :func:`_looks`. A raster less than
    SAR_LOOKS × the output is multilooked from all its pixels. Real rasters are taken as
    amplitude (power = value²); if they hold power instead, dB values are doubled, which the
    percentile stretch undoes. Rasters with negative values are taken as already in dB. Zero,
    non-finite and no-data pixels are transparent.
    """
    values, valid, ly, lx = _looks(path, band, None, max_size, None)
    if np.iscomplexobj(values):
        power = np.abs(values) ** 2
    elif valid.any() and values[valid].min() < 0:
        power = 10.0 ** (values / 10.0)  # already dB
    else:
        power = values**2
    valid &= power > 0
    mean, ok = _box_mean(power, valid, ly, lx)
    db = np.full(mean.shape, np.nan)
    db[ok] = 10.0 * np.log10(mean[ok])
    return stretch(db, ok), np.where(ok, 255, 0).astype(np.uint8)


def _asset_nodata(asset: dict[str, Any], band: int) -> float | None:
    bands = asset.get("raster:bands") or asset.get("bands")
    if isinstance(bands, list) and len(bands) >= band and isinstance(bands[band - 1], dict):
        value = bands[band - 1].get("nodata", bands[band - 1].get("raster:nodata"))
        if isinstance(value, int | float):
            return float(value)
    value = asset.get("nodata")
    return float(value) if isinstance(value, int | float) else None


def _optical(
    item: dict[str, Any], source: QuicklookSource, paths: dict[str, Path], max_size: int
) -> tuple[NDArray[np.uint8], ...]:
    """Each channel the mean of its valid samples per output pixel (see :func:`_looks`),
    stretched on its own; a pixel is transparent where any channel has no data."""
    assets = item.get("assets") or {}
    size: tuple[int, int] | None = None
    channels: list[NDArray[np.uint8]] = []
    valid_all: NDArray[np.bool_] | None = None
    for key, band in source.layers:
        values, valid, ly, lx = _looks(
            paths[key], band, size, max_size, _asset_nodata(assets[key], band)
        )
        mean, ok = _box_mean(values, valid, ly, lx)
        size = mean.shape
        channels.append(stretch(mean, ok))
        valid_all = ok if valid_all is None else valid_all & ok
    assert valid_all is not None
    for ch in channels:
        ch[~valid_all] = 0
    return (*channels, np.where(valid_all, 255, 0).astype(np.uint8))


def _encode_png(bands: tuple[NDArray[np.uint8], ...]) -> bytes:
    """Grey or RGB, plus alpha, as PNG (GDAL's PNG driver, through rasterio)."""
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    height, width = bands[0].shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a PNG has no georeferencing
        with MemoryFile() as mem:
            with mem.open(
                driver="PNG", width=width, height=height, count=len(bands), dtype="uint8"
            ) as dst:
                dst.write(np.stack(bands))
            return bytes(mem.read())


def quicklook_png(
    item: dict[str, Any], max_size: int = DEFAULT_MAX_SIZE, resolve: Resolve = unconfined
) -> bytes:
    """A PNG quicklook of a STAC item (longest side at most ``max_size``, aspect kept).

    Raises :class:`NoQuicklookSource` (404) when nothing renderable is there, NotFound when an
    asset file is missing, :class:`QuicklookFailed` when a raster cannot be read.
    """
    from rasterio._err import CPLE_BaseError  # GDAL's errors (not RasterioError subclasses)
    from rasterio.errors import RasterioError

    if max_size < 1:
        raise ValueError("max_size must be positive")
    source = require_source(item)
    paths = source_paths(item, source, resolve)
    try:
        if source.kind == "sar":
            key, band = source.layers[0]
            target: str | Path = _measurement(paths[key]) if source.safe else paths[key]
            bands = _sar_grey(target, band, max_size)
        else:
            bands = _optical(item, source, paths, max_size)
        return _encode_png(bands)
    except (RasterioError, CPLE_BaseError, OSError, zipfile.BadZipFile) as exc:
        # a corrupt or unexpected raster: say which, with GDAL's own words where rasterio
        # only says "see previous exception"
        reason = exc.__cause__ if isinstance(exc.__cause__, CPLE_BaseError) else exc
        raise QuicklookFailed(
            f"could not render a quicklook of item '{item.get('id')}' from asset(s) "
            f"{', '.join(source.assets)}: {reason}"
        ) from exc
