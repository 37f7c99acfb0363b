"""Write complete Sentinel-1 IW SLC SAFE products from a real template and simulated bursts.

Why this module exists: the simulator must hand the DInSAR chain products exactly as ESA
distributes them (a ``.SAFE`` folder or its zip), so that the real reading path
(:mod:`gep.io.sentinel1`, :mod:`gep.io.sentinel1_bursts`, the STAC crosswalk) is exercised end
to end rather than bypassed. A real annotation is the template: everything the simulation does
not decide (instrument settings, FM-rate and Doppler-centroid polynomials, antenna patterns)
stays ESA's, and only what follows from the written bursts is rewritten — timing, size, valid
windows, burst ids, orbit, geolocation grid — so readers meet a structure they were built for.

Calibration and noise files are not written (nor listed in the manifest): their LUTs are
defined on the template's full swath and would need resampling to mean anything. The RFI,
preview and quick-look entries are dropped from the manifest too, so that every file it lists
exists.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from shapely.geometry import Polygon
from shapely.ops import unary_union

from gep.core.errors import InvalidInput
from gep.core.sar import SPEED_OF_LIGHT, StateVectors, TopsBurst
from gep.io.orbit_files import DEFAULT_MARGIN_S
from gep.io.sentinel1 import _open_product, _Product

PathLike = str | os.PathLike[str]
F64 = NDArray[np.float64]
#: (orbit, seconds after its first vector, slant ranges in m) -> latitude, longitude, height,
#: incidence and elevation angles (degrees): the geolocation grid's values. The caller gives
#: it (``gep.algorithms.sar.geometry.geolocation(dem)``): radar geometry is science, a layer
#: this reader/writer may not import.
Geolocate = Callable[[StateVectors, F64, F64], tuple[F64, F64, F64, F64, F64]]


def seconds_since(times: NDArray[np.datetime64], epoch: np.datetime64) -> F64:
    """Float seconds since ``epoch``, from integer nanoseconds (no precision lost)."""
    delta = np.asarray(times, dtype="datetime64[ns]") - np.asarray(epoch, dtype="datetime64[ns]")
    return delta.astype("int64").astype("float64") * 1e-9


#: bursts in one 12-day repeat cycle: the step of ESA's absolute burst id per cycle
BURSTS_PER_CYCLE = 375_887
REPEAT_CYCLE = np.timedelta64(12 * 86400, "s")
GRID_PIXELS = 21
_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$")
_PRODUCT_TYPES = {
    frozenset({"VV"}): "SSV",
    frozenset({"HH"}): "SSH",
    frozenset({"VV", "VH"}): "SDV",
    frozenset({"HH", "HV"}): "SDH",
}
_POL_ORDER = {"VH": 0, "HV": 0, "VV": 1, "HH": 1}  # ESA numbers cross-pol images first
_OTHER_POL = {"VV": "VH", "VH": "VV", "HH": "HV", "HV": "HH"}
_MEASUREMENT = "s1Level1MeasurementSchema"
_PRODUCT = "s1Level1ProductSchema"


@dataclass(frozen=True)
class SafeSwath:
    """One (swath, polarisation) of the product to write."""

    swath: str  # "IW1"
    polarisation: str  # "VV"
    bursts: list[TopsBurst]  # consecutive bursts in time order
    # one (lines_per_burst, samples) array per burst; None: the burst's strips are not written
    # (a sparse TIFF that reads as zeros there; see write_safe)
    data: Sequence[NDArray[np.complex64] | None]


@dataclass(frozen=True)
class _Grid:
    """The geolocation grid of one swath: rows at burst starts and at the last line."""

    lines: NDArray[np.int64]
    pixels: NDArray[np.int64]
    times: NDArray[np.datetime64]  # per row
    slant_range_time: NDArray[np.float64]  # per column
    lat: NDArray[np.float64]  # (rows, cols)
    lon: NDArray[np.float64]
    height: NDArray[np.float64]
    incidence: NDArray[np.float64]
    elevation: NDArray[np.float64]


@dataclass(frozen=True)
class _Names:
    product: str  # without .SAFE
    absolute_orbit: int
    datatake: int
    anx_time: np.datetime64
    start: np.datetime64
    stop: np.datetime64


def _ns(seconds: float) -> np.timedelta64:
    return np.timedelta64(round(seconds * 1e9), "ns")


def _iso(t: np.datetime64) -> str:
    """ESA's microsecond time text, rounded to the nearest microsecond."""
    ns = np.asarray(t, dtype="datetime64[ns]") + np.timedelta64(500, "ns")
    return str(ns.astype("datetime64[us]"))


