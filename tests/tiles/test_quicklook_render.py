"""Quicklook rendering on real optical bands and on SAR products, checked against independent
numpy / rasterio computations of the same picture."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import rasterio
from numpy.typing import NDArray
from rasterio.enums import Resampling

from gep.core.errors import NotFound
from gep.harvest.base import SourceConfig
from gep.harvest.http import Fetcher
from gep.harvest.safe_folder import SafeFolderSource
from gep.io.slc_product import write_slc_product
from gep.tiles.quicklook import (
    NoQuicklookSource,
    QuicklookFailed,
    find_source,
    local_path,
    may_want_quicklook,
    quicklook_png,
    wants_generated_thumbnail,
)
from tests.support.quicklook_items import (
    L8,
    L8_BAND,
    ROME_SAFE,
    S1,
    S2,
    ZIP_SAFE,
    box_mean,
    decode,
    item,
    landsat8_item,
    read_band,
    reflectivity,
    safe_with_measurement,
    sar_db_expected,
    sentinel2_item,
    speckle,
    stretch_2_98,
    tif_asset,
    write_tif,
)

# the test rasters are in radar or image geometry on purpose
pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

# ---------------------------------------------------------------------- optical


def test_landsat8_rgb_matches_an_exact_decimation_of_each_band(tmp_path: Path) -> None:
    """On a 256 × 252 crop of the real bands the decimation is exactly 2 × 2: every channel is
    then known to the DN (mean of the non-zero pixels of each box, 2–98 % stretch)."""
    bands = {}
    for n in (2, 3, 4):
        with rasterio.open(L8 / L8_BAND.format(n)) as src:
            profile = src.profile
            data = src.read(1)[:256, :252]
        profile.update(width=252, height=256)
        with rasterio.open(tmp_path / L8_BAND.format(n), "w", **profile) as dst:
            dst.write(data, 1)
        bands[n] = data
    png = quicklook_png(landsat8_item(tmp_path), max_size=128)
    rgba = decode(png)
    assert rgba.shape == (128, 126, 4)

    means = {n: box_mean(b.astype(float), b > 0, 2) for n, b in bands.items()}
    opaque = np.logical_and.reduce([np.isfinite(m) for m in means.values()])
    assert np.array_equal(rgba[..., 3] == 255, opaque) and not opaque.all()
    assert (rgba[..., :3][~opaque] == 0).all()
    for channel, n in enumerate((4, 3, 2)):  # red, green, blue
        expected = stretch_2_98(np.where(opaque, means[n], np.nan))
        got = rgba[..., channel].astype(float)
        assert np.abs(got - expected)[opaque].max() <= 1, f"channel {channel} is not band {n}"
        # and not any other band (they correlate: 24-53 % of the pixels would still match)
        for other in {2, 3, 4} - {n}:
            wrong = stretch_2_98(np.where(opaque, means[other], np.nan))
            assert (np.abs(got - wrong)[opaque] <= 1).mean() < 0.75
        # 2-98 %: about 2 % of the opaque pixels saturate at each end
        assert 0.01 < (got[opaque] == 255).mean() < 0.04
        assert 0.01 < (got[opaque] == 0).mean() < 0.04


def _rasterio_decimated(path: Path, shape: tuple[int, int]) -> np.ma.MaskedArray[Any, Any]:
    """The band decimated by GDAL's average resampling, with 0 declared as no-data."""
    data = read_band(path)
    with rasterio.MemoryFile() as mem:
        with mem.open(
            driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
            dtype=data.dtype, nodata=0,
        ) as dst:  # fmt: skip
            dst.write(data, 1)
        with mem.open() as src:
            return src.read(1, out_shape=shape, resampling=Resampling.average, masked=True)


