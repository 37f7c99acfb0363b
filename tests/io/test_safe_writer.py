"""Round trip of gep.io.safe_writer through GEP's real Sentinel-1 reading path.

The inputs are two consecutive bursts of a real annotation (Rome, S1A IW1 VV), cropped in range
to a small window; what the readers give back must be what was written.
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
import rasterio
import xarray_sentinel
from shapely.geometry import shape

from gep.algorithms.sar.geometry import geolocation, rdr2geo
from gep.algorithms.sar.orbit import seconds_since
from gep.core.errors import InvalidInput
from gep.core.sar import SPEED_OF_LIGHT, StateVectors, TopsBurst
from gep.io.safe_writer import SafeSwath, write_safe
from gep.io.sentinel1 import (
    bursts,
    calibration,
    geolocation_grid,
    list_swaths,
    open_swath,
    product_summary,
)
from gep.io.sentinel1_bursts import ByteCounter, read_burst, tops_bursts
from gep.io.sentinel1_stac import safe_item

DATA = Path(__file__).parents[1] / "data" / "s1"
ELLIPSOID = geolocation(0.0)
TEMPLATE = DATA / "S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"
S1B = DATA / "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE"
S0, WIDTH = 3000, 200
SHIFT = np.timedelta64(12 * 86400, "s").astype("timedelta64[ns]")


def _crop(b: TopsBurst, shift: np.timedelta64) -> TopsBurst:
    g = b.geometry
    geom = replace(
        g,
        first_line_time=g.first_line_time + shift,
        slant_range_time=g.slant_range_time + S0 / g.range_sampling_rate,
        samples=WIDTH,
    )
    return replace(
        b,
        geometry=geom,
        first_valid_sample=max(b.first_valid_sample - S0, 0),
        last_valid_sample=min(b.last_valid_sample - S0, WIDTH - 1),
        azimuth_fm_rate=replace(
            b.azimuth_fm_rate, azimuth_time=b.azimuth_fm_rate.azimuth_time + shift
        ),
        doppler_centroid=replace(
            b.doppler_centroid, azimuth_time=b.doppler_centroid.azimuth_time + shift
        ),
    )


@pytest.fixture(scope="module")
def every_burst() -> list[TopsBurst]:
    return tops_bursts(TEMPLATE, "IW1", "VV")


@pytest.fixture(scope="module")
def source(every_burst: list[TopsBurst]) -> list[TopsBurst]:
    return every_burst[3:5]


def _orbit(src: TopsBurst, shift: np.timedelta64, offset: float) -> StateVectors:
    o = src.geometry.orbit
    return StateVectors(o.time + shift, o.position + offset, o.velocity.copy(), source="sim")


def _case(
    tmp: Path, source: list[TopsBurst], shift: np.timedelta64, as_zip: bool
) -> tuple[Path, list[TopsBurst], list[np.ndarray], StateVectors]:
    rng = np.random.default_rng(7)
    bs = [_crop(b, shift) for b in source]
    shape_ = (bs[0].geometry.lines, WIDTH)
    data = [
        (rng.normal(0, 40, shape_) + 1j * rng.normal(0, 40, shape_)).astype(np.complex64)
        for _ in bs
    ]
    orbit = _orbit(source[0], shift, 120.0 if shift else 0.0)
    out = write_safe(
        TEMPLATE,
        tmp,
        [SafeSwath("IW1", "VV", bs, data)],
        orbit=orbit,
        time_shift=shift,
        scale=2.5,
        as_zip=as_zip,
        geolocate=ELLIPSOID,
    )
    return out, bs, data, orbit


@pytest.mark.parametrize(("shift", "as_zip"), [(np.timedelta64(0, "ns"), False), (SHIFT, True)])
def test_round_trip(
    tmp_path: Path, source: list[TopsBurst], shift: np.timedelta64, as_zip: bool
) -> None:
    out, written, data, orbit = _case(tmp_path, source, shift, as_zip)
    name = out.name.removesuffix(".zip").removesuffix(".SAFE")
    start = str(written[0].geometry.first_line_time.astype("datetime64[s]")).replace("-", "")
    assert name.startswith(f"S1A_IW_SLC__1SSV_{start.replace(':', '')}_")
    assert name.split("_")[-3] == ("041489" if shift else "041314")
    assert out.suffix == (".zip" if as_zip else ".SAFE")

    back = tops_bursts(out, "IW1", "VV")
    assert len(back) == 2
    for w, r in zip(written, back, strict=True):
        gw, gr = w.geometry, r.geometry
        dt = abs(int((gr.first_line_time - gw.first_line_time) / np.timedelta64(1, "ns")))
        assert dt <= 1000  # 1 µs: the annotation's time resolution
        assert gr.slant_range_time == pytest.approx(gw.slant_range_time, rel=1e-14)
        assert (gr.samples, gr.lines) == (WIDTH, gw.lines)
        assert (r.first_valid_line, r.last_valid_line) == (w.first_valid_line, w.last_valid_line)
        assert (r.first_valid_sample, r.last_valid_sample) == (
            w.first_valid_sample,
            w.last_valid_sample,
        )
        assert r.burst_id == w.burst_id and r.burst_id.startswith("117_2494")
        for pw, pr in (
            (w.azimuth_fm_rate, r.azimuth_fm_rate),
            (w.doppler_centroid, r.doppler_centroid),
        ):
            assert pr.coefficients == pw.coefficients and pr.t0 == pw.t0
            assert abs(int((pr.azimuth_time - pw.azimuth_time) / np.timedelta64(1, "ns"))) <= 1000
        assert r.azimuth_steering_rate == pytest.approx(w.azimuth_steering_rate)
        np.testing.assert_allclose(gr.orbit.position, orbit.position, atol=1e-6)
        np.testing.assert_allclose(gr.orbit.velocity, orbit.velocity, atol=1e-9)
        assert np.all(np.abs((gr.orbit.time - orbit.time).astype(np.int64)) <= 1000)

    swath = open_swath(out, "IW1", "VV")
    assert (swath.lines, swath.lines_per_burst, swath.samples) == (2 * 1501, 1501, WIDTH)
    summary = product_summary(out)
    assert summary.swaths == [("IW1", "VV")]
    assert summary.attrs["orbit_number"] == (41489 if shift else 41314)
    assert summary.attrs["relative_orbit_number"] == 117
    assert summary.attrs["transmitter_receiver_polarisations"] == ["VV"]
    anx = np.datetime64(summary.attrs["ascending_node_time"], "ns")
    assert anx == np.datetime64("2022-01-04T16:54:51.328453", "ns") + shift
    read_bursts = bursts(out, "IW1", "VV")
    # the azimuthAnxTime keeps its offset to the burst: same ANX for the secondary
    anx_tmpl = {b.burst_id: b.azimuth_anx_time for b in bursts(TEMPLATE, "IW1", "VV")}
    for b in read_bursts:
        assert b.azimuth_anx_time == pytest.approx(anx_tmpl[b.burst_id], abs=1e-6)

    # measurement: DN = round(data * scale), burst i at lines [i*lpb, (i+1)*lpb)
    tiff = next(
        h for h in _members(out) if h.endswith(".tiff") and "/measurement/s1a-iw1-slc-vv-" in h
    )
    with rasterio.open(tiff) as ds:
        assert ds.dtypes == ("complex_int16",)
        assert ds.block_shapes[0][0] == 1 and ds.compression is None
        assert (ds.height, ds.width) == (2 * 1501, WIDTH)
        dn = ds.read(1)
    for i, d in enumerate(data):
        expect = np.rint(d.real * 2.5) + 1j * np.rint(d.imag * 2.5)
        np.testing.assert_array_equal(dn[i * 1501 : (i + 1) * 1501], expect)

    # STAC footprint contains the burst centres; geolocation grid agrees with rdr2geo
    item = safe_item(out)
    footprint = shape(item["geometry"])
    for b in read_bursts:
        assert footprint.contains(b.footprint.centroid)
    gcp = geolocation_grid(out, "IW1", "VV")
    times = np.asarray(gcp["azimuth_time"].values, "datetime64[ns]")
    t = seconds_since(times, orbit.time[0])
    tau = np.asarray(gcp["slant_range_time"].values)
    tt, rr = np.meshgrid(t, tau * SPEED_OF_LIGHT / 2, indexing="ij")
    lat, lon, _, _ = rdr2geo(tt, rr, orbit, 0.0)
    np.testing.assert_allclose(gcp["latitude"].values, lat, atol=1e-6)
    np.testing.assert_allclose(gcp["longitude"].values, lon, atol=1e-6)
    assert gcp["line"].values.tolist() == [0, 1501, 3001]

    if not as_zip:  # xarray-sentinel's own swath reader, TIFF and burst slicing included
        ds = xarray_sentinel.open_sentinel1_dataset(str(out), group="IW1/VV")
        burst = xarray_sentinel.crop_burst_dataset(ds, burst_index=1)
        np.testing.assert_array_equal(burst.measurement.values, dn[1501:])
        # byteOffset points at the burst's first line: int16 (real, imag) pairs, little endian
        ann = ElementTree.parse(next((out / "annotation").glob("*.xml"))).getroot()
        offsets = [int(b.findtext("byteOffset") or -1) for b in ann.iter("burst")]
        raw = Path(tiff).read_bytes()
        for i, off in enumerate(offsets):
            pairs = np.frombuffer(raw, "<i2", count=2 * WIDTH, offset=off)
            np.testing.assert_array_equal(pairs[0::2] + 1j * pairs[1::2], dn[i * 1501])
    else:
        with zipfile.ZipFile(out) as zf:
            infos = {i.filename: i for i in zf.infolist()}
        meas = [i for n, i in infos.items() if n.endswith(".tiff")]
        assert meas and all(i.compress_type == zipfile.ZIP_STORED for i in meas)
        assert all(n.startswith(f"{name}.SAFE/") for n in infos)


def _members(out: Path) -> list[str]:
    if out.suffix == ".zip":
        with zipfile.ZipFile(out) as zf:
            return [f"/vsizip/{out}/{n}" for n in zf.namelist()]
    return [str(p) for p in out.rglob("*")]


def test_rejects_mismatched_data(tmp_path: Path, source: list[TopsBurst]) -> None:
    bs = [_crop(b, np.timedelta64(0, "ns")) for b in source]
    bad = [np.zeros((10, WIDTH), np.complex64)] * 2
    with pytest.raises(InvalidInput) as exc:
        write_safe(
            TEMPLATE, tmp_path, [SafeSwath("IW1", "VV", bs, bad)],
            orbit=source[0].geometry.orbit, geolocate=ELLIPSOID,
        )  # fmt: skip
    assert exc.value.field == "swaths"


def test_dual_pol_multi_swath(tmp_path: Path) -> None:
    """IW2 VV has no template annotation of its own: it is made from IW2 VH's."""
    swaths = []
    for sw, pol, tmpl_pol in (("IW1", "VV", "VV"), ("IW1", "VH", "VH"), ("IW2", "VV", "VH")):
        b = tops_bursts(S1B, sw, tmpl_pol)[1]
        b = replace(b, geometry=replace(b.geometry, samples=64), last_valid_sample=63)
        data = np.full((b.geometry.lines, 64), 3 + 4j, np.complex64)
        swaths.append(SafeSwath(sw, pol, [b], [data]))
    orbit = swaths[0].bursts[0].geometry.orbit
    out = write_safe(S1B, tmp_path, swaths, orbit=orbit, geolocate=ELLIPSOID)
    assert "_1SDV_" in out.name and out.name.startswith("S1B_IW_SLC__")
    assert list_swaths(out) == [("IW1", "VH"), ("IW1", "VV"), ("IW2", "VV")]
    summary = product_summary(out)
    assert summary.attrs["transmitter_receiver_polarisations"] == ["VV", "VH"]
    names = sorted(p.name for p in (out / "annotation").iterdir())
    # ESA's image numbers of the template: IW1 VH 001, IW1 VV 004; IW2 VV 005
    assert [n[-7:-4] for n in names] == ["001", "004", "005"]
    assert names[2].startswith("s1b-iw2-slc-vv-")
    iw2 = open_swath(out, "IW2", "VV")
    assert iw2.polarisation == "VV" and iw2.samples == 64
    assert iw2.first_line_time == swaths[2].bursts[0].geometry.first_line_time
    with pytest.raises(InvalidInput):  # calibration files are not written
        calibration(out, "IW1", "VV")


