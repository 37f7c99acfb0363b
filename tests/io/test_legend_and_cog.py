"""Legends drawn with the tiles' colours, COGs that describe themselves, KMZ with its legend.

The legend's colours are checked against rio-tiler's colour map applied by hand (the table
``rio_tiler.colormap.cmap.get(name)`` indexed by the value rescaled to bytes, as rio-tiler's
``linear_rescale`` then a uint8 cast does), not against the legend's own code path; the COG
properties against what rasterio reads back.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from rio_tiler.colormap import cmap
from rio_tiler.utils import linear_rescale

from gep.core.errors import InvalidInput
from gep.core.render import LOS_DISPLACEMENT_M, WRAPPED_PHASE
from gep.io.legend import (
    BAR_HEIGHT,
    BAR_ORIGIN,
    BAR_WIDTH,
    LegendSpec,
    bar_values,
    colours,
    legend_json,
    legend_png,
    spec_of,
)
from gep.io.raster_meta import summarise
from gep.io.writers import COG_BLOCK, write_cog, write_kmz
from gep.processes.hotspots import MASK_RENDER


def _by_hand(values: np.ndarray, name: str, rng: tuple[float, float]) -> np.ndarray:
    """rio-tiler's colour of each value: rescaled to 0-255, cast to bytes, looked up."""
    idx = linear_rescale(values.astype("float64"), rng, (0, 255)).astype("uint8")
    table = cmap.get(name)
    return np.array([table[int(i)] for i in idx], dtype="uint8")


@pytest.mark.parametrize(
    ("name", "rng"), [("rdbu_r", (-0.05, 0.05)), ("twilight", (-math.pi, math.pi)),
                      ("greys_r", (0.0, 1.0)), ("viridis", (3.0, 250.0))],
)  # fmt: skip
def test_legend_stops_are_rio_tilers_colours(name: str, rng: tuple[float, float]) -> None:
    legend = legend_json(LegendSpec("t", "u", name, rng))
    values = np.array([s["value"] for s in legend["stops"]])
    assert values[0] == pytest.approx(rng[0]) and values[-1] == pytest.approx(rng[1])
    expected = _by_hand(values, name, rng)
    got = [s["color"] for s in legend["stops"]]
    assert got == ["#" + "".join(f"{c:02x}" for c in rgba) for rgba in expected]
    # and the ends differ (a colour map, not one colour)
    assert got[0] != got[-1]
    # values outside the range take the end colours, as a tile clips them
    out = colours(np.array([rng[0] - 10, rng[1] + 10]), name, rng)
    assert (out == _by_hand(np.array(rng), name, rng)).all()


