"""Optical sample products for the demo and the tests: STAC items over local files.

* :func:`landsat_item`: a Landsat-8/9 product folder (band GeoTIFFs + ``*_MTL.txt``) as an item
  with one asset per band (``eo:bands`` common names, projection extension) and the MTL.
* :func:`lava_scene`: a copy of a real Landsat product with a simulated lava flow added to
  its SWIR/NIR bands (Planck radiance of a sub-pixel hot fraction, converted back to digital
  numbers with the product's own rescaling), for the hotspots service with a known truth.
* :func:`clouded_copy`: a copy whose quality band flags the area as cloud.
* :func:`shifted_stack`: single-band GeoTIFFs of one textured scene moved by known shifts
  (Fourier domain, exact), dated, for the offset-tracking service ("uploaded GeoTIFFs").
* :func:`landslide_stack`: the same with a growing landslide lobe (exact displaced texture).
* :func:`build_demo`: all of it for ``gep demo seed``, from the Landsat scene shipped in
  ``data/optical`` (built once; later seeds reuse the files).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from gep.algorithms.simulate.optical import (
    displaced_texture,
    fourier_shift,
    landslide_field,
    planck_radiance,
    texture_spectrum,
)
from gep.core.media import COG, JP2
from gep.io.hrefs import local_path
from gep.io.optical import LANDSAT_OLI, read_landsat_mtl
from gep.io.writers import footprint, write_cog

OPTICAL_COLLECTION = "gep-optical"


def collection() -> dict[str, Any]:
    return {
        "type": "Collection",
        "stac_version": "1.1.0",
        "license": "other",
        "links": [],
        "id": OPTICAL_COLLECTION,
        "title": "Optical products",
        "description": "Landsat-8 scenes (real, and with a simulated lava flow) and shifted "
        "textured images with a known displacement, for the optical services.",
        "extent": {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[None, None]]},
        },
    }


def raster_asset(path: Path, roles: list[str], extra: dict[str, Any]) -> dict[str, Any]:
    """A local raster as an asset with its grid (projection extension), so that the services
    can refuse mismatched grids from the catalogue alone."""
    import rasterio

    with rasterio.open(path) as src:
        t = src.transform
        return {
            "href": path.resolve().as_uri(),
            "type": COG if path.suffix.lower() in (".tif", ".tiff") else JP2,
            "roles": roles,
            "proj:code": f"EPSG:{src.crs.to_epsg()}",
            "proj:shape": [src.height, src.width],
            "proj:transform": [t.a, t.b, t.c, t.d, t.e, t.f],
            **extra,
        }


def stac_item(
    item_id: str, assets: dict[str, dict[str, Any]], when: datetime, props: dict[str, Any]
) -> dict[str, Any]:
    """An item over local assets: footprint and bbox from the first gridded asset."""
    import rasterio

    first = next(a for a in assets.values() if "proj:shape" in a)
    path = local_path(first["href"])
    assert path is not None, "the demo writes its own files"
    with rasterio.open(path) as src:
        geom = footprint(src.crs.to_string(), tuple(src.transform)[:6], src.shape)  # type: ignore[arg-type]
    ring = np.array(geom["coordinates"][0])
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
        ],
        "id": item_id,
        "collection": OPTICAL_COLLECTION,
        "geometry": geom,
        "bbox": [*ring.min(axis=0).tolist(), *ring.max(axis=0).tolist()],
        "properties": {"datetime": when.isoformat().replace("+00:00", "Z"), **props},
        "assets": assets,
        "links": [],
    }


def landsat_item(folder: Path, item_id: str | None = None) -> dict[str, Any]:
    """An item for a Landsat product folder: every ``*_B<n>.TIF`` present, the QA band, MTL."""
    mtl = next(folder.glob("*_MTL.txt"))
    meta = read_landsat_mtl(mtl)
    stem = mtl.name.removesuffix("_MTL.txt")
    assets: dict[str, dict[str, Any]] = {}
    for band, (common, wavelength) in LANDSAT_OLI.items():
        path = folder / f"{stem}_{band}.TIF"
        if path.exists():
            info = {"name": band, "common_name": common, "center_wavelength": wavelength}
            assets[band] = raster_asset(path, ["data"], {"eo:bands": [info]})
    qa = [p for p in folder.glob(f"{stem}_*QA*.TIF")]
    if qa:
        assets["qa"] = raster_asset(qa[0], ["metadata", "cloud"], {})
    assets["mtl"] = {"href": mtl.resolve().as_uri(), "type": "text/plain", "roles": ["metadata"]}
    props = {"platform": meta.mission, "instruments": ["oli", "tirs"], "eo:cloud_cover": None}
    return stac_item(item_id or stem, assets, meta.datetime, {k: v for k, v in props.items() if v})


def _copy_product(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file() and not f.name.endswith(".aux.xml"):
            shutil.copyfile(f, dst / f.name)
    return dst


def lava_scene(
    src: Path,
    dst: Path,
    *,
    centre: tuple[int, int] = (212, 163),
    radius: float = 6.0,
    max_fraction: float = 0.02,
    temperature: float = 1000.0,
) -> np.ndarray:
    """Copy a Landsat product and add a lava flow's emission to bands 5-7; returns the
    boolean map of the pixels given a hot fraction (the truth)."""
    import rasterio

    _copy_product(src, dst)
    mtl = next(dst.glob("*_MTL.txt"))
    meta = read_landsat_mtl(mtl)
    stem = mtl.name.removesuffix("_MTL.txt")
    with rasterio.open(dst / f"{stem}_B5.TIF") as s:
        rows, cols = s.shape
    r, c = np.ogrid[:rows, :cols]
    dist = np.hypot(r - centre[0], c - centre[1])
    fraction = np.where(dist <= radius, max_fraction * (1.0 - dist / (radius + 1.0)), 0.0)
    hot = fraction > 0
    for band, wavelength in (("B5", 0.865), ("B6", 1.609), ("B7", 2.201)):
        path = dst / f"{stem}_{band}.TIF"
        with rasterio.open(path) as s:
            profile = s.profile
            dn = s.read(1)
        rad = meta.radiance(band, dn).astype("float64")
        rad = (1 - fraction) * rad + fraction * planck_radiance(wavelength, temperature)
        b = meta.band(band)
        assert b.radiance_mult is not None and b.radiance_add is not None
        new = np.clip(np.rint((rad - b.radiance_add) / b.radiance_mult), 1, 65534)
        out = np.where(hot & (dn > 0), new, dn).astype("uint16")
        _rewrite(path, profile, out)
    return hot


def _rewrite(path: Path, profile: dict[str, Any], data: np.ndarray) -> None:
    """Replace a band file's pixels. Written aside and moved over it: GDAL's GTiff driver
    deletes a dataset's sidecar files (the Landsat ``*_MTL.txt`` among them) when a file is
    created over it."""
    import rasterio

    tmp = path.with_name(path.stem + ".new.tif")
    with rasterio.open(tmp, "w", **profile) as d:
        d.write(data, 1)
    tmp.replace(path)


def clouded_copy(src: Path, dst: Path) -> None:
    """Copy a Landsat product with every pixel of its quality band flagged cloud (high
    confidence): the scene as the product would describe a fully overcast day."""
    import rasterio

    _copy_product(src, dst)
    qa = next(dst.glob("*_BQA.TIF"))
    with rasterio.open(qa) as s:
        profile = s.profile
        data = s.read(1)
    _rewrite(qa, profile, data | np.uint16(1 << 4) | np.uint16(3 << 5))


def _write_dated(
    folder: Path, images: Sequence[np.ndarray], dates: Sequence[str], pixel: float,
    origin: tuple[float, float], epsg: int,
) -> list[dict[str, Any]]:  # fmt: skip
    transform = (pixel, 0.0, origin[0], 0.0, -pixel, origin[1])
    items = []
    for k, (image, day) in enumerate(zip(images, dates, strict=True)):
        dn = np.clip(1000 + 200 * image, 1, 65535).astype("uint16")
        path = folder / f"image_{k}.tif"
        if not path.exists():
            write_cog(path, dn, f"EPSG:{epsg}", transform, nodata=None)
        asset = raster_asset(path, ["data"], {})
        when = datetime.fromisoformat(f"{day}T10:00:00+00:00")
        items.append(stac_item(f"{folder.name}-{k}", {"image": asset}, when, {}))
    return items


def shifted_stack(
    folder: Path,
    shifts: Sequence[tuple[float, float]],
    dates: Sequence[str],
    *,
    size: int = 256,
    pixel: float = 10.0,
    origin: tuple[float, float] = (500_000.0, 4_180_000.0),
    epsg: int = 32633,
    noise: float = 0.05,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One GeoTIFF per date of a textured scene moved by ``shifts`` (rows, cols in pixels,
    relative to the first image's content), as items with a single ``data`` asset."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = texture_spectrum((size, size), seed=seed)
    rng = np.random.default_rng(seed + 1)
    images = [
        fourier_shift(spec, dy, dx) + noise * rng.standard_normal((size, size)) for dy, dx in shifts
    ]
    return _write_dated(folder, images, dates, pixel, origin, epsg)


def landslide_stack(
    folder: Path,
    scales: Sequence[float],
    dates: Sequence[str],
    *,
    size: int = 256,
    pixel: float = 10.0,
    noise: float = 0.05,
    seed: int = 3,
) -> list[dict[str, Any]]:
    """One GeoTIFF per date of a textured hillside whose landslide lobe has moved ``scale`` ×
    (1.2 px down, 1.8 px left) at its centre (:func:`landslide_field`), exact; files already
    written are reused."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = texture_spectrum((size, size), seed=seed, bandwidth=0.4)
    dy, dx = landslide_field((size, size))
    rng = np.random.default_rng(seed + 1)
    images = []
    for k, scale in enumerate(scales):
        if (folder / f"image_{k}.tif").exists():
            images.append(np.zeros((size, size)))  # not rewritten
            continue
        moved = displaced_texture(spec, scale * dy, scale * dx)
        images.append(moved + noise * rng.standard_normal((size, size)))
    return _write_dated(folder, images, dates, pixel, (320_000.0, 5_100_000.0), 32632)


def build_demo(folder: Path, source: Path | None = None) -> list[dict[str, Any]]:
    """The ``gep-optical`` demo items (files under ``folder``, made once)."""
    src = source or Path(__file__).parent / "data" / "optical" / "landsat8"
    real = folder / "landsat-real"
    if not real.exists():
        _copy_product(src, real)
    if not (folder / "landsat-lava").exists():
        lava_scene(real, folder / "landsat-lava")
    if not (folder / "landsat-clouded").exists():
        clouded_copy(real, folder / "landsat-clouded")
    items = [
        landsat_item(real, "landsat-real"),
        landsat_item(folder / "landsat-lava", "landsat-lava"),
        landsat_item(folder / "landsat-clouded", "landsat-clouded"),
    ]
    items[1]["properties"]["gep:note"] = "real scene with a simulated 1000 K lava flow added"
    items[2]["properties"]["gep:note"] = "real scene with its quality band set to cloud"
    items += landslide_stack(
        folder / "landslide", [0.0, 0.5, 1.0], ["2021-05-01", "2021-07-01", "2021-09-01"]
    )
    return items
