"""Offset tracking against exact truth: Fourier-domain shifts of textured images (synthetic and
a real Sentinel-2 band) and a smooth landslide field, all with noise, on 64 × 64 windows; the
multi-pair time series; the outlier test and the conversion to metres."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from scipy.signal import fftconvolve

from gep.algorithms.optical.correlation import median_test, offset_tracking, to_east_north
from gep.algorithms.optical.mpic import default_pairs, invert_offsets
from gep.algorithms.simulate.optical import (
    displaced_texture,
    fourier_shift,
    landslide_field,
    texture_spectrum,
)

DATA = Path(__file__).parents[1] / "data" / "optical"
NOISE = 0.1  # white noise, as a fraction of the texture's standard deviation (SNR 20 dB)
TOLERANCE = 0.03  # px, median error (the target)


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    return texture_spectrum((384, 384), seed=11)


def _noisy(image: np.ndarray, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    return image + NOISE * scale * rng.standard_normal(image.shape)


def test_uniform_fourier_shifts_are_recovered_to_a_few_hundredths(texture: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    ref = fourier_shift(texture, 0.0, 0.0)
    errors = []
    # sub-pixel shifts, and shifts with whole pixels in them (the windows are cut again there)
    for dy, dx in [*rng.uniform(-0.5, 0.5, (3, 2)), (2.37, -1.61), (-3.8, 0.45)]:
        sec = fourier_shift(texture, dy, dx)
        f = offset_tracking(_noisy(ref, rng), _noisy(sec, rng), window=64, step=32)
        errors.append(np.hypot(f.dy - dy, f.dx - dx).ravel())
        assert f.valid.mean() > 0.95
        assert np.median(f.coherence) > 0.8 and np.median(f.snr) > 10
    err = np.concatenate(errors)
    assert np.median(err) <= TOLERANCE, np.median(err)
    assert np.percentile(err, 95) <= 3 * TOLERANCE


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_real_sentinel2_texture_with_fourier_shifts() -> None:
    with rasterio.open(DATA / "sentinel2" / "B08.jp2") as src:
        # a block inside the swath (the preview's left part is outside it, no-data)
        band = src.read(1).astype("float64")[350:670, 360:680]
    assert (band == 0).mean() < 0.01
    band = (band - band.mean()) / band.std()
    spec = np.fft.fft2(band)
    rng = np.random.default_rng(6)
    errors = []
    for dy, dx in rng.uniform(-1.5, 1.5, (3, 2)):
        sec = fourier_shift(spec, dy, dx)
        f = offset_tracking(_noisy(band, rng), _noisy(sec, rng), window=64, step=32)
        # windows away from the borders, where the periodic shift wraps content around
        inner = np.ix_((f.rows > 40) & (f.rows < 280), (f.cols > 40) & (f.cols < 280))
        errors.append(np.hypot(f.dy[inner] - dy, f.dx[inner] - dx).ravel())
    assert np.median(np.concatenate(errors)) <= TOLERANCE


def _window_truth(field: np.ndarray, rows: np.ndarray, cols: np.ndarray, window: int) -> np.ndarray:
    """The field averaged over each window with the weight the estimator gives each pixel (the
    square of the Hann taper both windows are multiplied by)."""
    h = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(window) + 0.5) / window)
    k = np.outer(h, h) ** 2
    k /= k.sum()
    mean = fftconvolve(field, k[::-1, ::-1], mode="valid")
    half = (window - 1) / 2
    return mean[np.ix_((rows - half).astype(int), (cols - half).astype(int))]


def test_landslide_field_is_recovered() -> None:
    spec = texture_spectrum((192, 192), seed=3, bandwidth=0.4)
    dy, dx = landslide_field((192, 192), radii=(72.0, 56.0))
    ref = fourier_shift(spec, 0.0, 0.0)
    sec = displaced_texture(spec, dy, dx)
    # the simulator is exact: a uniform field through it equals the Fourier shift
    z = np.zeros_like(dy)
    assert (
        np.abs(displaced_texture(spec, z + 0.3, z - 0.7) - fourier_shift(spec, 0.3, -0.7)).max()
        < 1e-9
    )
    rng = np.random.default_rng(7)
    f = offset_tracking(_noisy(ref, rng), _noisy(sec, rng), window=64, step=16)
    ty = _window_truth(dy, f.rows, f.cols, 64)
    tx = _window_truth(dx, f.rows, f.cols, 64)
    err = np.hypot(f.dy - ty, f.dx - tx)
    assert np.median(err) <= TOLERANCE, np.median(err)
    moving = np.hypot(ty, tx) > 0.5
    assert moving.sum() > 15 and np.median(err[moving]) <= 2 * TOLERANCE


def test_ncc_option_agrees_to_a_tenth(texture: np.ndarray) -> None:
    rng = np.random.default_rng(8)
    ref = fourier_shift(texture, 0.0, 0.0)
    sec = fourier_shift(texture, 1.3, -0.4)
    f = offset_tracking(_noisy(ref, rng), _noisy(sec, rng), window=64, step=32, method="ncc")
    ok = np.isfinite(f.dy)
    assert ok.mean() > 0.5
    assert np.median(np.hypot(f.dy[ok] - 1.3, f.dx[ok] + 0.4)) < 0.12
    assert np.median(f.coherence[ok]) > 0.8  # the NCC peak


def test_outliers_fail_the_median_test(texture: np.ndarray) -> None:
    rng = np.random.default_rng(9)
    dy = 0.5 + 0.02 * rng.standard_normal((12, 12))
    dx = -0.2 + 0.02 * rng.standard_normal((12, 12))
    dy[3, 4] += 2.0
    dx[8, 8] -= 1.5
    out = median_test(dy, dx)
    assert out[3, 4] and out[8, 8] and out.sum() == 2
    # and the tracker marks a window of unrelated content invalid
    ref = fourier_shift(texture, 0.0, 0.0)
    sec = fourier_shift(texture, 0.4, 0.4)
    sec[160:224, 160:224] = rng.standard_normal((64, 64))
    f = offset_tracking(ref, sec, window=64, step=32)
    i = int(np.argmin(np.abs(f.rows - 191.5)))
    j = int(np.argmin(np.abs(f.cols - 191.5)))
    assert not f.valid[i, j]
    assert f.coherence[i, j] < 0.3 and f.coherence[i - 2, j - 2] > 0.9


def test_window_larger_than_the_image_is_refused() -> None:
    with pytest.raises(ValueError, match="larger than the image"):
        offset_tracking(np.zeros((50, 80)), np.zeros((50, 80)), window=64)


def test_pixels_to_metres_with_the_geotransform() -> None:
    # north-up 10 m pixels: one column right is 10 m east, one row down 10 m south
    east, north = to_east_north(np.array([1.0]), np.array([2.0]), (10, 0, 5e5, 0, -10, 4e6))
    assert east[0] == pytest.approx(20.0) and north[0] == pytest.approx(-10.0)
    # a grid rotated by 90°: columns run north, rows east
    east, north = to_east_north(np.array([0.0]), np.array([1.0]), (0, 10, 0, 10, 0, 0))
    assert east[0] == pytest.approx(0.0) and north[0] == pytest.approx(10.0)


def test_multi_pair_series_recovers_each_date(texture: np.ndarray) -> None:
    truth = [(0.0, 0.0), (0.3, -0.2), (0.7, -0.5), (0.9, -1.2)]
    dates = ["2020-06-01", "2020-07-01", "2020-08-01", "2020-09-01"]
    rng = np.random.default_rng(10)
    images = [_noisy(fourier_shift(texture, *d), rng) for d in truth]
    pairs = default_pairs(4)
    assert pairs == [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]
    fields = [offset_tracking(images[i], images[j], window=64, step=64) for i, j in pairs]
    series = invert_offsets(
        dates,
        pairs,
        np.stack([f.dy for f in fields]),
        np.stack([f.dx for f in fields]),
        np.stack([f.valid for f in fields]),
    )
    for k, (ty, tx) in enumerate(truth):
        assert np.median(np.abs(series.dy[k] - ty)) < 0.02
        assert np.median(np.abs(series.dx[k] - tx)) < 0.02
    assert np.nanmedian(series.residual) < 0.03
    # a node that lost both pairs linking date 0 to the rest is not solved
    dy = np.stack([f.dy for f in fields])
    dy[:2, 0, 0] = np.nan
    cut = invert_offsets(dates, pairs, dy, np.stack([f.dx for f in fields]))
    assert cut.dy[0, 0, 0] == 0.0 and np.isnan(cut.dy[1:, 0, 0]).all()
    assert np.isfinite(cut.dy[:, 1, 1]).all()
