"""Quicklooks: a small PNG of a catalogue item that ships none (issue 5, "Quicklooks").

Two steps, kept apart so that the STAC API can advertise a quicklook without opening a file:

* :func:`find_source` looks at the item's *metadata only* (asset keys, roles, media types,
  ``eo:bands``, ``sar:*`` properties, hrefs) and says what a quicklook would be made of: SAR
  amplitude, an optical RGB composite, or one grey band. It never touches the filesystem.
* :func:`quicklook_png` reads the chosen rasters, decimated, and encodes the PNG.

What is rendered:

* **SAR** (the item has ``sar:*`` properties, or a complex ``raster:bands`` data type): one
  amplitude raster — a GEP SLC product's ``slc`` asset, a GRD/RTC GeoTIFF (co-polarised
  preferred), or the measurement TIFF inside a local Sentinel-1 SAFE (folder or zip). Shown as
  multilooked power in dB, 2–98 % stretch, greyscale; see :func:`_sar_grey` for how it is read.
* **Optical**: red, green and blue from ``eo:bands`` common names (STAC 1.0 ``eo:bands`` or
  STAC 1.1 ``bands`` with ``eo:common_name``), from asset keys ``red``/``green``/``blue``, or
  from the band names of Sentinel-2 (B04/B03/B02) and Landsat (B4/B3/B2 for Landsat 8/9,
  B3/B2/B1 before). Read with rio-tiler's ``preview`` (average resampling), 2–98 % stretch per
  band, no-data transparent.
* Otherwise one single-band data raster, linear 2–98 % stretch (a DEM, an index, ...).

Only local assets are rendered: absolute paths, ``file://`` URLs, or hrefs relative to a local
self link. Remote (http, s3, ...) assets are refused with a clear message, and so are GDAL
virtual paths (``/vsi...``) and any format but GeoTIFF and JPEG 2000 (a VRT could point GDAL
anywhere).
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import unquote, urljoin, urlparse
from urllib.request import url2pathname

import numpy as np
import orjson
from numpy.typing import NDArray

from gep.core.errors import GepError, NotFound

#: part of every cache key: bump it when the rendering changes, so cached PNGs are remade
RENDERER_VERSION = "1"
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


class QuicklookFailed(GepError):
    """A raster the item names could not be read or rendered (the server's data is at fault)."""

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


def _self_href(item: dict[str, Any]) -> str | None:
    for link in item.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return None


def _file_url_path(href: str) -> Path | None:
    parsed = urlparse(href)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        return None
    return Path(url2pathname(parsed.path))


def local_path(href: str, item: dict[str, Any] | None = None) -> Path | None:
    """The local file an asset href names, or None when it is remote or unresolvable.

    Pure: nothing is checked on disk. Relative hrefs are resolved against the item's self link
    when that link is local (a file read from disk); stored catalogue items carry none.
    """
    if not href or "\x00" in href:
        return None
    parsed = urlparse(href)
    path: Path | None
    if parsed.scheme == "file":
        path = _file_url_path(href)
    elif parsed.scheme == "" and href.startswith("/"):
        path = Path(unquote(parsed.path))
    elif parsed.scheme == "" and not parsed.netloc:
        base = _self_href(item or {})
        if base is None:
            return None
        if urlparse(base).scheme == "file":
            path = _file_url_path(urljoin(base, href))
        elif base.startswith("/"):
            path = Path(os.path.normpath(Path(base).parent / unquote(parsed.path)))
        else:
            return None
    else:
        return None
    if path is None or not path.is_absolute():
        return None
    if str(PurePosixPath(path)).startswith("/vsi"):
        return None  # a GDAL virtual file system path (network, archives): never from an href
    return path


def _describe_assets(item: dict[str, Any]) -> str:
    assets = item.get("assets") or {}
    if not isinstance(assets, dict) or not assets:
        return "it has no assets"
    parts = []
    for key, asset in sorted(assets.items()):
        if not isinstance(asset, dict):
            continue
        href = str(asset.get("href") or "")
        where = "local" if local_path(href, item) else (urlparse(href).scheme or "relative")
        parts.append(
            f"'{key}' ({asset.get('type') or 'no type'}, "
            f"roles {','.join(asset.get('roles') or []) or 'none'}, {where})"
        )
    return "its assets are " + "; ".join(parts)


# ---------------------------------------------------------------------- choosing a source


def _roles(asset: dict[str, Any]) -> set[str]:
    roles = asset.get("roles") or []
    return {str(r).lower() for r in roles} if isinstance(roles, list) else set()


def _is_raster(asset: dict[str, Any]) -> bool:
    mtype = str(asset.get("type") or "").lower()
    if mtype:
        return mtype.startswith(_RASTER_TYPES)
    path = urlparse(str(asset.get("href") or "")).path.lower()
    return path.endswith(_RASTER_SUFFIXES)


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
    out: dict[str, dict[str, Any]] = {}
    for key, asset in assets.items():
        if not isinstance(asset, dict) or key.lower() in _PREVIEW_KEYS:
            continue
        if _roles(asset) & _NOT_SOURCE_ROLES:
            continue
        if local_path(str(asset.get("href") or ""), item) is None:
            continue
        out[str(key)] = asset
    return out


def _band_list(asset: dict[str, Any]) -> list[dict[str, Any]]:
    for field in ("eo:bands", "bands", "raster:bands"):
        bands = asset.get(field)
        if isinstance(bands, list) and bands and all(isinstance(b, dict) for b in bands):
            return bands
    return []


def _common_names(asset: dict[str, Any]) -> list[str | None]:
    """The common name of each band of an asset (STAC 1.0 ``eo:bands``, STAC 1.1 ``bands``)."""
    names: list[str | None] = []
    for field in ("eo:bands", "bands"):
        bands = asset.get(field)
        if isinstance(bands, list) and bands and all(isinstance(b, dict) for b in bands):
            for b in bands:
                name = b.get("common_name") or b.get("eo:common_name")
                names.append(str(name).lower() if name else None)
            return names
    return names


def _is_sar(item: dict[str, Any]) -> bool:
    props = item.get("properties") or {}
    if isinstance(props, dict) and any(str(k).startswith("sar:") for k in props):
        return True
    for asset in (item.get("assets") or {}).values():
        if not isinstance(asset, dict):
            continue
        for b in _band_list(asset):
            dtype = str(b.get("data_type") or b.get("raster:data_type") or "").lower()
            if dtype.startswith(_COMPLEX_TYPES):
                return True
    return False


def _sar_rank(key: str, asset: dict[str, Any]) -> tuple[int, int, str]:
    """Lower is better: co-polarised before cross-polarised, "data" before other roles."""
    text = f"{key} {asset.get('title') or ''}".lower()
    if re.search(r"\b(vv|hh)\b|_(vv|hh)\b", text):
        pol = 0
    elif re.search(r"\b(vh|hv)\b|_(vh|hv)\b", text):
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
    if "oli" in tokens:
        return "landsat-new"
    return None


def _rgb(cands: dict[str, dict[str, Any]], item: dict[str, Any]) -> QuicklookSource | None:
    rasters = {k: a for k, a in cands.items() if _is_raster(a)}
    # one asset holding the three bands (a "visual" / true-colour asset)
    for key, asset in sorted(rasters.items(), key=lambda kv: "visual" not in _roles(kv[1])):
        names = _common_names(asset)
        if all(c in names for c in ("red", "green", "blue")):
            return QuicklookSource(
                "rgb", tuple((key, names.index(c) + 1) for c in ("red", "green", "blue"))
            )
    found: dict[str, str] = {}
    # single-band assets named by their eo:bands common name
    for key, asset in rasters.items():
        names = _common_names(asset)
        if len(names) == 1 and names[0] in ("red", "green", "blue"):
            found.setdefault(names[0], key)
    # ... or by their key
    for key in rasters:
        if key.lower() in ("red", "green", "blue"):
            found.setdefault(key.lower(), key)
    # ... or by the mission's band numbers
    family = _mission_family(item)
    if family and len(found) < 3:
        numbers = dict(zip(_BAND_NUMBERS[family], ("red", "green", "blue"), strict=True))
        for key in sorted(rasters):
            match = _BAND_KEY.search(key)
            if match and int(match.group(1)) in numbers and not _AUXILIARY_KEY.search(key):
                found.setdefault(numbers[int(match.group(1))], key)
    if all(c in found for c in ("red", "green", "blue")):
        return QuicklookSource("rgb", tuple((found[c], 1) for c in ("red", "green", "blue")))
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
        if safes:
            return QuicklookSource("sar", ((safes[0], 1),), safe=True)
        return None
    rgb = _rgb(cands, item)
    if rgb is not None:
        return rgb
    grey = sorted(
        (
            (0 if "data" in _roles(a) else 1, k)
            for k, a in cands.items()
            if _is_raster(a) and not _AUXILIARY_KEY.search(k) and len(_band_list(a)) <= 1
        )
    )
    if grey:
        return QuicklookSource("grey", ((grey[0][1], 1),))
    return None


def has_preview(item: dict[str, Any]) -> bool:
    """Whether the item already carries a thumbnail or overview asset."""
    assets = item.get("assets") or {}
    if not isinstance(assets, dict):
        return False
    return any(
        isinstance(a, dict) and (str(k).lower() in _PREVIEW_KEYS or _roles(a) & _PREVIEW_ROLES)
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
            "href is a local path or file:// URL; remote assets are not rendered); "
            + _describe_assets(item),
            field="assets",
        )
    return source


def source_paths(item: dict[str, Any], source: QuicklookSource) -> dict[str, Path]:
    """The local path of each asset of ``source``; NotFound when a file is missing."""
    assets = item.get("assets") or {}
    out: dict[str, Path] = {}
    for key in source.assets:
        path = local_path(str(assets[key].get("href") or ""), item)
        if path is None or not path.exists():
            raise NotFound(
                f"asset '{key}' of item '{item.get('id')}' names {assets[key].get('href')!r}, "
                "which does not exist on this server",
                field=f"assets.{key}.href",
            )
        out[key] = path
    return out


def fingerprint(item: dict[str, Any], max_size: int = DEFAULT_MAX_SIZE) -> str:
    """A short hash that changes when the quicklook would: the source assets' metadata, their
    files (size and modification time), the size and the renderer version."""
    source = require_source(item)
    paths = source_paths(item, source)
    assets = item.get("assets") or {}
    stats = {k: [p.stat().st_size, p.stat().st_mtime_ns] for k, p in paths.items()}
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
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    driver = _driver(path)
    with warnings.catch_warnings():
        # SLCs are in radar geometry, some previews lack georeferencing: fine for a picture
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        try:
            src = rasterio.open(path, driver=driver, **options)
        except RasterioIOError as exc:
            raise QuicklookFailed(f"{os.fspath(path)!r} is not a readable raster ({exc})") from exc
        with src:
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
    scaled = np.clip((data - lo) * (255.0 / (hi - lo)), 0, 255)
    out[valid] = np.round(scaled[valid]).astype(np.uint8)
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
    h, w = values.shape[0] // ly, values.shape[1] // lx
    v = np.where(valid, values, 0.0)[: h * ly, : w * lx].reshape(h, ly, w, lx)
    n = valid[: h * ly, : w * lx].reshape(h, ly, w, lx).sum(axis=(1, 3))
    total = v.sum(axis=(1, 3))
    mean = np.divide(total, n, out=np.zeros_like(total), where=n > 0)
    return mean, n > 0


def _sar_grey(path: str | Path, band: int, max_size: int) -> tuple[NDArray[np.uint8], ...]:
    """SAR amplitude as multilooked dB: (grey, alpha).

    Why this way: rasterio cannot average complex pixels (an average of complex values is the
    coherent sum, whose phase cancels to a dark, meaningless image), and plain decimation keeps
    the full single-look speckle (about 5.6 dB of noise). So the raster is read *decimated* with
    nearest-neighbour sampling to ``SAR_LOOKS`` × the output size per axis, and the power |z|²
    of each SAR_LOOKS × SAR_LOOKS box is averaged (16 looks: speckle down about 4×) before
    taking dB. The read never loads the full-resolution image: GDAL fetches only the sampled
    pixels (for the strip-organised TIFFs of Sentinel-1 only the sampled lines), and a raster
    smaller than SAR_LOOKS × the output is multilooked exactly from all its pixels.

    Real rasters are taken as amplitude (power = value²); if they hold power instead, dB values
    are doubled, which the percentile stretch undoes. Rasters with negative values are taken
    as already in dB. Zero, non-finite and no-data pixels are transparent.
    """
    from rasterio.enums import Resampling

    with _open(path) as src:
        is_complex = src.dtypes[band - 1].startswith("complex")
        has_overviews = bool(src.overviews(band))
    # overviews of complex data are built by averaging complex values: useless here
    options = {"OVERVIEW_LEVEL": "NONE"} if is_complex and has_overviews else {}
    with _open(path, **options) as src:
        height, width = fit(src.height, src.width, max_size)
        ly = max(1, min(SAR_LOOKS, src.height // height))
        lx = max(1, min(SAR_LOOKS, src.width // width))
        raw = src.read(
            band,
            out_shape=(height * ly, width * lx),
            resampling=Resampling.nearest,
            masked=not is_complex,
        )
    if is_complex:
        power = np.abs(np.asarray(raw, dtype=np.complex128)) ** 2
        valid = np.isfinite(power) & (power > 0)
    else:
        data = np.ma.getdata(raw).astype("float64")
        valid = ~np.ma.getmaskarray(raw) & np.isfinite(data)
        if valid.any() and data[valid].min() < 0:
            power = 10.0 ** (data / 10.0)  # already dB
        else:
            power = data**2
            valid &= power > 0
    mean, ok = _box_mean(power, valid, ly, lx)
    db = np.full(mean.shape, np.nan)
    db[ok] = 10.0 * np.log10(mean[ok])
    grey = stretch(db, ok)
    return grey, np.where(ok, 255, 0).astype(np.uint8)


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
    """Channels read through rio-tiler's ``preview`` (average resampling), each stretched."""
    from rio_tiler.errors import NoOverviewWarning
    from rio_tiler.io import Reader

    assets = item.get("assets") or {}
    size: tuple[int, int] | None = None
    channels: list[NDArray[np.uint8]] = []
    valid_all: NDArray[np.bool_] | None = None
    for key, band in source.layers:
        with _open(paths[key]) as src:
            if size is None:
                size = fit(src.height, src.width, max_size)
            nodata = _asset_nodata(assets[key], band)
            if nodata is None:
                nodata = src.nodata
            unsigned = np.dtype(src.dtypes[band - 1]).kind == "u"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NoOverviewWarning)  # small files have none
                with Reader(os.fspath(paths[key]), dataset=src) as reader:
                    img = reader.preview(
                        indexes=band,
                        max_size=None,
                        height=size[0],
                        width=size[1],
                        resampling_method="average",
                        nodata=nodata,
                    )
        data = np.ma.getdata(img.array)[0].astype("float64")
        valid = (img.mask > 0) & np.isfinite(data)
        if nodata is None and unsigned:
            valid &= data > 0  # unsigned rasters without declared no-data: 0 is the fill
        channels.append(stretch(data, valid))
        valid_all = valid if valid_all is None else valid_all & valid
    assert valid_all is not None
    for ch in channels:
        ch[~valid_all] = 0
    return (*channels, np.where(valid_all, 255, 0).astype(np.uint8))


def _encode_png(bands: tuple[NDArray[np.uint8], ...]) -> bytes:
    """Encode grey+alpha or RGB+alpha as PNG (rio-tiler's renderer: the alpha is the mask)."""
    from rio_tiler.utils import render

    *colour, alpha = bands
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NotGeoreferencedWarning: a PNG has no georeferencing
        return render(np.stack(colour), mask=alpha, img_format="PNG")


def quicklook_png(item: dict[str, Any], max_size: int = DEFAULT_MAX_SIZE) -> bytes:
    """A PNG quicklook of a STAC item (longest side at most ``max_size``, aspect kept).

    Raises :class:`NoQuicklookSource` (404) when nothing renderable is there, NotFound when an
    asset file is missing, :class:`QuicklookFailed` when a raster cannot be read.
    """
    if max_size < 1:
        raise ValueError("max_size must be positive")
    source = require_source(item)
    paths = source_paths(item, source)
    try:
        if source.kind == "sar":
            key, band = source.layers[0]
            target: str | Path = _measurement(paths[key]) if source.safe else paths[key]
            bands = _sar_grey(target, band, max_size)
        else:
            bands = _optical(item, source, paths, max_size)
        return _encode_png(bands)
    except GepError:
        raise
    except Exception as exc:  # a corrupt or unexpected raster: say which, not a bare 500
        raise QuicklookFailed(
            f"could not render a quicklook of item '{item.get('id')}' from "
            f"{', '.join(source.assets)}: {type(exc).__name__}: {exc}"
        ) from exc
