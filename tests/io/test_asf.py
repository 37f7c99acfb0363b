"""ASF records → STAC items (gep.io.crosswalk.asf), and the sample catalogue built from them.

The expected values are read off the recorded ASF responses in ``tests/data/asf`` (see
``tests/data/README.md``) or follow from orbital physics, so a wrong mapping fails here
rather than in the InSAR search that relies on it.
"""

from __future__ import annotations

import copy
import json
import math
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pystac
import pytest
from shapely.geometry import shape

import gep
from gep.io.crosswalk.asf import asf_collection_id, asf_stack_reference, asf_to_stac_item
from gep.io.crosswalk.asf_records import load_asf_records

DATA = Path(__file__).resolve().parents[1] / "data" / "asf"
SAMPLES = Path(gep.__file__).resolve().parent / "catalog" / "samples"
S1_STACK = DATA / "S1A_IW_SLC__1SSV_20160528T141908_20160528T141938_011460_011746_335C_stack.yml"
S1_STACK_REFERENCE = "S1A_IW_SLC__1SSV_20160528T141908_20160528T141938_011460_011746_335C"
BURST_STACK = DATA / "SLC_BURST_stack.yml"
BURST_REFERENCE = "S1_372326_IW3_20180815T151558_VV_6BD3-BURST"


@cache
def _records(path: Path) -> tuple[dict[str, Any], ...]:
    return tuple(load_asf_records(path))


@cache
def _stack_items(path: Path) -> tuple[dict[str, Any], ...]:
    records = _records(path)
    reference = asf_stack_reference(records)
    return tuple(asf_to_stac_item(r, stack_reference=reference) for r in records)


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --------------------------------------------------------------------------- reading


def test_load_reads_single_features_and_lists() -> None:
    assert len(load_asf_records(DATA / "S1_response.yml")) == 1
    assert len(load_asf_records(DATA / "Fairbanks_SLC.yml")) == 1
    assert len(load_asf_records(DATA / "OPERA_Products.yml")) == 4
    assert len(_records(S1_STACK)) == 176
    assert len(_records(BURST_STACK)) == 166


def test_stack_reference_is_the_zero_baseline_scene() -> None:
    assert asf_stack_reference(_records(S1_STACK)) == S1_STACK_REFERENCE
    assert asf_stack_reference(_records(BURST_STACK)) == BURST_REFERENCE
    assert asf_stack_reference(load_asf_records(DATA / "S1_response.yml")) is None


# --------------------------------------------------------------------------- one record


