"""Sentinel-1 IW SLC bursts as :class:`gep.core.sar.TopsBurst` values: what TOPS processing needs.

:mod:`gep.io.sentinel1` reads a swath (geometry, burst timing, footprints); this module adds,
per burst, what the deramping function and enhanced spectral diversity need from the
annotation — the azimuth FM rate and Doppler centroid polynomials nearest the burst's middle,
the steering rate — and gives each burst its own stripmap-like grid, so that a burst is
processed with the same geometry code as any SLC window.

:func:`read_burst` reads a burst's pixels (or a window of them) from the measurement TIFF of a
SAFE folder, a SAFE zip or a zip at an http(s) URL without extracting anything: a TOPS chain
needs a few bursts of each ~4 GB product, and should move only those bytes.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO
from xml.etree import ElementTree

import fsspec
import numpy as np
import rasterio
import rasterio.windows
from numpy.typing import NDArray
from xarray_sentinel import esa_safe

from gep.core.errors import InvalidInput
from gep.core.sar import RangePolynomial, TopsBurst
from gep.io.ranged import RangedFile
from gep.io.sentinel1 import (
    _annotation,
    _is_url,
    _key,
    _open_product,
    _time,
    bursts,
    open_swath,
)

PathLike = str | os.PathLike[str]


def _polynomials(
    ann: ElementTree.Element, entries: str, poly: str, legacy: tuple[str, ...], what: str
) -> list[RangePolynomial]:
    out: list[RangePolynomial] = []
    for e in ann.iterfind(entries):
        text = e.findtext(poly)
        if text is not None:
            coeffs = tuple(float(v) for v in text.split())
        else:  # IPF < 2.82 spells the coefficients out one element each
            found = [e.findtext(n) for n in legacy]
            if any(v is None for v in found):
                continue
            coeffs = tuple(float(v) for v in found if v is not None)
        out.append(
            RangePolynomial(
                azimuth_time=_time(e.findtext("azimuthTime") or ""),
                t0=float(e.findtext("t0") or "nan"),
                coefficients=coeffs,
            )
        )
    if not out:
        raise InvalidInput(f"the annotation has no {what}", field="product")
    return out


def _nearest(polys: list[RangePolynomial], t: np.datetime64) -> RangePolynomial:
    return min(polys, key=lambda p: abs(int((p.azimuth_time - t) / np.timedelta64(1, "ns"))))


def tops_bursts(
    product: PathLike,
    swath: str = "IW1",
    polarisation: str = "VV",
    orbit_files: Sequence[PathLike] = (),
) -> list[TopsBurst]:
    """Every burst of a swath, each with its own grid and Doppler history.

    The orbit is the annotation's unless ``orbit_files`` (EOF) are given, as in
    :func:`gep.io.sentinel1.open_swath`.
    """
    prod = _open_product(product)
    key = _key(prod, swath, polarisation)
    swath_geom = open_swath(product, *key, orbit_files=orbit_files)
    if swath_geom.lines_per_burst <= 0:
        raise InvalidInput(
            f"{prod.name} {key[0]}/{key[1]} has no bursts (not TOPS)", field="product"
        )
    ann = _annotation(prod, key)
    fm = _polynomials(
        ann, "generalAnnotation/azimuthFmRateList/azimuthFmRate", "azimuthFmRatePolynomial",
        ("c0", "c1", "c2"), "azimuth FM rate",
    )  # fmt: skip
    dc = _polynomials(
        ann, "dopplerCentroid/dcEstimateList/dcEstimate", "dataDcPolynomial", (), "Doppler centroid"
    )
    steering = np.radians(float(str(swath_geom.extra["azimuth_steering_rate"])))
    frequency = float(swath_geom.extra["radar_frequency"])  # type: ignore[arg-type]
    lpb = swath_geom.lines_per_burst
    out: list[TopsBurst] = []
    for b in bursts(product, *key):
        geom = replace(
            swath_geom,
            first_line_time=b.azimuth_time,
            lines=lpb,
            lines_per_burst=0,
            burst_start_times=(),
            burst_id=b.burst_id,
            extra={**swath_geom.extra, "burst_index": b.index},
        )
        burst = TopsBurst(
            geometry=geom,
            index=b.index,
            burst_id=b.burst_id,
            first_line=b.first_line,
            first_valid_line=b.first_valid_line - b.first_line,
            last_valid_line=b.last_valid_line - b.first_line,
            first_valid_sample=b.first_valid_sample,
            last_valid_sample=b.last_valid_sample,
            azimuth_steering_rate=float(steering),
            radar_frequency=frequency,
            azimuth_fm_rate=fm[0],
            doppler_centroid=dc[0],
            product=prod.name,
        )
        mid = burst.mid_time
        out.append(
            replace(burst, azimuth_fm_rate=_nearest(fm, mid), doppler_centroid=_nearest(dc, mid))
        )
    return out


# --- pixels -------------------------------------------------------------------------------------

_MEASUREMENT = "s1Level1MeasurementSchema"
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature .. file name length, extra field length


@dataclass
class ByteCounter:
    """Bytes (and read calls) that actually came from the product's file or URL.

    A 9-burst IW swath is ~1 GB; reading one burst should move ~1/9 of it. The counter makes
    that checkable (tests) and reportable (job logs).
    """

    bytes: int = 0
    reads: int = 0


class _CountingFile(io.RawIOBase):
    """A read-only view of ``size`` bytes of ``raw`` from ``offset`` (a zip member stored
    uncompressed, or the whole file), counting what it reads; closing it leaves ``raw`` open
    (its owner closes it)."""

    def __init__(self, raw: BinaryIO, offset: int, size: int, counter: ByteCounter) -> None:
        self._raw, self._offset, self._size, self._counter = raw, offset, size, counter
        self._pos = 0

    def reopen(self) -> _CountingFile:
        """A fresh view on the same bytes (GDAL may open and close the file more than once)."""
        return _CountingFile(self._raw, self._offset, self._size, self._counter)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(base + offset, 0)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = max(min(len(view), self._size - self._pos), 0)
        if n == 0:
            return 0
        self._raw.seek(self._offset + self._pos)
        data = self._raw.read(n)
        got = len(data)
        view[:got] = data
        self._counter.bytes += got
        self._counter.reads += 1
        self._pos += got
        return got


def _stem(name: str) -> str:
    return name.removesuffix(".zip").removesuffix(".SAFE")


def _measurement_href(manifest: BinaryIO, key: tuple[str, str]) -> tuple[str | None, list[str]]:
    _attrs, files = esa_safe.parse_manifest_sentinel1(manifest)
    have: list[str] = []
    found = None
    for href, (rep_id, _prefix, swath, pol, _date) in files.items():
        if rep_id != _MEASUREMENT:
            continue
        have.append(f"{swath.upper()}/{pol.upper()}")
        if (swath.upper(), pol.upper()) == key:
            found = os.path.normpath(href)
    return found, sorted(have)


def _missing(name: str, key: tuple[str, str], why: str) -> InvalidInput:
    return InvalidInput(
        f"{name} has no measurement file for {key[0]}/{key[1]} ({why}); an annotation-only "
        "product describes bursts but cannot give their pixels",
        field="product",
    )


@contextlib.contextmanager
def _open_measurement(
    product: PathLike | RangedFile, key: tuple[str, str], counter: ByteCounter
) -> Iterator[tuple[str, _CountingFile]]:
    """(product name, counting file over the measurement TIFF), for a folder, zip, URL or a
    zip of GEP's storage opened for ranged reads."""
    if isinstance(product, RangedFile):
        try:
            raw_stored: BinaryIO = product.open()
        except OSError as exc:
            raise InvalidInput(f"cannot open {product.name}: {exc}", field="product") from exc
        with contextlib.closing(raw_stored):
            yield from _zip_member(product.name, raw_stored, product.size, key, counter)
        return
    if _is_url(product):
        url = str(product)
        name = url.rsplit("/", 1)[-1]
        fs = fsspec.filesystem("http")
        try:
            # range requests, read ahead by 1 MiB: GDAL reads a strip (one line) at a time
            raw: BinaryIO = fs.open(url, "rb", block_size=1 << 20, cache_type="readahead")
            size = int(fs.size(url))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot open {url}: {exc}", field="product") from exc
        with contextlib.closing(raw):
            yield from _zip_member(name, raw, size, key, counter)
        return
    path = Path(os.fspath(product)).expanduser()
    if path.name == "manifest.safe":
        path = path.parent
    if path.is_dir():
        manifest = path / "manifest.safe"
        if not manifest.is_file():
            raise InvalidInput(f"{path} is not a SAFE product: no manifest.safe", field="product")
        with manifest.open("rb") as f:
            href, have = _measurement_href(f, key)
        if href is None:
            raise _missing(path.name, key, f"the manifest lists {', '.join(have) or 'none'}")
        tiff = path / href
        if not tiff.is_file():
            raise _missing(path.name, key, f"{href} is listed but absent")
        with tiff.open("rb") as raw_file:
            yield (
                path.name,
                _CountingFile(raw_file, 0, tiff.stat().st_size, counter),
            )
        return
    if not path.is_file():
        raise InvalidInput(f"Sentinel-1 product {path} does not exist", field="product")
    with path.open("rb") as raw_file:
        yield from _zip_member(path.name, raw_file, path.stat().st_size, key, counter)


