"""Reading the map's pixels: is a layer drawn with its legend's colours where it should be?

A raster layer drawn through a continuous colour map puts on screen colours that lie on the
legend's ramp (the polyline through its stops in RGB), though rarely on a stop itself; the
basemap's land and sea, and the near-white middle of a diverging ramp, are not counted as
"coloured" (they would match a blank map too).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from playwright.sync_api import Page

#: the basemap's own colours (src/gep/web/src/map.js): pixels near them are not "coloured"
BASEMAP = [(0xF3, 0xF1, 0xEA), (0xCF, 0xE3, 0xF0)]


@dataclass(frozen=True)
class RampCover:
    #: share of the region's pixels that lie on the ramp and are not basemap-like
    coloured: float
    #: positions along the ramp (0 = first stop, 1 = last) of those pixels
    positions: np.ndarray


def hex_rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def legend_ramp(page: Page, render: str) -> list[tuple[int, int, int]]:
    colors = page.locator(f"#legends figure[data-render='{render}'] .ramp").get_attribute(
        "data-colors"
    )
    assert colors, f"no legend for {render}"
    return [hex_rgb(c) for c in colors.split()]


def wait_for_tiles(page: Page) -> None:
    page.evaluate(
        """() => new Promise((resolve) => {
             const m = window.gep.map;
             const done = () => m.loaded() && m.areTilesLoaded();
             if (done()) { resolve(); return; }
             const check = () => { if (done()) { m.off('idle', check); resolve(); } };
             m.on('idle', check);
           })"""
    )


def region(page: Page, bbox: list[float]) -> np.ndarray:
    """The map's pixels over ``bbox`` (lon/lat), shrunk by 10 % on each side (the edges of a
    footprint are its no-data margins and antialiasing), as an (h, w, 3) array."""
    w, s, e, n = bbox[:4]
    dx, dy = (e - w) * 0.1, (n - s) * 0.1
    corners = page.evaluate(
        "([a, b]) => [window.gep.map.project(a), window.gep.map.project(b)]",
        [[w + dx, n - dy], [e - dx, s + dy]],
    )
    box = page.locator("#map").bounding_box()
    assert box is not None
    x0, y0 = corners[0]["x"], corners[0]["y"]
    x1, y1 = corners[1]["x"], corners[1]["y"]
    assert x1 - x0 > 20 and y1 - y0 > 20, f"the layer covers too few pixels: {corners}"
    clip = {"x": box["x"] + x0, "y": box["y"] + y0, "width": x1 - x0, "height": y1 - y0}
    png = page.screenshot(clip=clip)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)


def ramp_cover(
    pixels: np.ndarray, ramp: list[tuple[int, int, int]], tol: float = 14.0
) -> RampCover:
    """Which pixels lie within ``tol`` (RGB distance) of the ramp, and where along it."""
    px = pixels.reshape(-1, 3)
    stops = np.asarray(ramp, dtype=float)
    best = np.full(len(px), np.inf)
    where = np.zeros(len(px))
    for k in range(len(stops) - 1):
        a, b = stops[k], stops[k + 1]
        ab = b - a
        t = np.clip(((px - a) @ ab) / max(float(ab @ ab), 1e-9), 0, 1)
        d = np.linalg.norm(px - (a + t[:, None] * ab), axis=1)
        closer = d < best
        best[closer] = d[closer]
        where[closer] = (k + t[closer]) / (len(stops) - 1)
    basemap_like = np.zeros(len(px), dtype=bool)
    for c in [*BASEMAP, (0xF6, 0xF6, 0xF6), (0xFF, 0xFF, 0xFF)]:
        basemap_like |= np.linalg.norm(px - np.asarray(c, dtype=float), axis=1) < 40
    on = (best <= tol) & ~basemap_like
    return RampCover(float(on.mean()), where[on])