@pytest.mark.parametrize(
    ("make", "files", "shape", "fill", "tolerance"),
    [
        # 255 × 259 px GeoTIFFs, 30 % fill; high-contrast clouds at 900 m make the sampling
        # of a 2.03× decimation differ more from GDAL's area average than on the S2 preview
        (landsat8_item, [L8 / L8_BAND.format(n) for n in (4, 3, 2)], (128, 126), 0.302, 10.0),
        # 687 × 687 px JPEG 2000 without georeferencing, 37 % fill
        (sentinel2_item, [S2 / f"B0{n}.jp2" for n in (4, 3, 2)], (128, 128), 0.374, 3.0),
    ],
    ids=["landsat8", "sentinel2"],
)
def test_real_bands_render_as_rgb_with_transparent_fill(
    make: Any, files: list[Path], shape: tuple[int, int], fill: float, tolerance: float
) -> None:
    it = make()
    source = find_source(it)
    assert source is not None and source.kind == "rgb"
    rgba = decode(quicklook_png(it, max_size=128))
    assert rgba.shape == (*shape, 4)
    ref = [_rasterio_decimated(f, shape) for f in files]
    valid = np.logical_and.reduce([~np.ma.getmaskarray(r) for r in ref])
    alpha = rgba[..., 3] == 255
    assert (alpha == valid).mean() > 0.98
    assert abs((~alpha).mean() - fill) < 0.02
    both = alpha & valid
    for channel in range(3):
        errors = [
            np.abs(rgba[..., channel].astype(float) - stretch_2_98(np.where(valid, r, np.nan)))[
                both
            ].mean()
            for r in ref
        ]
        # each channel is closest to its own band (red, green, blue), and close to it
        assert int(np.argmin(errors)) == channel, errors
        assert errors[channel] < tolerance, errors


def test_single_band_raster_renders_grey_with_its_nodata(tmp_path: Path) -> None:
    """The Rome DEM (int16, no-data −32768) with holes cut in: 360² → 90², 4 × 4 boxes."""
    dem = read_band(Path(__file__).parents[1] / "data/dem/Rome-30m-DEM.tif")
    dem[:40, :40] = -32768  # whole boxes missing: transparent
    dem[100:102, 100:103] = -32768  # part of a box: averaged over what is there
    path = write_tif(tmp_path / "dem.tif", dem, nodata=-32768)
    it = item("dem", {"dem": tif_asset(path)})
    source = find_source(it)
    assert source is not None and source.kind == "grey"
    la = decode(quicklook_png(it, max_size=90))
    assert la.shape == (90, 90, 2)
    mean = box_mean(dem.astype(float), dem != -32768, 4)
    assert np.array_equal(la[..., 1] == 255, np.isfinite(mean))
    assert (la[:10, :10, 1] == 0).all()
    expected = stretch_2_98(mean)
    ok = np.isfinite(mean)
    assert np.abs(la[..., 0].astype(float) - expected)[ok].max() <= 1


# ---------------------------------------------------------------------- SAR


@pytest.fixture
def small_geometry(rome_geometry: Any) -> Any:
    return dataclasses.replace(rome_geometry, lines=64, samples=128)


def _slc_item(folder: Path, geometry: Any, slc: NDArray[Any]) -> dict[str, Any]:
    ring = [[12.4, 41.8], [12.6, 41.8], [12.6, 42.0], [12.4, 42.0], [12.4, 41.8]]
    truth = {"sigma": np.abs(slc).astype("float32")}
    return write_slc_product(
        folder, "S1A_SIM_SLC", slc, geometry,
        footprint={"type": "Polygon", "coordinates": [ring]}, truth=truth,
    )  # fmt: skip


def test_slc_product_shows_incoherently_multilooked_db(tmp_path: Path, small_geometry: Any) -> None:
    """A GEP SLC product of 64 × 128 complex pixels → 16 × 32: 4 × 4 looks of power, in dB."""
    z = speckle((64, 128), reflectivity((64, 128)), seed=3)
    it = _slc_item(tmp_path, small_geometry, z)
    source = find_source(it)
    assert source is not None and (source.kind, source.layers) == ("sar", (("slc", 1),))
    la = decode(quicklook_png(it, max_size=32))
    assert la.shape == (16, 32, 2) and (la[..., 1] == 255).all()
    got = la[..., 0].astype(float)
    assert np.abs(got - sar_db_expected(z, 4)).max() <= 1
    # what the other ways of decimating would have shown, for scale: not this
    single_look = stretch_2_98(10 * np.log10(np.abs(z[::4, ::4]) ** 2))
    coherent = stretch_2_98(20 * np.log10(np.abs(box_mean(z, np.ones(z.shape, bool), 4))))
    assert np.abs(got - single_look).mean() > 15
    assert np.abs(got - coherent).mean() > 15
    # the bright square (rows 16-31, columns 32-63 → 4-7, 8-15) is what the eye finds
    assert got[4:8, 8:16].mean() > 230 > 100 > got[:, :4].mean()