def _zip_member(
    name: str, raw: BinaryIO, size: int, key: tuple[str, str], counter: ByteCounter
) -> Iterator[tuple[str, _CountingFile]]:
    """The measurement member of a SAFE zip, read in place: only the central directory, the
    manifest and the member's header are read besides the pixels asked for."""
    whole = _CountingFile(raw, 0, size, counter)
    try:
        zf = zipfile.ZipFile(io.BufferedReader(whole, 65536))
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput(
            f"{name} is not a readable zip (truncated or damaged download?): {exc}",
            field="product",
        ) from exc
    with zf:
        manifests = [n for n in zf.namelist() if n.endswith("manifest.safe") and n.count("/") <= 1]
        if len(manifests) != 1:
            raise InvalidInput(
                f"{name} is not a SAFE zip: {len(manifests)} manifest.safe at its top",
                field="product",
            )
        base = os.path.dirname(manifests[0])
        try:
            with zf.open(manifests[0]) as f:
                href, have = _measurement_href(f, key)  # type: ignore[arg-type]
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise InvalidInput(
                f"{name}: its manifest.safe cannot be read (truncated zip?): {exc}",
                field="product",
            ) from exc
        if href is None:
            raise _missing(name, key, f"the manifest lists {', '.join(have) or 'none'}")
        member = f"{base}/{href}" if base else href
        try:
            info = zf.getinfo(member)
        except KeyError:
            raise _missing(name, key, f"{href} is listed but not in the zip") from None
    if info.compress_type != zipfile.ZIP_STORED:
        raise InvalidInput(
            f"{name}: {href} is compressed in the zip; ESA stores measurements uncompressed, "
            "which is what lets a burst be read without the rest (re-zip with ZIP_STORED)",
            field="product",
        )
    header = bytearray(_LOCAL_HEADER.size)
    whole.seek(info.header_offset)
    got = whole.readinto(header)
    if got != len(header) or header[:4] != b"PK\x03\x04":
        raise InvalidInput(f"{name}: bad zip entry for {href} (truncated?)", field="product")
    _sig, name_len, extra_len = _LOCAL_HEADER.unpack(bytes(header))
    start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
    if start + info.file_size > size:
        raise InvalidInput(
            f"{name} is truncated: {href} needs bytes up to {start + info.file_size}, the "
            f"zip has {size}",
            field="product",
        )
    yield base or name, _CountingFile(raw, start, info.file_size, counter)


