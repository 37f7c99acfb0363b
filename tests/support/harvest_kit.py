"""What the harvest tests share: quiet fetchers, catalogue views, and the recorded archives.

Each :class:`Recorded` archive is a real recorded answer (``tests/data/harvest``, see
``tests/data/README.md``) served by :class:`replay_server.ReplayServer` page by page, the way
the archive pages it. Recordings holding a single page are cut into pages of one or two
records, and each page carries the ``next`` link (or header) that archive would send; what
was cut and how is said in ``tests/data/README.md``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from gep.catalog.search import SearchRequest
from gep.catalog.store import CatalogStore
from gep.harvest.base import SourceConfig
from gep.harvest.http import Fetcher
from gep.io.crosswalk.asf_records import load_asf_records
from tests.support.replay_server import ReplayServer, Request

DATA = Path(__file__).parents[1] / "data"
HARVEST = DATA / "harvest"


# ----------------------------------------------------------------------------- helpers


def quiet_fetcher(**kw: Any) -> tuple[Fetcher, list[float]]:
    """A fetcher that records its back-off waits instead of sleeping them."""
    slept: list[float] = []
    return Fetcher(backoff_s=0.5, sleep=slept.append, **kw), slept


def catalogue(store: CatalogStore, collection: str) -> dict[str, bytes]:
    """Every item of a collection as stored (id → bytes): equal catalogues compare equal."""
    page = store.search(SearchRequest(collections=[collection], limit=1000))
    return {iid: bytes(content) for _, iid, content in page.items}


def items(store: CatalogStore, collection: str) -> dict[str, dict[str, Any]]:
    return {k: json.loads(v) for k, v in catalogue(store, collection).items()}


def events(store: CatalogStore) -> list[str]:
    """Item ids of the ingestion events, in the order they were emitted."""
    return [e.item_id for e in store.ingestion_events(limit=10_000)]


def wait_for_run(client: Any, name: str, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """The runs of source ``name`` over ``/harvest``, once the newest has finished."""
    deadline = time.monotonic() + timeout_s
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = client.get(f"/harvest/sources/{name}/runs").json()["runs"]
        if runs and runs[0]["status"] != "running":
            break
        time.sleep(0.1)
    return runs


def query_is(key: str, value: str | None) -> Callable[[Request], bool]:
    """A route predicate: the request's query parameter ``key`` is ``value`` (None: absent)."""

    def match(req: Request) -> bool:
        got = req.query.get(key)
        return got is None if value is None else got == [value]

    return match


def utc(text: str) -> datetime:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def query_time_is(key: str, when: datetime | None) -> Callable[[Request], bool]:
    """A route predicate on a time parameter, whatever its RFC 3339 spelling."""

    def match(req: Request) -> bool:
        got = req.query.get(key)
        if when is None or got is None:
            return got is None and when is None
        return utc(got[0]) == when

    return match


def by_query(
    key: str, pages: list[tuple[str, bytes]], ctype: str
) -> list[tuple[Callable[[Request], bool], bytes, str, dict[str, str]]]:
    """Routes serving each ``(value, body)`` to the request whose ``key`` is that value."""
    return [(query_is(key, value), body, ctype, {}) for value, body in pages]


def header_is(name: str, value: str | None) -> Callable[[Request], bool]:
    def match(req: Request) -> bool:
        return req.headers.get(name.lower()) == value

    return match


# ----------------------------------------------------------------------------- archives


