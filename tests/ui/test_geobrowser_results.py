"""Results and basemaps on the Geobrowser's map beyond the three scenarios: a vector result
drawn with popups, a WMTS layer added by its capabilities URL, DEM hillshade under the offline
basemap, and the operator's online basemap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from playwright.sync_api import Browser, Page, expect
from shapely.geometry import shape

from tests.support.app import run_job
from tests.support.serving import free_port, start_gep_serve, stop
from tests.ui.conftest import Server, api, open_app, shot, sign_in
from tests.ui.map_pixels import hex_rgb, ramp_cover, region, wait_for_tiles

SBAS = "/stac/collections/sbas/items/sbas-mexico-city-2018"


def test_a_vector_result_is_drawn_with_popups(server: Server, page: Page) -> None:
    with api(server) as c:
        job = run_job(c, "hotspots", {"products": ["gep-optical/landsat-lava"]}, timeout_s=120)
    open_app(page, f"{server.url}/ui/")
    sign_in(page)
    page.get_by_role("tab", name="Jobs").click()
    card = page.locator(f".card.job[data-job='{job}']")
    card.get_by_role("button", name="Show results").click()
    expect(page.locator("#layer-list .card").first).to_have_attribute(
        "data-item", f"hotspots/{job}"
    )
    layer_ids = page.evaluate(
        "() => window.gep.map.getStyle().layers.map((l) => l.id)"
        ".filter((i) => i.includes('-v-polygons'))"
    )
    assert len(layer_ids) == 3  # fill, line and points of the polygons asset
    with api(server) as c:
        features = c.get(
            f"/stac/collections/hotspots/items/{job}/vector/features",
            params={"assets": "polygons", "limit": 100},
        ).json()["features"]
    assert features, "the lava flow gave no hot polygon"
    biggest = max(features, key=lambda f: shape(f["geometry"]).area)
    inside = shape(biggest["geometry"]).representative_point()
    page.evaluate("(p) => window.gep.map.jumpTo({center: p, zoom: 13})", [inside.x, inside.y])
    wait_for_tiles(page)
    xy = page.evaluate("(p) => window.gep.map.project(p)", [inside.x, inside.y])
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + xy["x"], box["y"] + xy["y"])
    popup = page.locator(".maplibregl-popup")
    expect(popup).to_be_visible()
    expect(popup).to_contain_text("polygons")
    for key in list(biggest["properties"])[:3]:  # the clicked feature's own attributes
        expect(popup).to_contain_text(key)
    # one dated mask is no time series: no chart is offered (a click asks for none)
    expect(page.locator("#layer-list .card").first).not_to_contain_text("time series")
    shot(page, "results-vector-popup")


def test_a_wmts_layer_by_its_capabilities(server: Server, page: Page) -> None:
    capabilities = (
        f"{server.url}{SBAS}/WebMercatorQuad/WMTSCapabilities.xml"
        "?assets=velocity&rescale=-293,293&colormap_name=rdbu_r"
    )
    open_app(page, f"{server.url}/ui/")
    page.get_by_role("tab", name="Layers").click()
    page.get_by_label("Or a web map layer").fill("not a url")
    page.get_by_role("button", name="Add the web map layer").click()
    expect(page.locator("#toast")).to_contain_text("Not a layer")
    page.get_by_label("Or a web map layer").fill(capabilities)
    page.get_by_role("button", name="Add the web map layer").click()
    card = page.locator("#layer-list .card[data-web]")
    expect(card).to_have_attribute("data-web", f"{server.url}{SBAS}/tiles/WebMercatorQuad/"
                                   "{z}/{x}/{y}.png?assets=velocity&rescale=-293%2C293"
                                   "&colormap_name=rdbu_r")  # fmt: skip
    card.get_by_label("Opacity").fill("1")
    with api(server) as c:
        bbox = c.get(SBAS).json()["bbox"]
        legend = c.get(
            "/legend", params={"colormap_name": "rdbu_r", "rescale": "-293,293", "f": "json"}
        ).json()
    wait_for_tiles(page)
    ramp = [hex_rgb(s["color"][:7]) for s in legend["stops"]]
    cover = ramp_cover(region(page, bbox), ramp)
    assert cover.coloured > 0.15, f"{cover.coloured:.0%} of the WMTS layer is coloured"
    assert (cover.positions < 0.5).mean() > 0.9  # subsidence: the blue half of the ramp


def test_dem_hillshade_under_the_offline_basemap(server: Server, page: Page) -> None:
    with api(server) as c:
        dem = c.get("/stac/collections/gep-dem/items/rome-dem-30m").json()
    w, s, e, n = dem["bbox"]
    open_app(page, f"{server.url}/ui/#map=11/{(s + n) / 2:.4f}/{(w + e) / 2:.4f}")
    page.wait_for_function("() => !!window.gep.map.getLayer('hillshade-rome-dem-30m')")
    wait_for_tiles(page)
    shaded = region(page, dem["bbox"])
    # relief: the shaded DEM varies; the flat land colour it is drawn over does not
    assert shaded.std(axis=(0, 1)).mean() > 3
    assert np.abs(shaded - np.array(hex_rgb("#f3f1ea"))).mean() > 3
    shot(page, "basemap-hillshade")


def test_the_operators_online_basemap(browser: Browser, tmp_path: Path, server: Server) -> None:
    """GEP_UI_BASEMAP_URL: an XYZ basemap (here GEP's own tiles of the SBAS result, served by
    the demo server) offered by a toggle, its attribution shown, its tiles requested."""
    template = f"{server.url}{SBAS}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png?assets=velocity"
    port = free_port()
    proc = start_gep_serve(
        tmp_path / "home",
        port,
        ui_basemap_url=template,
        ui_basemap_attribution="Test tiles",
    )
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url) if SBAS in r.url else None)
        open_app(page, f"http://127.0.0.1:{port}/ui/#map=12/19.41/-99.12")
        assert requested == []  # off until asked for
        toggle = page.get_by_role("button", name="Online basemap")
        expect(toggle).to_have_attribute("aria-pressed", "false")
        with page.expect_request(lambda r: "/tiles/WebMercatorQuad/12/" in r.url):
            toggle.click()
        expect(toggle).to_have_attribute("aria-pressed", "true")
        wait_for_tiles(page)
        assert any("/tiles/WebMercatorQuad/12/" in u for u in requested), requested
        visibility = page.evaluate("() => window.gep.map.getLayoutProperty('online', 'visibility')")
        assert visibility == "visible"
        page.locator(".maplibregl-ctrl-attrib-button").click()
        expect(page.locator(".maplibregl-ctrl-attrib")).to_contain_text("Test tiles")
    finally:
        context.close()
        stop(proc)


def test_a_javascript_href_is_never_a_link(server: Server, page: Page) -> None:
    """Items are written by users: an asset whose href is ``javascript:…`` is not offered as
    a download (a click would run it in the viewer's page), an http one is."""
    with api(server) as c:
        r = c.post("/stac/collections", json={"id": "alice-notes", "description": "notes"})
        assert r.status_code == 201, r.text
        item = {
            "type": "Feature", "stac_version": "1.1.0", "id": "note", "bbox": [12, 42, 12.1, 42.1],
            "geometry": {"type": "Point", "coordinates": [12.05, 42.05]},
            "properties": {"datetime": "2022-01-01T00:00:00Z"}, "links": [],
            "assets": {"evil": {"href": "javascript:alert(document.cookie)", "title": "evil"},
                       "good": {"href": f"{server.url}/api", "title": "good"}},
        }  # fmt: skip
        r = c.post("/stac/collections/alice-notes/items", json=item)
        assert r.status_code == 201, r.text
    open_app(page, f"{server.url}/ui/")
    sign_in(page)
    page.get_by_role("tab", name="Layers").click()
    page.get_by_label("Add a result (collection/item id)").fill("alice-notes/note")
    page.get_by_role("button", name="Add", exact=True).click()
    card = page.locator("#layer-list .card[data-item='alice-notes/note']")
    card.get_by_text("Downloads (1)").click()
    links = card.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_text("good")
    assert all("javascript" not in (a.get_attribute("href") or "") for a in links.all())