def test_legend_png_bar_has_the_tile_colours(tmp_path: Path) -> None:
    spec = spec_of(LOS_DISPLACEMENT_M, (-0.05, 0.05))
    png = legend_png(spec)
    (tmp_path / "legend_los.png").write_bytes(png)  # looked at: see docs/rendering.md
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    x0, y0 = BAR_ORIGIN
    row = img[y0 + BAR_HEIGHT // 2, x0 : x0 + BAR_WIDTH]
    expected = _by_hand(bar_values((-0.05, 0.05)), "rdbu_r", (-0.05, 0.05))
    assert (row == expected).all()
    # a title and tick labels are drawn (dark pixels above and below the bar)
    assert (img[: y0 - 2, :, :3] < 80).any() and (img[y0 + BAR_HEIGHT + 6 :, :, :3] < 80).any()


def test_class_legend_uses_the_declared_colours(tmp_path: Path) -> None:
    legend = legend_json(spec_of(MASK_RENDER))
    assert legend["type"] == "classes"
    assert [(s["value"], s["name"]) for s in legend["stops"]] == [(0, "cold"), (1, "hot"),
                                                                  (2, "cloud")]  # fmt: skip
    assert [s["color"][:7] for s in legend["stops"]] == [c.color for c in MASK_RENDER.classes]
    png = legend_png(spec_of(MASK_RENDER))
    (tmp_path / "legend_classes.png").write_bytes(png)
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    for k, c in enumerate(MASK_RENDER.classes):  # the swatch centres
        assert tuple(img[26 + 20 * k + 7, 18]) == c.rgba


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (LegendSpec("t", "", "not-a-map", (0, 1)), "colormap_name"),
        (LegendSpec("t", "", "viridis", None), "rescale"),
        (LegendSpec("t", "", "viridis", (1.0, 1.0)), "rescale"),
        (LegendSpec("t", "", "viridis", (0.0, math.inf)), "rescale"),
    ],
)
def test_bad_legends_name_the_parameter(spec: LegendSpec, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        legend_json(spec)
    assert err.value.field == field


def test_cog_describes_itself(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    phase = rng.uniform(-np.pi, np.pi, (300, 420)).astype("float32")
    phase[:10] = np.nan
    transform = (0.0005, 0.0, 12.6, 0.0, -0.0005, 41.8)
    write_cog(tmp_path / "phase.tif", phase, "EPSG:4326", transform, render=WRAPPED_PHASE)
    with rasterio.open(tmp_path / "phase.tif") as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "3"
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.descriptions == ("Wrapped phase",) and src.units == ("rad",)
        np.testing.assert_array_equal(src.read(1), phase)  # the predictor is lossless
    mask = np.full((200, 200), 255, np.uint8)
    mask[50:150, 50:150] = 0
    mask[90:110, 90:110] = 1
    mask[:20, 100:] = 2
    write_cog(tmp_path / "mask.tif", mask, "EPSG:32633", (10, 0, 5e5, 0, -10, 5e6), nodata=255,
              render=MASK_RENDER)  # fmt: skip
    with rasterio.open(tmp_path / "mask.tif") as src:
        table = src.colormap(1)
        assert "PREDICTOR" not in src.tags(ns="IMAGE_STRUCTURE")  # integers: none
        assert src.descriptions == ("Thermal hotspots",)
    for c in MASK_RENDER.classes:
        assert table[c.value] == c.rgba


def test_raster_statistics_match_numpy(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    data = rng.normal(0.01, 0.02, (512, 700)).astype("float32")
    data[rng.random(data.shape) < 0.1] = np.nan
    write_cog(
        tmp_path / "d.tif",
        data,
        "EPSG:4326",
        (1e-3, 0, 10, 0, -1e-3, 45),
        render=LOS_DISPLACEMENT_M,
    )
    summary = summarise(tmp_path / "d.tif")
    band = summary.fields["raster:bands"][0]
    stats = band["statistics"]
    v = data[np.isfinite(data)].astype("float64")
    assert summary.exact
    # exact read: float64 reductions over the same float32 values (tolerance: rounding only)
    assert stats["minimum"] == pytest.approx(v.min(), rel=1e-12)
    assert stats["maximum"] == pytest.approx(v.max(), rel=1e-12)
    assert stats["mean"] == pytest.approx(v.mean(), rel=1e-9)
    assert stats["stddev"] == pytest.approx(v.std(), rel=1e-9)
    assert stats["valid_percent"] == pytest.approx(100 * v.size / data.size, abs=1e-4)
    assert band == {**band, "data_type": "float32", "nodata": "nan", "unit": "m"}
    assert summary.fields["proj:code"] == "EPSG:4326"
    assert summary.fields["proj:shape"] == [512, 700]
    assert summary.fields["proj:transform"] == [1e-3, 0, 10, 0, -1e-3, 45]
    assert summary.fields["file:size"] == (tmp_path / "d.tif").stat().st_size
    # a larger raster is read decimated, from its overviews (block averages): the mean within
    # the sampling error of the whole, the extremes and spread inside the full ones
    decimated = summarise(tmp_path / "d.tif", max_side=175)
    assert not decimated.exact
    s2 = decimated.fields["raster:bands"][0]["statistics"]
    assert s2["mean"] == pytest.approx(v.mean(), abs=4 * v.std() / math.sqrt(v.size / 16))
    assert v.min() <= s2["minimum"] < s2["maximum"] <= v.max()
    assert 0 < s2["stddev"] <= v.std()


def test_kmz_carries_its_legend(tmp_path: Path) -> None:
    data = np.linspace(-0.04, 0.04, 60 * 80, dtype="float32").reshape(60, 80)
    data[0, 0] = np.nan
    write_kmz(tmp_path / "r.kmz", data, (12.6, 41.7, 12.8, 41.8), name="GEP dinsar & co",
              cmap="RdBu_r", vmin=-0.05, vmax=0.05, title="LOS displacement", unit="m")  # fmt: skip
    with zipfile.ZipFile(tmp_path / "r.kmz") as z:
        kml = z.read("doc.kml").decode()
        legend = z.read("legend.png")
        overlay = np.asarray(Image.open(io.BytesIO(z.read("overlay.png"))).convert("RGBA"))
    assert "<ScreenOverlay>" in kml and "<href>legend.png</href>" in kml
    assert "GEP dinsar &amp; co" in kml  # escaped
    assert legend == legend_png(LegendSpec("LOS displacement", "m", "rdbu_r", (-0.05, 0.05)))
    # the overlay's colours are the tiles' colours too; no-data is transparent
    assert overlay[0, 0, 3] == 0
    expected = _by_hand(data[1:3, 5].astype("float64"), "rdbu_r", (-0.05, 0.05))
    assert (overlay[1:3, 5] == expected).all()


def test_overviews_keep_data_around_holes_and_integers_stay_integers(tmp_path: Path) -> None:
    """A map at low zoom draws the overviews: a field with scattered NaN must not vanish
    from them (GDAL's cubic default would blank every pixel near a hole), an overview of an
    integer raster (a class mask) holds only its values, and blocks are COG_BLOCK wide."""
    rng = np.random.default_rng(3)
    field = rng.normal(0.0, 0.01, (1024, 1024)).astype("float32")
    field[rng.random(field.shape) < 0.1] = np.nan
    write_cog(tmp_path / "f.tif", field, "EPSG:4326", (1e-3, 0, 10, 0, -1e-3, 45),
              render=LOS_DISPLACEMENT_M)  # fmt: skip
    mask = rng.choice(np.array([0, 2], dtype="uint8"), (1024, 1024))  # an average makes 1s
    write_cog(
        tmp_path / "m.tif", mask, "EPSG:4326", (1e-3, 0, 10, 0, -1e-3, 45), nodata=255
    )  # fmt: skip  (no colour table: GDAL would then pick palette entries)
    with rasterio.open(tmp_path / "f.tif") as src:
        assert src.block_shapes[0] == (COG_BLOCK, COG_BLOCK) and src.overviews(1)
        low = src.read(1, out_shape=(256, 256))  # from the overviews
        assert np.isfinite(low).mean() > 0.99
        # an average of the valid pixels: the field's mean within sampling error
        assert abs(float(np.nanmean(low)) - float(np.nanmean(field))) < 1e-3
    with rasterio.open(tmp_path / "m.tif") as src:
        assert src.overviews(1)
        assert set(np.unique(src.read(1, out_shape=(256, 256))).tolist()) == {0, 2}
