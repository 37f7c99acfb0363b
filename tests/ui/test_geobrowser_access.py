"""The Geobrowser's accessibility and devices, in Chromium against a real ``gep serve``.

1. axe-core (the npm devDependency of ``src/gep/web``) finds no *serious* or *critical*
   violation in each of the app's main states: the first page, a search with its results and
   the gazetteer's suggestions open, the ``dinsar`` form, the SBAS result on the map with its
   legend, the Account panel signed out and signed in, the InSAR panel. The moderate and
   minor ones are printed (``pytest -s``), not failed.
2. The keyboard alone: Tab reaches the tab list, the arrows move between the tabs (the
   matching panel is shown), the gazetteer's combobox is driven by ArrowDown + Enter, and the
   focused element shows a visible outline.
3. A tablet (768×1024, touch): the map and the panel are both on screen with a useful size,
   every tab can be reached, a search works.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from gep import web
from tests.ui.conftest import Server, open_app, shot, sign_in

#: axe-core, from the Geobrowser's npm devDependencies (``make ui`` installs it)
AXE = web.DIST.parent / "node_modules" / "axe-core" / "axe.min.js"
FAILING = ("serious", "critical")


def _axe(page: Page, state: str) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it stands; the moderate and minor ones printed,
    the serious and critical ones returned (with their nodes, for the failure message)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        assert AXE.is_file(), "axe-core is missing: `make ui` installs the npm devDependencies"
        page.add_script_tag(path=str(AXE))
    violations: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    bad = []
    for v in violations:
        where = [n["target"] for n in v["nodes"]][:5]
        if v["impact"] in FAILING:
            bad.append(
                {
                    "state": state,
                    "id": v["id"],
                    "impact": v["impact"],
                    "help": v["help"],
                    "nodes": where,
                    "summary": [n.get("failureSummary", "") for n in v["nodes"]][:2],
                }
            )
        else:
            print(f"axe [{state}] {v['impact']}: {v['id']} ({v['help']}) at {where}")
    return bad


def test_axe_finds_no_serious_violation_in_the_main_states(server: Server, page: Page) -> None:
    bad: list[dict[str, Any]] = []
    open_app(page, f"{server.url}/ui/")

    # (a) the first page
    bad += _axe(page, "initial")

    # (b) a search with results, and the gazetteer's suggestions open
    page.get_by_label("Collection", exact=True).select_option("gep-slc")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#search-count")).to_contain_text("found")
    expect(page.locator("#results li").first).to_be_visible()
    page.get_by_label("Place, volcano, plate or named area").press_sequentially("Etn", delay=30)
    expect(page.locator("#gaz-list li").first).to_be_visible()
    page.keyboard.press("ArrowDown")  # an active descendant too
    expect(page.locator("#gaz-list li[aria-selected=true]")).to_have_count(1)
    bad += _axe(page, "search")
    shot(page, "access-search-suggestions")
    page.keyboard.press("Escape")

    # (c) the dinsar form
    page.get_by_role("tab", name="Processing").click()
    expect(page.locator("#process option[value='dinsar']")).to_have_count(1)
    page.get_by_label("Service", exact=True).select_option("dinsar")
    expect(page.locator("#in-reference")).to_be_visible()
    bad += _axe(page, "processing-dinsar")

    # (d) the SBAS result on the map with its legend
    page.get_by_role("tab", name="Layers").click()
    page.get_by_label("Add a result (collection/item id)").fill("sbas/sbas-mexico-city-2018")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#legends figure[data-render='velocity']")).to_be_visible()
    expect(page.locator("#layer-list .card")).to_have_count(1)
    bad += _axe(page, "layers-sbas")
    shot(page, "access-layers-sbas")

    # (e) the Account panel, signed out then signed in
    page.get_by_role("tab", name="Account").click()
    expect(page.locator("#login-form")).to_be_visible()
    bad += _axe(page, "account-signed-out")
    sign_in(page)
    expect(page.locator("#credits")).to_be_visible()
    expect(page.locator("#usage")).not_to_contain_text("Loading")
    bad += _axe(page, "account-signed-in")

    # (f) the InSAR panel
    page.get_by_role("tab", name="InSAR").click()
    expect(page.locator("#insar-ref")).to_be_visible()
    bad += _axe(page, "insar")

    # and the two others, signed in: the jobs, the systematic layers and subscriptions
    page.get_by_role("tab", name="Jobs").click()
    expect(page.locator("#panel-jobs h2")).to_be_visible()
    bad += _axe(page, "jobs")
    page.get_by_role("tab", name="Thematic").click()
    expect(page.locator("#thematic-subs .card").first).to_be_visible()
    bad += _axe(page, "thematic")

    assert bad == [], "axe-core found serious violations:\n" + "\n".join(map(str, bad))


def _focused_outline(page: Page) -> dict[str, str]:
    return page.evaluate(
        """() => { const e = document.activeElement; const s = getComputedStyle(e);
                   return {id: e.id, style: s.outlineStyle, width: s.outlineWidth,
                           color: s.outlineColor,
                           focusVisible: String(e.matches(':focus-visible'))}; }"""
    )


def _assert_focus_ring(page: Page) -> None:
    """The focused element matches :focus-visible and shows the app's ring (3 px, the accent
    yellow), not only the browser's default one."""
    o = _focused_outline(page)
    assert o["focusVisible"] == "true", o
    assert o["style"] not in ("none", "auto") and o["width"] == "3px", o
    assert o["color"] == "rgb(246, 200, 95)", o


