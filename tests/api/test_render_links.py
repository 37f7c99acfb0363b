"""Web-map links of served items: one xyz/tilejson/wmts triple per render, absolute, with the
render's query; items without renders keep the byte-splicing path (not parsed)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson

from gep.api.asset_urls import AssetUrls
from gep.api.stac_render import render_item
from gep.gateway.storage import Storage

BASE = "http://gep.test"


def _item(props: dict) -> bytes:
    return orjson.dumps({
        "type": "Feature", "stac_version": "1.1.0", "id": "j1", "geometry": None,
        "properties": {"datetime": "2022-01-16T00:00:00Z", **props},
        "assets": {"m": {"href": "https://example.org/m.tif"}}, "links": [],
    })  # fmt: skip


def test_renders_become_web_map_links(tmp_path: Path) -> None:
    urls = AssetUrls(BASE, Storage.from_url(str(tmp_path)))
    renders = {
        "los": {"title": "LOS (m)", "assets": ["los"], "rescale": [[-0.05, 0.05]],
                "colormap_name": "rdbu_r", "nodata": "nan", "resampling": "bilinear"},
        "mask": {"title": "Hotspots", "assets": ["mask"], "nodata": 255,
                 "colormap": {"0": [44, 123, 182, 255], "1": [215, 25, 28, 255]}},
    }  # fmt: skip
    out = orjson.loads(render_item(_item({"renders": renders}), BASE, "dinsar", "j1", urls))
    root = f"{BASE}/stac/collections/dinsar/items/j1"
    by_rel: dict[str, list[dict]] = {}
    for link in out["links"]:
        by_rel.setdefault(link["rel"], []).append(link)
    assert [ln["title"] for ln in by_rel["xyz"]] == ["LOS (m)", "Hotspots"]
    xyz = by_rel["xyz"][0]
    assert xyz["type"] == "image/png"
    head, query = xyz["href"].split("?")
    assert head == f"{root}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"
    q = parse_qs(query)
    assert q == {"assets": ["los"], "rescale": ["-0.05,0.05"], "colormap_name": ["rdbu_r"],
                 "nodata": ["nan"], "resampling": ["bilinear"]}  # fmt: skip
    tilejson = by_rel["tilejson"][0]
    assert tilejson["type"] == "application/json"
    assert tilejson["href"] == f"{root}/WebMercatorQuad/tilejson.json?{query}"
    wmts = by_rel["wmts"][1]
    assert urlsplit(wmts["href"]).path.endswith("/WebMercatorQuad/WMTSCapabilities.xml")
    assert wmts["wmts:layer"] == "mask"
    mask_q = parse_qs(urlsplit(by_rel["xyz"][1]["href"]).query)
    assert orjson.loads(mask_q["colormap"][0]) == renders["mask"]["colormap"]
    assert "rescale" not in mask_q and mask_q["nodata"] == ["255"]


def test_items_without_renders_are_spliced_not_parsed(tmp_path: Path) -> None:
    urls = AssetUrls(BASE, Storage.from_url(str(tmp_path)))
    stored = _item({})
    out = render_item(stored, BASE, "c", "j1", urls)
    # the stored bytes up to the links are kept as they are (no parse, no re-serialisation)
    assert out.startswith(stored[: -len(b'"links":[]}')])
    assert not [ln for ln in orjson.loads(out)["links"] if ln["rel"] in ("xyz", "tilejson")]