def _stamp(t: np.datetime64) -> str:
    return str(np.asarray(t, dtype="datetime64[s]")).replace("-", "").replace(":", "")


def _last_time(b: TopsBurst) -> np.datetime64:
    g = b.geometry
    return g.first_line_time + _ns((g.lines - 1) * g.azimuth_time_interval)


def _check(sw: SafeSwath) -> None:
    where = f"{sw.swath}/{sw.polarisation}"
    if not sw.bursts or len(sw.bursts) != len(sw.data):
        raise InvalidInput(
            f"{where}: give one data array per burst, at least one "
            f"({len(sw.bursts)} bursts, {len(sw.data)} arrays)",
            field="swaths",
        )
    g0 = sw.bursts[0].geometry
    for i, (b, d) in enumerate(zip(sw.bursts, sw.data, strict=True)):
        g = b.geometry
        if (g.lines, g.samples, g.slant_range_time) != (g0.lines, g0.samples, g0.slant_range_time):
            raise InvalidInput(
                f"{where}: burst {i} has another size or near range than burst 0; all bursts of "
                "a swath share lines, samples and slant_range_time",
                field="swaths",
            )
        if d is not None and np.shape(d) != (g.lines, g.samples):
            raise InvalidInput(
                f"{where}: burst {i} data has shape {np.shape(d)}, expected "
                f"(lines_per_burst, samples) = ({g.lines}, {g.samples})",
                field="swaths",
            )
        if i and g.first_line_time <= sw.bursts[i - 1].geometry.first_line_time:
            raise InvalidInput(f"{where}: bursts must be in time order", field="swaths")


def _names(
    prod: _Product,
    swaths: Sequence[SafeSwath],
    time_shift: np.timedelta64,
    absolute_orbit: int | None,
) -> _Names:
    pols = frozenset(s.polarisation for s in swaths)
    if pols not in _PRODUCT_TYPES:
        raise InvalidInput(
            f"polarisations {sorted(pols)}: write VV, HH, VV+VH or HH+HV", field="swaths"
        )
    start = min(s.bursts[0].geometry.first_line_time for s in swaths)
    stop = max(_last_time(s.bursts[-1]) for s in swaths)
    a = prod.attrs
    if absolute_orbit is None:
        cycles = round(float(time_shift / REPEAT_CYCLE))
        absolute_orbit = int(a["orbit_number"]) + 175 * cycles
    datatake = int(a["mission_data_take_id"])
    head = (
        f"{prod.mission}_IW_SLC__1{_PRODUCT_TYPES[pols]}_{_stamp(start)}_{_stamp(stop)}_"
        f"{absolute_orbit:06d}_{datatake:06X}"
    )
    crc = hashlib.md5(f"{head}{time_shift}".encode()).hexdigest()[:4].upper()
    anx = np.datetime64(str(a["ascending_node_time"]), "ns") + time_shift
    return _Names(f"{head}_{crc}", absolute_orbit, datatake, anx, start, stop)


