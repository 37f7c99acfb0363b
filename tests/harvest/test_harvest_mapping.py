"""What each source makes of its recorded archive: ids, footprints, times, STAC fields, assets,
the queries it sends, and the records it refuses.

Expected values are read off the recordings themselves (``tests/data/harvest``, ``tests/data/
asf``), never off the mapping code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import box, shape

from gep.catalog.insar import find_pairs, item_baseline, item_orbit
from gep.catalog.store import CatalogStore
from gep.core.errors import InvalidInput
from gep.harvest.base import SourceConfig
from gep.harvest.http import Fetcher
from gep.harvest.odata import CDSE_DOWNLOAD, ODataSource
from gep.harvest.runner import run_harvest
from gep.harvest.sources import check_config
from gep.harvest.store import FAILED, SUCCEEDED, HarvestRun, HarvestStore
from gep.io.crosswalk.asf import asf_to_stac_item
from gep.io.crosswalk.eo import EXTENSION_OF_PREFIX
from tests.support.harvest_kit import (
    ASF_PATH,
    CDSE,
    CREODIAS,
    HARVEST,
    MUNDI_XML,
    SARA,
    STACK_REFERENCE,
    Recorded,
    asf_cmr,
    asf_search,
    asf_search_records,
    cdse,
    creodias,
    items,
    mundi,
    quiet_fetcher,
    sara,
    stack_records,
    utc,
)
from tests.support.replay_server import ReplayServer
from tests.support.stores import make_store

_PREFIX = re.compile(r"^([a-z0-9]+):")


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[CatalogStore]:
    store = make_store("sqlite", tmp_path)
    yield store
    store.close()


def _harvest(
    store: CatalogStore, archive: Recorded, runs: int = 1
) -> tuple[dict[str, dict[str, Any]], list[Any], list[HarvestRun]]:
    """Harvest ``runs`` times; the items, the requests the archive saw, and the runs."""
    harvests = HarvestStore(store.engine)
    done = []
    with archive.server() as server:
        harvests.add(archive.config(server.url))
        for _ in range(runs):
            run = run_harvest(store, harvests, archive.name, fetcher=quiet_fetcher()[0])
            assert run.status == SUCCEEDED, run.errors
            done.append(run)
        requests = list(server.requests)
    return items(store, archive.collection), requests, done


def _extensions_declared(item: dict[str, Any]) -> None:
    """Every extension prefix the item uses is declared (GEP's own and s1: aside)."""
    used = {
        m[1]
        for key in [*item["properties"], *(k for a in item["assets"].values() for k in a)]
        if (m := _PREFIX.match(key))
    }
    for prefix in used - {"gep", "odata", "s1"}:
        assert any(f"/{prefix}" in ext for ext in item["stac_extensions"]), (prefix, item["id"])
        if prefix in EXTENSION_OF_PREFIX:
            assert EXTENSION_OF_PREFIX[prefix] in item["stac_extensions"]


# ----------------------------------------------------------------------------- OpenSearch


def test_opensearch_atom_mundi(sqlite: CatalogStore) -> None:
    got, requests, runs = _harvest(sqlite, mundi(), runs=2)
    entry = re.findall(r"<entry>.*?</entry>", MUNDI_XML, flags=re.DOTALL)[0]

    def tag(name: str) -> str:
        return re.search(rf"<{name}[^>]*>(.*?)</{name}>", entry, flags=re.DOTALL)[1]  # type: ignore[index]

    item = got[tag("dc:identifier")]
    props = item["properties"]
    assert item["collection"] == "harvested" and props["gep:harvest_source"] == "mundi"
    assert props["datetime"] == tag("DIAS:sensingStartDate")
    assert (props["platform"], props["constellation"]) == ("sentinel-2a", "sentinel-2")
    assert props["instruments"] == ["msi"]
    # Mundi's eo:orbitNumber is the track (R002 in the name), startOrbitNumber the orbit
    assert props["sat:relative_orbit"] == int(tag("eo:orbitNumber")) == 2
    assert props["sat:absolute_orbit"] == int(tag("DIAS:startOrbitNumber"))
    assert props["sat:orbit_state"] == tag("eo:orbitDirection").lower()
    assert props["eo:cloud_cover"] == float(tag("eo:cloudCover"))
    assert props["processing:level"] == "L1C" and props["product:type"] == "IMAGE"
    assert props["grid:code"] == "MGRS-" + tag("DIAS:tileIdentifier")
    assert "sar:instrument_mode" not in props  # optical: no SAR fields
    # georss:polygon is lat/lon; the footprint is lon/lat and lies in georss:box (S W N E)
    lat_lon = [float(v) for v in tag("georss:polygon").split()]
    s, w, n, e = (float(v) for v in tag("georss:box").split())
    geom = shape(item["geometry"])
    assert geom.is_valid and box(w, s, e, n).buffer(1e-6).contains(geom)
    assert geom.boundary.distance(shape({"type": "Point", "coordinates": lat_lon[1::-1]})) < 1e-9
    assert item["bbox"] == pytest.approx([w, s, e, n], abs=1e-6)
    assert item["assets"]["thumbnail"]["href"].endswith("-th.jpg")
    assert item["assets"]["overview"]["href"].endswith("-ql.jpg")
    _extensions_declared(item)
    # the query: Mundi's names, no sort, pages by startIndex; the second run from the checkpoint
    first, again = requests[0].query, requests[-3].query
    assert first["productType"] == ["IMAGE"] and first["processingLevel"] == ["L1C"]
    assert (first["format"], first["maxRecords"], first["startIndex"]) == (["atom"], ["1"], ["1"])
    assert "timeStart" not in first and "sortParam" not in first
    assert again["timeStart"] == [runs[1].since] == [props["datetime"]]


def test_opensearch_resto_sara(sqlite: CatalogStore) -> None:
    got, requests, _ = _harvest(sqlite, sara())
    feature = SARA["features"][0]
    p = feature["properties"]
    item = got[p["productIdentifier"]]  # the product name, not resto's UUID
    props = item["properties"]
    assert shape(item["geometry"]).equals(shape(feature["geometry"]))
    assert (
        props["datetime"]
        == "2020-08-15T00:52:51.024000Z"
        == p["startDate"].replace(".024Z", ".024000Z")
    )
    assert props["sat:relative_orbit"] == p["relativeOrbitNumber"]
    assert props["sat:absolute_orbit"] == p["orbitNumber"]
    assert props["processing:level"] == "L1C" and props["product:type"] == p["productType"]
    assert props["eo:cloud_cover"] == p["cloudCover"] and props["grid:code"] == "MGRS-55PDR"
    product = item["assets"]["product"]
    download = p["services"]["download"]
    assert product["href"] == download["url"] and product["type"] == download["mimeType"]
    assert product["file:size"] == download["size"]
    # an MD5 multihash: code 0xd5, 16 bytes, then the digest
    assert product["file:checksum"] == "d510" + download["checksum"].lower()
    assert item["assets"]["thumbnail"]["href"] == p["quicklook"]
    assert item["links"] == [{"rel": "via", "href": p["links"][0]["href"]}]
    _extensions_declared(item)
    assert requests[0].query["sortParam"] == ["startDate"]
    assert requests[0].query["sortOrder"] == ["ascending"]
    assert requests[0].query["page"] == ["1"] and requests[1].query["page"] == ["2"]


# ----------------------------------------------------------------------------- OData


def test_odata_cdse(sqlite: CatalogStore) -> None:
    got, requests, runs = _harvest(sqlite, cdse(), runs=2)
    product = CDSE["value"][0]
    item = got[product["Name"].removesuffix(".SAFE")]
    props = item["properties"]
    attrs = {a["Name"]: a["Value"] for a in product["Attributes"]}
    assert shape(item["geometry"]).equals(shape(product["GeoFootprint"]))
    assert props["datetime"] == product["ContentDate"]["Start"]
    assert (props["platform"], props["instruments"]) == ("sentinel-2a", ["msi"])
    assert props["sat:absolute_orbit"] == attrs["orbitNumber"]
    assert props["sat:relative_orbit"] == attrs["relativeOrbitNumber"]
    assert props["eo:cloud_cover"] == attrs["cloudCover"]
    assert props["processing:version"] == attrs["processorVersion"]
    assert props["odata:id"] == product["Id"] and props["grid:code"] == "MGRS-54PXA"
    asset = item["assets"]["product"]
    assert asset["href"].endswith(f"/odata/v1/Products({product['Id']})/$value")
    assert asset["file:size"] == product["ContentLength"]
    md5 = next(c["Value"] for c in product["Checksum"] if c["Algorithm"] == "MD5")
    assert asset["file:checksum"] == "d510" + md5
    assert asset["alternate"]["s3"]["href"] == "s3:/" + product["S3Path"]
    assert item["assets"]["thumbnail"]["href"] == product["Assets"][0]["DownloadLink"]
    _extensions_declared(item)
    # the query: collection and product type, oldest first; the second run from the checkpoint
    flt = requests[0].query["$filter"][0]
    assert "Collection/Name eq 'SENTINEL-2'" in flt and "Value eq 'S2MSI1C'" in flt
    assert requests[0].query["$orderby"] == ["ContentDate/Start asc"]
    assert requests[0].query["$expand"] == ["Attributes", "Assets"]
    assert "ContentDate/Start ge" not in flt
    assert requests[1].query["$skip"] == ["1"]  # the next link's page
    last = max(p["ContentDate"]["Start"] for p in CDSE["value"])
    assert runs[1].since is not None
    assert f"ContentDate/Start ge {last[:23]}Z" in requests[-3].query["$filter"][0]


def test_odata_creodias_sentinel1(sqlite: CatalogStore) -> None:
    got, _, _ = _harvest(sqlite, creodias())
    product = CREODIAS["value"][0]
    item = got[product["Name"].removesuffix(".SAFE")]
    props = item["properties"]
    assert props["platform"] == "sentinel-1a" and props["constellation"] == "sentinel-1"
    assert props["instruments"] == ["c-sar"]
    assert (props["sar:instrument_mode"], props["sar:product_type"]) == ("IW", "GRD")
    assert props["sar:polarizations"] == ["VV"] and props["sar:frequency_band"] == "C"
    assert (props["sat:relative_orbit"], props["sat:absolute_orbit"]) == (153, 2673)
    assert props["sat:orbit_state"] == "ascending"
    assert props["start_datetime"] == "2014-10-04T00:58:44.620000Z"
    assert props["end_datetime"] == "2014-10-04T00:59:13.611000Z"
    assert props["s1:product_timeliness"] == "Fast-24h" and props["s1:slice_number"] == 1
    # CREODIAS gives ContentLength 0 and no checksum: neither is invented
    assert "file:size" not in item["assets"]["product"]
    assert "file:checksum" not in item["assets"]["product"]
    _extensions_declared(item)


def test_odata_download_url_and_skip_cap() -> None:
    config = SourceConfig(
        "c", "odata", "https://catalogue.dataspace.copernicus.eu/odata/v1/Products", "x"
    )
    source = ODataSource(config, Fetcher())
    assert source._download("abc") == CDSE_DOWNLOAD.format(id="abc")
    # past max_skip the query restarts at the newest start seen, inclusive
    capped = ODataSource(
        SourceConfig("c", "odata", config.url, "x", {"page_size": 2, "max_skip": 2}), Fetcher()
    )
    from gep.io.crosswalk.times import parse_time

    newest = parse_time("2020-08-08T01:03:11.024Z")
    assert capped._next(None, 2, 2, {}, newest) == {"since": "2020-08-08T01:03:11.024Z", "skip": 0}
    with pytest.raises(Exception, match="cannot page past them"):
        capped._next("2020-08-08T01:03:11.024Z", 2, 2, {}, newest)


# ----------------------------------------------------------------------------- ASF


def test_asf_search_geojson(sqlite: CatalogStore) -> None:
    got, requests, _ = _harvest(sqlite, asf_search())
    grd, slc, burst, alos = (r["properties"] for r in asf_search_records())
    g = got[grd["sceneName"]]["properties"]
    assert (g["sar:product_type"], g["sar:instrument_mode"]) == ("GRD", "IW")
    assert (g["sat:relative_orbit"], g["sat:absolute_orbit"]) == (grd["pathNumber"], grd["orbit"])
    assert g["gep:frame_number"] == grd["frameNumber"]
    # this record's flightDirection is null and ASF's geojson has no UMM to fall back on
    assert grd["flightDirection"] is None and "sat:orbit_state" not in g
    assert g["sar:polarizations"] == ["VV", "VH"] and g["platform"] == "sentinel-1b"
    assert got[grd["sceneName"]]["assets"]["data"]["href"] == grd["url"]
    # ASF's geojson carries no state vectors: such items cannot be paired (use api=cmr)
    assert "gep:state_vectors" not in g
    b = got[burst["fileID"]]["properties"]
    assert b["sar:product_type"] == "BURST" and b["gep:burst"]["id"] == "174_372326_IW3"
    assert b["gep:burst"]["burst_index"] == burst["burst"]["burstIndex"]
    a = got[alos["sceneName"]]["properties"]
    assert (a["platform"], a["sar:frequency_band"], a["view:off_nadir"]) == ("alos", "L", 34.3)
    for item in got.values():
        assert shape(item["geometry"]).is_valid
        _extensions_declared(item)
    # the queries: the keywords, then the window's end walking back page by page
    first = requests[0].query
    assert first["dataset"] == ["SENTINEL-1,ALOS"] and first["output"] == ["geojson"]
    assert first["maxResults"] == ["2"] and "end" not in first and "start" not in first
    assert [r.query["end"][0][:19] for r in requests[1:]] == [
        slc["stopTime"][:19],
        burst["stopTime"][:19],
        alos["stopTime"][:19],
    ]


def test_asf_search_jsonlite(sqlite: CatalogStore) -> None:
    recorded = json.loads((HARVEST / "asf" / "Fairbanks_SLC_jsonlite.json").read_text())
    result = recorded["results"][0]
    with ReplayServer() as server:
        server.add("GET", ASF_PATH, recorded)
        harvests = HarvestStore(sqlite.engine)
        config = SourceConfig("lite", "asf", server.url + ASF_PATH, "s1", {"output": "jsonlite"})
        harvests.add(config)
        run = run_harvest(sqlite, harvests, "lite", fetcher=quiet_fetcher()[0])
        assert server.requests[0].query["output"] == ["jsonlite"]
    assert run.status == SUCCEEDED and run.new == 1
    item = items(sqlite, "s1")[result["granuleName"]]
    props = item["properties"]
    assert props["sat:relative_orbit"] == result["path"] == 94
    assert props["sat:absolute_orbit"] == int(result["orbit"][0])
    assert props["gep:frame_number"] == result["frame"]
    assert props["sar:product_type"] == "SLC" and props["sar:polarizations"] == ["VV", "VH"]
    assert props["datetime"] == "2021-01-02T03:20:31Z"
    assert item["assets"]["data"]["href"] == result["downloadUrl"]
    assert shape(item["geometry"]).equals(shape({"type": "Polygon", "coordinates": [[
        [float(v) for v in p.split()] for p in result["wkt"][9:-2].split(",")]]}))  # fmt: skip


def test_asf_window_that_cannot_move_is_reported(sqlite: CatalogStore) -> None:
    """A server ignoring ``end`` would serve the same page forever: the run stops instead."""
    grd, slc, *_ = asf_search_records()
    page = json.dumps({"type": "FeatureCollection", "features": [grd, slc]})
    with ReplayServer() as server:
        server.add("GET", ASF_PATH, page)
        harvests = HarvestStore(sqlite.engine)
        harvests.add(SourceConfig("deaf", "asf", server.url + ASF_PATH, "s1", {"page_size": 2}))
        run = run_harvest(sqlite, harvests, "deaf", fetcher=quiet_fetcher()[0])
    assert run.status == FAILED and run.pages == 1  # the first page, then the refusal
    assert run.new == 2 and len(items(sqlite, "s1")) == 2
    assert "cannot move back" in run.errors[-1] and "params.page_size" in run.errors[-1]


def test_asf_cmr_items_carry_orbits_and_pair(sqlite: CatalogStore) -> None:
    got, requests, runs = _harvest(sqlite, asf_cmr(), runs=2)
    records = {r["properties"]["sceneName"]: r for r in stack_records()}
    ref = got[STACK_REFERENCE]
    props = ref["properties"]
    assert (props["sat:relative_orbit"], props["sat:orbit_state"]) == (13, "descending")
    begin = records[STACK_REFERENCE]["umm"]["TemporalExtent"]["RangeDateTime"]["BeginningDateTime"]
    assert utc(props["datetime"]) == utc(begin)  # the UMM's milliseconds, not ASF's seconds
    assert len(item_orbit(ref).time) == 2 and "sat:anx_datetime" in props
    for name, item in got.items():
        sv = records[name]["baseline"]["stateVectors"]["positions"]["prePosition"]
        assert item["properties"]["gep:state_vectors"][0]["position"] == sv
        _extensions_declared(item)
    # the query: ASF's collections oldest first, paged by CMR's search-after header
    q = requests[0].query
    assert q["provider"] == ["ASF"] and q["short_name[]"] == ["SENTINEL-1A_SLC", "SENTINEL-1B_SLC"]
    assert q["sort_key[]"] == ["start_date", "granule_ur"] and q["page_size"] == ["5"]
    assert "cmr-search-after" not in requests[0].headers
    assert requests[1].headers["cmr-search-after"].startswith('["')
    assert "temporal" not in q and requests[-3].query["temporal"] == [f"{runs[1].since},"]
    # harvested through CMR, the items pair, with the baselines of the recorded orbits (the
    # ASF records mapped directly) and within ASF's approximate method of its published ones
    # (test_insar_baseline: up to 40 m apart, linear interpolation of two vectors)
    result = find_pairs(sqlite, ref, min_overlap=0.3)
    assert result["numberMatched"] >= 5
    direct_ref = asf_to_stac_item(records[STACK_REFERENCE])
    for pair in result["pairs"]:
        published = records[pair["id"]]["properties"]
        direct = item_baseline(direct_ref, asf_to_stac_item(records[pair["id"]]))
        assert pair["bperp"] == pytest.approx(direct.bperp, abs=1e-3)
        assert round(abs(pair["btemp"])) == abs(published["temporalBaseline"])
        assert abs(pair["bperp"] + published["perpendicularBaseline"]) < 40.0  # ISCE2 sign


# ----------------------------------------------------------------------------- bad records


@dataclass
class BadPage:
    """One page holding a broken record and a good one."""

    kind: str
    path: str
    ctype: str
    body: bytes
    broken: str  # how the harvest log names the broken record
    good: str  # the id of the good one
    params: dict[str, Any] = field(default_factory=dict)


def _bad_page(case: str) -> BadPage:
    if case == "atom":
        entries = re.findall(r"<entry>.*?</entry>", MUNDI_XML, flags=re.DOTALL)
        broken = re.sub(r"<georss:polygon>[^<]*</georss:polygon>",
                        "<georss:polygon>13.0 145.2 13.5</georss:polygon>", entries[0])  # fmt: skip
        head = re.sub(r'<link rel="next"[^>]*/>', "", MUNDI_XML[: MUNDI_XML.index("<entry>")])
        ids = [re.search(r"<dc:identifier>(.*?)<", e)[1] for e in entries]  # type: ignore[index]
        body = (head + broken + entries[1] + "</feed>").encode()
        return BadPage("opensearch", "/os", "application/atom+xml", body, ids[0], ids[1])
    if case == "resto":
        doc = json.loads(json.dumps(SARA))
        doc["features"][0]["properties"]["startDate"] = "the 15th of August"
        doc["properties"]["links"] = []
        ids = [f["properties"]["productIdentifier"] for f in doc["features"]]
        return BadPage("opensearch", "/os", "application/json", json.dumps(doc).encode(), *ids)
    if case == "odata":
        value = json.loads(json.dumps(CREODIAS["value"][:2]))
        del value[0]["GeoFootprint"]
        value[0]["Footprint"] = "geography'SRID=4326;POLYGON ((-105.3 28.9, -102.7'"
        ids = [p["Name"] for p in value]
        body = json.dumps({"value": value}).encode()
        return BadPage("odata", "/odata", "application/json", body, ids[0], ids[1].split(".")[0])
    if case == "asf":
        grd, slc, *_ = (dict(r) for r in asf_search_records())
        grd["geometry"] = None
        body = json.dumps({"type": "FeatureCollection", "features": [grd, slc]}).encode()
        names = [grd["properties"]["sceneName"], slc["properties"]["sceneName"]]
        return BadPage("asf", "/asf", "application/geo+json", body, *names)
    first, second = stack_records()[:2]
    umm = dict(first["umm"])
    del umm["SpatialExtent"]
    body = json.dumps({"hits": 2, "items": [{"meta": first["meta"], "umm": umm}, second]})
    return BadPage(
        "asf", "/cmr", "application/json", body.encode(), umm["GranuleUR"],
        second["properties"]["sceneName"], {"api": "cmr"},
    )  # fmt: skip


@pytest.mark.parametrize("case", ["atom", "resto", "odata", "asf", "cmr"])
def test_malformed_record_is_reported_and_skipped_whole(sqlite: CatalogStore, case: str) -> None:
    bad = _bad_page(case)
    harvests = HarvestStore(sqlite.engine)
    with ReplayServer() as server:
        server.add("GET", bad.path, bad.body, bad.ctype)
        harvests.add(SourceConfig("bad", bad.kind, server.url + bad.path, "c", bad.params))
        run = run_harvest(sqlite, harvests, "bad", fetcher=quiet_fetcher()[0])
    assert run.status == SUCCEEDED, run.errors
    assert (run.seen, run.new, run.skipped) == (2, 1, 1)
    assert len(run.errors) == 1 and f"({bad.broken})" in run.errors[0], run.errors
    assert set(items(sqlite, "c")) == {bad.good}
    assert [e.item_id for e in sqlite.ingestion_events()] == [bad.good]
    assert [r.errors for r in harvests.runs("bad")] == [run.errors]  # in the harvest log


# ----------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("kind", "params", "said"),
    [
        ("asf", {"api": "opensearch"}, "params.api must be one of search, cmr"),
        ("asf", {"output": "csv"}, "params.output must be one of geojson, jsonlite"),
        ("asf", {"page_size": 0}, "params.page_size"),
        ("asf", {"api": "cmr", "page_size": 5000}, "at most 2000"),
        ("asf", {"bbox": [10, 50, 11]}, "params.bbox"),
        ("asf", {"end": "soon"}, "params.end"),
        ("opensearch", {"paging": "offset"}, "params.paging must be 'page' or 'startIndex'"),
        ("odata", {"bbox": "north of here"}, "params.aoi/bbox"),
        ("odata", {"attributes": {"cloudCover": [1, 2]}}, "params.attributes.cloudCover"),
    ],
)
def test_bad_parameters_are_refused_before_they_are_stored(
    kind: str, params: dict[str, Any], said: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(said)) as err:
        check_config(SourceConfig("s", kind, "https://archive.example/search", "c", params))
    assert err.value.field == "params"