def test_grd_search_result() -> None:
    (record,) = load_asf_records(DATA / "S1_response.yml")
    item = asf_to_stac_item(record)
    p = item["properties"]
    assert item["id"] == "S1B_IW_GRDH_1SDV_20211110T032039_20211110T032104_029520_0385E6_60DB"
    assert item["collection"] == "sentinel-1-grd"
    assert item["stac_version"] == "1.1.0"
    assert item["links"] == []
    assert p["platform"] == "sentinel-1b"
    assert p["constellation"] == "sentinel-1"
    assert p["instruments"] == ["c-sar"]
    assert p["datetime"] == "2021-11-10T03:20:39Z"
    assert p["end_datetime"] == "2021-11-10T03:21:04Z"
    # flightDirection is null in this record; the UMM says ASCENDING.
    assert p["sat:orbit_state"] == "ascending"
    assert p["sat:relative_orbit"] == 94
    assert p["sat:absolute_orbit"] == 29520
    assert p["sat:platform_international_designator"] == "2016-025A"
    assert p["sar:instrument_mode"] == "IW"
    assert p["sar:polarizations"] == ["VV", "VH"]
    assert p["sar:product_type"] == "GRD"
    assert p["sar:frequency_band"] == "C"
    assert p["sar:center_frequency"] == pytest.approx(5.405)
    # ASF's processingDate is the acquisition start; the UMM has the real processing time.
    assert p["processing:datetime"] == "2021-11-10T08:46:30.876016Z"
    assert p["processing:level"] == "L1"
    assert p["gep:frame_number"] == 210
    assert "gep:state_vectors" not in p  # this search result has no baseline block
    assert item["assets"]["data"] == {
        "href": "https://datapool.asf.alaska.edu/GRD_HD/SB/"
        "S1B_IW_GRDH_1SDV_20211110T032039_20211110T032104_029520_0385E6_60DB.zip",
        "type": "application/zip",
        "roles": ["data"],
    }
    assert item["assets"]["overview"]["href"].endswith("_60DB.jpg")
    assert item["assets"]["thumbnail"]["href"].endswith("_60DB_thumb.jpg")
    ring = item["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] == [-150.149414, 65.465057]
    assert item["bbox"] == [-150.149414, 63.992542, -144.131241, 65.926117]
    assert "umm" not in json.dumps(item).lower().replace("sum", "")


def test_slc_orbit_data_are_kept() -> None:
    (record,) = load_asf_records(DATA / "Fairbanks_SLC.yml")
    p = asf_to_stac_item(record)["properties"]
    assert p["sat:anx_datetime"] == p["gep:ascending_node_time"] == "2021-01-02T03:02:58.934857Z"
    assert p["processing:software"] == {"Sentinel-1 IPF": "003.31"}
    vectors = p["gep:state_vectors"]
    assert [v["time"] for v in vectors] == ["2021-01-02T03:20:43Z", "2021-01-02T03:20:53Z"]
    assert vectors[0]["position"] == [-2893767.065414, -1235752.268405, 6327528.043215]
    assert vectors[1]["velocity"] == [4867.907153, 4928.758938, 3091.226142]
    for v in vectors:
        # Sentinel-1 flies ~700 km up: ~7.07e6 m from the Earth's centre at ~7.5 km/s.
        assert math.hypot(*v["position"]) == pytest.approx(7.07e6, rel=0.01)
        assert math.hypot(*v["velocity"]) == pytest.approx(7.5e3, rel=0.02)


def test_state_vectors_are_consistent_with_their_velocities() -> None:
    """Trapezoidal integration over the 10 s gap lands within a metre of the next vector."""
    for item in _stack_items(S1_STACK) + _stack_items(BURST_STACK):
        pre, post = item["properties"]["gep:state_vectors"]
        dt = (_t(post["time"]) - _t(pre["time"])).total_seconds()
        assert dt == 10.0
        predicted = [
            pre["position"][k] + 0.5 * (pre["velocity"][k] + post["velocity"][k]) * dt
            for k in range(3)
        ]
        assert math.dist(predicted, post["position"]) < 1.0


def test_s1_stack_values() -> None:
    items = _stack_items(S1_STACK)
    first = items[0]
    p = first["properties"]
    assert first["id"] == "S1A_IW_SLC__1SSV_20150603T141906_20150603T141935_006210_0081A6_AF4C"
    assert first["collection"] == "sentinel-1-slc"
    assert p["sat:orbit_state"] == "descending"
    assert p["sat:relative_orbit"] == 13
    assert p["sar:polarizations"] == ["VV"]
    assert p["gep:frame_number"] == 410
    assert p["gep:asf_baseline"] == {
        "perpendicular": 134,
        "temporal": -360,
        "reference": S1_STACK_REFERENCE,
    }
    # The stack truncates times to the second; the UMM's microseconds are kept.
    assert p["datetime"] == "2015-06-03T14:19:06.146000Z"
    assert p["sat:anx_datetime"] == "2015-06-03T13:44:55.904806Z"
    assert {i["properties"]["sat:relative_orbit"] for i in items} == {13}
    assert {i["properties"]["sat:orbit_state"] for i in items} == {"descending"}
    assert {i["properties"]["platform"] for i in items} == {"sentinel-1a", "sentinel-1b"}
    assert sum(i["properties"]["sar:polarizations"] == ["VV", "VH"] for i in items) == 155
    assert all(len(i["properties"]["gep:state_vectors"]) == 2 for i in items)


@pytest.mark.parametrize(
    ("path", "reference"), [(S1_STACK, S1_STACK_REFERENCE), (BURST_STACK, BURST_REFERENCE)]
)
def test_asf_temporal_baselines_match_the_acquisition_dates(path: Path, reference: str) -> None:
    items = _stack_items(path)
    (ref,) = [i for i in items if i["id"] == reference]
    assert ref["properties"]["gep:asf_baseline"]["perpendicular"] == 0
    t0 = _t(ref["properties"]["datetime"])
    for item in items:
        days = (_t(item["properties"]["datetime"]) - t0).total_seconds() / 86400
        assert round(days) == item["properties"]["gep:asf_baseline"]["temporal"], item["id"]


def test_burst_stack_values() -> None:
    items = _stack_items(BURST_STACK)
    first = items[0]
    p = first["properties"]
    assert first["id"] == "S1_372326_IW3_20141017T151617_VV_3B42-BURST"
    assert first["collection"] == "sentinel-1-burst"
    assert p["platform"] == "sentinel-1a"  # "SENTINEL-1A" in burst records
    assert p["sar:product_type"] == "BURST"
    assert p["gep:burst"] == {
        "id": "174_372326_IW3",
        "swath": "IW3",
        "relative_burst_id": 372326,
        "absolute_burst_id": 6165287,
        "burst_index": 3,
        "samples_per_burst": 23826,
        "lines_per_burst": 1518,
        "azimuth_time": "2014-10-17T15:16:17.116615Z",
        "azimuth_anx_time": 2026.2536406621,
    }
    assert p["gep:input_granules"] == [
        "S1A_IW_SLC__1SSV_20141017T151607_20141017T151631_002871_0033F3_3B42"
    ]
    assert first["assets"]["data"]["href"].endswith("/IW3/VV/3.tiff")
    assert first["assets"]["metadata"]["href"].endswith("/IW3/VV/3.xml")
    assert {i["properties"]["gep:burst"]["id"] for i in items} == {"174_372326_IW3"}
    assert len({i["properties"]["gep:burst"]["absolute_burst_id"] for i in items}) == 166
    by_day = {i["id"][14:22]: i["properties"]["gep:asf_baseline"] for i in items}
    assert by_day["20180628"] == {
        "perpendicular": 78,
        "temporal": -48,
        "reference": BURST_REFERENCE,
    }
    assert by_day["20190705"] == {
        "perpendicular": 69,
        "temporal": 324,
        "reference": BURST_REFERENCE,
    }


def test_relative_burst_id_follows_from_the_anx_time() -> None:
    """ESA's burst id definition, applied to the kept fields, gives ASF's id for every burst."""
    t_orbit = 12 * 86400 / 175  # s: 175 orbits per 12-day repeat cycle
    t_pre, t_beam = 2.299849, 2.758273  # s: ESA burst-id constants for IW
    for item in _stack_items(BURST_STACK):
        p = item["properties"]
        since_cycle_anx = (p["sat:relative_orbit"] - 1) * t_orbit + p["gep:burst"][
            "azimuth_anx_time"
        ]
        burst_id = 1 + math.floor((since_cycle_anx - t_pre) / t_beam)
        assert burst_id == p["gep:burst"]["relative_burst_id"], item["id"]


def test_alos_aria_and_opera_records() -> None:
    (alos,) = load_asf_records(DATA / "Alos_response.yml")
    item = asf_to_stac_item(alos)
    p = item["properties"]
    assert (item["id"], item["collection"]) == ("ALPSRP111041130", "alos-palsar")
    assert (p["platform"], p["instruments"], p["sar:frequency_band"]) == ("alos", ["palsar"], "L")
    assert p["sar:instrument_mode"] == "FBS"
    assert p["view:off_nadir"] == pytest.approx(34.3)
    assert p["sat:relative_orbit"] == 238
    assert p["gep:asf_baseline"] == {"insar_baseline": 4798.7874, "insar_stack_id": "1486384"}

    (aria,) = load_asf_records(DATA / "ARIAS1-GUNW_response.yml")
    item = asf_to_stac_item(aria)
    p = item["properties"]
    assert item["collection"] == "aria-s1-gunw"
    # The interferogram spans its secondary (2023-07-17) and reference (2024-08-16) dates.
    assert p["start_datetime"] == "2023-07-17T02:07:51Z"
    assert p["end_datetime"] == "2024-08-16T02:08:41Z"
    assert p["gep:asf_baseline"] == {"perpendicular": 124.5283, "temporal": 396}
    assert len(p["gep:input_granules"]) == 4
    assert item["assets"]["data"]["type"] == "application/netcdf"

    opera = load_asf_records(DATA / "OPERA_Products.yml")
    assert [asf_collection_id(r) for r in opera] == [
        "opera-rtc-s1",
        "opera-cslc-s1",
        "opera-rtc-s1-static",
        "opera-cslc-s1-static",
    ]
    rtc = asf_to_stac_item(opera[0])
    assert rtc["properties"]["gep:burst"] == {
        "id": "131_279916_IW1",
        "swath": "IW1",
        "relative_burst_id": 279916,
    }
    assert rtc["properties"]["sar:polarizations"] == ["VV", "VH"]
    assert {"data", "VV", "mask", "h5", "iso-xml", "thumbnail", "overview"} <= set(rtc["assets"])
    static = asf_to_stac_item(opera[3])
    assert static["properties"]["datetime"] == "2014-04-03T00:00:00Z"
    assert "start_datetime" not in static["properties"]
    # Upstream's RTC-S1-STATIC footprint runs from 0.16 E to 179.999 E: refused.
    with pytest.raises(ValueError, match=r"footprint spans 179\.8 degrees"):
        asf_to_stac_item(opera[2])


def test_footprint_across_the_antimeridian_is_split() -> None:
    (record,) = load_asf_records(DATA / "S1_response.yml")
    record = copy.deepcopy(record)
    record["geometry"] = {
        "type": "Polygon",
        "coordinates": [
            [[179.5, 51.0], [-179.6, 51.1], [-179.4, 52.0], [179.6, 51.9], [179.5, 51.0]]
        ],
    }
    item = asf_to_stac_item(record)
    assert item["geometry"]["type"] == "MultiPolygon"
    assert item["bbox"] == [179.5, 51.0, -179.4, 52.0]  # west > east: RFC 7946 5.2
    assert shape(item["geometry"]).is_valid


def test_record_without_an_id_is_refused() -> None:
    (record,) = load_asf_records(DATA / "S1_response.yml")
    record = copy.deepcopy(record)
    del record["properties"]["sceneName"], record["properties"]["fileID"]
    with pytest.raises(ValueError, match="sceneName"):
        asf_to_stac_item(record)


# --------------------------------------------------------------------------- samples


def _sample_files() -> list[Path]:
    return sorted(SAMPLES.glob("*.ndjson"))


@cache
def _sample_items(path: Path) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())


