"""The Geobrowser's three scenarios, end to end in Chromium against a real ``gep serve``.

1. Rome: gazetteer + dates → search → pair search → ``dinsar`` from its form → the job
   finishes → the LOS displacement layer is drawn with its legend → shared publicly → an
   anonymous browser opens the permalink and sees it.
2. A developer deploys a CWL package through the API; it appears in the service list and its
   generated form runs it.
3. The SBAS result: a click on a pixel of the subsiding basin draws a decreasing series whose
   values are the time-series API's.

Every step asserts on what the page shows (the DOM, and the map canvas's pixels where the
layer must be drawn with its legend's colours), not only on requests.
"""

from __future__ import annotations

import csv
import io

import numpy as np
from playwright.sync_api import Browser, Page, expect

from tests.ui.conftest import Server, api, open_app, shot, sign_in
from tests.ui.map_pixels import RampCover, legend_ramp, ramp_cover, region, wait_for_tiles

ROME_REF = "gep-slc/SIM_S1A_IW1_VV_20220104_rome-okada-thrust"
ROME_SEC = "gep-slc/SIM_S1A_IW1_VV_20220116_rome-okada-thrust"
JOB_TIMEOUT_MS = 240_000


def _layer_is_drawn(page: Page, render: str, bbox: list[float]) -> RampCover:
    """The render's legend is on the page and the map shows its colours over the layer's
    footprint: a good part of it coloured (a blank map there has none: see
    ``test_a_blank_map_has_no_ramp_colours``), spread along the ramp (not one flat colour)."""
    expect(page.locator(f"#legends figure[data-render='{render}']")).to_be_visible()
    wait_for_tiles(page)
    cover = ramp_cover(region(page, bbox), legend_ramp(page, render))
    if cover.coloured <= 0.15:
        shot(page, f"failed-{render}")
    assert cover.coloured > 0.15, f"only {cover.coloured:.0%} of the layer's area is coloured"
    tenths = np.unique((cover.positions * 10).astype(int))
    assert len(tenths) >= 3, f"the layer shows one colour only: ramp tenths {tenths}"
    return cover


