"""Items and rasters for the quicklook tests, and the independent computations they are checked
against (numpy and PIL; nothing here calls gep.tiles)."""

from __future__ import annotations

import io
import shutil
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from PIL import Image
from rasterio.errors import NotGeoreferencedWarning

# the item builders live with the benchmark that uses them too (benchmarks import nothing
# from tests; tests may use the benchmarks' fixtures)
from bench.optical_items import (  # noqa: F401 (re-exported to the quicklook tests)
    DATA,
    L8,
    L8_BAND,
    OPTICAL,
    S2,
    item,
    landsat8_item,
    sentinel2_item,
    tif_asset,
)

S1 = DATA / "s1"
ROME_SAFE = "S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"
ZIP_SAFE = "S1A_IW_SLC__1SDV_20221016T015043_20221016T015111_045461_056FC0_6681.zip"


def write_tif(path: Path, data: NDArray[Any], dtype: str | None = None, **profile: Any) -> Path:
    h, w = data.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(
            path, "w", driver="GTiff", width=w, height=h, count=1,
            dtype=dtype or data.dtype.name, **profile,
        ) as dst:  # fmt: skip
            dst.write(data, 1)
    return path


def read_band(path: Path) -> NDArray[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            return src.read(1)


def decode(png: bytes) -> NDArray[np.uint8]:
    """The PNG as (height, width, channels), decoded by PIL."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    im = Image.open(io.BytesIO(png))
    assert im.mode in ("LA", "RGBA"), im.mode
    return np.asarray(im)


def box_mean(values: NDArray[Any], valid: NDArray[np.bool_], looks: int) -> NDArray[Any]:
    """Mean of the valid values of each looks × looks box (NaN where a box has none)."""
    h, w = values.shape[0] // looks, values.shape[1] // looks
    v = np.where(valid, values, 0.0)[: h * looks, : w * looks].reshape(h, looks, w, looks)
    n = valid[: h * looks, : w * looks].reshape(h, looks, w, looks).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(v.sum(axis=(1, 3)) / n)


def stretch_2_98(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """The 2–98 % linear stretch to 0–255 of the finite values (NaN elsewhere)."""
    ok = np.isfinite(values)
    lo, hi = np.percentile(values[ok], [2, 98])
    return np.clip(np.round((values - lo) / (hi - lo) * 255.0), 0, 255)


def sar_db_expected(z: NDArray[np.complexfloating], looks: int) -> NDArray[np.float64]:
    """Incoherent multilook (mean power) in dB, stretched: what a SAR quicklook should show."""
    power = np.abs(z.astype(np.complex128)) ** 2
    return stretch_2_98(10 * np.log10(box_mean(power, power > 0, looks)))


def speckle(shape: tuple[int, int], sigma: NDArray[np.float64], seed: int) -> NDArray[Any]:
    """Fully developed speckle: circular Gaussian with mean power ``sigma``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    return np.asarray(z * np.sqrt(sigma / 2.0), dtype=np.complex64)


def reflectivity(shape: tuple[int, int]) -> NDArray[np.float64]:
    """A scene with structure at the quicklook's scale: a range ramp and a bright square."""
    h, w = shape
    sigma = np.tile(np.linspace(0.05, 1.0, w), (h, 1))
    sigma[h // 4 : h // 2, w // 4 : w // 2] = 8.0
    return sigma


def safe_with_measurement(folder: Path, name: str, vv: NDArray[Any], vh: NDArray[Any]) -> Path:
    """A copy of a tests/data/s1 SAFE (folder or zip) with tiny CInt16 measurement TIFFs (as
    Sentinel-1 SLCs store them: the values are rounded to integers)."""
    stem = "s1a-iw1-slc-{}-20220104t170558-20220104t170623-041314-04e951-00{}.tiff"
    tifs = {stem.format("vh", 1): vh, stem.format("vv", 4): vv}
    target = folder / name
    if name.endswith(".zip"):
        shutil.copy(S1 / name, target)
        inner = name.removesuffix(".zip") + ".SAFE"
        with zipfile.ZipFile(target, "a") as zf:
            for fname, data in tifs.items():
                tmp = write_tif(folder / fname, data, "complex_int16")
                zf.write(tmp, f"{inner}/measurement/{fname}")
                tmp.unlink()
        return target
    shutil.copytree(S1 / name, target)
    (target / "measurement").mkdir()
    for fname, data in tifs.items():
        write_tif(target / "measurement" / fname, data, "complex_int16")
    return target
