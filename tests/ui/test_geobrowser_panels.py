"""The Geobrowser's panels beyond the three scenarios, in Chromium against a real ``gep serve``:
the search panel (a drawn box, the month histogram and its sliders, the queryable filters,
paging, hover and selection linked between the list and the map), areas read from files, the
basket, the layers panel (renders, the date slider, opacity, downloads, the swipe), the
thematic panel, the account panel and the jobs panel.

Every test asserts on what the page shows (the DOM, and the map's own state through
``window.gep.map``), against what the API answers for the same question.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyogrio.raw
import shapely
from playwright.sync_api import Page, expect

from tests.ui.conftest import PASSWORD, Server, api, open_app, shot, sign_in

SBAS = "sbas/sbas-mexico-city-2018"
SBAS_DATE = "sbas/sbas-mexico-city-2018-20180307"
ITEM = "/stac/collections/sbas/items/sbas-mexico-city-2018"
SORT = [{"field": "datetime", "direction": "desc"}]  # the search panel's order


def _shown_count(page: Page) -> int:
    """The number the search panel says it found (once a search has answered)."""
    expect(page.locator("#search-count")).to_have_text(re.compile(r"^\d+ products? found$"))
    return int(page.locator("#search-count").inner_text().split()[0])


def _anonymous(server: Server) -> httpx.Client:
    """The API as the anonymous pages see it (no private record of alice's)."""
    return httpx.Client(base_url=server.url, timeout=60)


def _matched(server: Server, body: dict[str, Any]) -> int:
    with _anonymous(server) as c:
        r = c.post("/stac/search", json={"limit": 1, **body})
        assert r.status_code == 200, r.text
        return int(r.json()["numberMatched"])


def _search(page: Page) -> None:
    page.locator("#search-count").evaluate("(e) => { e.textContent = ''; }")  # no stale count
    page.get_by_role("button", name="Search", exact=True).click()


def _row_keys(page: Page) -> list[str]:
    return [k or "" for k in page.locator("#results li").evaluate_all(
        "(lis) => lis.map((li) => li.dataset.key)")]  # fmt: skip


def _on_map(page: Page, lon: float, lat: float) -> tuple[float, float]:
    """The page coordinates of a place on the main map."""
    xy = page.evaluate("(p) => window.gep.map.project(p)", [lon, lat])
    box = page.locator("#map").bounding_box()
    assert box is not None
    return box["x"] + xy["x"], box["y"] + xy["y"]


# --- Search ------------------------------------------------------------------------------


def test_a_drawn_box_restricts_the_search(server: Server, page: Page) -> None:
    open_app(page, f"{server.url}/ui/")
    total = _matched(server, {})
    page.get_by_role("button", name="Box", exact=True).click()
    expect(page.get_by_role("button", name="Box", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    x0, y0 = _on_map(page, 10.0, 40.0)
    x1, y1 = _on_map(page, 15.0, 44.0)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=3)
    page.mouse.move(x1, y1, steps=3)
    page.mouse.up()
    expect(page.locator("#area-label")).to_have_text("Area: drawn box")
    expect(page.get_by_role("button", name="Box", exact=True)).to_have_attribute(
        "aria-pressed", "false"
    )
    area = page.evaluate("() => window.gep.state.area")
    assert area["type"] == "Polygon"
    ring = np.array(area["coordinates"][0])
    w, s = ring.min(axis=0)
    e, n = ring.max(axis=0)
    # the box is where the mouse went (to a pixel's width at this zoom)
    assert abs(w - 10) < 0.3 and abs(e - 15) < 0.3 and abs(s - 40) < 0.3 and abs(n - 44) < 0.3
    drawn = page.evaluate("async () => await window.gep.map.getSource('area').getData()")
    assert drawn["geometry"] == area  # the drawn box is on the map

    _search(page)
    shown = _shown_count(page)
    assert shown == _matched(server, {"intersects": area})
    assert shown == _matched(server, {"bbox": [w, s, e, n]})
    assert 0 < shown < total, (shown, total)  # the Rome items, not the world's
    with _anonymous(server) as c:
        res = c.post("/stac/search", json={"intersects": area, "limit": 20, "sortby": SORT}).json()
    assert _row_keys(page) == [f"{f['collection']}/{f['id']}" for f in res["features"]]


def test_the_histogram_counts_each_month_and_its_sliders_set_the_dates(
    server: Server, page: Page
) -> None:
    open_app(page, f"{server.url}/ui/")
    page.get_by_label("Start date").fill("2022-01-01")
    page.get_by_label("End date").fill("2022-04-30")
    histogram = page.locator("#histogram")
    expect(histogram).to_have_attribute("aria-label", re.compile("2022-01 to 2022-04"))
    bars = histogram.locator("span")
    expect(bars).to_have_count(4)
    shown = [int(b.get_attribute("data-count") or "-1") for b in bars.all()]
    months = [("01-01", "01-31"), ("02-01", "02-28"), ("03-01", "03-31"), ("04-01", "04-30")]
    api_counts = [
        _matched(server, {"datetime": f"2022-{a}T00:00:00Z/2022-{b}T23:59:59Z"}) for a, b in months
    ]
    assert shown == api_counts
    assert api_counts[0] > 0  # the Rome pair and the demo archive are in January 2022
    assert (histogram.get_attribute("aria-label") or "").endswith(", ".join(map(str, api_counts)))

    # the sliders: the first month moves the start date, the last month the end date
    page.get_by_label("First month").fill("1")
    expect(page.get_by_label("Start date")).to_have_value("2022-02-01")
    expect(page.get_by_label("End date")).to_have_value("2022-04-30")
    page.get_by_label("Last month").fill("2")
    expect(page.get_by_label("End date")).to_have_value("2022-03-31")
    opacities = [b.evaluate("(s) => s.style.opacity") for b in bars.all()]
    assert opacities == ["0.25", "0.8", "0.8", "0.25"]  # the chosen months stand out
    _search(page)
    assert _shown_count(page) == _matched(
        server, {"datetime": "2022-02-01T00:00:00Z/2022-03-31T23:59:59Z"}
    )


def test_the_queryable_filters_of_a_collection(server: Server, page: Page) -> None:
    open_app(page, f"{server.url}/ui/")
    page.get_by_label("Collection", exact=True).select_option("gep-slc")
    orbit = page.get_by_label("Orbit direction")
    expect(orbit).to_be_visible()
    expect(orbit.locator("option")).to_have_text(["any", "ascending", "descending"])
    for label in ["Mission / platform", "Product type", "Relative orbit (track)", "Polarisation"]:
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    expect(page.locator("#f-eo-cloud-cover")).to_have_count(0)  # SAR: no cloud cover

    orbit.select_option("descending")
    _search(page)
    assert _shown_count(page) == 0
    expect(page.locator("#results li")).to_have_count(0)
    descending = {"op": "=", "args": [{"property": "sat:orbit_state"}, "descending"]}
    assert _matched(server, {"collections": ["gep-slc"], "filter": descending}) == 0

    orbit.select_option("ascending")
    _search(page)
    assert _shown_count(page) == 2
    expect(page.locator("#results li")).to_have_count(2)
    expect(page.locator("#results")).to_contain_text("track")
    expect(page.locator("#results")).to_contain_text("ascending")

    # an optical collection offers the cloud cover, and no SAR polarisation
    page.get_by_label("Collection", exact=True).select_option("sentinel-2-l2a")
    expect(page.get_by_label("Cloud cover at most (%)")).to_be_visible()
    expect(page.locator("#f-sar-polarizations")).to_have_count(0)  # optical: no polarisation


def test_paging_through_more_than_a_page(server: Server, page: Page) -> None:
    open_app(page, f"{server.url}/ui/")
    total = _matched(server, {})
    assert total > 40
    _search(page)
    assert _shown_count(page) == total
    expect(page.locator("#results li")).to_have_count(20)
    expect(page.locator("#page-label")).to_have_text("1–20")
    expect(page.locator("#page-prev")).to_be_disabled()
    first = _row_keys(page)

    page.get_by_role("button", name="Next").click()
    expect(page.locator("#page-label")).to_have_text("21–40")
    expect(page.locator("#page-prev")).to_be_enabled()
    expect(page.locator("#results li")).to_have_count(20)
    second = _row_keys(page)
    assert not set(first) & set(second)
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#page-label")).to_have_text("41–60")
    third = _row_keys(page)
    assert not set(third) & (set(first) | set(second))

    page.get_by_role("button", name="Previous").click()
    expect(page.locator("#page-label")).to_have_text("21–40")
    assert _row_keys(page) == second
    page.get_by_role("button", name="Previous").click()
    expect(page.locator("#page-label")).to_have_text("1–20")
    assert _row_keys(page) == first
    expect(page.locator("#page-prev")).to_be_disabled()
    assert _shown_count(page) == total
    # the API's own first page, in the same order
    with _anonymous(server) as c:
        res = c.post(
            "/stac/search",
            json={"limit": 20, "sortby": SORT},
        ).json()
    assert [f"{f['collection']}/{f['id']}" for f in res["features"]] == first


def test_hover_and_selection_link_the_list_and_the_map(server: Server, page: Page) -> None:
    open_app(page, f"{server.url}/ui/")
    page.get_by_label("Collection", exact=True).select_option("gep-dem")
    _search(page)
    assert _shown_count(page) == 2
    expect(page.locator("#map")).to_have_attribute("data-footprints", "2")
    rome, albani = "gep-dem/rome-dem-30m", "gep-dem/colli-albani-synthetic-dem"
    state = "(k) => window.gep.map.getFeatureState({source: 'footprints', id: k})"

    # hovering a row lights its footprint, and only it
    page.locator(f"#results li[data-key='{rome}']").hover()
    page.wait_for_function(f"({state})('{rome}').hover === true")
    assert page.evaluate(state, albani).get("hover") is not True
    page.locator(f"#results li[data-key='{albani}']").hover()
    page.wait_for_function(f"({state})('{albani}').hover === true")
    assert page.evaluate(state, rome).get("hover") is False

    # the footprints on the map: hovering one marks its row, clicking it selects the row
    with api(server) as c:
        bbox = c.get("/stac/collections/gep-dem/items/colli-albani-synthetic-dem").json()["bbox"]
    page.evaluate(
        "(b) => window.gep.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], {padding: 80, duration: 0})",
        bbox,
    )
    lon, lat = (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2
    page.wait_for_function(
        """([lon, lat]) => { const m = window.gep.map;
          return m.queryRenderedFeatures(m.project([lon, lat]), {layers: ['footprints-fill']})
            .some((f) => f.properties.key === 'gep-dem/colli-albani-synthetic-dem'); }""",
        arg=[lon, lat],
    )
    x, y = _on_map(page, lon, lat)
    page.mouse.move(x, y)
    row = page.locator(f"#results li[data-key='{albani}']")
    expect(row).to_have_class(re.compile(r"\bhover\b"))
    expect(page.locator(f"#results li[data-key='{rome}']")).not_to_have_class(
        re.compile(r"\bhover\b")
    )
    page.mouse.click(x, y)
    expect(row).to_have_attribute("data-selected", "true")
    expect(row.get_by_role("button", name="Select colli-albani-synthetic-dem")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert page.evaluate(state, albani).get("selected") is True
    expect(page.locator(f"#results li[data-key='{rome}']")).to_have_attribute(
        "data-selected", "false"
    )
    shot(page, "panels-search-selection")


# --- Areas from files --------------------------------------------------------------------


def _box(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


GEOJSON: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "Rome"},
            "geometry": _box(12.3, 41.8, 12.7, 42.1),
        },
        {"type": "Feature", "properties": {"name": "Alps"}, "geometry": _box(6.6, 45.9, 6.8, 46.1)},
    ],
}

KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>Colli Albani</name>
<Polygon><outerBoundaryIs><LinearRing><coordinates>
12.6,41.65,0 12.8,41.65,0 12.8,41.8,0 12.6,41.8,0 12.6,41.65,0
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>
"""


def _shapefile_zip(tmp: Path) -> Path:
    """A zipped Shapefile of two boxes (around Rome and the Alpine landslide), written by GDAL."""
    folder = tmp / "shp"
    folder.mkdir()
    boxes = [shapely.box(12.3, 41.8, 12.7, 42.1), shapely.box(6.6, 45.9, 6.8, 46.1)]
    pyogrio.raw.write(
        str(folder / "areas.shp"),
        np.array([shapely.to_wkb(b) for b in boxes], dtype=object),
        [np.array(["rome", "alps"], dtype=object)],
        ["name"],
        driver="ESRI Shapefile",
        geometry_type="Polygon",
        crs="EPSG:4326",
    )
    out = tmp / "areas.zip"
    with zipfile.ZipFile(out, "w") as z:
        for part in sorted(folder.iterdir()):
            z.write(part, part.name)
    return out


def _bounds(geometry: dict[str, Any]) -> list[float]:
    b = shapely.geometry.shape(geometry).bounds
    return [round(v, 6) for v in b]


def test_areas_from_geojson_kml_and_shapefile_files(
    server: Server, page: Page, tmp_path: Path
) -> None:
    open_app(page, f"{server.url}/ui/")
    label = page.locator("#area-label")
    area_js = "() => window.gep.state.area"
    on_map = "async () => (await window.gep.map.getSource('area').getData()).geometry"

    geojson = tmp_path / "two-areas.geojson"
    geojson.write_text(json.dumps(GEOJSON))
    page.set_input_files("#area-file", geojson)
    expect(label).to_have_text("Area: two-areas.geojson (2 shapes)")
    area = page.evaluate(area_js)
    assert area == {
        "type": "GeometryCollection",
        "geometries": [f["geometry"] for f in GEOJSON["features"]],
    }
    assert page.evaluate(on_map) == area
    _search(page)
    assert _shown_count(page) == _matched(server, {"intersects": area}) > 0

    kml = tmp_path / "colli-albani.kml"
    kml.write_text(KML)
    page.set_input_files("#area-file", kml)
    expect(label).to_have_text("Area: colli-albani.kml (1 shape)")
    area = page.evaluate(area_js)
    assert area["type"] == "Polygon" and _bounds(area) == [12.6, 41.65, 12.8, 41.8]
    assert page.evaluate(on_map) == area
    # the map went to it
    assert page.evaluate("() => window.gep.map.getBounds().contains([12.7, 41.72])")

    shp = _shapefile_zip(tmp_path)
    page.set_input_files("#area-file", shp)
    expect(label).to_have_text("Area: areas.zip (2 shapes)")
    area = page.evaluate(area_js)
    assert area["type"] == "GeometryCollection"
    assert [_bounds(g) for g in area["geometries"]] == [
        [12.3, 41.8, 12.7, 42.1],
        [6.6, 45.9, 6.8, 46.1],
    ]
    assert page.evaluate(on_map) == area
    _search(page)
    assert _shown_count(page) == _matched(server, {"intersects": area}) > 0
    shot(page, "panels-area-shapefile")

    # broken files: a toast says what went wrong; the area stays as it was
    toast = page.locator("#toast")
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [')
    page.set_input_files("#area-file", broken)
    expect(toast).to_contain_text("Could not read broken.geojson")
    expect(toast).to_contain_text("GeoJSON, KML or a zipped Shapefile are read")
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    page.set_input_files("#area-file", empty)
    expect(toast).to_have_text(
        re.compile(r"^Could not read empty\.geojson: the file holds no geometry")
    )
    bad_zip = tmp_path / "not-a-shapefile.zip"
    bad_zip.write_bytes(b"this is no zip archive")
    page.set_input_files("#area-file", bad_zip)
    expect(toast).to_contain_text("Could not read not-a-shapefile.zip")
    expect(label).to_have_text("Area: areas.zip (2 shapes)")
    assert page.evaluate(area_js) == area


# --- Basket ------------------------------------------------------------------------------


def test_the_basket_outlives_searches_and_reloads(server: Server, page: Page) -> None:
    open_app(page, f"{server.url}/ui/")
    basket = page.locator("#basket li[data-key]")
    expect(page.locator("#basket")).to_have_text("Empty")
    page.get_by_label("Collection", exact=True).select_option("gep-slc")
    _search(page)
    assert _shown_count(page) == 2
    keys = _row_keys(page)
    for key in keys:
        page.get_by_role("button", name=f"Add {key.split('/')[1]} to the basket").click()
    expect(basket).to_have_count(2)
    assert sorted(
        k or "" for k in basket.evaluate_all("(l) => l.map((li) => li.dataset.key)")
    ) == sorted(keys)

    # another search: the basket keeps them
    page.get_by_label("Collection", exact=True).select_option("gep-dem")
    _search(page)
    expect(page.locator("#results li").first).to_have_attribute("data-key", re.compile("^gep-dem/"))
    expect(basket).to_have_count(2)

    # a reload: still there (the browser's storage)
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    expect(basket).to_have_count(2)
    expect(page.locator("#basket")).to_contain_text(keys[0].split("/")[1])
    expect(page.locator("#basket")).to_contain_text(keys[1].split("/")[1])

    # remove one: gone from the list and from the storage
    gone, kept = keys
    page.get_by_role("button", name=f"Remove {gone.split('/')[1]} from the basket").click()
    expect(basket).to_have_count(1)
    expect(basket).to_have_attribute("data-key", kept)
    stored = json.loads(page.evaluate("() => localStorage.getItem('gep.basket')"))
    assert [k for k, _ in stored] == [kept]
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    expect(basket).to_have_count(1)
    expect(basket).to_have_attribute("data-key", kept)


# --- Layers ------------------------------------------------------------------------------


def _tiles(page: Page, layer_id: str) -> list[str]:
    return list(page.evaluate(
        "(id) => window.gep.map.getStyle().sources[id + '-src'].tiles", layer_id))  # fmt: skip


def _add_layer(page: Page, key: str) -> str:
    before = page.locator("#layer-list .card[data-layer]").count()
    page.get_by_label("Add a result (collection/item id)").fill(key)
    page.get_by_role("button", name="Add", exact=True).click()
    cards = page.locator("#layer-list .card[data-layer]")
    expect(cards).to_have_count(before + 1)
    card = cards.nth(before)
    expect(card).to_have_attribute("data-item", key)
    return card.get_attribute("data-layer") or ""


def test_layers_renders_dates_opacity_downloads_swipe_and_removal(
    server: Server, page: Page
) -> None:
    open_app(page, f"{server.url}/ui/")
    page.get_by_role("tab", name="Layers").click()
    first = _add_layer(page, SBAS)
    card = page.locator(f"#layer-list .card[data-layer='{first}']")
    expect(page.locator(f"#legends figure[data-layer='{first}']")).to_have_attribute(
        "data-render", "velocity"
    )
    assert "assets=velocity&" in _tiles(page, first)[0]

    # another render from "Show": the tiles and the legend follow
    card.get_by_label("Show").select_option("temporal_coherence")
    legend = page.locator(f"#legends figure[data-layer='{first}']")
    expect(legend).to_have_attribute("data-render", "temporal_coherence")
    assert "assets=temporal_coherence&" in _tiles(page, first)[0]
    # the dated renders are reached through the date slider, not listed one by one
    options = (
        card.get_by_label("Show").locator("option").evaluate_all("(o) => o.map((x) => x.value)")
    )
    assert "velocity" in options and not any(o.startswith("displacement_") for o in options)

    # the date slider: each date's displacement, its tiles and its legend
    with api(server) as c:
        item = c.get(ITEM).json()
    dates = sorted(
        n.split("_")[1] for n in item["properties"]["renders"] if n.startswith("displacement_")
    )
    assert len(dates) == 13
    slider = card.get_by_label("Date", exact=True)
    expect(slider).to_have_attribute("max", str(len(dates) - 1))
    for i in (dates.index("2018-03-07"), len(dates) - 1):
        slider.fill(str(i))
        expect(card.locator("output")).to_have_text(dates[i])
        expect(legend).to_have_attribute("data-render", f"displacement_{dates[i]}")
        page.wait_for_function(
            """([id, d]) => window.gep.map.getStyle().sources[id + '-src'].tiles[0]
                .includes('assets=displacement_' + d)""",
            arg=[first, dates[i]],
        )
    tiles = _tiles(page, first)[0]
    assert f"assets=displacement_{dates[-1]}" in tiles and "velocity" not in tiles
    with api(server) as c:
        r = c.get(tiles.replace("{z}/{x}/{y}", "10/230/455"))
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text[:200]
        render = item["properties"]["renders"][f"displacement_{dates[-1]}"]
        params = {"assets": render["assets"][0], "f": "json"}
        if render.get("colormap_name"):
            params["colormap_name"] = render["colormap_name"]
        if render.get("rescale"):
            params["rescale"] = ";".join(",".join(str(x) for x in r) for r in render["rescale"])
        leg = c.get(f"{ITEM}/legend", params=params).json()
    expect(legend.locator("figcaption")).to_have_text(
        leg.get("title") or f"displacement_{dates[-1]}"
    )
    assert legend.locator(".ramp").get_attribute("data-colors") == " ".join(
        s["color"][:7] for s in leg["stops"]
    )

    # opacity
    card.get_by_label("Opacity").fill("0.4")
    assert (
        page.evaluate("(id) => window.gep.map.getPaintProperty(id, 'raster-opacity')", first) == 0.4
    )

    # downloads: links to GEP's assets, which answer
    card.locator("details summary").click()
    links = card.locator("details a")
    expect(links).to_have_count(len(item["assets"]))
    hrefs = [a.get_attribute("href") or "" for a in links.all()]
    assert sorted(hrefs) == sorted(a["href"] for a in item["assets"].values())
    assert all(h.startswith(f"{server.url}/stac/collections/sbas/items/") for h in hrefs)
    with api(server) as c:
        for href in hrefs:
            with c.stream("GET", href) as r:
                assert r.status_code == 200, href

    # a second layer and the swipe between them
    second = _add_layer(page, SBAS_DATE)
    page.get_by_label("Right of the swipe").select_option(second)
    page.get_by_role("button", name="Swipe", exact=True).click()
    expect(page.locator("#map-after")).to_have_count(1)
    expect(page.locator(".maplibregl-compare .compare-swiper-vertical")).to_be_visible()
    expect(page.get_by_role("button", name="End swipe")).to_be_visible()
    assert (
        page.evaluate("(id) => window.gep.map.getLayoutProperty(id, 'visibility')", second)
        == "none"
    )
    position = page.get_by_label("Swipe position")
    expect(position).to_be_enabled()
    width = page.evaluate("() => document.getElementById('map').clientWidth")
    position.fill("25")
    clip = page.evaluate("() => document.getElementById('map').style.clip")
    m = re.match(r"rect\(0px,? ([\d.]+)px", clip)
    assert m and abs(float(m.group(1)) - width * 0.25) < 1.5, clip
    after = page.evaluate("() => document.getElementById('map-after').style.clip")
    assert re.search(rf"{float(m.group(1)):g}px\)$", after), after
    transform = page.locator(".maplibregl-compare").evaluate("(e) => e.style.transform")
    assert transform == f"translate({float(m.group(1)):g}px, 0px)", transform
    # the handle is there to drag too
    handle = page.locator(".maplibregl-compare .compare-swiper-vertical").bounding_box()
    box = page.locator("#map").bounding_box()
    assert handle is not None and box is not None
    assert abs(handle["x"] + handle["width"] / 2 - (box["x"] + width * 0.25)) < 3
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + width * 0.6, handle["y"] + handle["height"] / 2, steps=4)
    page.mouse.up()
    clip = page.evaluate("() => document.getElementById('map').style.clip")
    m = re.match(r"rect\(0px,? ([\d.]+)px", clip)
    assert m and abs(float(m.group(1)) - width * 0.6) < 2, clip
    expect(position).to_have_value("60")  # the range follows the handle
    shot(page, "panels-layers-swipe")
    page.get_by_role("button", name="End swipe").click()
    expect(page.locator("#map-after")).to_have_count(0)
    expect(page.locator(".maplibregl-compare")).to_have_count(0)
    expect(position).to_be_disabled()
    assert page.evaluate("() => document.getElementById('map').style.clip") == ""
    assert (
        page.evaluate("(id) => window.gep.map.getLayoutProperty(id, 'visibility')", second)
        == "visible"
    )

    # remove the first: off the map, its legend gone, its card gone
    page.get_by_role("button", name=f"Remove {SBAS.split('/')[1]} from the map").click()
    expect(page.locator(f"#layer-list .card[data-layer='{first}']")).to_have_count(0)
    expect(page.locator(f"#legends figure[data-layer='{first}']")).to_have_count(0)
    assert page.evaluate("(id) => window.gep.map.getLayer(id) === undefined", first)
    assert page.evaluate("(id) => window.gep.map.getSource(id + '-src') === undefined", first)
    expect(page.locator(f"#legends figure[data-layer='{second}']")).to_have_count(1)
    assert page.evaluate("(id) => window.gep.map.getLayer(id) !== undefined", second)


# --- Thematic ----------------------------------------------------------------------------


def test_the_thematic_panel_lists_the_demo_layers_and_subscriptions(
    server: Server, page: Page
) -> None:
    with _anonymous(server) as c:  # what an anonymous page may see
        layers = sorted(
            col["id"] for col in c.get("/stac/collections").json()["collections"]
            if col["id"].startswith("layer-")
        )  # fmt: skip
        public = sorted(
            s["id"] for s in c.get("/subscriptions", params={"limit": 100}).json()["subscriptions"]
            if s.get("visibility") == "public"
        )  # fmt: skip
        empty = _matched(server, {"collections": ["layer-demo-earthquakes"]})
    assert layers == ["layer-demo-earthquakes", "layer-demo-insar-browse"]
    assert public == ["sub-demo-earthquakes", "sub-demo-insar-browse"]
    assert empty == 0

    open_app(page, f"{server.url}/ui/")  # anonymous: the public ones
    page.get_by_role("tab", name="Thematic").click()
    cards = page.locator("#thematic-layers .card")
    expect(cards).to_have_count(2)
    assert sorted(c.get_attribute("data-collection") or "" for c in cards.all()) == layers
    subs = page.locator("#thematic-subs .card")
    expect(subs).to_have_count(2)
    assert sorted(s.get_attribute("data-subscription") or "" for s in subs.all()) == public
    expect(
        page.locator("#thematic-layers .card[data-collection='layer-demo-insar-browse'] h3")
    ).to_have_text("InSAR Browse: all 6- and 12-day pairs over the demo volcanoes")

    cards.and_(page.locator("[data-collection='layer-demo-earthquakes']")).get_by_role(
        "button", name="Open on the map"
    ).click()
    expect(page.locator("#toast")).to_have_text("layer-demo-earthquakes has no product yet")
    page.locator("#thematic-subs .card[data-subscription='sub-demo-earthquakes']").get_by_role(
        "button", name="Open its layer"
    ).click()
    expect(page.locator("#toast")).to_have_text("layer-demo-earthquakes has no product yet")
    assert page.locator("#layer-list .card[data-layer]").count() == 0  # nothing was added


def test_a_thematic_app_opens_on_its_area_with_its_layers_and_services_first(
    server: Server, page: Page
) -> None:
    with _anonymous(server) as c:
        listed = c.get("/apps").json()["apps"]
        view = c.get("/apps/demo-volcanoes").json()
    assert sorted(a["id"] for a in listed) == ["demo-earthquakes", "demo-volcanoes"]
    services = [s["id"] for s in view["services"]]
    shown = [la for la in view["layers"] if la.get("visible") and not la.get("subscription")]
    assert services[:2] == ["hotspots", "sbas"] and len(shown) == 1

    open_app(page, f"{server.url}/ui/")
    page.get_by_role("tab", name="Thematic").click()
    cards = page.locator("#thematic-apps .card")
    expect(cards).to_have_count(2)
    assert sorted(c.get_attribute("data-app") or "" for c in cards.all()) == sorted(
        a["id"] for a in listed
    )
    page.get_by_role("button", name="Open the app Volcanoes: Etna and Colli Albani").click()
    expect(page.locator("#toast")).to_have_text("Opened Volcanoes: Etna and Colli Albani")
    expect(page.locator("#layer-list .card[data-layer]")).to_have_count(1)
    west, south, east, north = view["bbox"]
    bounds = page.evaluate("() => window.gep.map.getBounds().toArray()")
    (w, s), (e, n) = bounds
    assert w <= west + 0.5 and e >= east - 0.5 and s <= south + 0.5 and n >= north - 0.5
    assert e - w < (east - west) * 3  # on the app's area, not the world
    page.get_by_role("tab", name="Processing").click()
    options = page.locator("#process option")
    expect(options.nth(1)).to_have_attribute("value", services[0])
    got = [options.nth(i + 1).get_attribute("value") for i in range(len(services))]
    assert got == services
    shot(page, "thematic-app-opened")


# --- Account -----------------------------------------------------------------------------


def test_sign_in_errors_credits_and_sign_out(server: Server, page: Page) -> None:
    open_app(page, f"{server.url}/ui/")
    expect(page.locator("#who")).to_have_text("Not signed in")
    page.get_by_role("tab", name="Account").click()
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("not-" + PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("wrong user name or password")
    expect(alert).to_contain_text("password")
    expect(page.locator("#who")).to_have_text("Not signed in")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_have_text("Signed in as alice")
    expect(page.get_by_role("heading", name="alice")).to_be_visible()
    with api(server) as c:
        credits = c.get("/accounts/me").json()["credits"]
    available = page.locator("#credits tr", has_text="Available").locator("td")
    expect(available).to_have_text(f"{credits['available']:g}")
    assert credits["available"] == 1000  # alice's grant (every demo service is free)
    expect(page.locator("#usage")).not_to_have_text("Loading…")

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#who")).to_have_text("Not signed in")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    with_cookie = page.evaluate("async () => (await fetch('../accounts/me')).status")
    assert with_cookie == 401  # the session is gone on the server too


# --- Jobs --------------------------------------------------------------------------------


def _submit(page: Page) -> str:
    """Submit the Processing form; the new job's id (from the toast)."""
    page.locator("#toast").evaluate("(e) => { e.textContent = ''; }")
    page.get_by_role("button", name="Submit").click()
    toast = page.locator("#toast")
    expect(toast).to_have_text(re.compile(r"^Job \S+ submitted$"))
    return toast.inner_text().split()[1]


def test_jobs_resubmit_and_dismiss(server: Server, page: Page) -> None:
    open_app(page, f"{server.url}/ui/")
    sign_in(page)
    with api(server) as c:
        echo = c.get("/processes/echo").json()
    assert list(echo["inputs"]) == ["message"]

    page.get_by_role("tab", name="Processing").click()
    page.get_by_label("Service", exact=True).select_option("echo")
    message = "Norcia 2016-10-30 06:40"
    page.locator("#in-message").fill(message)
    job = _submit(page)
    expect(page.get_by_role("tab", name="Jobs")).to_have_attribute("aria-selected", "true")
    card = page.locator(f".card.job[data-job='{job}']")
    expect(card).to_have_attribute("data-status", "successful", timeout=120_000)
    expect(card.locator("h3")).to_have_text("echo · successful")

    # re-submit: the form again, with the job's inputs
    with api(server) as c:
        inputs = c.get(f"/jobs/{job}/inputs").json()["inputs"]
    assert inputs == {"message": message}
    card.get_by_role("button", name="Re-submit").click()
    expect(page.get_by_role("tab", name="Processing")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_label("Service", exact=True)).to_have_value("echo")
    expect(page.locator("#in-message")).to_have_value(message)
    expect(page.locator("#process-quote-text")).to_contain_text("Quote: 0 credits")

    # a long wait job: dismissed while it runs
    page.get_by_label("Service", exact=True).select_option("wait")
    expect(page.locator("#in-seconds")).to_be_visible()
    page.locator("#in-seconds").fill("600")
    page.locator("#in-steps").fill("600")  # a progress report (where a dismissal lands) a second
    waiting = _submit(page)
    card = page.locator(f".card.job[data-job='{waiting}']")
    expect(card).to_have_attribute("data-status", re.compile("^(accepted|running)$"))
    card.get_by_role("button", name="Dismiss").click()
    expect(card).to_have_attribute("data-status", "dismissed", timeout=60_000)
    expect(card.get_by_role("button", name="Dismiss")).to_have_count(0)
    with api(server) as c:
        assert c.get(f"/jobs/{waiting}").json()["status"] == "dismissed"
        assert c.get(f"/jobs/{waiting}/inputs").json()["inputs"] == {"seconds": 600, "steps": 600}
