"""gep.io.sentinel1_bursts: bursts of real annotations, and reading their pixels in place.

The pixel tests use a real product (S1B IW1 VV annotation) cut down to 64 samples, with a
measurement TIFF written as ESA writes them (CInt16, uncompressed, one line per strip, the 9
bursts stacked); what ``read_burst`` gives back must be what was written, and from a zip it
must read about one burst's worth of bytes, not the file.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
import rasterio
from numpy.typing import NDArray

from gep.core.errors import InvalidInput
from gep.core.sar import TopsBurst
from gep.io.sentinel1_bursts import ByteCounter, read_burst, tops_bursts

DATA = Path(__file__).parents[1] / "data" / "s1"
ROME = DATA / "S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"
S1B = DATA / "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE"
SAMPLES = 64
# the test TIFFs carry no georeferencing (ESA's carry GCPs): irrelevant to reading pixels
pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


def _t(text: str | None) -> np.datetime64:
    return np.datetime64((text or "").strip().rstrip("Z"), "ns")


def test_tops_bursts_of_a_real_annotation() -> None:
    bs = tops_bursts(ROME, "IW1", "VV")
    ann = ElementTree.parse(next((ROME / "annotation").glob("s1a-iw1-slc-vv-*.xml"))).getroot()
    lpb = int(ann.findtext("swathTiming/linesPerBurst") or 0)
    samples = int(ann.findtext("imageAnnotation/imageInformation/numberOfSamples") or 0)
    dt = float(ann.findtext("imageAnnotation/imageInformation/azimuthTimeInterval") or 0)
    steering = float(ann.findtext("generalAnnotation/productInformation/azimuthSteeringRate") or 0)
    assert len(bs) == 9
    assert [b.burst_id for b in bs] == [f"117_{249402 + i}_IW1" for i in range(9)]
    starts = [_t(e.findtext("azimuthTime")) for e in ann.iter("burst")]
    fm = [
        (_t(e.findtext("azimuthTime")), e)
        for e in ann.iterfind("generalAnnotation/azimuthFmRateList/azimuthFmRate")
    ]
    dc = [
        (_t(e.findtext("azimuthTime")), e)
        for e in ann.iterfind("dopplerCentroid/dcEstimateList/dcEstimate")
    ]
    for i, b in enumerate(bs):
        g = b.geometry
        assert (b.index, b.first_line, g.lines, g.samples) == (i, i * lpb, lpb, samples)
        assert g.first_line_time == starts[i]
        assert 0 < b.first_valid_line < b.last_valid_line < lpb - 1
        assert 0 <= b.first_valid_sample < b.last_valid_sample < samples
        assert b.azimuth_steering_rate == pytest.approx(np.radians(steering), rel=1e-12)
        mid = starts[i] + np.timedelta64(round((lpb - 1) / 2 * dt * 1e9), "ns")
        t_fm, e_fm = min(fm, key=lambda x: abs(x[0] - mid))
        t_dc, e_dc = min(dc, key=lambda x: abs(x[0] - mid))
        assert b.azimuth_fm_rate.azimuth_time == t_fm
        assert b.azimuth_fm_rate.coefficients == tuple(
            float(v) for v in (e_fm.findtext("azimuthFmRatePolynomial") or "").split()
        )
        assert b.doppler_centroid.azimuth_time == t_dc
        assert b.doppler_centroid.coefficients == tuple(
            float(v) for v in (e_dc.findtext("dataDcPolynomial") or "").split()
        )
    # the nearest entries differ between bursts (one list entry per burst or so)
    assert len({b.azimuth_fm_rate.azimuth_time for b in bs}) > 4


def _small_safe(root: Path) -> tuple[Path, NDArray[np.complex64]]:
    """The S1B product with its IW1 VV swath cut to 64 samples and a measurement TIFF."""
    safe = root / S1B.name
    shutil.copytree(S1B, safe)
    ann = next((safe / "annotation").glob("s1b-iw1-slc-vv-*.xml"))
    text = ann.read_text()
    for tag in ("numberOfSamples", "samplesPerBurst"):
        text = text.replace(f"<{tag}>21632</{tag}>", f"<{tag}>{SAMPLES}</{tag}>")
    ann.write_text(text)
    root_el = ElementTree.fromstring(text.encode())
    lines = int(root_el.findtext("imageAnnotation/imageInformation/numberOfLines") or 0)
    rng = np.random.default_rng(11)
    shape = (lines, SAMPLES)
    dn = rng.integers(-2000, 2000, shape) + 1j * rng.integers(-2000, 2000, shape)
    (safe / "measurement").mkdir()
    profile = {
        "driver": "GTiff", "width": SAMPLES, "height": lines, "count": 1,
        "dtype": "complex_int16", "tiled": False, "blockysize": 1, "compress": None,
    }  # fmt: skip
    with rasterio.open(safe / "measurement" / f"{ann.stem}.tiff", "w", **profile) as ds:
        ds.write(dn.astype(np.complex64), 1)
    return safe, dn.astype(np.complex64)


def _zip(safe: Path, target: Path) -> Path:
    """ESA's layout: the .SAFE folder at the top of the zip, measurements stored."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(safe.rglob("*")):
            if p.is_file():
                stored = zipfile.ZIP_STORED if p.suffix == ".tiff" else zipfile.ZIP_DEFLATED
                zf.write(p, f"{safe.name}/{p.relative_to(safe).as_posix()}", compress_type=stored)
    return target


