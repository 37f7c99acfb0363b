"""Fuzzing every search parameter (issue #14): whatever a client sends, the answer is not a 5xx.

Generated values (numbers past 64 bits and floats' edge cases, NUL and control characters,
any unicode, deep nesting of parentheses, NOT, brackets and JSON, very long and repeated
strings, JSON of any shape) are thrown at each parameter of GET and POST ``/stac/search``,
``/stac/collections/{c}/items`` and ``/opensearch/{c}/search``, on both backends, as an
anonymous caller. Hypothesis runs derandomized, so every run sends the same requests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gep.catalog.opensearch.parameters import CORE_PARAMETERS, EO_PARAMETERS
from tests.support.app import ADMIN_HEADERS, api_client
from tests.support.stores import BACKENDS, scratch_postgis_database

COLL = "fuzzed"
#: examples per parameter (GEP_FUZZ_EXAMPLES for a longer hunt)
EXAMPLES = int(os.environ.get("GEP_FUZZ_EXAMPLES", "12"))
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=EXAMPLES,
    suppress_health_check=list(HealthCheck),
)

# ---------------------------------------------------------------------- generated values

_NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x02\x1b[31m\x1f\x7f",
    "\t\r\n",
    "💥🌋",
    "Ω≈ç√∫˜µ≤",
    "'",
    "''",
    '"',
    "%",
    "_",
    "\\",
    "'; DROP TABLE items; --",
    ",,,,",
    "..",
    "../..",
    "9" * 5000,
    "1e999",
    "-1e999",
    "nan",
    "inf",
    str(2**64),
    str(-(2**63) - 1),
    "0",
    "-1",
    "1.5",
    "1,2,3,4",
    "-180,-90,180,90",
    "181,0,0,0",
    "10,10,0,0",
    "2024-01-01T00:00:00Z/..",
    "../..",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "POLYGON((0 0,1 0,1 1,0 0))",
    "POINT(15 37.7)",
    "GEOMETRYCOLLECTION(" * 300 + "POINT(1 1)" + ")" * 300,
    "(" * 1700 + "id = 'x'" + ")" * 1700,
    "NOT " * 3500 + "id = 'x'",
    "- " * 3000 + "5 = id",
    "[" * 3000,
    '{"op":"not","args":[' * 400 + "true" + "]}" * 400,
    '{"type":"Polygon","coordinates":' + "[" * 2000 + "]" * 2000 + "}",
    " OR ".join(f"id = 'x{i}'" for i in range(1000)),
    "eo:cloud_cover < 10 AND platform = 'sentinel-1a'",
    '{"op":"=","args":[{"property":"eo:cloud_cover"},1e308]}',
    '{"op":"and","args":[]}',
    '{"op":"in","args":[{"property":"id"},[]]}',
    '{"eo:cloud_cover":{"gt":"x"}}',
    '{"type":"Point","coordinates":[1e308,1e308]}',
    "-datetime,+id",
    "+eo:cloud_cover,-x" * 100,
    "x" * 20_000,
]

_numbers = st.one_of(
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
).map(str)
_texts = st.text(st.characters(codec="utf-8"), max_size=40)
_repeats = st.builds(
    lambda unit, n: unit * n,
    st.sampled_from(["(", ")", "NOT ", "- ", "[", "{", ",", "a,", "\x00", "é", "1"]),
    st.integers(min_value=1, max_value=5000),
)
#: what a query string parameter may be
TEXT_VALUES = st.one_of(
    st.sampled_from(_NASTY),
    _numbers,
    _texts,
    _repeats,
    st.builds(lambda a, b: f"{a}\x00{b}", _texts, st.sampled_from(_NASTY)),
)

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    _texts,
    st.sampled_from(_NASTY),
)
_keys = st.one_of(
    _texts, st.sampled_from(["op", "args", "property", "type", "coordinates", "eq", "in"])
)
#: what a JSON body member may be (any shape, a few levels deep)
JSON_VALUES = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=20,
)


class _Raw:
    """JSON text to send as it is."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"_Raw({self.text[:60]!r}…)"


def _deep(n: int, kind: str) -> str:
    if kind == "list":
        return "[" * n + "]" * n
    if kind == "not":
        return '{"op":"not","args":[' * n + "true" + "]}" * n
    return '{"type":"GeometryCollection","geometries":[' * n + "]}" * n