def _image_numbers(prod: _Product, swaths: Sequence[SafeSwath]) -> dict[tuple[str, str], int]:
    """The template's image number of each (swath, pol), else ESA's order (cross-pol first)."""
    with prod.fs.open(prod.manifest, "rb") as f:
        root = ElementTree.parse(f).getroot()
    known: dict[tuple[str, str], int] = {}
    pat = re.compile(r"s1.-(\w+)-slc-(\w\w)-\w+-\w+-\d+-\w+-(\d{3})\.xml$")
    for loc in root.iter("fileLocation"):
        m = pat.search(loc.get("href", ""))
        if m and "/calibration/" not in loc.get("href", "") and "/rfi/" not in loc.get("href", ""):
            known[(m.group(1).upper(), m.group(2).upper())] = int(m.group(3))
    keys = sorted(
        {(s.swath.upper(), s.polarisation.upper()) for s in swaths},
        key=lambda k: (_POL_ORDER.get(k[1], 2), k[0]),
    )
    return {k: known.get(k, i + 1) for i, k in enumerate(keys)}


def _file_stem(prod: _Product, sw: SafeSwath, names: _Names, number: int) -> str:
    start = sw.bursts[0].geometry.first_line_time
    stop = _last_time(sw.bursts[-1])
    return (
        f"{prod.mission.lower()}-{sw.swath.lower()}-slc-{sw.polarisation.lower()}-"
        f"{_stamp(start).lower()}-{_stamp(stop).lower()}-{names.absolute_orbit:06d}-"
        f"{names.datatake:06x}-{number:03d}"
    )


def _grid(sw: SafeSwath, orbit: StateVectors, geolocate: Geolocate) -> _Grid:
    """Geolocation grid on the written geometry, so readers geolocate what was simulated."""
    bursts = sw.bursts
    g = bursts[0].geometry
    lpb = g.lines
    lines = np.array([i * lpb for i in range(len(bursts))] + [len(bursts) * lpb - 1])
    times = np.array([b.geometry.first_line_time for b in bursts] + [_last_time(bursts[-1])])
    times = times.astype("datetime64[ns]")
    pixels = np.unique(np.round(np.linspace(0, g.samples - 1, GRID_PIXELS)).astype(np.int64))
    tau = g.slant_range_time + pixels / g.range_sampling_rate
    t = seconds_since(times, orbit.time[0])
    tt, rr = np.meshgrid(t, tau * SPEED_OF_LIGHT / 2, indexing="ij")
    lat, lon, h, incidence, elevation = geolocate(orbit, tt, rr)
    return _Grid(lines, pixels, times, tau, lat, lon, h, incidence, elevation)


def _write_tiff(
    path: Path, sw: SafeSwath, grid: _Grid, scale: float
) -> list[int]:  # byte offset of each burst's first line
    """CInt16, uncompressed, one line per strip: the layout of ESA's measurement TIFFs."""
    g = sw.bursts[0].geometry
    lpb, n = g.lines, len(sw.bursts)
    gcps = [
        GroundControlPoint(
            row=float(grid.lines[i]), col=float(grid.pixels[j]),
            x=float(grid.lon[i, j]), y=float(grid.lat[i, j]), z=float(grid.height[i, j]),
        )
        for i in range(len(grid.lines))
        for j in range(len(grid.pixels))
    ]  # fmt: skip
    lim = float(np.iinfo(np.int16).max)
    sparse = any(d is None for d in sw.data)
    profile: dict[str, object] = {
        "driver": "GTiff",
        "width": g.samples,
        "height": n * lpb,
        "count": 1,
        "dtype": "complex_int16",
        "tiled": False,
        "blockysize": 1,
        "compress": None,
        "gcps": gcps,
        "crs": CRS.from_epsg(4326),
    }
    if sparse:  # unwritten strips keep offset 0 and byte count 0; GDAL reads them as zeros
        profile["sparse_ok"] = True
    with rasterio.open(path, "w", **profile) as ds:
        for i, d in enumerate(sw.data):
            if d is None:
                continue
            a = np.asarray(d, dtype=np.complex64) * np.float32(scale)
            dn = np.empty(a.shape, np.complex64)  # float32 parts: no complex128 copy of a burst
            dn.real = np.clip(np.rint(a.real), -lim, lim)
            dn.imag = np.clip(np.rint(a.imag), -lim, lim)
            window = rasterio.windows.Window(0, i * lpb, g.samples, lpb)
            ds.write(dn, 1, window=window)
    with rasterio.open(path) as ds:
        found = [
            int(ds.get_tag_item(f"BLOCK_OFFSET_0_{i * lpb}", "TIFF", bidx=1) or 0) for i in range(n)
        ]
    return _dense_offsets(found, [d is not None for d in sw.data], path, lpb * g.samples * 4)