def _check_window(
    burst: TopsBurst, window: tuple[int, int, int, int] | None
) -> tuple[int, int, int, int]:
    g = burst.geometry
    if window is None:
        return 0, 0, g.lines, g.samples
    line0, sample0, lines, samples = (int(v) for v in window)
    if (
        lines <= 0
        or samples <= 0
        or line0 < 0
        or sample0 < 0
        or line0 + lines > g.lines
        or sample0 + samples > g.samples
    ):
        raise InvalidInput(
            f"window {tuple(window)} (first line, first sample, lines, samples) is not inside "
            f"burst {burst.burst_id or burst.index} of {burst.product or 'the product'} "
            f"({g.lines} lines x {g.samples} samples)",
            field="window",
        )
    return line0, sample0, lines, samples


def read_burst(
    product: PathLike | RangedFile,
    burst: TopsBurst,
    window: tuple[int, int, int, int] | None = None,
    counter: ByteCounter | None = None,
) -> NDArray[np.complex64]:
    """Pixels of one burst (or of its burst-relative ``window`` = (first line, first sample,
    lines, samples)) from the swath's measurement TIFF.

    ``product`` is a SAFE folder, its manifest.safe, a SAFE zip, an http(s) URL of one, or a
    zip in GEP's storage opened for ranged reads (:class:`gep.io.ranged.RangedFile`).
    Zips are read in place: ESA stores measurement TIFFs uncompressed with one line per
    strip, so GDAL reads only the strips of the window through a file object over the
    member's bytes — a burst of a ~4 GB product moves tens of MB, not the product.
    ``counter`` adds up the bytes so read. The URL form needs the server to honour range
    requests; there the counter counts what GDAL and the zip directory asked for, while the
    network moves that rounded up to 1 MiB read-ahead blocks. :func:`tops_bursts` takes the
    same URL (manifest and annotation are read through the zip over http too).
    """
    counter = counter if counter is not None else ByteCounter()
    g = burst.geometry
    key = (g.swath.upper(), g.polarisation.upper())
    line0, sample0, lines, samples = _check_window(burst, window)
    with _open_measurement(product, key, counter) as (name, f):
        if burst.product and _stem(burst.product) != _stem(name):
            raise InvalidInput(
                f"burst {burst.burst_id or burst.index} is from {burst.product}, not {name}",
                field="product",
            )

        # rasterio calls the opener with mode= by keyword: the parameter must be called so
        def opener(path: str, mode: str = "rb") -> _CountingFile:
            if not path.endswith(".tiff"):  # GDAL probing for side-car files
                raise FileNotFoundError(path)
            return f.reopen()

        with warnings.catch_warnings():  # pixels only: a missing geotransform is no matter
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            data = _read_window(name, key, burst, opener, (line0, sample0, lines, samples))
    return np.asarray(data, dtype=np.complex64)


