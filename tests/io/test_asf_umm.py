"""CMR UMM-G granules and ASF jsonlite results read as ASF records (gep.io.crosswalk).

The check is against an independent implementation: the recorded records hold, for each
granule, both the UMM that CMR returned and the ``properties`` asf_search (ASF's own client)
derived from it. Mapping the UMM alone must give the same STAC item as mapping asf_search's
record, for every granule of the path-13 stack, bursts, GRD, SLC and ALOS scenes and OPERA
products.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import shape

from gep.io.crosswalk.asf import asf_to_stac_item
from gep.io.crosswalk.asf_records import (
    asf_feature_from_jsonlite,
    asf_feature_from_umm,
    load_asf_records,
)

DATA = Path(__file__).resolve().parents[1] / "data"
RECORDINGS = [
    DATA / "asf" / "S1A_IW_SLC__1SSV_20160528T141908_20160528T141938_011460_011746_335C_stack.yml",
    DATA / "asf" / "S1_response.yml",
    DATA / "asf" / "Fairbanks_SLC.yml",
    DATA / "asf" / "Alos_response.yml",
    DATA / "asf" / "OPERA_Products.yml",
    DATA / "harvest" / "asf" / "SLC_BURST.yml",
]
#: fields asf_search takes from elsewhere than the granule (stack answers, ASF's database)
NOT_IN_UMM = {"gep:asf_baseline"}


def _without(item: dict[str, Any]) -> dict[str, Any]:
    item = json.loads(json.dumps(item))
    for key in NOT_IN_UMM:
        item["properties"].pop(key, None)
    return item


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.name[:24])
def test_umm_gives_the_item_asf_search_gives(path: Path) -> None:
    compared = 0
    for record in load_asf_records(path):
        try:
            expected = asf_to_stac_item(record)
        except ValueError:  # a record broken upstream (OPERA RTC-STATIC's footprint)
            with pytest.raises(ValueError, match="footprint"):
                asf_to_stac_item(asf_feature_from_umm(record))
            continue
        got = asf_to_stac_item(asf_feature_from_umm({"meta": record["meta"], "umm": record["umm"]}))
        assert _without(got) == _without(expected), record["umm"]["GranuleUR"]
        compared += 1
    assert compared >= 1


def test_umm_orbit_and_burst_fields() -> None:
    burst = load_asf_records(DATA / "harvest" / "asf" / "SLC_BURST.yml")[0]
    feature = asf_feature_from_umm(burst)
    props = feature["properties"]
    # a burst is named by its granule (fileID), its data is served by ASF's burst service
    assert props["sceneName"] == props["fileID"] == "S1_372326_IW3_20180815T151558_VV_6BD3-BURST"
    assert props["url"].endswith("/IW3/VV/5.tiff") and props["additionalUrls"][0].endswith(".xml")
    item = asf_to_stac_item(feature)["properties"]
    sv = burst["baseline"]["stateVectors"]["positions"]
    assert [v["position"] for v in item["gep:state_vectors"]] == [
        sv["prePosition"],
        sv["postPosition"],
    ]
    assert item["gep:burst"]["id"] == "174_372326_IW3" and item["sat:relative_orbit"] == 174


def test_umm_without_a_granule_ur_is_refused() -> None:
    with pytest.raises(ValueError, match="GranuleUR"):
        asf_feature_from_umm({"meta": {}, "umm": {"TemporalExtent": {}}})


def test_jsonlite_result_maps_like_the_geojson_record() -> None:
    result = json.loads((DATA / "harvest" / "asf" / "Fairbanks_SLC_jsonlite.json").read_text())
    lite = asf_to_stac_item(asf_feature_from_jsonlite(result["results"][0]))
    full = asf_to_stac_item(load_asf_records(DATA / "asf" / "Fairbanks_SLC.yml")[0])
    assert lite["id"] == full["id"] and lite["collection"] == full["collection"]
    assert shape(lite["geometry"]).equals(shape(full["geometry"]))
    for key in (
        "platform",
        "constellation",
        "sat:relative_orbit",
        "sat:absolute_orbit",
        "sat:orbit_state",
        "sar:instrument_mode",
        "sar:polarizations",
        "sar:product_type",
        "gep:frame_number",
    ):
        assert lite["properties"][key] == full["properties"][key], key
    # jsonlite rounds times to the second and has no UMM: no orbit, no precise times
    assert lite["properties"]["datetime"] == full["properties"]["datetime"][:19] + "Z"
    assert "gep:state_vectors" not in lite["properties"]
    assert lite["assets"]["data"] == full["assets"]["data"]


def test_jsonlite_with_a_broken_wkt_is_refused() -> None:
    with pytest.raises(ValueError, match="wkt"):
        asf_feature_from_jsonlite({"granuleName": "x", "wkt": "POLYGON((1 2, 3"})
