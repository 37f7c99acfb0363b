"""gep.io.optical: band lookup in STAC items, the Landsat MTL reader, and reading several rasters
on one grid (refused, naming the input, when their grids differ)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gep.core.errors import InvalidInput
from gep.io.optical import band_asset, band_name, read_aligned, read_landsat_mtl
from gep.io.writers import write_cog

DATA = Path(__file__).parents[1] / "data" / "optical"


def test_band_names_across_missions() -> None:
    assert band_name("sentinel-2", "B8a") == "B8A"
    assert band_name("sentinel-2", "B1") == "B01"
    assert band_name("sentinel-2", "nir") == "B8A"  # the NHI's 0.865 µm band
    assert band_name("sentinel-2", "swir22") == "B12"
    assert band_name("landsat", "B05") == "B5"
    assert band_name("landsat", "swir1") == "B6"


def test_band_asset_by_key_file_name_or_common_name() -> None:
    item = {
        "id": "x",
        "properties": {"platform": "sentinel-2a"},
        "assets": {
            "nir08": {"href": "/d/T31TDH_20180101T105441_B8A.jp2"},
            "swir": {"href": "/d/a.tif", "eo:bands": [{"name": "B12", "common_name": "swir22"}]},
        },
    }
    assert band_asset(item, "nir08") == "nir08"
    assert band_asset(item, "B8A") == "nir08"  # from the file name
    assert band_asset(item, "swir2") == "swir"  # from eo:bands
    with pytest.raises(InvalidInput, match=r"has no band 'B04'.*nir08, swir"):
        band_asset(item, "B04")


def test_landsat_mtl() -> None:
    meta = read_landsat_mtl(DATA / "landsat8" / "LC08_L1TP_016037_20170813_20170814_01_RT_MTL.txt")
    assert meta.mission == "landsat-8"
    assert meta.datetime.isoformat().startswith("2017-08-13T15:54:15.788")
    assert meta.sun_zenith == pytest.approx(90 - 62.17310472)
    assert meta.sun_distance_factor == pytest.approx(1 / 1.0130510**2)
    assert meta.bands["B7"].radiance_mult == pytest.approx(4.9936e-04)
    assert meta.cloud_flag == ("QA", 4)


def _tif(
    path: Path, crs: str, transform: tuple[float, ...], shape: tuple[int, int] = (40, 50)
) -> Path:
    data = np.arange(shape[0] * shape[1], dtype="uint16").reshape(shape)
    write_cog(path, data, crs, transform, nodata=None)  # type: ignore[arg-type]
    return path


def test_read_aligned_cuts_the_common_area(tmp_path: Path) -> None:
    a = _tif(tmp_path / "a.tif", "EPSG:32633", (10, 0, 500_000, 0, -10, 4_000_000))
    # whole pixels apart: 3 columns east, 2 rows south
    b = _tif(tmp_path / "b.tif", "EPSG:32633", (10, 0, 500_030, 0, -10, 3_999_980))
    ra, rb = read_aligned([a, b], ["inputs.products[0]", "inputs.products[1]"])
    assert ra.data.shape == rb.data.shape == (38, 47)
    assert ra.transform == rb.transform == (10, 0, 500_030, 0, -10, 3_999_980)
    assert ra.data[0, 0] == 2 * 50 + 3 and rb.data[0, 0] == 0


@pytest.mark.parametrize(
    ("crs", "transform", "message"),
    [
        ("EPSG:32632", (10, 0, 500_000, 0, -10, 4_000_000), "must share one CRS"),
        ("EPSG:32633", (20, 0, 500_000, 0, -20, 4_000_000), "must share one resolution"),
        ("EPSG:32633", (10, 0, 500_004, 0, -10, 4_000_000), "fraction of a pixel"),
        ("EPSG:32633", (10, 0, 900_000, 0, -10, 4_000_000), "do not overlap"),
    ],
)
def test_read_aligned_refuses_other_grids(
    tmp_path: Path, crs: str, transform: tuple[float, ...], message: str
) -> None:
    a = _tif(tmp_path / "a.tif", "EPSG:32633", (10, 0, 500_000, 0, -10, 4_000_000))
    b = _tif(tmp_path / "b.tif", crs, transform)
    with pytest.raises(InvalidInput, match=message) as err:
        read_aligned([a, b], ["inputs.products[0]", "inputs.products[1]"])
    assert err.value.field == "inputs.products[1]"


def test_read_aligned_with_an_aoi_outside(tmp_path: Path) -> None:
    a = _tif(tmp_path / "a.tif", "EPSG:32633", (10, 0, 500_000, 0, -10, 4_000_000))
    with pytest.raises(InvalidInput, match="aoi lies outside") as err:
        read_aligned([a], ["inputs.products[0]"], (0.0, 0.0, 0.1, 0.1))
    assert err.value.field == "inputs.aoi"