@pytest.fixture(scope="module")
def small(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, NDArray[np.complex64], list[TopsBurst]]:
    root = tmp_path_factory.mktemp("safe")
    safe, dn = _small_safe(root)
    zipped = _zip(safe, root / S1B.name.replace(".SAFE", ".zip"))
    return safe, zipped, dn, tops_bursts(safe, "IW1", "VV")


def test_read_a_window_of_burst_3(
    small: tuple[Path, Path, NDArray[np.complex64], list[TopsBurst]],
) -> None:
    safe, zipped, dn, bs = small
    lpb = bs[0].geometry.lines
    assert len(bs) == 9 and bs[0].geometry.samples == SAMPLES
    assert dn.shape == (9 * lpb, SAMPLES)
    window = (700, 10, 40, 30)
    want = dn[3 * lpb + 700 : 3 * lpb + 740, 10:40]
    for product in (safe, safe / "manifest.safe", zipped):
        got = read_burst(product, bs[3], window)
        assert got.dtype == np.complex64 and got.shape == (40, 30)
        np.testing.assert_array_equal(got, want)
    # bursts listed from the zip read the same
    np.testing.assert_array_equal(read_burst(zipped, tops_bursts(zipped)[3], window), want)


def test_one_burst_from_a_zip_reads_about_one_burst(
    small: tuple[Path, Path, NDArray[np.complex64], list[TopsBurst]],
) -> None:
    _safe, zipped, dn, bs = small
    lpb = bs[0].geometry.lines
    counter = ByteCounter()
    got = read_burst(zipped, bs[5], counter=counter)
    np.testing.assert_array_equal(got, dn[5 * lpb : 6 * lpb])
    burst_bytes = lpb * SAMPLES * 4
    size = zipped.stat().st_size
    # pixels + zip directory + manifest + TIFF header and strip tables; nothing like the file
    assert burst_bytes <= counter.bytes < 0.2 * size, (counter, size)
    assert counter.reads > 0
    small_window = ByteCounter()
    read_burst(zipped, bs[5], (0, 0, 10, 8), counter=small_window)
    assert small_window.bytes < counter.bytes / 2