def test_sparse_full_size_product_reads_one_burst(
    tmp_path: Path, every_burst: list[TopsBurst]
) -> None:
    """A full-size IW1 swath (9 bursts, 1.2 GB of CInt16) with only burst 4 written: reading a
    window of burst 4 moves about that window's bytes, not the product's."""
    bs = every_burst
    lines, samples = bs[0].geometry.lines, bs[0].geometry.samples
    assert (len(bs), lines, samples) == (9, 1501, 22694)
    rng = np.random.default_rng(3)
    dn = rng.integers(-300, 301, size=(500, samples, 2), dtype=np.int16)
    burst4 = np.zeros((lines, samples), np.complex64)  # random where read back, zeros below
    burst4.real[:500], burst4.imag[:500] = dn[..., 0], dn[..., 1]
    data: list[np.ndarray | None] = [None] * 9
    data[4] = burst4
    swath = SafeSwath("IW1", "VV", bs, data)
    out = write_safe(TEMPLATE, tmp_path, [swath], orbit=bs[0].geometry.orbit, geolocate=ELLIPSOID)
    tiff = next((out / "measurement").glob("*.tiff"))
    burst_bytes = lines * samples * 4
    with rasterio.open(tiff) as ds:
        assert (ds.height, ds.width, ds.dtypes[0]) == (9 * lines, samples, "complex_int16")
        logical = ds.height * ds.width * 4
    assert logical > 1_200_000_000
    on_disk = tiff.stat().st_blocks * 512
    assert on_disk < 1.2 * burst_bytes  # burst 4 and the header only, not 9 bursts

    back = tops_bursts(out, "IW1", "VV")
    counter = ByteCounter()
    window = (200, 1000, 300, 20000)
    got = read_burst(out, back[4], window, counter)
    np.testing.assert_array_equal(got, burst4[200:500, 1000:21000])
    window_bytes = 300 * 20000 * 4
    assert window_bytes < counter.bytes < 2 * window_bytes
    assert counter.bytes / logical < 0.05  # about 2 % of the full-size product
    zeros = read_burst(out, back[3], (0, 0, 10, samples), ByteCounter())
    assert not np.any(zeros)  # unwritten strips read as zeros

    # byteOffset: the written burst's is true; the others follow ESA's dense arithmetic
    ann = ElementTree.parse(next((out / "annotation").glob("*.xml"))).getroot()
    offsets = [int(b.findtext("byteOffset") or -1) for b in ann.iter("burst")]
    with tiff.open("rb") as f:
        f.seek(offsets[4])
        pairs = np.frombuffer(f.read(2 * samples * 2), "<i2")
    np.testing.assert_array_equal(pairs, dn[0].ravel())
    assert [offsets[i] - offsets[4] for i in range(9) if i != 4] == [
        i * burst_bytes for i in range(9) if i != 4
    ]


def test_sparse_refuses_zip(tmp_path: Path, source: list[TopsBurst]) -> None:
    bs = [_crop(b, np.timedelta64(0, "ns")) for b in source]
    swath = SafeSwath(
        "IW1", "VV", bs, [None, np.zeros((bs[1].geometry.lines, WIDTH), np.complex64)]
    )
    with pytest.raises(InvalidInput) as exc:
        write_safe(
            TEMPLATE, tmp_path, [swath], orbit=source[0].geometry.orbit, as_zip=True,
            geolocate=ELLIPSOID,
        )  # fmt: skip
    assert exc.value.field == "as_zip" and "sparse" in str(exc.value)
