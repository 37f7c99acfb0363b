"""Uploads catalogued: each kind read from real files (footprint, datetime, media types,
projection and band metadata), each bad upload refused naming the file and the reason, and a
refusal leaving nothing behind (no item, no stored file, no work file)."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import pytest
import rasterio
import shapely
from pyproj import Transformer
from shapely.geometry import Point, Polygon, shape

from gep.catalog.search import build_search
from gep.catalog.store import CatalogStore
from gep.core import media
from gep.core.access import Viewer
from gep.core.errors import InvalidInput, QuotaExceeded
from gep.gateway.storage import Storage, StorageConfig
from gep.gateway.uploads import UploadKind, UploadService, default_collection
from gep.gateway.uploads.catalogue import catalogue_file
from gep.gateway.uploads.model import Catalogued
from tests.support.rasters import ORIGIN, write_test_raster

DATA = Path(__file__).resolve().parents[1] / "data"
UPLOADS = DATA / "uploads"
SAFE_ZIP = DATA / "s1" / "S1A_IW_SLC__1SDV_20221016T015043_20221016T015111_045461_056FC0_6681.zip"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
UPLOAD_TIME = "2026-01-02T03:04:05Z"
LOCAL_CS = 'LOCAL_CS["site grid",UNIT["metre",1],AXIS["X",EAST],AXIS["Y",NORTH]]'


def read(path: Path, tmp_path: Path, name: str | None = None) -> Catalogued:
    work = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
    work.mkdir()
    return catalogue_file(path, name or path.name, work, now=NOW, max_expand=1 << 30)


def refused(path: Path, tmp_path: Path, name: str | None = None) -> InvalidInput:
    with pytest.raises(InvalidInput) as err:
        read(path, tmp_path, name)
    assert err.value.field == "file"
    assert err.value.message.startswith(f"{name or path.name}: ")
    assert err.value.extra["filename"] == (name or path.name)
    return err.value


# ---------------------------------------------------------------------- rasters


def test_geotiff_becomes_a_cog_with_projection_bands_and_its_tag_time(tmp_path: Path) -> None:
    src = write_test_raster(
        tmp_path / "ramp.tif",
        tags={"TIFFTAG_DATETIME": "2021:03:04 05:06:07"},
        nodata=-9999.0,
        unit="m",
    )
    cat = read(src, tmp_path)
    assert cat.kind is UploadKind.GEOTIFF
    (data,) = cat.files
    assert (data.asset, data.media_type, data.name) == ("data", media.COG, "ramp.tif")
    with rasterio.open(data.path) as cog, rasterio.open(src) as orig:
        assert cog.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert np.array_equal(cog.read(1), orig.read(1))
    assert data.extra["raster:bands"] == [{"data_type": "float32", "nodata": -9999, "unit": "m"}]
    p = cat.properties
    assert p["proj:code"] == "EPSG:32633"
    assert p["proj:shape"] == [48, 64]
    x0, y0 = ORIGIN
    assert p["proj:transform"] == [30.0, 0.0, x0, 0.0, -30.0, y0]
    assert p["proj:bbox"] == [x0, y0 - 48 * 30, x0 + 64 * 30, y0]
    assert p["datetime"] == "2021-03-04T05:06:07Z" and p["gep:datetime_source"] == "tiff-tag"
    assert p["gep:cog_rewritten"] is True
    # the footprint is the raster's outline in WGS84: every edge point, projected by PROJ on
    # its own, lies on it (densified edges: a UTM square is curved in lon/lat)
    to_wgs84 = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    footprint = shape(cat.geometry)
    for t in np.linspace(0, 1, 9):
        for x, y in ((x0 + t * 1920, y0), (x0 + 1920, y0 - t * 1440), (x0, y0 - t * 1440)):
            lon, lat = to_wgs84.transform(x, y)
            assert footprint.exterior.distance(Point(lon, lat)) < 1e-7
    lons, lats = to_wgs84.transform([x0, x0 + 1920, x0 + 1920, x0], [y0, y0, y0 - 1440, y0 - 1440])
    assert cat.bbox == pytest.approx([min(lons), min(lats), max(lons), max(lats)], abs=1e-6)


def test_a_cog_is_kept_as_it_is(tmp_path: Path) -> None:
    cog = write_test_raster(tmp_path / "already.tif", driver="COG")
    cat = read(cog, tmp_path)
    assert cat.files[0].path == cog  # stored byte for byte, not rewritten
    assert cat.properties["gep:cog_rewritten"] is False
    assert cat.properties["datetime"] == UPLOAD_TIME
    assert cat.properties["gep:datetime_source"] == "upload"


def test_real_geotiffs_rome_dem_and_landsat(tmp_path: Path) -> None:
    dem = read(DATA / "dem" / "Rome-30m-DEM.tif", tmp_path)
    assert dem.properties["proj:code"] == "EPSG:9707"  # WGS84 + EGM96 height
    assert dem.files[0].extra["raster:bands"] == [
        {"data_type": "int16", "nodata": -32768, "unit": "metre"}
    ]
    with rasterio.open(DATA / "dem" / "Rome-30m-DEM.tif") as src:
        assert dem.bbox == pytest.approx(list(src.bounds), abs=1e-9)
    landsat = DATA / "optical" / "landsat8" / "LC08_L1TP_016037_20170813_20170814_01_RT_B2.TIF"
    cat = read(landsat, tmp_path)
    assert cat.properties["proj:code"] == "EPSG:32617"
    with rasterio.open(landsat) as src:
        to_wgs84 = Transformer.from_crs(src.crs.to_wkt(), "EPSG:4326", always_xy=True)
        centre = to_wgs84.transform(*src.xy(src.height // 2, src.width // 2))
    assert shape(cat.geometry).contains(Point(centre))
    assert -82 < cat.bbox[0] < cat.bbox[2] < -77 and 31 < cat.bbox[1] < cat.bbox[3] < 35


# ---------------------------------------------------------------------- vectors


def _features(path: Path) -> list[Any]:
    return [shape(f["geometry"]) for f in json.loads(path.read_text())["features"]]


def test_geojson_footprint_covers_every_feature_served_back_as_geojson(tmp_path: Path) -> None:
    src = UPLOADS / "PB2002_orogens.json"
    cat = read(src, tmp_path)
    assert cat.kind is UploadKind.GEOJSON
    features = _features(src)
    footprint = shape(cat.geometry)
    assert all(footprint.buffer(1e-9).covers(f) for f in features)
    assert cat.bbox == pytest.approx(list(shapely.GeometryCollection(features).bounds))
    assert cat.properties["datetime"] == UPLOAD_TIME
    assert cat.properties["gep:feature_count"] == len(features) == 13
    data, source = cat.files
    assert (data.asset, data.media_type) == ("data", media.GEOJSON)
    assert (source.asset, source.path, source.media_type) == ("source", src, media.GEOJSON)
    served = json.loads(data.path.read_text())
    assert served["type"] == "FeatureCollection"
    assert [f["properties"]["Name"] for f in served["features"]] == [
        f["properties"]["Name"] for f in json.loads(src.read_text())["features"]
    ]
    assert all(
        shape(a["geometry"]).equals(b) for a, b in zip(served["features"], features, strict=True)
    )


def _kml_polygon() -> Polygon:
    text = (UPLOADS / "Fairbanks_SLC.kml").read_text()
    coords = re.search(r"<coordinates>(.*?)</coordinates>", text, re.S)
    assert coords is not None
    return Polygon([tuple(map(float, c.split(",")[:2])) for c in coords[1].split()])


@pytest.mark.parametrize("packed", [False, True], ids=["kml", "kmz"])
def test_kml_and_kmz_footprint_is_the_placemark(tmp_path: Path, packed: bool) -> None:
    src = UPLOADS / "Fairbanks_SLC.kml"
    if packed:
        kmz = tmp_path / "Fairbanks_SLC.kmz"
        with zipfile.ZipFile(kmz, "w") as zf:
            zf.write(src, "doc.kml")
        src = kmz
    cat = read(src, tmp_path)
    assert cat.kind is (UploadKind.KMZ if packed else UploadKind.KML)
    assert shape(cat.geometry).equals(_kml_polygon())  # a convex quadrilateral
    assert cat.files[1].media_type == (
        media.KMZ if packed else "application/vnd.google-earth.kml+xml"
    )
    served = json.loads(cat.files[0].path.read_text())
    assert served["features"][0]["properties"]["Name"].startswith("S1B_IW_SLC__1SDV_20210102")


def _write_vector(dest: Path, driver: str, crs: str, fields: dict[str, Any] | None = None) -> None:
    """The PB2002 orogens, written by GDAL in another format and coordinate system."""
    meta, _, wkb, columns = pyogrio.raw.read(UPLOADS / "PB2002_orogens.json")
    names = list(meta["fields"])
    geoms = shapely.from_wkb(wkb)
    if crs != "EPSG:4326":
        forward = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(forward.transform(*xy.T)))
    for name, values in (fields or {}).items():
        names.append(name)
        columns.append(values)
    pyogrio.raw.write(
        dest, shapely.to_wkb(geoms), columns, names, driver=driver, crs=crs,
        geometry_type="MultiPolygon",
    )  # fmt: skip


def test_zipped_shapefile_in_another_projection_is_read_in_wgs84(tmp_path: Path) -> None:
    folder = tmp_path / "shp"
    folder.mkdir()
    _write_vector(folder / "orogens.shp", "ESRI Shapefile", "EPSG:3395")  # World Mercator
    packed = tmp_path / "orogens.zip"
    with zipfile.ZipFile(packed, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f.name)
    cat = read(packed, tmp_path)
    assert cat.kind is UploadKind.SHAPEFILE
    expected = shapely.GeometryCollection(_features(UPLOADS / "PB2002_orogens.json")).bounds
    assert cat.bbox == pytest.approx(list(expected), abs=1e-6)
    assert cat.files[1].media_type == "application/zip"


def test_geopackage_takes_its_time_from_a_date_field(tmp_path: Path) -> None:
    # one survey date per orogen (13): monthly through 2001, the last in January 2002
    times = np.array([f"2001-{m:02d}-15" for m in range(1, 13)] + ["2002-01-15"])
    gpkg = tmp_path / "orogens.gpkg"
    _write_vector(gpkg, "GPKG", "EPSG:4326", {"surveyed": times.astype("datetime64[ms]")})
    cat = read(gpkg, tmp_path)
    assert cat.kind is UploadKind.GEOPACKAGE
    p = cat.properties
    assert p["gep:datetime_source"] == "feature-field"
    assert (p["start_datetime"], p["end_datetime"]) == (
        "2001-01-15T00:00:00Z",
        "2002-01-15T00:00:00Z",
    )
    assert p["datetime"] == p["start_datetime"]
    assert cat.files[1].media_type == "application/geopackage+sqlite3"


# ---------------------------------------------------------------------- tables and SAFE


def test_csv_time_series_span_columns_and_place(tmp_path: Path) -> None:
    src = UPLOADS / "stack_baselines.csv"
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    cat = read(src, tmp_path)
    assert cat.kind is UploadKind.CSV
    p = cat.properties
    times = sorted(r["datetime"] for r in rows)
    assert (p["start_datetime"], p["end_datetime"]) == (times[0], times[-1])
    assert p["gep:time_column"] == "datetime" and p["table:row_count"] == len(rows) == 176
    assert p["table:columns"] == [
        {"name": "datetime", "type": "datetime"},
        {"name": "perpendicular_baseline_m", "type": "number"},
        {"name": "temporal_baseline_days", "type": "number"},
        {"name": "lon", "type": "number"},
        {"name": "lat", "type": "number"},
        {"name": "scene", "type": "string"},
    ]
    centres = [Point(float(r["lon"]), float(r["lat"])) for r in rows]
    assert shape(cat.geometry).equals(shapely.MultiPoint(centres).convex_hull)
    assert (cat.files[0].media_type, cat.files[0].path) == (media.CSV, src)


def test_csv_series_at_one_point(tmp_path: Path) -> None:
    """The baselines are relative to the reference scene: placed at its centre, the series is
    a point's."""
    with open(UPLOADS / "stack_baselines.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    ref = next(r for r in rows if r["temporal_baseline_days"] == "0")
    series = tmp_path / "reference.csv"
    with open(series, "w", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["time", "bperp", "geometry"])
        for r in rows:
            w.writerow(
                [r["datetime"], r["perpendicular_baseline_m"], f"POINT ({ref['lon']} {ref['lat']})"]
            )
    cat = read(series, tmp_path)
    assert cat.geometry == {"type": "Point", "coordinates": (float(ref["lon"]), float(ref["lat"]))}
    assert cat.properties["datetime"] == rows[0]["datetime"]


def test_sentinel1_safe_zip(tmp_path: Path) -> None:
    cat = read(SAFE_ZIP, tmp_path)
    assert cat.kind is UploadKind.SENTINEL1_SAFE
    p = cat.properties
    assert p["sar:instrument_mode"] == "IW" and p["sar:polarizations"] == ["VV", "VH"]
    assert p["sat:relative_orbit"] == 64 and p["sat:orbit_state"] == "ascending"
    assert p["datetime"].startswith("2022-10-16T01:50:43") and p["gep:datetime_source"] == "product"
    manifest = zipfile.ZipFile(SAFE_ZIP).read(
        "S1A_IW_SLC__1SDV_20221016T015043_20221016T015111_045461_056FC0_6681.SAFE/manifest.safe"
    )
    coords = re.search(rb"<gml:coordinates>(.*?)</gml:coordinates>", manifest)
    assert coords is not None
    latlon = [tuple(map(float, c.split(b","))) for c in coords[1].split()]
    assert shape(cat.geometry).equals(Polygon([(lon, lat) for lat, lon in latlon]))
    assert cat.name == "S1A_IW_SLC__1SDV_20221016T015043_20221016T015111_045461_056FC0_6681"
    assert (cat.files[0].asset, cat.files[0].media_type) == ("product", "application/zip")


# ---------------------------------------------------------------------- refusals


def test_text_named_tif_is_not_what_it_claims(tmp_path: Path) -> None:
    fake = tmp_path / "scene.tif"
    fake.write_text("this is a README, not a raster\n")
    err = refused(fake, tmp_path)
    assert "not what its name claims" in err.message and "GeoTIFF" in err.message
    # and a real GeoTIFF under a vector's name is refused the same way
    tif = write_test_raster(tmp_path / "r.tif")
    assert "its content is a GeoTIFF" in refused(tif, tmp_path, "areas.geojson").message


def test_truncated_files_are_refused(tmp_path: Path) -> None:
    for name, driver in (("strips.tif", "GTiff"), ("tiles.tif", "COG")):
        whole = write_test_raster(tmp_path / f"whole-{name}", driver=driver).read_bytes()
        cut = tmp_path / name
        cut.write_bytes(whole[: len(whole) * 2 // 3])
        assert "truncated or damaged GeoTIFF" in refused(cut, tmp_path).message
    whole_zip = SAFE_ZIP.read_bytes()
    cut_zip = tmp_path / "product.zip"
    cut_zip.write_bytes(whole_zip[: len(whole_zip) // 2])
    assert "truncated or damaged zip" in refused(cut_zip, tmp_path).message


def test_no_footprint_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    assert "no feature with a geometry" in refused(empty, tmp_path).message
    flat = write_test_raster(tmp_path / "flat.tif", georeferenced=False)
    assert "no georeferencing" in refused(flat, tmp_path).message
    nowhere = tmp_path / "series.csv"
    nowhere.write_text("date,value\n2021-01-01,1.5\n2021-02-01,2.5\n")
    assert "no footprint" in refused(nowhere, tmp_path).message
    timeless = tmp_path / "table.csv"
    timeless.write_text("name,value,lon,lat\na,1.5,10,45\nb,2.5,11,46\n")
    assert "no column holds dates or times" in refused(timeless, tmp_path).message


def test_unreadable_coordinate_systems_are_refused(tmp_path: Path) -> None:
    local = write_test_raster(tmp_path / "site.tif", crs=rasterio.crs.CRS.from_wkt(LOCAL_CS))
    assert "coordinate system cannot be read" in refused(local, tmp_path).message
    folder = tmp_path / "shp"
    folder.mkdir()
    _write_vector(folder / "o.shp", "ESRI Shapefile", "EPSG:4326")
    for case, prj in (("missing.zip", None), ("garbled.zip", b"PROJCS[nonsense")):
        packed = tmp_path / case
        with zipfile.ZipFile(packed, "w") as zf:
            for f in folder.iterdir():
                if f.suffix != ".prj":
                    zf.write(f, f.name)
            if prj is not None:
                zf.writestr("o.prj", prj)
        assert "coordinate system of 'o.shp: o' cannot be read" in refused(packed, tmp_path).message


def test_a_zip_of_nothing_known_is_refused(tmp_path: Path) -> None:
    packed = tmp_path / "photos.zip"
    with zipfile.ZipFile(packed, "w") as zf:
        zf.writestr("a.jpg", b"\xff\xd8\xff" + b"\x00" * 100)
    assert "holds no Sentinel-1 SAFE" in refused(packed, tmp_path).message


# ---------------------------------------------------------------------- the service


ALICE = Viewer(user_id="a11ce", name="alice")


def _service(store: CatalogStore, tmp_path: Path, quota: int = 1 << 30) -> UploadService:
    storage = Storage(StorageConfig((tmp_path / "storage").as_uri()))
    storage.ensure()
    return UploadService(store, storage, quota_bytes=quota, scratch=tmp_path / "scratch")


def _leftovers(service: UploadService) -> list[str]:
    stored = list(service.storage.walk("uploads")) + list(service.storage.walk("tmp"))
    work = [str(p) for p in service.scratch.rglob("*")] if service.scratch.exists() else []
    return stored + work


def _items(store: CatalogStore, collection: str) -> list[str]:
    if not store.collection_exists(collection):
        return []
    page = store.search(build_search({"collections": [collection]}, from_get=False))
    return [i for _, i, _ in page.items]


def test_refused_uploads_leave_nothing(store: CatalogStore, tmp_path: Path) -> None:
    service = _service(store, tmp_path)
    fake = tmp_path / "in" / "scene.tif"
    fake.parent.mkdir()
    fake.write_text("not a raster")
    cut = tmp_path / "in" / "product.zip"
    cut.write_bytes(SAFE_ZIP.read_bytes()[:100_000])
    empty = tmp_path / "in" / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    for bad in (fake, cut, empty):
        with pytest.raises(InvalidInput, match=re.escape(bad.name)):
            service.ingest(ALICE, bad, bad.name)
    assert _leftovers(service) == []
    assert _items(store, default_collection("a11ce")) == []
    # a good one goes in, private, its files under uploads/<owner>/<item>/
    collection, item_id = service.ingest(ALICE, UPLOADS / "Fairbanks_SLC.kml", "Fairbanks_SLC.kml")
    assert collection == default_collection("a11ce")
    assert sorted(service.storage.walk("uploads")) == [
        f"uploads/a11ce/{item_id}/Fairbanks_SLC.geojson",
        f"uploads/a11ce/{item_id}/Fairbanks_SLC.kml",
    ]
    assert store.item_access(collection, item_id).visibility == "private"
    assert _items(store, collection) == [item_id]
    assert list(service.scratch.rglob("*")) == []


def test_quota_refusal_gives_the_numbers_and_leaves_nothing(
    store: CatalogStore, tmp_path: Path
) -> None:
    csv_size = (UPLOADS / "stack_baselines.csv").stat().st_size
    service = _service(store, tmp_path, quota=csv_size + 1000)
    service.ingest(ALICE, UPLOADS / "stack_baselines.csv", "baselines.csv")
    before = sorted(service.storage.walk("uploads"))
    with pytest.raises(QuotaExceeded) as err:
        service.ingest(ALICE, UPLOADS / "PB2002_orogens.json", "orogens.json")
    extra = err.value.extra
    assert (extra["used"], extra["quota"]) == (csv_size, csv_size + 1000)
    assert extra["size"] == (UPLOADS / "PB2002_orogens.json").stat().st_size
    assert "orogens.json" in err.value.message and str(csv_size) in err.value.message
    assert sorted(service.storage.walk("uploads")) == before
    # a session is refused before any byte when its declared size does not fit
    with pytest.raises(QuotaExceeded):
        service.open_session(ALICE, "big.tif", 5000, None)