@dataclass
class Recorded:
    """A recorded archive: how to serve it, and what harvesting it must give."""

    #: the source's name in the tests (also its kind's label in test ids)
    name: str
    kind: str
    #: the endpoint path on the replay server (the source URL is the server's URL + this)
    path: str
    params: dict[str, Any]
    #: every item id the recording holds
    ids: set[str]
    #: pages of one full run
    pages: int
    #: recorded URL prefix → local path (next links lead back to the replay server)
    rewrite: dict[str, str]
    #: (predicate, body, content type, headers) of each recorded page
    routes: list[tuple[Callable[[Request], bool], bytes, str, dict[str, str]]]
    #: the request of the second page (faults are injected there)
    second_page: Callable[[Request], bool]
    collection: str = "harvested"
    #: records a full run reads twice (ASF's overlapping time windows), counted as updates
    rereads: int = 0

    def server(self) -> ReplayServer:
        server = ReplayServer(rewrite=self.rewrite)
        for match, body, ctype, headers in self.routes:
            server.add("GET", self.path, body, ctype, match=match, headers=headers)
        return server

    def config(self, url: str, name: str | None = None) -> SourceConfig:
        return SourceConfig(
            name or self.name, self.kind, url + self.path, self.collection, dict(self.params)
        )


# -- OpenSearch Atom: Mundi (eodag's recorded search), one page of 2 entries cut in two

MUNDI_XML = (HARVEST / "opensearch" / "mundi_search.xml").read_text()
MUNDI_HOST = "https://sentinel2.browse.catalog.mundiwebservices.com"
_ENTRIES = re.findall(r"<entry>.*?</entry>", MUNDI_XML, flags=re.DOTALL)
_HEAD = MUNDI_XML[: MUNDI_XML.index("<entry>")]
_NEXT_LINK = re.compile(r'<link rel="next"[^>]*/>')


def _mundi_page(entries: list[str], next_start: int | None) -> bytes:
    head = _HEAD
    if next_start is None:
        head = _NEXT_LINK.sub("", head)
    else:  # the recorded next link, for pages of one entry
        head = head.replace(
            "maxRecords=2&amp;startIndex=3", f"maxRecords=1&amp;startIndex={next_start}"
        )
    return (head + "".join(entries) + "</feed>").encode()


def mundi() -> Recorded:
    ids = {re.search(r"<dc:identifier>(.*?)</dc:identifier>", e)[1] for e in _ENTRIES}  # type: ignore[index]
    return Recorded(
        name="mundi",
        kind="opensearch",
        path="/opensearch",
        params={
            "paging": "startIndex",
            "page_size": 1,
            "start_param": "timeStart",
            "end_param": "timeEnd",
            "format": "atom",
            "sort": {},
            "productType": "IMAGE",
            "query": {"processingLevel": "L1C"},
        },
        ids=ids,
        pages=3,  # two of one entry, then the empty one that ends the listing
        rewrite={MUNDI_HOST: ""},
        routes=by_query(
            "startIndex",
            [
                ("1", _mundi_page(_ENTRIES[:1], 2)),
                ("2", _mundi_page(_ENTRIES[1:], None)),
                ("3", _mundi_page([], None)),
            ],
            "application/atom+xml",
        ),
        second_page=query_is("startIndex", "2"),
    )


# -- resto GeoJSON: SARA (eodag's recorded search), one page of 2 features cut in two

SARA = json.loads((HARVEST / "opensearch" / "sara_search.json").read_text())
SARA_PREFIX = "https://copernicus.nci.org.au/sara.server"
SARA_PATH = "/1.0/api/collections/S2/search.json"


def _sara_page(features: list[dict[str, Any]], next_page: int | None) -> bytes:
    doc = json.loads(json.dumps(SARA))
    doc["features"] = features
    links = []
    for link in doc["properties"]["links"]:
        if link["rel"] == "next":
            if next_page is None:
                continue
            link["href"] = link["href"].replace(
                "maxRecords=2&page=2", f"maxRecords=1&page={next_page}"
            )
        links.append(link)
    doc["properties"]["links"] = links
    return json.dumps(doc).encode()