def test_large_slc_is_sampled_and_its_complex_overviews_ignored(
    tmp_path: Path, small_geometry: Any
) -> None:
    """128 × 256 → 8 × 16: nearest samples at pixel centres (every 4th pixel, offset 2), then
    4 × 4 looks. Overviews built by GDAL (complex averages, dark) must not be read."""
    geometry = dataclasses.replace(small_geometry, lines=128, samples=256)
    z = speckle((128, 256), reflectivity((128, 256)), seed=4)
    it = _slc_item(tmp_path, geometry, z)
    slc = Path(it["assets"]["slc"]["href"].removeprefix("file://"))
    with rasterio.open(slc, "r+") as dst:
        dst.build_overviews([2, 4], Resampling.average)
    la = decode(quicklook_png(it, max_size=16))
    assert la.shape == (8, 16, 2)
    assert np.abs(la[..., 0].astype(float) - sar_db_expected(z[2::4, 2::4], 4)).max() <= 1


def _harvested(folder: Path) -> dict[str, Any]:
    """The item `gep harvest` makes of the one product in ``folder``."""
    source = SafeFolderSource(SourceConfig("local", "safe", str(folder), "s1"), Fetcher())
    page = source.fetch(source.start(None))
    assert not page.errors and len(page.items) == 1
    return page.items[0]


@pytest.mark.parametrize("name", [ROME_SAFE, ZIP_SAFE], ids=["folder", "zip"])
def test_safe_measurement_is_rendered_co_polarised(tmp_path: Path, name: str) -> None:
    sigma = reflectivity((64, 128))
    vv = np.round(speckle((64, 128), sigma * 1e4, seed=5))
    vh = np.round(speckle((64, 128), sigma[::-1, ::-1] * 1e3, seed=6))
    (tmp_path / "in").mkdir()
    safe_with_measurement(tmp_path / "in", name, vv, vh)
    it = _harvested(tmp_path / "in")
    source = find_source(it)
    assert source is not None and source.safe and source.kind == "sar"
    assert wants_generated_thumbnail(it) and may_want_quicklook(orjson.dumps(it))
    la = decode(quicklook_png(it, max_size=32))
    assert la.shape == (16, 32, 2)
    assert np.abs(la[..., 0].astype(float) - sar_db_expected(vv, 4)).max() <= 1