def _dense_offsets(
    found: list[int], written: list[bool], path: Path, burst_bytes: int
) -> list[int]:
    """Written bursts: their real offsets. Unwritten ones have no bytes (TIFF offset 0); they get
    the offset they would have in a dense file whose first burst starts where the first written
    strip does — ESA's layout arithmetic, so the annotation reads like a full product's."""
    real = [o for o, w in zip(found, written, strict=True) if w]
    base = min(real) if real else path.stat().st_size
    return [
        o if w else base + i * burst_bytes
        for i, (o, w) in enumerate(zip(found, written, strict=True))
    ]


def _template_annotation(prod: _Product, sw: SafeSwath) -> ElementTree.Element:
    swath, pol = sw.swath.upper(), sw.polarisation.upper()
    key = (swath, pol) if (swath, pol) in prod.annotations else (swath, _OTHER_POL.get(pol, ""))
    if key not in prod.annotations:
        raise InvalidInput(
            f"the template {prod.name} has no {swath} annotation; it has {prod.available()}",
            field="template",
        )
    with prod.fs.open(prod.annotations[key], "rb") as f:
        root = ElementTree.parse(f).getroot()
    for e in root.iter("polarisation"):
        e.text = pol
    return root


def _shift_times(root: ElementTree.Element, shift: np.timedelta64) -> None:
    """Move every template time by ``shift``; burst-derived ones are overwritten afterwards."""
    if shift == np.timedelta64(0, "ns"):
        return
    for e in root.iter():
        text = (e.text or "").strip()
        if _TIME_RE.match(text):
            e.text = _iso(np.datetime64(text, "ns") + shift)


def _set(root: ElementTree.Element, path: str, value: object) -> None:
    e = root.find(path)
    if e is None:
        raise InvalidInput(f"the template annotation lacks {path}", field="template")
    e.text = str(value)


def _orbit_list(gen: ElementTree.Element, orbit: StateVectors) -> None:
    ol = gen.find("orbitList")
    if ol is None:
        raise InvalidInput("the template annotation lacks orbitList", field="template")
    ol.clear()
    ol.set("count", str(len(orbit.time)))
    for t, p, v in zip(orbit.time, orbit.position, orbit.velocity, strict=True):
        o = ElementTree.SubElement(ol, "orbit")
        ElementTree.SubElement(o, "time").text = _iso(t)
        ElementTree.SubElement(o, "frame").text = "Earth Fixed"
        for tag, vec in (("position", p), ("velocity", v)):
            el = ElementTree.SubElement(o, tag)
            for axis, x in zip("xyz", vec, strict=True):
                ElementTree.SubElement(el, axis).text = f"{x:.15e}"