def _collections() -> list[dict[str, Any]]:
    return list(json.loads((SAMPLES / "collections.json").read_text(encoding="utf-8")))


def test_samples_exist_and_are_small() -> None:
    files = _sample_files()
    assert {f.stem for f in files} >= {
        "sentinel-1-slc",
        "sentinel-1-burst",
        "sentinel-1-grd",
        "sentinel-2-l2a",
        "landsat-c2-l2",
    }
    assert (SAMPLES / "ATTRIBUTION.md").read_text(encoding="utf-8").count(
        "Contains modified Copernicus Sentinel data"
    ) >= 5
    total = sum(f.stat().st_size for f in SAMPLES.iterdir() if f.is_file())
    assert total < 3_000_000


def test_collections_match_the_sample_files() -> None:
    collections = _collections()
    assert sorted(c["id"] for c in collections) == sorted(f.stem for f in _sample_files())
    for c in collections:
        assert c["type"] == "Collection" and c["stac_version"] == "1.1.0"
        assert c["license"] and c["description"] and c["providers"]
        items = _sample_items(SAMPLES / f"{c['id']}.ndjson")
        (interval,) = c["extent"]["temporal"]["interval"]
        starts = [
            _t(i["properties"].get("start_datetime") or i["properties"]["datetime"]) for i in items
        ]
        assert _t(interval[0]) == min(starts)
        platforms = {i["properties"]["platform"] for i in items}
        assert set(c["summaries"]["platform"]) == platforms


