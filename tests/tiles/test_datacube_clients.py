"""Must show (issue #17): odc-stac and stackstac load GEP results with no CRS, resolution or
time hints.

A real ``gep serve`` (uvicorn) runs ``sbas`` on the real Mexico City stack (13 acquisitions)
and ``dinsar`` on the small simulated Colli Albani pair; both results are shared publicly, so
the clients read the COGs over HTTP from their GEP URLs as any anonymous client would. The
items come from GEP's STAC API through plain httpx (a CQL2 search on ``gep:job``), and then:

- ``odc.stac.load(items, bands=…)`` and ``stackstac.stack(items, assets=[…])`` with nothing
  else: the grid comes from the assets' ``proj:*``, the time axis from the items' datetimes;
- the time axis equals the acquisition dates (sbas: the 13 dates; dinsar: the pair's later
  acquisition, the date the displacement is "as of");
- the pixels equal the COGs read directly with rasterio (exact, NaN where NaN).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import rasterio

from gep.demo.sar import build_demo
from gep.demo.sar import collections as sar_collections
from gep.demo.sbas import REFERENCE, collection, interferogram_items, manifest
from tests.processes.test_sar_services import DEM, REF, SEC, SMALL
from tests.support.app import ADMIN_HEADERS, post_catalogue, wait_for_job
from tests.support.serving import free_port, start_gep_serve, stop
from tests.support.stac_validation import assert_valid_stac

DINSAR_ASSET = "los_displacement"


def _job_items(base: str, job: str) -> list[dict[str, Any]]:
    """A job's items as any STAC client gets them (anonymous: the results are public)."""
    body = {
        "filter-lang": "cql2-json",
        "filter": {"op": "=", "args": [{"property": "gep:job"}, job]},
        "limit": 100,
    }
    r = httpx.post(f"{base}/stac/search", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return list(r.json()["features"])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = Path(tmp_path_factory.mktemp("datacube"))
    mexico = interferogram_items(tmp / "mexico")
    sar_items = build_demo(tmp / "sar", pairs=SMALL, log=lambda m: None)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_gep_serve(tmp / "home", port, data_roots=str(tmp), base_url=base)
    try:
        with httpx.Client(base_url=base, headers=ADMIN_HEADERS, timeout=120) as admin:
            post_catalogue(admin, [collection(), *sar_collections()], [*mexico, *sar_items])
            jobs = {}
            for process, inputs in (
                ("sbas", {"interferograms": [f"{e['collection']}/{e['id']}" for e in mexico],
                          "reference_point": REFERENCE}),
                ("dinsar", {"reference": REF, "secondary": SEC, "dem": DEM, "looks_azimuth": 4}),
            ):  # fmt: skip
                r = admin.post(f"/processes/{process}/execution", json={"inputs": inputs},
                               headers={"Prefer": "respond-async"})  # fmt: skip
                assert r.status_code == 201, r.text
                jobs[process] = r.json()["jobID"]
            for job in jobs.values():
                assert wait_for_job(admin, job, timeout_s=600)["status"] == "successful"
                r = admin.patch(f"/jobs/{job}", json={"visibility": "public"})
                assert r.status_code == 200, r.text
            sar_dates = {
                i["id"]: i["properties"]["datetime"] for i in sar_items if i["id"] in (
                    REF.split("/")[1], SEC.split("/")[1])
            }  # fmt: skip
        yield {"base": base, "jobs": jobs, "sar_dates": sar_dates, "tmp": tmp}
    finally:
        stop(server)


def _sbas_dates(served: dict[str, Any]) -> tuple[list[dict[str, Any]], list[np.datetime64]]:
    items = [
        i for i in _job_items(served["base"], served["jobs"]["sbas"])
        if "displacement" in i["assets"]
    ]  # fmt: skip
    items.sort(key=lambda i: i["properties"]["datetime"])
    dates = _mexico_dates()
    assert len(items) == 13 == len(dates)
    return items, [np.datetime64(d, "ns") for d in dates]


def _mexico_dates() -> list[str]:
    """The acquisitions of the Mexico City stack, from the sample's own records."""
    return sorted({e[k] for e in manifest() for k in ("first_date", "second_date")})


def _read(href: str) -> tuple[np.ndarray, Any]:
    """The COG read directly (rasterio over HTTP, GDAL's /vsicurl/)."""
    with rasterio.open(href) as src:
        return src.read(1), src.transform


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.array_equal(a[~np.isnan(a)], b[~np.isnan(b)])


def _same_where(da2d: Any, truth: np.ndarray, transform: Any) -> None:
    """stackstac snaps its bounds outward to whole multiples of the resolution (its default
    ``snap_bounds``), so its grid can be the COG's shifted by a fraction of a pixel and a row
    or column larger: each of its pixels must hold the COG's value at that pixel's centre
    (nearest neighbour), and every COG pixel must be covered."""
    xs, ys = np.asarray(da2d.x), np.asarray(da2d.y)  # top-left corners
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    cx, cy = np.meshgrid(xs + dx / 2, ys + dy / 2)
    col, row = ~transform @ (cx, cy)
    row, col = np.floor(row).astype(int), np.floor(col).astype(int)
    inside = (row >= 0) & (row < truth.shape[0]) & (col >= 0) & (col < truth.shape[1])
    got = np.asarray(da2d.values, dtype="float32")
    assert np.isnan(got[~inside]).all()
    expected = truth[row[inside], col[inside]]
    _same(got[inside], expected)
    assert len(np.unique(row[inside] * truth.shape[1] + col[inside])) == truth.size


def test_odc_stac_loads_the_sbas_dates_with_no_hints(served: dict[str, Any]) -> None:
    import odc.stac
    import pystac

    items, dates = _sbas_dates(served)
    # what the clients read is valid STAC with its extensions (projection, raster, file)
    checked = assert_valid_stac(items, served["tmp"] / "validate-sbas")
    assert any("/projection/" in u for u in checked), checked
    ds = odc.stac.load([pystac.Item.from_dict(i) for i in items], bands=["displacement"])
    assert list(ds.time.values) == dates
    assert ds.odc.geobox.crs.epsg == 4326
    for k, item in enumerate(items):
        truth, transform = _read(item["assets"]["displacement"]["href"])
        assert tuple(ds.odc.geobox.affine)[:6] == tuple(transform)[:6]
        _same(ds.displacement.values[k].astype("float32"), truth)


def test_stackstac_loads_the_sbas_dates_with_no_hints(served: dict[str, Any]) -> None:
    """stackstac 0.5 finds an asset's CRS in ``proj:epsg`` only (projection v1.x; v1.2.0's
    schema has it beside ``proj:code``, v2.0.0's refuses it)."""
    import stackstac

    items, dates = _sbas_dates(served)
    da = stackstac.stack(items, assets=["displacement"]).compute()
    assert list(da.time.values) == dates
    assert str(da.attrs["crs"]).lower() == "epsg:4326"
    for k, item in enumerate(items):
        truth, transform = _read(item["assets"]["displacement"]["href"])
        _same_where(da[k, 0], truth, transform)


def _dinsar(served: dict[str, Any]) -> tuple[dict[str, Any], np.datetime64]:
    found = _job_items(served["base"], served["jobs"]["dinsar"])
    assert len(found) == 1
    item = found[0]
    later = max(served["sar_dates"].values())
    assert item["properties"]["datetime"][:19] == later[:19]  # "as of" the later acquisition
    return item, np.datetime64(later.rstrip("Z"), "ns")


def test_odc_stac_loads_a_dinsar_result_with_no_hints(served: dict[str, Any]) -> None:
    import odc.stac
    import pystac

    item, when = _dinsar(served)
    truth, transform = _read(item["assets"][DINSAR_ASSET]["href"])
    ds = odc.stac.load([pystac.Item.from_dict(item)], bands=[DINSAR_ASSET])
    assert list(ds.time.values) == [when]
    assert tuple(ds.odc.geobox.affine)[:6] == tuple(transform)[:6]
    _same(ds[DINSAR_ASSET].values[0].astype("float32"), truth)


def test_stackstac_loads_a_dinsar_result_with_no_hints(served: dict[str, Any]) -> None:
    """As for sbas: stackstac needs ``proj:epsg``."""
    import stackstac

    item, when = _dinsar(served)
    truth, transform = _read(item["assets"][DINSAR_ASSET]["href"])
    da = stackstac.stack([item], assets=[DINSAR_ASSET]).compute()
    assert list(da.time.values) == [when]
    _same_where(da[0, 0], truth, transform)