def _read_window(
    name: str,
    key: tuple[str, str],
    burst: TopsBurst,
    opener: Callable[[str, str], _CountingFile],
    window: tuple[int, int, int, int],
) -> NDArray[Any]:
    line0, sample0, lines, samples = window
    try:
        with rasterio.open(f"/{_stem(name)}/{key[0]}-{key[1]}.tiff", opener=opener) as ds:
            _check_tiff(name, key, burst, ds)
            win = rasterio.windows.Window(sample0, burst.first_line + line0, samples, lines)
            return np.asarray(ds.read(1, window=win))
    except rasterio.errors.RasterioIOError as exc:
        raise InvalidInput(
            f"{name}: the {key[0]}/{key[1]} measurement cannot be read (truncated or "
            f"damaged?): {exc}",
            field="product",
        ) from exc


def _check_tiff(name: str, key: tuple[str, str], burst: TopsBurst, ds: Any) -> None:
    g = burst.geometry
    need = burst.first_line + g.lines
    if ds.width != g.samples or ds.height < need or ds.count != 1:
        raise InvalidInput(
            f"{name}: the {key[0]}/{key[1]} measurement TIFF is {ds.height} lines x {ds.width} "
            f"samples x {ds.count} bands, but the annotation wants {g.samples} samples and at "
            f"least {need} lines (burst {burst.index} at line {burst.first_line}) in one band",
            field="product",
        )
    if ds.dtypes[0] not in ("complex_int16", "complex64"):
        raise InvalidInput(
            f"{name}: the {key[0]}/{key[1]} measurement TIFF holds {ds.dtypes[0]}, not CInt16",
            field="product",
        )


#: the members of a SAFE zip that describe it (everything but the measurement TIFFs)
_METADATA_DIRS = ("annotation/",)


def extract_metadata(product: RangedFile, folder: Path, counter: ByteCounter | None = None) -> Path:
    """A ``.SAFE`` folder under ``folder`` holding a stored zip's manifest and annotations
    (calibration and noise included), read by ranges: what :func:`tops_bursts` needs, a few
    MB of a multi-GB product. Pixels are then read from ``product`` with :func:`read_burst`.
    """
    counter = counter if counter is not None else ByteCounter()
    try:
        raw = product.open()
    except OSError as exc:
        raise InvalidInput(f"cannot open {product.name}: {exc}", field="product") from exc
    with contextlib.closing(raw):
        whole = _CountingFile(raw, 0, product.size, counter)
        try:
            with zipfile.ZipFile(io.BufferedReader(whole, 65536)) as zf:
                names = zf.namelist()
                manifests = [n for n in names if n.endswith("manifest.safe") and n.count("/") <= 1]
                if len(manifests) != 1:
                    raise InvalidInput(
                        f"{product.name} is not a SAFE zip: {len(manifests)} manifest.safe at "
                        "its top",
                        field="product",
                    )
                base = os.path.dirname(manifests[0])
                stem = base or product.name.removesuffix(".zip") + ".SAFE"
                safe = folder / Path(stem).name
                wanted = [manifests[0]] + [
                    n for n in names
                    if n.startswith(tuple(f"{base}/{d}" if base else d for d in _METADATA_DIRS))
                    and not n.endswith("/")
                ]  # fmt: skip
                for member in wanted:
                    rel = member[len(base) + 1 :] if base else member
                    if has_unsafe_parts(rel):
                        raise InvalidInput(
                            f"{product.name}: member {member!r} leaves the product",
                            field="product",
                        )
                    target = safe / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(member) as src, target.open("wb") as dst:
                        shutil.copyfileobj(src, dst)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise InvalidInput(
                f"{product.name} is not a readable zip (truncated or damaged?): {exc}",
                field="product",
            ) from exc
    return safe


def has_unsafe_parts(rel: str) -> bool:
    """A zip member path that would leave the folder it is extracted into."""
    parts = Path(rel).parts
    return rel.startswith("/") or ".." in parts or not parts