def _burst_list(
    timing: ElementTree.Element,
    sw: SafeSwath,
    offsets: list[int],
    shift: np.timedelta64,
) -> None:
    """Rewrite the burst list; ANX and sensing times keep their template offsets to the burst."""
    bl = timing.find("burstList")
    if bl is None:
        raise InvalidInput("the template annotation lacks swathTiming/burstList", field="template")
    tmpl = list(bl.iter("burst"))
    if not tmpl:
        raise InvalidInput("the template annotation has no burst", field="template")
    t_times = np.array(
        [np.datetime64((b.findtext("azimuthTime") or "").strip(), "ns") for b in tmpl]
    )  # already shifted
    bl.clear()
    bl.set("count", str(len(sw.bursts)))
    cycles = round(float(shift / REPEAT_CYCLE))
    for b, offset in zip(sw.bursts, offsets, strict=True):
        g = b.geometry
        t = g.first_line_time.astype("datetime64[ns]")
        k = int(np.argmin(np.abs((t_times - t).astype("int64"))))
        src = tmpl[k]
        dt = seconds_since(np.atleast_1d(t), t_times[k])[0]
        sensing = np.datetime64((src.findtext("sensingTime") or "").strip(), "ns")
        e = ElementTree.SubElement(bl, "burst")
        ElementTree.SubElement(e, "azimuthTime").text = _iso(t)
        anx = float(src.findtext("azimuthAnxTime") or "nan") + dt
        ElementTree.SubElement(e, "azimuthAnxTime").text = f"{anx:.15e}"
        ElementTree.SubElement(e, "sensingTime").text = _iso(t + (sensing - t_times[k]))
        ElementTree.SubElement(e, "byteOffset").text = str(offset)
        valid = (np.arange(g.lines) >= b.first_valid_line) & (
            np.arange(g.lines) <= b.last_valid_line
        )
        for tag, value in (
            ("firstValidSample", b.first_valid_sample),
            ("lastValidSample", b.last_valid_sample),
        ):
            v = ElementTree.SubElement(e, tag, count=str(g.lines))
            v.text = " ".join(np.where(valid, value, -1).astype(str))
        src_id = src.find("burstId")
        if src_id is not None:
            parts = b.burst_id.split("_")
            rel = int(parts[1]) if len(parts) == 3 else int(src_id.text or 0)
            bid = ElementTree.SubElement(e, "burstId")
            bid.text = str(rel)
            if src_id.get("absolute"):
                absolute = int(src_id.get("absolute") or 0) + (rel - int(src_id.text or 0))
                bid.set("absolute", str(absolute + cycles * BURSTS_PER_CYCLE))


def _grid_list(root: ElementTree.Element, grid: _Grid) -> None:
    gl = root.find("geolocationGrid/geolocationGridPointList")
    if gl is None:
        raise InvalidInput("the template annotation lacks a geolocation grid", field="template")
    gl.clear()
    gl.set("count", str(grid.lat.size))
    for i, line in enumerate(grid.lines):
        for j, pixel in enumerate(grid.pixels):
            p = ElementTree.SubElement(gl, "geolocationGridPoint")
            for tag, text in (
                ("azimuthTime", _iso(grid.times[i])),
                ("slantRangeTime", f"{grid.slant_range_time[j]:.15e}"),
                ("line", str(line)),
                ("pixel", str(pixel)),
                ("latitude", f"{grid.lat[i, j]:.15e}"),
                ("longitude", f"{grid.lon[i, j]:.15e}"),
                ("height", f"{grid.height[i, j]:.15e}"),
                ("incidenceAngle", f"{grid.incidence[i, j]:.15e}"),
                ("elevationAngle", f"{grid.elevation[i, j]:.15e}"),
            ):
                ElementTree.SubElement(p, tag).text = text


def _annotation(
    prod: _Product,
    sw: SafeSwath,
    names: _Names,
    number: int,
    orbit: StateVectors,
    shift: np.timedelta64,
    grid: _Grid,
    offsets: list[int],
) -> bytes:
    root = _template_annotation(prod, sw)
    _shift_times(root, shift)
    g = sw.bursts[0].geometry
    first, last = g.first_line_time, _last_time(sw.bursts[-1])
    for path, value in (
        ("adsHeader/startTime", _iso(first)),
        ("adsHeader/stopTime", _iso(last)),
        ("adsHeader/swath", sw.swath.upper()),
        ("adsHeader/absoluteOrbitNumber", names.absolute_orbit),
        ("adsHeader/imageNumber", f"{number:03d}"),
        ("imageAnnotation/imageInformation/productFirstLineUtcTime", _iso(first)),
        ("imageAnnotation/imageInformation/productLastLineUtcTime", _iso(last)),
        ("imageAnnotation/imageInformation/slantRangeTime", f"{g.slant_range_time:.15e}"),
        ("imageAnnotation/imageInformation/azimuthTimeInterval", f"{g.azimuth_time_interval:.15e}"),
        ("imageAnnotation/imageInformation/numberOfSamples", g.samples),
        ("imageAnnotation/imageInformation/numberOfLines", len(sw.bursts) * g.lines),
        ("swathTiming/linesPerBurst", g.lines),
        ("swathTiming/samplesPerBurst", g.samples),
    ):
        _set(root, path, value)
    gen = root.find("generalAnnotation")
    timing = root.find("swathTiming")
    if gen is None or timing is None:
        raise InvalidInput("the template annotation is not an IW SLC annotation", field="template")
    _orbit_list(gen, orbit)
    _burst_list(timing, sw, offsets, shift)
    _grid_list(root, grid)
    buf = io.BytesIO()
    ElementTree.ElementTree(root).write(buf, encoding="UTF-8", xml_declaration=True)
    return buf.getvalue()