DEEP_JSON = st.builds(
    _deep, st.integers(min_value=1, max_value=1200), st.sampled_from(["list", "not", "geom"])
)

# ---------------------------------------------------------------------- the parameters

_COMMON = [
    "bbox",
    "datetime",
    "limit",
    "token",
    "filter",
    "filter-lang",
    "filter-crs",
    "sortby",
    "fields",
    "q",
    "query",
    "place",
    "place_buffer",
    "count",
]
SEARCH_GET = [*_COMMON, "collections", "ids", "intersects"]
SEARCH_POST = [*SEARCH_GET, "numberMatched", "conf"]
ITEMS_GET = _COMMON
OPENSEARCH_GET = sorted(
    {k for _, core in CORE_PARAMETERS for k in core.keys}
    | {k for eo in EO_PARAMETERS for k in eo.keys}
    | {"format", "httpAccept"}
)


def _item(n: int) -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": f"scene-{n}",
        "geometry": {"type": "Point", "coordinates": [15.0 + n, 37.7]},
        "bbox": [15.0 + n, 37.7, 15.0 + n, 37.7],
        "properties": {
            "datetime": f"2024-0{n + 1}-01T10:00:00Z",
            "title": f"Etna scene {n}",
            "platform": "sentinel-1a",
            "eo:cloud_cover": 10 * n,
            "sat:relative_orbit": 44 + n,
            "sat:orbit_state": "ascending",
            "sar:polarizations": ["VV", "VH"],
            "gep:flag": n % 2 == 0,
        },
        "links": [],
        "assets": {},
    }


@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """An anonymous client of an API on each backend with one public collection of items."""
    home = Path(tmp_path_factory.mktemp(f"fuzz-{request.param}"))
    with ExitStack() as stack:
        db = ""
        if request.param == "postgis":
            db = stack.enter_context(scratch_postgis_database("gep_fuzz"))
        yield from _api(home, db)


def _api(home: Path, db: str) -> Iterator[TestClient]:
    with api_client(
        home,
        admin=False,
        raise_server_exceptions=False,
        base_url="http://gep.test",
        database_url=db,
    ) as c:
        coll = {"id": COLL, "description": "fuzzed", "gep:visibility": "public"}
        r = c.post("/stac/collections", json=coll, headers=ADMIN_HEADERS)
        assert r.status_code == 201, r.text
        feats = {"type": "FeatureCollection", "features": [_item(n) for n in range(4)]}
        r = c.post(f"/stac/collections/{COLL}/items", json=feats, headers=ADMIN_HEADERS)
        assert r.status_code == 201, r.text
        yield c


def _no_5xx(r: Any, sent: Any) -> None:
    assert r.status_code < 500, f"{r.status_code} for {str(sent)[:300]!r}: {r.text[:300]}"


def _get(api: TestClient, path: str, key: str, value: str) -> None:
    query = urlencode({key: value})
    assume(len(query) < 60_000)  # what a URL may hold (httpx refuses longer ones)
    _no_5xx(api.get(f"{path}?{query}"), {key: value})


@pytest.mark.parametrize("key", SEARCH_GET)
@FUZZ
@given(value=TEXT_VALUES)
def test_get_search(api: TestClient, key: str, value: str) -> None:
    _get(api, "/stac/search", key, value)


@pytest.mark.parametrize("key", ITEMS_GET)
@FUZZ
@given(value=TEXT_VALUES)
def test_collection_items(api: TestClient, key: str, value: str) -> None:
    _get(api, f"/stac/collections/{COLL}/items", key, value)


@pytest.mark.parametrize("key", OPENSEARCH_GET)
@FUZZ
@given(value=TEXT_VALUES)
def test_opensearch(api: TestClient, key: str, value: str) -> None:
    _get(api, f"/opensearch/{COLL}/search", key, value)


@pytest.mark.parametrize("key", SEARCH_POST)
@FUZZ
@given(value=st.one_of(JSON_VALUES, TEXT_VALUES, DEEP_JSON.map(lambda raw: _Raw(raw))))
def test_post_search(api: TestClient, key: str, value: Any) -> None:
    if isinstance(value, _Raw):  # deep nesting, written by hand (json.dumps would recurse)
        content = f'{{"{key}": {value.text}}}'.encode()
    else:  # json, not orjson: it writes integers past 64 bits
        content = json.dumps({key: value}).encode()
    r = api.post("/stac/search", content=content, headers={"Content-Type": "application/json"})
    _no_5xx(r, {key: value})