def sara() -> Recorded:
    features = SARA["features"]
    return Recorded(
        name="sara",
        kind="opensearch",
        path=SARA_PATH,
        params={"page_size": 1, "productType": "S2MSI1C"},
        ids={f["properties"]["productIdentifier"] for f in features},
        pages=3,
        rewrite={SARA_PREFIX: ""},
        routes=by_query(
            "page",
            [
                ("1", _sara_page(features[:1], 2)),
                ("2", _sara_page(features[1:], None)),
                ("3", _sara_page([], None)),
            ],
            "application/json",
        ),
        second_page=query_is("page", "2"),
    )


# -- OData: CDSE (a page of 2 with its @odata.nextLink, cut in two) and CREODIAS (10, by $skip)

CDSE = json.loads((HARVEST / "odata" / "cop_dataspace_search.json").read_text())
CDSE_PRODUCTS = "https://catalogue.dataspace.copernicus.eu/odata/v1/Products"
CREODIAS = json.loads((HARVEST / "odata" / "eodag_search_result_creodias.json").read_text())
CREODIAS_PRODUCTS = "https://datahub.creodias.eu/odata/v1/Products"
ODATA_PATH = "/odata/v1/Products"


def _odata_page(doc: dict[str, Any], products: list[Any], next_skip: int | None) -> bytes:
    page = {k: v for k, v in doc.items() if k not in ("value", "@odata.nextLink", "@odata.count")}
    page["value"] = products
    if next_skip is not None:
        page["@odata.nextLink"] = doc["@odata.nextLink"].replace(
            "%24top=2&%24skip=2", f"%24top=1&%24skip={next_skip}"
        )
    return json.dumps(page).encode()


def _name(product: dict[str, Any]) -> str:
    return re.sub(r"\.SAFE$", "", product["Name"])


def cdse() -> Recorded:
    value = CDSE["value"]
    assert "%24top=2&%24skip=2" in CDSE["@odata.nextLink"]
    return Recorded(
        name="cdse",
        kind="odata",
        path=ODATA_PATH,
        params={"collection": "SENTINEL-2", "productType": "S2MSI1C", "page_size": 1},
        ids={_name(p) for p in value},
        pages=3,  # the next link's page, then $skip=2: empty, the end
        rewrite={CDSE_PRODUCTS: ODATA_PATH},
        routes=by_query(
            "$skip",
            [
                ("0", _odata_page(CDSE, value[:1], 1)),
                ("1", _odata_page(CDSE, value[1:], None)),
                ("2", _odata_page(CDSE, [], None)),
            ],
            "application/json",
        ),
        second_page=query_is("$skip", "1"),
    )


def creodias() -> Recorded:
    value = CREODIAS["value"]
    return Recorded(
        name="creodias",
        kind="odata",
        path=ODATA_PATH,
        params={"collection": "SENTINEL-1", "productType": "GRD", "page_size": 4},
        ids={_name(p) for p in value},
        pages=3,  # 4 + 4 + 2: a short page ends the listing
        rewrite={CREODIAS_PRODUCTS: ODATA_PATH},
        routes=by_query(
            "$skip",
            [(str(s), _odata_page(CREODIAS, value[s : s + 4], None)) for s in (0, 4, 8)],
            "application/json",
        ),
        second_page=query_is("$skip", "4"),
    )


# -- ASF search API (output=geojson): four single search results, newest end time first

ASF_PATH = "/services/search/param"


def _asf_geojson(record: dict[str, Any]) -> dict[str, Any]:
    """What ASF's geojson output holds of a record: no ``baseline``, ``umm`` or ``meta``."""
    return {"type": "Feature", "geometry": record["geometry"], "properties": record["properties"]}


@cache
def asf_search_records() -> tuple[dict[str, Any], ...]:
    """GRD 2021-11-10, SLC 2021-01-02, burst 2018-08-15, ALOS 2008-02-24 (newest first)."""
    files = [
        DATA / "asf" / "S1_response.yml",
        DATA / "asf" / "Fairbanks_SLC.yml",
        HARVEST / "asf" / "SLC_BURST.yml",
        DATA / "asf" / "Alos_response.yml",
    ]
    return tuple(_asf_geojson(load_asf_records(f)[0]) for f in files)