def test_read_errors(
    small: tuple[Path, Path, NDArray[np.complex64], list[TopsBurst]], tmp_path: Path
) -> None:
    safe, zipped, _dn, bs = small
    # an annotation-only product: the manifest names the TIFF, the folder lacks it
    with pytest.raises(InvalidInput, match="no measurement file for IW1/VV"):
        read_burst(S1B, tops_bursts(S1B, "IW1", "VV")[0])
    with pytest.raises(InvalidInput, match="no measurement file for IW2/VH"):
        read_burst(safe, tops_bursts(S1B, "IW2", "VH")[0])
    # a download cut in half
    cut = tmp_path / zipped.name
    cut.write_bytes(zipped.read_bytes()[: zipped.stat().st_size // 2])
    with pytest.raises(InvalidInput, match="truncated") as err:
        read_burst(cut, bs[0])
    assert zipped.name in err.value.message
    # windows outside the burst
    lpb = bs[0].geometry.lines
    for window in ((lpb - 5, 0, 10, 4), (0, SAMPLES - 3, 2, 4), (-1, 0, 2, 2), (0, 0, 0, 3)):
        with pytest.raises(InvalidInput, match="not inside burst") as err:
            read_burst(safe, bs[2], window)
        assert err.value.field == "window"
    # a burst of another product
    with pytest.raises(InvalidInput, match="is from S1A"):
        read_burst(safe, tops_bursts(ROME, "IW1", "VV")[0])


def test_a_tiff_that_disagrees_with_the_annotation(
    small: tuple[Path, Path, NDArray[np.complex64], list[TopsBurst]], tmp_path: Path
) -> None:
    safe, _zipped, _dn, bs = small
    other = tmp_path / safe.name
    shutil.copytree(safe, other, ignore=shutil.ignore_patterns("*.tiff"))
    (tiff,) = safe.glob("measurement/*.tiff")
    profile = {
        "driver": "GTiff", "width": SAMPLES // 2, "height": 100, "count": 1,
        "dtype": "complex_int16", "tiled": False, "blockysize": 1,
    }  # fmt: skip
    with rasterio.open(other / "measurement" / tiff.name, "w", **profile) as ds:
        ds.write(np.ones((100, SAMPLES // 2), np.complex64), 1)
    with pytest.raises(InvalidInput, match="100 lines x 32 samples") as err:
        read_burst(other, bs[1])
    assert "annotation wants 64 samples" in err.value.message


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """A static server that honours single byte ranges, as object stores and ESA's hubs do."""

    sent = 0

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        spec = self.headers.get("Range")
        if spec is None or not path.is_file():
            super().do_GET()
            return
        size = path.stat().st_size
        first, _, last = spec.removeprefix("bytes=").partition("-")
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
        with path.open("rb") as f:
            f.seek(start)
            body = f.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.wfile.write(body)
        type(self).sent += len(body)

    def log_message(self, *args: object) -> None:
        pass


def test_read_a_burst_over_http_with_range_requests(
    small: tuple[Path, Path, NDArray[np.complex64], list[TopsBurst]],
) -> None:
    _safe, zipped, dn, bs = small
    handler = functools.partial(_RangeHandler, directory=str(zipped.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{zipped.name}"
        lpb = bs[0].geometry.lines
        _RangeHandler.sent = 0
        got = read_burst(url, bs[7], (200, 3, 100, 50))
        np.testing.assert_array_equal(got, dn[7 * lpb + 200 : 7 * lpb + 300, 3:53])
        # 1 MiB read-ahead blocks (zip directory, manifest, TIFF header, strips), not the zip
        assert _RangeHandler.sent < 0.5 * zipped.stat().st_size
        listed = tops_bursts(url, "IW1", "VV")  # manifest and annotation over http as well
        assert [(b.burst_id, b.first_line, b.geometry.first_line_time) for b in listed] == [
            (b.burst_id, b.first_line, b.geometry.first_line_time) for b in bs
        ]
        np.testing.assert_array_equal(read_burst(url, listed[7], (200, 3, 100, 50)), got)
        with pytest.raises(InvalidInput, match="cannot open"):
            read_burst(url.replace(".zip", "-missing.zip"), bs[0])
    finally:
        server.shutdown()
        server.server_close()


def test_a_truncated_measurement_tiff(
    small: tuple[Path, Path, NDArray[np.complex64], list[TopsBurst]], tmp_path: Path
) -> None:
    safe, _zipped, _dn, bs = small
    other = tmp_path / safe.name
    shutil.copytree(safe, other)
    (tiff,) = other.glob("measurement/*.tiff")
    tiff.write_bytes(tiff.read_bytes()[: tiff.stat().st_size // 2])
    read_burst(other, bs[0], (0, 0, 5, 5))  # the first half is still there
    with pytest.raises(InvalidInput, match="truncated or damaged"):
        read_burst(other, bs[8])


def test_metadata_of_a_stored_zip_never_leaves_its_folder(tmp_path: Path) -> None:
    """A zip member that climbs out of the product (``..``) is refused, not extracted."""
    import io
    import zipfile

    from gep.io.ranged import RangedFile
    from gep.io.sentinel1_bursts import extract_metadata

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("P.SAFE/manifest.safe", "<xml/>")
        zf.writestr("P.SAFE/annotation/../../../evil.xml", "x")
    data = buf.getvalue()
    source = RangedFile("P.zip", len(data), lambda: io.BytesIO(data), "memory://P.zip")
    with pytest.raises(InvalidInput, match="leaves the product"):
        extract_metadata(source, tmp_path / "out")
    assert not (tmp_path / "evil.xml").exists() and not (tmp_path.parent / "evil.xml").exists()