def test_the_keyboard_alone_drives_the_tabs_and_the_gazetteer(server: Server, page: Page) -> None:
    open_app(page, f"{server.url}/ui/")
    tab_search = page.locator("#tab-search")

    # Tab from the top of the page to the tab list (past the skip link)
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.getAttribute('role')") == "tab":
            break
    expect(tab_search).to_be_focused()
    _assert_focus_ring(page)

    # the arrows move between the tabs; the matching panel is shown, the others hidden
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-insar")).to_be_focused()
    expect(page.locator("#tab-insar")).to_have_attribute("aria-selected", "true")
    expect(tab_search).to_have_attribute("aria-selected", "false")
    expect(page.locator("#panel-insar")).to_be_visible()
    expect(page.locator("#panel-search")).to_be_hidden()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-processing")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#panel-processing")).to_be_visible()
    expect(page.locator("#panel-insar")).to_be_hidden()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(tab_search).to_be_focused()
    expect(tab_search).to_have_attribute("aria-selected", "true")
    expect(page.locator("#panel-search")).to_be_visible()

    # into the panel: the gazetteer is the first control; ArrowDown + Enter choose a place
    before = page.locator("#area-label").inner_text()
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "gaz":
            break
    gaz = page.locator("#gaz")
    expect(gaz).to_be_focused()
    _assert_focus_ring(page)
    page.keyboard.type("Etn", delay=30)
    expect(page.locator("#gaz-list")).to_be_visible()
    expect(gaz).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    first = page.locator("#gaz-list li").first
    expect(first).to_have_attribute("aria-selected", "true")
    expect(gaz).to_have_attribute("aria-activedescendant", first.get_attribute("id") or "")
    name = first.inner_text().split(" — ")[0]
    page.keyboard.press("Enter")
    expect(page.locator("#gaz-list")).to_be_hidden()
    expect(gaz).to_have_attribute("aria-expanded", "false")
    expect(gaz).to_have_value(name)
    expect(page.locator("#area-label")).not_to_have_text(before)
    expect(page.locator("#area-label")).to_contain_text(f"Area: {name}")

    # and on, by Tab, to the Search button, which Enter presses
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "search-go":
            break
    expect(page.locator("#search-go")).to_be_focused()
    _assert_focus_ring(page)
    page.keyboard.press("Enter")
    expect(page.locator("#search-count")).to_contain_text("found")
    shot(page, "access-keyboard-area")


def test_a_tablet_shows_the_map_and_the_panel_and_searches(
    server: Server, browser: Browser
) -> None:
    context = browser.new_context(
        viewport={"width": 768, "height": 1024},
        has_touch=True,
        is_mobile=True,
        device_scale_factor=1,
    )
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        open_app(page, f"{server.url}/ui/")
        vw, vh = 768, 1024

        # the map and the panel: both on screen, each a good part of it, not overlapping
        m = page.locator("#map").bounding_box()
        p = page.locator("#panel").bounding_box()
        assert m and p
        for box in (m, p):
            assert box["width"] >= 0.9 * vw and box["height"] >= 0.25 * vh, (m, p)
            assert box["y"] >= 0 and box["y"] + box["height"] <= vh + 1, (m, p)
        assert m["y"] + m["height"] <= p["y"] + 1 or p["y"] + p["height"] <= m["y"] + 1, (m, p)
        canvas = page.locator("#map canvas").bounding_box()
        assert canvas and canvas["width"] >= 0.9 * vw and canvas["height"] >= 0.25 * vh

        # every tab can be reached: scrolled into view within the nav, and tapped
        for name in ["Account", "Thematic", "Layers", "Jobs", "Processing", "InSAR", "Search"]:
            tab = page.get_by_role("tab", name=name)
            tab.scroll_into_view_if_needed()
            tb = tab.bounding_box()
            assert tb and tb["x"] >= 0 and tb["x"] + tb["width"] <= vw + 1, (name, tb)
            tab.tap()
            expect(tab).to_have_attribute("aria-selected", "true")
            expect(page.locator(f"#{tab.get_attribute('aria-controls')}")).to_be_visible()

        # a search, by taps
        page.get_by_label("Collection", exact=True).select_option("gep-slc")
        page.get_by_role("button", name="Search", exact=True).tap()
        expect(page.locator("#search-count")).to_contain_text("found")
        expect(page.locator("#results li").first).to_be_visible()
        expect(page.locator("#map")).to_have_attribute("data-footprints", re.compile(r"^[1-9]\d*$"))
        shot(page, "tablet-search")
    finally:
        context.close()
    assert errors == [], f"the page threw: {errors}"