def _stop(record: dict[str, Any]) -> datetime:
    return utc(record["properties"]["stopTime"])


def _asf_page(records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": records}).encode()


def asf_search() -> Recorded:
    grd, slc, burst, alos = asf_search_records()
    geo = "application/geo+json"
    # what ASF answers with maxResults=2 for each window end: the two latest-ending products
    # overlapping it (its time filter is an overlap, so the boundary product comes back)
    pages = [
        (None, [grd, slc]),
        (_stop(slc), [slc, burst]),
        (_stop(burst), [burst, alos]),
        (_stop(alos), [alos]),
    ]
    return Recorded(
        name="asf",
        kind="asf",
        path=ASF_PATH,
        params={"page_size": 2, "dataset": ["SENTINEL-1", "ALOS"]},
        ids={
            grd["properties"]["sceneName"],
            slc["properties"]["sceneName"],
            burst["properties"]["fileID"],
            alos["properties"]["sceneName"],
        },
        pages=4,
        rereads=3,
        rewrite={},
        routes=[(query_time_is("end", end), _asf_page(recs), geo, {}) for end, recs in pages],
        second_page=query_time_is("end", _stop(slc)),
    )


# -- CMR (granules.umm_json), 12 granules of ASF's recorded path-13 stack, oldest first

CMR_PATH = "/search/granules.umm_json"
ASF_STACK = (
    DATA / "asf" / "S1A_IW_SLC__1SSV_20160528T141908_20160528T141938_011460_011746_335C_stack.yml"
)
STACK_REFERENCE = "S1A_IW_SLC__1SSV_20160528T141908_20160528T141938_011460_011746_335C"


@cache
def stack_records() -> tuple[dict[str, Any], ...]:
    """The 12 stack records around the reference (2016-05-28), oldest first."""
    records = sorted(
        load_asf_records(ASF_STACK),
        key=lambda r: r["umm"]["TemporalExtent"]["RangeDateTime"]["BeginningDateTime"],
    )
    return tuple(records[10:22])


def _token(record: dict[str, Any]) -> str:
    """A ``CMR-Search-After`` value as CMR writes it: the sort values of a page's last hit."""
    start = utc(record["umm"]["TemporalExtent"]["RangeDateTime"]["BeginningDateTime"])
    return json.dumps([str(int(start.timestamp() * 1000)), record["umm"]["GranuleUR"]])


def _cmr_page(records: list[dict[str, Any]]) -> bytes:
    body = {
        "hits": len(stack_records()),
        "took": 12,
        "items": [{"meta": r["meta"], "umm": r["umm"]} for r in records],
    }
    return json.dumps(body).encode()


def asf_cmr() -> Recorded:
    records = list(stack_records())
    pages = [records[0:5], records[5:10], records[10:12]]
    tokens = [None] + [_token(p[-1]) for p in pages]
    js = "application/vnd.nasa.cmr.umm_results+json;version=1.6.6"
    return Recorded(
        name="cmr",
        kind="asf",
        path=CMR_PATH,
        params={"api": "cmr", "short_name": ["SENTINEL-1A_SLC", "SENTINEL-1B_SLC"], "page_size": 5},
        ids={r["properties"]["sceneName"] for r in records},
        pages=3,
        rewrite={},
        routes=[
            (
                header_is("CMR-Search-After", tokens[n]),
                _cmr_page(page),
                js,
                {"CMR-Hits": str(len(records)), "CMR-Search-After": tokens[n + 1] or ""},
            )
            for n, page in enumerate(pages)
        ],
        second_page=header_is("CMR-Search-After", tokens[1]),
    )


ARCHIVES: dict[str, Callable[[], Recorded]] = {
    "opensearch-atom": mundi,
    "opensearch-resto": sara,
    "odata-cdse": cdse,
    "odata-creodias": creodias,
    "asf-search": asf_search,
    "asf-cmr": asf_cmr,
}
