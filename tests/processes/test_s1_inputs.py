"""Sentinel-1 SAFE items as inputs of dinsar/coin/sbas: the checks before a job exists.

The items are catalogued with the real crosswalk (``safe_item``) from the annotation-only SAFEs
of ``tests/data/s1``; a second acquisition is the Rome product moved 12 days (one repeat
cycle) later in its manifest and annotation, and other variants change the track or drop a
polarisation, so each refusal is provoked by exactly the fact it is about.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import shape

from gep.core.errors import InvalidInput
from gep.io.sentinel1_stac import safe_item
from gep.processes.coin import Coin
from gep.processes.dinsar import DinsarInputs
from gep.processes.s1_inputs import (
    check_safe_pair,
    choose_polarisation,
    is_safe_item,
    load_safe_pair,
    pair_kind,
)
from gep.processes.sar_common import check_items
from gep.processes.sbas.inputs import SbasInputs
from gep.processes.sbas.network import acquisition_day, check_network
from tests.support.app import api_client, post_catalogue
from tests.support.problems import assert_problem

DATA = Path(__file__).parents[1] / "data" / "s1"
ROME = "S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1"
COLL = "s1-slc"
ZIP_NAME = "S1A_IW_SLC__1SDV_20221016T015043_20221016T015111_045461_056FC0_6681.zip"
# the Rome frame's footprint is about [10.70, 40.90, 14.15, 42.92]
AOI = [11.4, 41.7, 11.5, 41.8]  # in IW1, over bursts 249405-249406


def _variant(
    tmp: Path, name: str, replace: dict[str, str], manifest_only: dict[str, str] | None = None
) -> Path:
    """A copy of the Rome SAFE under a new name, with text replaced in every XML file (and
    ``manifest_only`` in the manifest alone)."""
    dst = tmp / f"{name}.SAFE"
    shutil.copytree(DATA / f"{ROME}.SAFE", dst)
    for xml in [dst / "manifest.safe", *dst.glob("annotation/*.xml")]:
        text = xml.read_text()
        extra = manifest_only if xml.name == "manifest.safe" and manifest_only else {}
        for old, new in {**replace, **extra}.items():
            assert old in text or xml.name != "manifest.safe", (old, xml)
            text = text.replace(old, new)
        xml.write_text(text)
    return dst


def _item(path: Path) -> dict[str, Any]:
    return {**safe_item(path), "collection": COLL}


LATER = {"2022-01-04T": "2022-01-16T"}  # 12 days: one repeat cycle, the same orbit tube


@pytest.fixture(scope="module")
def safes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    tmp = Path(tmp_path_factory.mktemp("safes"))
    ref = shutil.copytree(DATA / f"{ROME}.SAFE", tmp / f"{ROME}.SAFE")
    sec = _variant(
        tmp, "S1A_IW_SLC__1SDV_20220116T170557_20220116T170624_041489_04F000_AAAA", LATER,
        {">41314<": ">41489<"},
    )  # fmt: skip
    track = _variant(
        tmp, "S1A_IW_SLC__1SDV_20220116T170557_20220116T170624_041489_04F000_BBBB", LATER,
        {">117</safe:relativeOrbitNumber>": ">44</safe:relativeOrbitNumber>"},
    )  # fmt: skip
    vh = _variant(
        tmp, "S1A_IW_SLC__1SDV_20220116T170557_20220116T170624_041489_04F000_CCCC", LATER,
        {"<s1sarl1:transmitterReceiverPolarisation>VV</s1sarl1:transmitterReceiverPolarisation>":
         ""},
    )  # fmt: skip
    return {
        "ref": _item(ref),
        "sec": _item(sec),
        "track": _item(track),
        "vh": _item(vh),
        "dem": {
            "id": "rome-dem",
            "collection": "dem",
            "bbox": [11.0, 41.5, 13.0, 42.2],
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[11, 41.5], [13, 41.5], [13, 42.2], [11, 42.2], [11, 41.5]]],
            },
            "properties": {"datetime": "2020-01-01T00:00:00Z"},
            "assets": {"dem": {"href": "file:///dem.tif", "roles": ["data"]}},
        },
        "slc": {
            "id": "SIM_S1A_IW1_VV_20220116",
            "collection": "gep-slc",
            "geometry": safe_item(ref)["geometry"],
            "properties": {"gep:swath_geometry": {"swath": "IW1"}},
            "assets": {"slc": {"href": "file:///slc.tif", "type": "image/tiff"}},
        },
    }


def _inputs(**kw: Any) -> DinsarInputs:
    return DinsarInputs.model_validate({"reference": "a/b", "secondary": "a/c", **kw})


def _refused(
    inputs: DinsarInputs, items: dict[str, dict[str, Any]], field: str, *words: str
) -> InvalidInput:
    with pytest.raises(InvalidInput) as err:
        check_items(inputs, items)
    assert err.value.field == field, err.value
    for w in words:
        assert w in err.value.message, err.value.message
    return err.value


def test_the_variants_are_what_the_tests_need(safes: dict[str, dict[str, Any]]) -> None:
    ref, sec = safes["ref"]["properties"], safes["sec"]["properties"]
    assert is_safe_item(safes["ref"]) and not is_safe_item(safes["slc"])
    assert not is_safe_item(safes["dem"])
    assert sec["start_datetime"].startswith("2022-01-16T17:05:57")
    assert sec["sat:absolute_orbit"] == ref["sat:absolute_orbit"] + 175
    assert safes["track"]["properties"]["sat:relative_orbit"] == 44
    assert safes["vh"]["properties"]["sar:polarizations"] == ["VH"]
    assert acquisition_day(safes["sec"]) == "2022-01-16"


def test_a_good_pair_passes_with_its_area_and_polarisation(
    safes: dict[str, dict[str, Any]],
) -> None:
    pair = {"reference": safes["ref"], "secondary": safes["sec"]}
    baseline, area = check_items(
        _inputs(aoi=AOI, dem="dem/rome-dem"), {**pair, "dem": safes["dem"]}
    )
    assert baseline is None  # from the bursts, when the job reads them
    assert area.bounds == pytest.approx(AOI)
    found = check_safe_pair(_inputs(aoi=AOI), pair)
    assert found.polarisation == "VV" and found.swaths == ("IW1",)
    assert found.temporal_days == pytest.approx(12.0, abs=1e-6)
    assert check_safe_pair(_inputs(polarisation="VH"), pair).polarisation == "VH"
    # without an aoi the area is the footprints' overlap (here the whole frame)
    _, whole = check_items(_inputs(), pair)
    assert whole.area == pytest.approx(shape(safes["ref"]["geometry"]).area)


def test_different_tracks_are_refused_naming_both(safes: dict[str, dict[str, Any]]) -> None:
    items = {"reference": safes["ref"], "secondary": safes["track"]}
    _refused(_inputs(), items, "inputs.secondary", "track 117", "track 44", "one track")


def test_polarisations(safes: dict[str, dict[str, Any]]) -> None:
    items = {"reference": safes["ref"], "secondary": safes["vh"]}
    assert check_safe_pair(_inputs(), items).polarisation == "VH"  # the only common one
    _refused(_inputs(polarisation="VV"), items, "inputs.polarisation", "VV", "choose VH")
    vv_only = copy.deepcopy(safes["ref"])
    vv_only["properties"]["sar:polarizations"] = ["VV"]
    items = {"reference": vv_only, "secondary": safes["vh"]}
    _refused(_inputs(), items, "inputs.secondary", "no common polarisation", "VV", "VH")
    assert choose_polarisation(None, {"properties": {}}, {"properties": {}}) == "VV"


def test_aoi_dem_order_and_product_kind(safes: dict[str, dict[str, Any]]) -> None:
    items = {"reference": safes["ref"], "secondary": safes["sec"], "dem": safes["dem"]}
    _refused(_inputs(aoi=[5.0, 45.0, 5.1, 45.1]), items, "inputs.aoi", "outside the scene")
    # the DEM covers [11, 41.5, 13, 42.2]: an aoi east of it is refused, one inside passes
    _refused(_inputs(aoi=[13.2, 41.8, 13.4, 42.0]), items, "inputs.dem", "inputs.dem covers")
    check_items(_inputs(aoi=[12.2, 41.8, 12.4, 42.0]), items)
    swapped = {"reference": safes["sec"], "secondary": safes["ref"]}
    _refused(_inputs(), swapped, "inputs.secondary", "12.0 days earlier", "swap")
    grd = copy.deepcopy(safes["sec"])
    grd["properties"]["sar:product_type"] = "GRD"
    _refused(_inputs(), {"reference": safes["ref"], "secondary": grd}, "inputs.secondary",
             "IW GRD", "IW SLC")  # fmt: skip
    _refused(_inputs(coherence_window=[3, 5]), items, "inputs.coherence_window", "SAFE")


def test_mixed_and_foreign_items_are_refused(safes: dict[str, dict[str, Any]]) -> None:
    mixed = {"reference": safes["ref"], "secondary": safes["slc"]}
    _refused(_inputs(), mixed, "inputs.secondary", "Sentinel-1 SAFE product", "GEP SLC product")
    with pytest.raises(InvalidInput):
        pair_kind({"reference": safes["slc"], "secondary": safes["ref"]})
    foreign = {"reference": safes["dem"], "secondary": safes["ref"]}
    _refused(_inputs(), foreign, "inputs.reference", "not a GEP SLC product", "SAFE")


def test_coin_and_sbas_networks_take_safe_pairs(
    safes: dict[str, dict[str, Any]],
) -> None:
    items = {"reference": safes["ref"], "secondary": safes["sec"]}
    Coin().preflight(_inputs(), items)  # the same checks as dinsar's
    bad = {"reference": safes["ref"], "secondary": safes["track"]}
    with pytest.raises(InvalidInput, match="track"):
        Coin().preflight(_inputs(), bad)
    third = copy.deepcopy(safes["sec"])
    third["id"] += "-28"
    for key in ("datetime", "start_datetime", "end_datetime"):
        third["properties"][key] = third["properties"][key].replace("2022-01-16", "2022-01-28")
    refs = {"r": f"{COLL}/{safes['ref']['id']}", "s": f"{COLL}/{safes['sec']['id']}"}
    refs["t"] = f"{COLL}/{third['id']}"
    pairs = [("r", "s"), ("s", "t"), ("r", "t")]
    inputs = SbasInputs.model_validate(
        {
            "network": {"pairs": [{"reference": refs[a], "secondary": refs[b]} for a, b in pairs]},
            "dinsar": {"aoi": AOI, "polarisation": "VV"},
        }
    )
    by = {"r": safes["ref"], "s": safes["sec"], "t": third}
    found: dict[str, dict[str, Any]] = {}
    for k, (a, b) in enumerate(pairs):
        found[f"network.pairs[{k}].reference"] = by[a]
        found[f"network.pairs[{k}].secondary"] = by[b]
    network = check_network(inputs, found)
    assert network is not None and network.n_dates == 3
    found["network.pairs[1].secondary"] = safes["track"]
    with pytest.raises(InvalidInput) as err:
        check_network(inputs, found)
    assert err.value.field == "inputs.network.pairs[1].secondary" and "track 44" in str(err.value)


# -- through the API ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(
    safes: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    home = Path(tmp_path_factory.mktemp("home"))
    roots = str(Path(safes["ref"]["assets"]["product"]["href"].removeprefix("file://")).parent)
    with api_client(home, base_url="http://gep.test", data_roots=roots) as c:
        coll = {
            "type": "Collection", "id": COLL, "stac_version": "1.0.0", "description": "S1 SLC",
            "license": "proprietary", "links": [],
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                       "temporal": {"interval": [[None, None]]}},
        }  # fmt: skip
        post_catalogue(c, [coll], [safes[k] for k in ("ref", "sec", "track")])
        yield c


def test_dinsar_refuses_two_tracks_before_a_job_exists(
    client: TestClient, safes: dict[str, dict[str, Any]]
) -> None:
    r = client.post(
        "/processes/dinsar/execution",
        json={"inputs": {"reference": f"{COLL}/{ROME}", "secondary": f"{COLL}/"
                         + safes["track"]["id"]}},
    )  # fmt: skip
    assert_problem(r, 400, "inputs.secondary", "track 117", "track 44")
    assert client.get("/jobs").json()["jobs"] == []


def test_pair_search_suggests_dinsar_inputs_that_pass_its_checks(
    client: TestClient, safes: dict[str, dict[str, Any]]
) -> None:
    r = client.get("/insar/pairs", params={"reference": f"{COLL}/{ROME}"})
    assert r.status_code == 200, r.text
    pairs = r.json()["pairs"]
    assert [p["id"] for p in pairs] == [safes["sec"]["id"]]  # the other track is no candidate
    (pair,) = pairs
    assert pair["btemp"] == pytest.approx(12.0, abs=1e-3)
    suggested = pair["dinsar_inputs"]
    assert suggested == {"reference": f"{COLL}/{ROME}", "secondary": f"{COLL}/{pair['id']}"}
    # what it suggests passes dinsar's checks (the same preflight a job request gets)
    items = {"reference": safes["ref"], "secondary": safes["sec"]}
    check_items(DinsarInputs.model_validate(suggested), items)
    # the suggestion reversed (the later one as reference) is refused
    reversed_ = {"reference": suggested["secondary"], "secondary": suggested["reference"]}
    r = client.post("/processes/dinsar/execution", json={"inputs": reversed_})
    assert_problem(r, 400, "inputs.secondary", "swap")


# -- job time: staging, bursts, plans, reads (a context of the test's own) ----------------------


class _Ctx:
    """A job context over the test's items: ``stage`` hands out their product paths, and the
    log is kept to be read back."""

    def __init__(self, items: dict[str, dict[str, Any]], paths: dict[str, Path]) -> None:
        self.items, self.paths = items, paths
        self.messages: list[str] = []
        self.counted: dict[str, int] = {}
        self.logger = logging.getLogger("test.s1_inputs")
        self.logger.handlers = [_ListHandler(self.messages)]
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False

    def stage(self, ref: Any, asset: str | None = None) -> tuple[dict[str, Any], Path | None]:
        item_id = str(ref).split("/", 1)[1]
        return self.items[item_id], (self.paths[item_id] if asset else None)

    def open_ranged(self, ref: Any, asset: str) -> tuple[dict[str, Any], Path | None]:
        return self.stage(ref, asset)

    def count_read(self, ref: Any, asset: str, n: int) -> None:
        self.counted[str(ref)] = self.counted.get(str(ref), 0) + n

    def search(self, params: dict[str, Any], limit: int = 500) -> list[dict[str, Any]]:
        return []

    def progress(self, percent: int, message: str = "") -> None:
        return None


class _ListHandler(logging.Handler):
    def __init__(self, out: list[str]) -> None:
        super().__init__()
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        self.out.append(record.getMessage())


@pytest.fixture
def job(safes: dict[str, dict[str, Any]]) -> _Ctx:
    items = {safes[k]["id"]: safes[k] for k in ("ref", "sec", "track")}
    paths = {
        k: Path(v["assets"]["product"]["href"].removeprefix("file://")) for k, v in items.items()
    }
    return _Ctx(items, paths)


def _pair_inputs(safes: dict[str, dict[str, Any]], **kw: Any) -> DinsarInputs:
    return DinsarInputs.model_validate(
        {"reference": f"{COLL}/{ROME}", "secondary": f"{COLL}/{safes['sec']['id']}", **kw}
    )


def test_load_reads_only_the_planned_windows_and_reports_the_bytes(
    safes: dict[str, dict[str, Any]], job: _Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gep.io.sentinel1_bursts as bursts_io

    calls: list[tuple[str, str, tuple[int, int, int, int]]] = []

    def read_burst(product: Any, burst: Any, window: Any, counter: Any) -> Any:
        _, _, lines, samples = window
        counter.bytes += lines * samples * 4  # CInt16
        calls.append((Path(product).name, burst.burst_id, tuple(window)))
        return np.zeros((lines, samples), np.complex64)

    # the products have no measurement TIFFs: a reader of the same signature stands in,
    # counting into the real ByteCounter what it would have read (CInt16: 4 bytes a pixel)
    monkeypatch.setattr(bursts_io, "read_burst", read_burst)
    pairs, dem, info = load_safe_pair(job, _pair_inputs(safes, aoi=AOI))  # type: ignore[arg-type]
    assert dem == 0.0 and info.polarisation == "VV" and info.orbit == "annotation"
    assert pairs and len(calls) == 2 * len(pairs)
    for p in pairs:  # each burst pair holds exactly its plan's windows, matched by burst id
        assert p.plan.reference.burst_id == p.plan.secondary.burst_id
        assert p.reference_data.shape == p.plan.reference_window[2:]
        assert p.secondary_data.shape == p.plan.secondary_window[2:]
    expected = {
        name: sum(4 * w[2] * w[3] for n, _, w in calls if n.startswith(name))
        for name in info.bytes_read
    }
    assert info.bytes_read == expected and info.total_bytes_read == sum(expected.values()) > 0
    # the same orbit 12 days (one repeat cycle) later: no perpendicular baseline
    assert info.baseline.temporal_days == pytest.approx(12.0, abs=1e-4)
    assert abs(info.baseline.perpendicular) < 0.01
    log = "\n".join(job.messages)
    assert f"{info.total_bytes_read} bytes read in total" in log
    assert all(f"of {name}" in log for name in info.bytes_read)


def test_job_time_failures_name_the_product(
    safes: dict[str, dict[str, Any]], job: _Ctx, tmp_path: Path
) -> None:
    # the real reader on annotation-only products: bursts and plans, but no pixels
    with pytest.raises(InvalidInput) as err:
        load_safe_pair(job, _pair_inputs(safes, aoi=AOI))  # type: ignore[arg-type]
    assert err.value.field == "inputs.reference" and ROME in err.value.message
    assert "no measurement file for IW1/VV" in err.value.message
    # a truncated product: the reader's error, with the product's name
    broken = tmp_path / "broken.zip"
    broken.write_bytes((DATA / ZIP_NAME).read_bytes()[:2000])
    job.paths[safes["sec"]["id"]] = broken
    with pytest.raises(InvalidInput) as err:
        load_safe_pair(job, _pair_inputs(safes, aoi=AOI))  # type: ignore[arg-type]
    assert err.value.field == "inputs.secondary" and safes["sec"]["id"] in err.value.message
    # no burst over the area: an aoi in the frame's corner outside IW1
    job.paths[safes["sec"]["id"]] = job.paths[ROME].parent / f"{safes['sec']['id']}.SAFE"
    with pytest.raises(InvalidInput) as err:
        load_safe_pair(job, _pair_inputs(safes, aoi=[14.0, 41.35, 14.1, 41.45]))  # type: ignore[arg-type]
    assert err.value.field == "inputs.aoi" and "no burst" in err.value.message
    assert ROME in err.value.message and safes["sec"]["id"] in err.value.message
    # orbit "precise" with no orbit file in the catalogue
    with pytest.raises(InvalidInput) as err:
        load_safe_pair(job, _pair_inputs(safes, aoi=AOI, orbit="precise"))  # type: ignore[arg-type]
    assert err.value.field == "inputs.orbit" and ROME in err.value.message


def test_safe_pairs_publish_layers_like_slc_pairs(tmp_path: Path) -> None:
    """The one layer writer both chains use, on a burst's geometry: dates, baseline and units
    in the tags, and the coregistration output with the ESD shift."""
    import rasterio

    from gep.algorithms.sar.coregistration import Refinement
    from gep.algorithms.sar.geocode import GeoGrid
    from gep.algorithms.sar.tops_chain import TopsDinsarResult
    from gep.io.sentinel1_bursts import tops_bursts
    from gep.processes.dinsar import _coregistration, write_layers

    ref = tops_bursts(DATA / f"{ROME}.SAFE", "IW1", "VV")[4].geometry
    sec = dataclasses.replace(ref, first_line_time=ref.first_line_time + np.timedelta64(12, "D"))
    grid = GeoGrid(41.8, 11.4, -0.001, 0.001, 6, 8)
    rng = np.random.default_rng(1)
    geo = {
        k: rng.uniform(0.1, 1.0, (6, 8)).astype("float32")
        for k in ("wrapped_phase", "coherence", "amplitude", "unwrapped_phase")
    }
    geo["los_displacement"] = (geo["unwrapped_phase"] * -0.0044).astype("float32")
    layers, files = write_layers(geo, grid, ref, sec, 42.5, tmp_path, quicklooks=False,
                                 keys=("coherence", "los_displacement"))  # fmt: skip
    assert [layer[0] for layer in layers] == ["coherence", "los_displacement"]
    assert sorted(files) == ["coherence", "los_displacement"]
    with rasterio.open(files["los_displacement"]) as src:
        tags = src.tags()
        assert src.read(1) == pytest.approx(geo["los_displacement"])
        assert src.transform.c == pytest.approx(11.4 - 0.0005)
    assert (tags["FIRST_DATE"], tags["SECOND_DATE"]) == ("2022-01-04", "2022-01-16")
    assert tags["DATA_UNITS"] == "METRES" and float(tags["BPERP_METRES"]) == 42.5
    assert float(tags["WAVELENGTH_METRES"]) == pytest.approx(0.05546, abs=1e-4)
    result = TopsDinsarResult(
        grid=grid, geocoded=geo, refinement=Refinement(0.01, -0.2, 40, 0.1, 0.1), esd_shift=0.0031,
        overlaps=[], swath_boundaries={}, wavelength=ref.wavelength, looks=(4, 16),
        reference_geometry=ref, secondary_geometry=sec,
    )  # fmt: skip
    coreg = _coregistration(result)
    assert coreg["esd_shift_px"] == pytest.approx(0.0031)
    assert coreg["chips"] == 40.0 and coreg["range_refinement_px"] == pytest.approx(-0.2)


def test_precise_orbits_come_from_the_catalogue(tmp_path: Path) -> None:
    """``orbit: precise``: the orbit files the catalogue holds for the acquisition, of its
    satellite; one that does not cover it is a failure naming the product."""
    from gep.processes.s1_inputs import ORBIT_COLLECTION, orbit_files_for

    eofs = sorted((DATA / "orbits").glob("*.EOF"))
    orbit_items = {
        f"o{k}": {"id": f"o{k}", "collection": ORBIT_COLLECTION,
                  "assets": {"eof": {"href": p.as_uri()}}}
        for k, p in enumerate(eofs)
    }  # fmt: skip
    asked: list[dict[str, Any]] = []

    class Ctx(_Ctx):
        def search(self, params: dict[str, Any], limit: int = 500) -> list[dict[str, Any]]:
            asked.append(params)
            return list(orbit_items.values())

    ctx = Ctx(orbit_items, {k: eofs[i] for i, k in enumerate(orbit_items)})
    props = {"platform": "sentinel-1a", "start_datetime": "2023-08-23T14:30:00Z",
             "end_datetime": "2023-08-23T14:30:27Z"}  # fmt: skip
    found = orbit_files_for(ctx, {"id": "S1A_X", "properties": props}, "reference")  # type: ignore[arg-type]
    assert found == eofs
    assert (
        asked[0]["collections"] == [ORBIT_COLLECTION] and "2023-08-23T14:30" in asked[0]["datetime"]
    )
    assert "orbit files RESORB" in "\n".join(ctx.messages)
    later = {
        **props,
        "start_datetime": "2023-08-24T14:30:00Z",
        "end_datetime": "2023-08-24T14:30:27Z",
    }
    with pytest.raises(InvalidInput) as err:
        orbit_files_for(ctx, {"id": "S1A_Y", "properties": later}, "reference")  # type: ignore[arg-type]
    assert err.value.field == "inputs.orbit" and "S1A_Y" in err.value.message
    assert "no orbit file covers" in err.value.message