def test_annotation_only_safe_says_the_image_data_is_missing(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(S1 / ROME_SAFE, tmp_path / ROME_SAFE)
    it = _harvested(tmp_path)
    with pytest.raises(NotFound, match="no measurement TIFF"):
        quicklook_png(it)


def test_grd_amplitude_geotiff(tmp_path: Path) -> None:
    """A real-valued (uint16 amplitude) SAR raster: power = amplitude², 0 = no data."""
    amp = np.round(np.abs(speckle((64, 128), reflectivity((64, 128)) * 1e4, seed=7)))
    amp = amp.astype("uint16")
    amp[:8] = 0
    it = item(
        "S1A_GRD",
        {
            "vh": tif_asset(write_tif(tmp_path / "vh.tif", amp // 3)),
            "vv": tif_asset(write_tif(tmp_path / "vv.tif", amp)),
            "incidence_angle": tif_asset(write_tif(tmp_path / "inc.tif", amp)),
        },
        **{"sar:polarizations": ["VV", "VH"], "sar:product_type": "GRD"},
    )
    assert find_source(it).layers == (("vv", 1),)  # type: ignore[union-attr]
    la = decode(quicklook_png(it, max_size=32))
    assert (la[:2, :, 1] == 0).all() and (la[2:, :, 1] == 255).all()
    a = amp.astype(float)
    expected = stretch_2_98(10 * np.log10(box_mean(a**2, a > 0, 4)))
    assert np.abs(la[2:, :, 0].astype(float) - expected[2:]).max() <= 1


# ---------------------------------------------------------------------- choosing, refusing


@pytest.mark.parametrize(
    ("href", "path"),
    [
        ("/data/a.tif", "/data/a.tif"),
        ("file:///data/a%20b.tif", "/data/a b.tif"),
        ("file://localhost/data/a.tif", "/data/a.tif"),
        ("file:/data/a.tif", "/data/a.tif"),
        ("file://otherhost/data/a.tif", None),
        ("//otherhost/data/a.tif", None),  # a network-path reference
        ("/vsicurl/https://example.com/a.tif", None),
        ("/%76sicurl/https://example.com/a.tif", None),
        ("file:///vsizip/x.zip/a.tif", None),
        ("https://example.com/a.tif", None),
        ("s3://bucket/a.tif", None),
        ("a.tif", None),  # relative: stored items have no self link to resolve it against
        ("/data/a\x00.tif", None),
        ("/data/a%00.tif", None),
    ],
)
def test_only_local_hrefs_name_files(href: str, path: str | None) -> None:
    got = local_path(href)
    assert (str(got) if got else None) == path


def _remote(key: str, **extra: Any) -> dict[str, Any]:
    return {"href": f"https://example.com/{key}.tif", "type": "image/tiff", **extra}


def test_sources_are_chosen_from_metadata_only() -> None:
    l8 = landsat8_item()
    s2 = sentinel2_item()
    local = tif_asset(Path("/nonexistent/x.tif"))  # metadata only: never opened
    cases: dict[str, tuple[dict[str, Any], tuple[tuple[str, int], ...] | None]] = {
        "landsat8": (l8, (("B4", 1), ("B3", 1), ("B2", 1))),
        "sentinel2": (s2, (("B04", 1), ("B03", 1), ("B02", 1))),
        "landsat7 numbering": (
            item("LE07", {f"B{n}": local for n in (1, 2, 3, 4)}, platform="landsat-7"),
            (("B3", 1), ("B2", 1), ("B1", 1)),
        ),
        "visual asset": (
            item(
                "vis",
                {
                    "visual": {
                        **local,
                        "roles": ["visual"],
                        "eo:bands": [{"common_name": c} for c in ("blue", "green", "red")],
                    }
                },
            ),
            (("visual", 3), ("visual", 2), ("visual", 1)),
        ),
        "grey": (item("g", {"data": local, "mask": {**local, "roles": ["data"]}}), (("data", 1),)),
        "remote only": (item("r", {"data": _remote("data")}), None),
        "relative href": (item("rel", {"data": {**local, "href": "x.tif"}}), None),
        "gdal virtual path": (
            item("v", {"data": {**local, "href": "/vsicurl/http://x/a.tif"}}),
            None,
        ),
        "not a raster": (item("n", {"data": {**local, "type": "application/json"}}), None),
        "metadata role": (item("m", {"data": {**local, "roles": ["metadata"]}}), None),
    }
    for name, (it, layers) in cases.items():
        source = find_source(it)
        assert (source.layers if source else None) == layers, name
        # the bytes scan the STAC API runs on every item never hides one that needs a quicklook
        assert may_want_quicklook(orjson.dumps(it)) or not wants_generated_thumbnail(it), name

    with_thumb = {**l8, "assets": {**l8["assets"], "thumbnail": _remote("thumb")}}
    with_overview = {**l8, "assets": {**l8["assets"], "ql": {**local, "roles": ["overview"]}}}
    for it in (with_thumb, with_overview):
        assert find_source(it) is not None and not wants_generated_thumbnail(it)
        assert not may_want_quicklook(orjson.dumps(it))
    # remote catalogue records (even with file:size fields) are not parsed
    remote = item("S1_remote", {"data": {**_remote("a"), "file:size": 10}}, **{"sar:x": 1})
    assert not may_want_quicklook(orjson.dumps(remote))


def test_unrenderable_items_fail_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(NoQuicklookSource, match="remote assets are not rendered") as exc:
        quicklook_png(item("r", {"data": _remote("data")}))
    assert exc.value.field == "assets" and "'data'" in exc.value.message

    missing = item("m", {"data": tif_asset(tmp_path / "gone.tif")})
    with pytest.raises(NotFound, match="does not exist") as nf:
        quicklook_png(missing)
    assert nf.value.field == "assets.data.href"

    vrt = tmp_path / "evil.tif"
    vrt.write_text('<VRTDataset rasterXSize="1"><VRTRasterBand/></VRTDataset>')
    with pytest.raises(QuicklookFailed, match="neither a GeoTIFF nor a JPEG 2000"):
        quicklook_png(item("v", {"data": tif_asset(vrt)}))

    good = write_tif(tmp_path / "good.tif", np.arange(64 * 64, dtype="float32").reshape(64, 64))
    three = [{"common_name": c} for c in ("red", "green", "blue")]
    with pytest.raises(QuicklookFailed, match=r"has 1 band\(s\), not band 2"):
        quicklook_png(item("b", {"visual": tif_asset(good, **{"eo:bands": three})}))

    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(QuicklookFailed, match=r"asset\(s\) data: .*IReadBlock failed"):
        quicklook_png(item("t", {"data": tif_asset(truncated)}))

    s1_zip = tmp_path / "S1A_IW_SLC__1SDV_X.zip"
    s1_zip.write_bytes(b"not a zip")
    with pytest.raises(QuicklookFailed, match="neither a SAFE folder nor a zip"):
        quicklook_png(item("z", {"p": {"href": s1_zip.as_uri()}}, **{"sar:product_type": "SLC"}))