@pytest.mark.parametrize("path", _sample_files(), ids=lambda p: p.stem)
def test_sample_items_are_clean_stac(path: Path) -> None:
    items = _sample_items(path)
    assert items
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for item in items:
        assert item["collection"] == path.stem
        assert item["stac_version"] == "1.1.0"
        assert item["links"] == []
        props = item["properties"]
        assert props.get("datetime") or (props.get("start_datetime") and props.get("end_datetime"))
        for key in ("datetime", "start_datetime", "end_datetime"):
            if props.get(key):
                assert _t(props[key]).tzinfo is not None, (item["id"], key)
        geom = shape(item["geometry"])
        assert geom.is_valid and not geom.is_empty, item["id"]
        bbox = item["bbox"]
        if bbox[0] <= bbox[2]:  # else it crosses the antimeridian (RFC 7946 5.2)
            assert bbox == pytest.approx(list(geom.bounds), abs=1e-9), item["id"]
        assert pystac.Item.from_dict(copy.deepcopy(item), migrate=False).id == item["id"]


@pytest.mark.parametrize("path", _sample_files(), ids=lambda p: p.stem)
def test_sample_items_validate_against_the_core_schema(path: Path) -> None:
    """pystac validation against the bundled STAC 1.1 core schemas (no network).

    Extension schemas would be fetched from the web, so they are left out (a copy of the
    item without ``stac_extensions`` is validated). The samples carry no links (the API
    makes them), but the core schema allows ``collection`` only beside a ``collection``
    link, so the item is validated as the API serves it: with that link added.
    Needs ``jsonschema``.
    """
    pytest.importorskip("jsonschema", reason="pystac validation needs jsonschema (dev extra)")
    for item in _sample_items(path):
        core = copy.deepcopy(item)
        core["stac_extensions"] = []
        core["links"] = [
            {
                "rel": "collection",
                "href": f"/stac/collections/{path.stem}",
                "type": "application/json",
            }
        ]
        pystac.Item.from_dict(core, migrate=False).validate()


def test_sample_collections_validate_against_the_core_schema() -> None:
    pytest.importorskip("jsonschema", reason="pystac validation needs jsonschema (dev extra)")
    for collection in _collections():
        core = copy.deepcopy(collection)
        core["stac_extensions"] = []
        pystac.Collection.from_dict(core, migrate=False).validate()


def test_sample_sar_items_keep_orbit_data_but_not_the_umm() -> None:
    for name in ("sentinel-1-slc", "sentinel-1-burst"):
        for item in _sample_items(SAMPLES / f"{name}.ndjson"):
            props = item["properties"]
            assert len(props["gep:state_vectors"]) == 2
            assert "gep:ascending_node_time" in props
            assert "reference" in props["gep:asf_baseline"]
            assert "AdditionalAttributes" not in json.dumps(item)