def test_rome_pair_to_a_shared_los_displacement_layer(
    server: Server, page: Page, browser: Browser
) -> None:
    open_app(page, f"{server.url}/ui/")
    sign_in(page)

    # find the Rome pair: the gazetteer (suggestions while typing), a date range, a collection
    page.get_by_role("tab", name="Search").click()
    page.get_by_label("Place, volcano, plate or named area").press_sequentially("Rom", delay=40)
    suggestion = page.locator("#gaz-list li", has_text="place, IT").first
    expect(suggestion).to_be_visible()
    suggestion.click()
    expect(page.locator("#area-label")).to_contain_text("Rome")
    page.get_by_label("Start date").fill("2022-01-01")
    page.get_by_label("End date").fill("2022-01-31")
    page.get_by_label("Collection", exact=True).select_option("gep-slc")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#search-count")).to_have_text("2 products found")
    rows = page.locator("#results li")
    expect(rows).to_have_count(2)
    expect(page.locator("#results")).to_contain_text("rome-okada-thrust")
    expect(page.locator("#map")).to_have_attribute("data-footprints", "2")

    # pair search from the reference: one candidate, on the baseline–time plot
    page.get_by_role("button", name=f"Interferometric pairs of {ROME_REF.split('/')[1]}").click()
    expect(page.locator("#insar-status")).to_contain_text("1 candidate pair")
    expect(page.locator("#insar-plot circle")).to_have_count(2)  # the reference and its pair
    expect(page.locator("#insar-table tbody tr")).to_have_count(1)
    bperp = float(page.locator("#insar-table tbody td").nth(3).inner_text())
    assert abs(bperp + 100.0) < 1.0  # the demo pair's -100 m (ISCE2's sign)

    # to dinsar's generated form: the pair fills the product fields; a DEM typed in
    page.get_by_role("button", name="Open the chosen pair in the service's form").click()
    expect(page.locator("#in-reference")).to_have_value(ROME_REF)
    expect(page.locator("#in-secondary")).to_have_value(ROME_SEC)
    expect(page.locator("#in-unwrap_method")).to_contain_text("whirlwind")  # an enum: choices
    page.locator("#in-dem").fill("gep-dem/rome-dem-30m")
    page.get_by_role("button", name="Quote").click()
    expect(page.locator("#process-quote-text")).to_contain_text("Quote: 0 credits")
    page.get_by_role("button", name="Submit").click()

    # the job: live progress until it has finished
    card = page.locator(".card.job", has_text="dinsar ·")
    expect(card).to_have_attribute("data-status", "successful", timeout=JOB_TIMEOUT_MS)
    expect(card.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    job_id = card.get_attribute("data-job")
    card.get_by_role("button", name="Logs").click()
    expect(card.locator(".logs")).to_contain_text("unwrapping")

    # its results on the map: the LOS displacement layer with its legend, opaque
    card.get_by_role("button", name="Show results").click()
    layer = page.locator("#layer-list .card").first
    expect(layer).to_have_attribute("data-item", f"dinsar/{job_id}")
    legend = page.locator("#legends figure[data-render='los_displacement']")
    expect(legend).to_contain_text("LOS displacement")
    layer.get_by_label("Opacity").fill("1")
    with api(server) as c:
        item = c.get(f"/stac/collections/dinsar/items/{job_id}").json()
    cover = _layer_is_drawn(page, "los_displacement", item["bbox"])
    # a thrust lifts some ground and drops some: both halves of the diverging ramp are drawn
    # (the uplift is the smaller, paler part: ~300 of ~75 000 coloured pixels at this view)
    assert (cover.positions < 0.45).sum() > 1000 and (cover.positions > 0.55).sum() > 100
    shot(page, "scenario1-los-displacement")

    # share it publicly and take the permalink
    layer.get_by_label("Share").select_option("public")
    layer.get_by_role("button", name="Apply").click()
    expect(layer.locator(".share")).to_contain_text("now public")
    link = layer.get_by_label("Permalink").input_value()
    assert f"item=dinsar%2F{job_id}" in link

    # an anonymous browser (no cookie) opens the permalink and sees the layer
    anonymous = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        other = anonymous.new_page()
        open_app(other, link)
        expect(other.locator("#who")).to_have_text("Not signed in")
        expect(other.locator("#layer-list .card")).to_have_attribute(
            "data-item", f"dinsar/{job_id}"
        )
        _layer_is_drawn(other, "los_displacement", item["bbox"])
        shot(other, "scenario1-permalink-anonymous")
    finally:
        anonymous.close()


# the CWL tests' "shout" tool (tests/jobs/test_cwl_packages.py) with an enum input added: the
# generated form must show its symbols as choices
SHOUT = """
cwlVersion: v1.2
class: CommandLineTool
id: shout
label: Shout
doc: Writes its message to a file.
baseCommand: echo
inputs:
  message:
    type: string
    doc: what to write
    inputBinding: {position: 1}
  loud:
    type:
      type: enum
      symbols: [quiet, loud]
    default: quiet
outputs:
  result:
    type: stdout
stdout: shout.txt
"""


def test_a_deployed_cwl_package_runs_from_its_form(server: Server, page: Page) -> None:
    open_app(page, f"{server.url}/ui/")
    sign_in(page)
    page.get_by_role("tab", name="Processing").click()
    expect(page.locator("#process option[value='shout']")).to_have_count(0)

    with api(server) as c:  # the developer deploys through the API
        r = c.post("/processes", content=SHOUT, headers={"content-type": "application/cwl+yaml"})
        assert r.status_code == 201, r.text

    page.get_by_role("button", name="Reload the service list").click()
    page.get_by_label("Service", exact=True).select_option("shout")
    expect(page.locator("#process-about")).to_have_text("Writes its message to a file.")
    expect(page.locator("#in-loud option")).to_have_text(["default (quiet)", "quiet", "loud"])
    page.get_by_role("button", name="Submit").click()  # the required message is missing
    expect(page.locator("#process-error")).to_contain_text("message")
    expect(page.locator("#in-message")).to_have_attribute("aria-invalid", "true")
    page.locator("#in-message").fill("Amatrice")
    page.get_by_role("button", name="Submit").click()

    card = page.locator(".card.job", has_text="shout ·")
    expect(card).to_have_attribute("data-status", "successful", timeout=JOB_TIMEOUT_MS)
    job_id = card.get_attribute("data-job")
    with api(server) as c:
        out = c.get(f"/jobs/{job_id}/results").json()
        assert c.get(out["result"]["href"]).text == "Amatrice\n"
    shot(page, "scenario2-deployed-service")


BASIN = (-99.10, 19.43)  # Iztacalco, on the old lake bed: about -19 cm/yr along the LOS


def test_sbas_pixel_click_draws_the_api_time_series(server: Server, page: Page) -> None:
    open_app(page, f"{server.url}/ui/")
    page.get_by_role("tab", name="Layers").click()
    page.get_by_label("Add a result (collection/item id)").fill("sbas/sbas-mexico-city-2018")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#legends figure[data-render='velocity']")).to_contain_text("velocity")
    with api(server) as c:
        item = c.get("/stac/collections/sbas/items/sbas-mexico-city-2018").json()
    page.locator("#layer-list .card").first.get_by_label("Opacity").fill("1")
    _layer_is_drawn(page, "velocity", item["bbox"])

    xy = page.evaluate("(p) => window.gep.map.project(p)", list(BASIN))
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + xy["x"], box["y"] + xy["y"])
    chart = page.locator("#chart")
    expect(chart).to_be_visible()
    expect(chart.locator("canvas").first).to_be_visible()  # uPlot drew it
    rows = chart.locator("#chart-table tbody tr")
    expect(rows).to_have_count(13)
    shown = [
        (r.get_attribute("data-datetime"), float(r.get_attribute("data-value") or "nan"))
        for r in rows.all()
    ]
    lon = float(chart.get_attribute("data-lon") or "nan")
    lat = float(chart.get_attribute("data-lat") or "nan")
    assert abs(lon - BASIN[0]) < 0.002 and abs(lat - BASIN[1]) < 0.002
    with api(server) as c:
        ts = c.get(
            "/stac/collections/sbas/items/sbas-mexico-city-2018/timeseries",
            params={"lon": lon, "lat": lat, "assets": "displacement"},
        ).json()
        csv_text = c.get(chart.locator("#chart-csv").get_attribute("href") or "").text
    assert shown == [(v["datetime"], v["value"]) for v in ts["values"]]  # the API's, exactly
    values = np.array([v for _, v in shown])
    days = np.array([np.datetime64(d[:10]).astype(int) for d, _ in shown], dtype=float)
    slope = np.polyfit(days, values, 1)[0] * 365.25
    assert slope < -100, f"{slope:.0f} mm/yr: the basin is not subsiding on the chart"
    assert values[-1] < values[0] - 50
    assert len(list(csv.DictReader(io.StringIO(csv_text)))) == 13  # the CSV link's rows
    shot(page, "scenario3-sbas-timeseries")