def _footprint(grids: Sequence[_Grid]) -> Polygon:
    """Convex hull of the bursts' grid corners: ESA's footprint covers all written bursts."""
    parts = []
    for gr in grids:
        for i in range(len(gr.lines) - 1):
            idx = [(i, 0), (i, -1), (i + 1, -1), (i + 1, 0)]
            parts.append(Polygon([(gr.lon[r, c], gr.lat[r, c]) for r, c in idx]))
    hull = unary_union(parts).convex_hull
    if not isinstance(hull, Polygon):
        raise InvalidInput("the written bursts have no area on the ground", field="swaths")
    return hull


@dataclass(frozen=True)
class _Written:
    stem: str
    annotation: Path
    measurement: Path


def _register_namespaces(data: bytes) -> None:
    for _event, (prefix, uri) in ElementTree.iterparse(io.BytesIO(data), events=("start-ns",)):
        if prefix:
            ElementTree.register_namespace(prefix, uri)


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _manifest(
    prod: _Product,
    safe: Path,
    names: _Names,
    written: Sequence[_Written],
    pols: Sequence[str],
    footprint: Polygon,
    shift: np.timedelta64,
) -> bytes:
    with prod.fs.open(prod.manifest, "rb") as f:
        data = f.read()
    _register_namespaces(data)
    root = ElementTree.fromstring(data)
    ns = {
        "safe": "http://www.esa.int/safe/sentinel-1.0",
        "s1": "http://www.esa.int/safe/sentinel-1.0/sentinel-1",
        "s1sarl1": "http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1",
        "gml": "http://www.opengis.net/gml",
        "xfdu": "urn:ccsds:schema:xfdu:1",
    }

    def put(path: str, value: str) -> None:
        for e in root.iterfind(path, ns):
            e.text = value

    cycles = round(float(shift / REPEAT_CYCLE))
    start_anx = seconds_since(np.atleast_1d(names.start), names.anx_time)[0] * 1e3
    stop_anx = seconds_since(np.atleast_1d(names.stop), names.anx_time)[0] * 1e3
    put(".//safe:startTime", _iso(names.start))
    put(".//safe:stopTime", _iso(names.stop))
    put(".//s1:startTimeANX", f"{start_anx:.6e}")
    put(".//s1:stopTimeANX", f"{stop_anx:.6e}")
    put(".//safe:orbitNumber", str(names.absolute_orbit))
    put(".//s1:ascendingNodeTime", _iso(names.anx_time))
    put(".//s1sarl1:missionDataTakeID", str(names.datatake))
    for e in root.iterfind(".//safe:cycleNumber", ns):
        e.text = str(int(e.text or 0) + cycles)
    for e in root.iterfind(".//s1sarl1:segmentStartTime", ns):
        e.text = _iso(np.datetime64((e.text or "").strip(), "ns") + shift)
    ext = footprint.exterior.coords[:-1]
    put(".//gml:coordinates", " ".join(f"{lat:.6f},{lon:.6f}" for lon, lat in ext))

    info = root.find(".//s1sarl1:standAloneProductInformation", ns)
    if info is not None:
        tags = info.findall("s1sarl1:transmitterReceiverPolarisation", ns)
        if tags:
            at = list(info).index(tags[0])
            for e in tags:
                info.remove(e)
            for i, p in enumerate(pols):
                e = ElementTree.Element(f"{{{ns['s1sarl1']}}}transmitterReceiverPolarisation")
                e.text = p
                info.insert(at + i, e)

    # drop every file entry of the template and list the written files instead
    top = root.find("informationPackageMap/xfdu:contentUnit", ns)
    meta = root.find("metadataSection")
    objects = root.find("dataObjectSection")
    if top is None or meta is None or objects is None:
        raise InvalidInput("the template manifest is not a SAFE manifest", field="template")
    dropped = {o.get("ID") for o in objects.findall("dataObject")}
    for cu in top.findall("xfdu:contentUnit", ns):
        ptr = cu.find("dataObjectPointer")
        if ptr is not None and ptr.get("dataObjectID") in dropped:
            top.remove(cu)
    for mo in meta.findall("metadataObject"):
        ptr = mo.find("dataObjectPointer")
        if ptr is not None and ptr.get("dataObjectID") in dropped:
            meta.remove(mo)
    for o in objects.findall("dataObject"):
        objects.remove(o)
    cu_tag = f"{{{ns['xfdu']}}}contentUnit"
    for k, w in enumerate(written):
        oid = w.stem.replace("-", "")
        pid = f"product{oid}"
        cu = ElementTree.Element(cu_tag, unitType="Metadata Unit", repID=_PRODUCT)
        ElementTree.SubElement(cu, "dataObjectPointer", dataObjectID=pid)
        top.insert(k, cu)
        mcu = ElementTree.SubElement(
            top, cu_tag, unitType="Measurement Data Unit", repID=_MEASUREMENT,
            dmdID=f"{pid}Annotation",
        )  # fmt: skip
        ElementTree.SubElement(mcu, "dataObjectPointer", dataObjectID=oid)
        mo = ElementTree.Element(
            "metadataObject", ID=f"{pid}Annotation", classification="DESCRIPTION", category="DMD"
        )
        ElementTree.SubElement(mo, "dataObjectPointer", dataObjectID=pid)
        meta.insert(k, mo)
        for did, rep, mime, path in (
            (pid, _PRODUCT, "text/xml", w.annotation),
            (oid, _MEASUREMENT, "application/octet-stream", w.measurement),
        ):
            do = ElementTree.SubElement(objects, "dataObject", ID=did, repID=rep)
            bs = ElementTree.SubElement(
                do, "byteStream", mimeType=mime, size=str(path.stat().st_size)
            )
            href = "./" + path.relative_to(safe).as_posix()
            ElementTree.SubElement(bs, "fileLocation", locatorType="URL", href=href)
            ElementTree.SubElement(bs, "checksum", checksumName="MD5").text = _md5(path)
    ElementTree.indent(root, space="  ")
    buf = io.BytesIO()
    ElementTree.ElementTree(root).write(buf, encoding="UTF-8", xml_declaration=True)
    return buf.getvalue()


