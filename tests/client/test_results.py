"""A job's results from the SDK: uploaded data → ``quicklook`` → download (resumed with a Range
request after a cut) → ``to_xarray`` through odc-stac, on the real server of conftest.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from gep.client import ArgumentError, GepClient, Job, NotFound
from tests.client.conftest import Served
from tests.support.rasters import write_test_raster


@pytest.fixture(scope="module")
def quicklook(
    gep: GepClient, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], Job]:
    tif = write_test_raster(tmp_path_factory.mktemp("up") / "ramp.tif", driver="COG")
    item = gep.upload(tif)
    key = next(iter(item["assets"]))
    job = gep.submit("quicklook", item=f"{item['collection']}/{item['id']}", asset=key)
    assert job.wait(timeout=120, progress=False).succeeded, job.logs()
    return item, job


def test_download_resumes_with_a_range_request(
    quicklook: tuple[dict[str, Any], Job], served: Served, tmp_path: Path
) -> None:
    _, job = quicklook
    files = job.download(tmp_path, progress=False)
    items = job.items()
    assert items.ids == [job.id]
    keys = set(items[0]["assets"])
    assert {"cog", "quicklook"} <= keys and len(files) == len(keys)
    cog = tmp_path / job.id / "cog.tif"
    png = tmp_path / job.id / "quicklook.png"
    assert cog in files and png in files
    whole = cog.read_bytes()
    with rasterio.open(cog) as src:
        assert src.width == 64 and src.crs is not None
    # cut the file: the next download asks for the rest only, and the bytes come out equal
    cut = len(whole) // 3
    with cog.open("r+b") as f:
        f.truncate(cut)
    before = len(served.seen)
    assert job.download(tmp_path, assets=["cog"], progress=True) == [cog]
    assert cog.read_bytes() == whole
    ranges = [r for r in served.seen[before:] if r[1].endswith("/assets/cog")]
    assert ranges == [("GET", ranges[0][1], f"bytes={cut}-")]
    # a complete file is left alone: one request that answers 416 with its size
    mtime = cog.stat().st_mtime_ns
    before = len(served.seen)
    gep = job.client
    assert gep.download(job, tmp_path, assets=["cog"]) == [cog]
    assert cog.stat().st_mtime_ns == mtime
    assert [r[2] for r in served.seen[before:] if r[1].endswith("/assets/cog")] == [
        f"bytes={len(whole)}-"
    ]
    # a file larger than the server's is fetched again whole
    with cog.open("ab") as f:
        f.write(b"junk")
    gep.download(items[0], tmp_path, assets=["cog"], progress=False)
    assert cog.read_bytes() == whole
    # the old form: an href to a file
    href = items[0]["assets"]["quicklook"]["href"]
    assert gep.download(href, tmp_path / "copy.png").read_bytes() == png.read_bytes()
    with pytest.raises(ArgumentError) as err:
        job.download(tmp_path, assets=["nothing-like-it"])
    assert err.value.field == "assets"
    with pytest.raises(NotFound):
        gep.download(href.replace("/quicklook", "/gone"), tmp_path / "gone.png")


def test_to_xarray_loads_a_private_result(
    quicklook: tuple[dict[str, Any], Job], served: Served, tmp_path: Path
) -> None:
    _, job = quicklook
    assert job.visibility in (None, "private")
    before = len(served.seen)
    ds = job.to_xarray(bands=["cog"])
    # GDAL cannot send the token: it read through a signed URL the SDK asked for
    assert any(r[1].endswith("/assets/cog/signed-url") for r in served.seen[before:])
    (cog,) = job.download(tmp_path, assets=["cog"], progress=False)
    with rasterio.open(cog) as src:
        truth = src.read(1)
        transform = src.transform
    assert ds.sizes["time"] == 1
    assert tuple(ds.odc.geobox.affine)[:6] == tuple(transform)[:6]
    assert np.array_equal(ds["cog"].values[0], truth)
    # the same from search results and from an item list
    again = job.client.to_xarray(job.items(), bands=["cog"])
    assert np.array_equal(again["cog"].values, ds["cog"].values)
    with pytest.raises(ArgumentError):
        job.client.to_xarray([], bands=["cog"])


def test_share_an_item_and_its_collection(
    quicklook: tuple[dict[str, Any], Job], served: Served
) -> None:
    item, _ = quicklook
    gep, anonymous = served.client(), served.client(token="")
    with pytest.raises(NotFound):
        anonymous.item(item["collection"], item["id"])
    gep.share(item, "public")
    assert anonymous.item(item["collection"], item["id"])["id"] == item["id"]
    gep.share(f"{item['collection']}/{item['id']}", "private", kind="item")
    with pytest.raises(NotFound):
        anonymous.item(item["collection"], item["id"])