def _zip(safe: Path, target: Path) -> None:
    """ESA's zip layout: the .SAFE folder at the top; measurements stored (readable in place)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(safe.rglob("*")):
            arc = f"{safe.name}/{path.relative_to(safe).as_posix()}"
            if path.is_dir():
                zf.write(path, arc + "/")
            else:
                stored = path.suffix == ".tiff"
                zf.write(
                    path, arc, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                )


def write_safe(
    template: PathLike,
    out_dir: PathLike,
    swaths: Sequence[SafeSwath],
    *,
    orbit: StateVectors,
    time_shift: np.timedelta64 = np.timedelta64(0, "ns"),
    absolute_orbit: int | None = None,
    geolocate: Geolocate,
    scale: float = 1.0,
    as_zip: bool = False,
) -> Path:
    """Write a complete IW SLC SAFE product; returns the ``.SAFE`` folder or the ``.zip``.

    ``template`` is a real SAFE whose annotations give everything the simulation does not
    decide; ``time_shift`` moves its times that the bursts do not fix (FM-rate and Doppler
    lists, ANX time...), e.g. 12 days for a secondary made from a reference's template.
    Digital numbers are ``round(data * scale)``, clipped to int16. ``geolocate`` fills the
    geolocation grids (``gep.algorithms.sar.geometry.geolocation(dem)``).

    A burst whose data is ``None`` is not written: the measurement TIFF is then sparse (GDAL's
    ``SPARSE_OK``; its strips have offset and byte count 0 and read as zeros), so a full-size
    swath with one burst of pixels costs that burst on disk — for tests that show processing
    reads only the bursts it needs. Its annotation ``byteOffset`` is the one it would have in a
    dense file (first written burst's offset + index x burst bytes): readers (xarray-sentinel,
    :func:`gep.io.sentinel1_bursts.read_burst`) locate bursts by ``linesPerBurst``, not by
    ``byteOffset``, and written bursts keep their true offsets. Such products cannot be zipped
    (``as_zip``): the zip would have to hold every byte of the full-size TIFF.
    """
    if not swaths:
        raise InvalidInput("give at least one swath to write", field="swaths")
    keys = [(s.swath.upper(), s.polarisation.upper()) for s in swaths]
    if len(set(keys)) != len(keys):
        raise InvalidInput(f"each (swath, polarisation) once; got {keys}", field="swaths")
    if as_zip and any(d is None for s in swaths for d in s.data):
        raise InvalidInput(
            "a swath with unwritten (None) bursts is a sparse TIFF; a zip would store its full "
            "size (GB of zeros): write it as a .SAFE folder (as_zip=False) or give every burst",
            field="as_zip",
        )
    swaths = [
        SafeSwath(s.swath.upper(), s.polarisation.upper(), list(s.bursts), list(s.data))
        for s in swaths
    ]
    for s in swaths:
        _check(s)
    shift = np.timedelta64(time_shift, "ns")
    prod = _open_product(template)
    names = _names(prod, swaths, shift, absolute_orbit)
    if not orbit.covers(names.start, names.stop, margin_s=DEFAULT_MARGIN_S / 3):
        raise InvalidInput(
            f"the orbit ({orbit.start}..{orbit.stop}) does not cover the bursts "
            f"({names.start}..{names.stop}) with {DEFAULT_MARGIN_S / 3:.0f} s margins",
            field="orbit",
        )
    out = Path(os.fspath(out_dir)).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    target = out / (names.product + (".zip" if as_zip else ".SAFE"))
    if target.exists():
        raise InvalidInput(f"{target} exists; remove it or write elsewhere", field="out_dir")
    numbers = _image_numbers(prod, swaths)

    with tempfile.TemporaryDirectory(dir=out) as tmp:
        safe = Path(tmp) / f"{names.product}.SAFE"
        (safe / "annotation").mkdir(parents=True)
        (safe / "measurement").mkdir()
        written: list[_Written] = []
        grids: list[_Grid] = []
        for sw, key in zip(swaths, keys, strict=True):
            stem = _file_stem(prod, sw, names, numbers[key])
            grid = _grid(sw, orbit, geolocate)
            tiff = safe / "measurement" / f"{stem}.tiff"
            offsets = _write_tiff(tiff, sw, grid, scale)
            xml = safe / "annotation" / f"{stem}.xml"
            xml.write_bytes(_annotation(prod, sw, names, numbers[key], orbit, shift, grid, offsets))
            written.append(_Written(stem, xml, tiff))
            grids.append(grid)
        pols = sorted({k[1] for k in keys}, key=lambda p: -_POL_ORDER.get(p, 2))
        manifest = _manifest(prod, safe, names, written, pols, _footprint(grids), shift)
        (safe / "manifest.safe").write_bytes(manifest)
        if as_zip:
            _zip(safe, target)
        else:
            shutil.move(str(safe), target)
    return target
