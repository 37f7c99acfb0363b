"""Geobrowser benchmark: time to interactive, and frame time while panning 10 000 footprints.

    python bench/ui.py [--footprints N] [--loads K] [--pan-seconds S] [--json FILE]

A fresh ``GEP_HOME`` (SQLite) gets N synthetic Sentinel-1 SLC items (``s1_items.py``, public
collection, ingested with ``gep catalog ingest``); one ``gep serve`` serves the API and the
Geobrowser (``make ui`` must have built ``src/gep/web/dist``). Debian's chromium, driven by
Playwright with WebGL on SwiftShader (the flags the UI tests use), 1280×800:

* **time to interactive**: K fresh page loads (a new browser context each: empty cache) of
  ``/ui/``; from navigation start to the ``gep-map-ready`` mark (map style and basemap loaded)
  and to ``body[data-ready]`` (every panel initialised); median and worst;
* **footprints**: the Search panel's collection set to the catalogue's, "Search" clicked; time
  until ``#map[data-footprints=N]`` (all pages fetched and handed to the map) and until the map
  is next idle (drawn);
* **panning**: the map moved along a circle (radius 300 px, one turn per 4 s) every animation
  frame for S seconds, before the search (basemap only) and after it (N footprints: from the
  view the search left, the world, where the Geobrowser clusters crowds of more than 1 000
  footprints below zoom 4; then at zoom 5 over Europe, where it draws the polygons), the frame
  times taken from ``requestAnimationFrame``: median, p95, max, frames per second.

The peer, in the same browser and run: Leaflet (canvas renderer, ``preferCanvas``) in
``bench/ui_peer/index.html``, served by a static server here, on a map of the Geobrowser's map
size, at the same centres and scale (Leaflet's zoom + 1: 256-px tiles), with the
same basemap GeoJSON and the same footprints fetched from the same ``gep serve``
with the same STAC requests (pages of 2 500 trimmed features), panned the same way
(``panBy`` without animation: a full redraw each frame in both).

Targets (the issue): interactive within 1.5 s; 10 000 footprints pan smoothly (here: frame
time p95 ≤ 33 ms, i.e. at least 30 frames per second).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from playwright.sync_api import Browser, ViewportSize, sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WEB = ROOT / "src" / "gep" / "web"
sys.path.insert(0, str(HERE))

from gep_server import free_port, running_gep  # noqa: E402
from s1_items import COLLECTION_ID, collection_dict, generate_items, write_ndjson  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: WebGL without a GPU: ANGLE on SwiftShader (as tests/ui does)
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
TTI_TARGET_MS = 1500.0
FRAME_P95_TARGET_MS = 33.0

#: records when #map and body get data-ready (installed before the page's own scripts)
READY_PROBE = """
window.__ready = {};
new MutationObserver(() => {
  const m = document.getElementById("map");
  const b = document.body;
  const r = window.__ready;
  if (m && m.dataset.ready === "true" && !("map" in r)) r.map = performance.now();
  if (b && b.dataset.ready === "true" && !("body" in r)) r.body = performance.now();
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-ready"] });
"""

#: the closer view panned with the footprints (MapLibre zoom 5: the polygons, not clusters)
ZOOMED = {"lng": 10.0, "lat": 47.0, "zoom": 5.0}

#: the map's view (centre, MapLibre zoom: Leaflet's zoom is one more, its tiles being 256 px)
VIEW = """
(which) => {
  const m = which === "gep" ? window.gep.map : window.peer.map;
  const c = m.getCenter();
  return { lng: c.lng, lat: c.lat, zoom: which === "gep" ? m.getZoom() : m.getZoom() - 1 };
}
"""

#: goes to a view (as MapLibre zooms), waits until drawn
GO = """
async ({ which, view }) => {
  const frames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  if (which === "gep") {
    const m = window.gep.map;
    m.jumpTo({ center: [view.lng, view.lat], zoom: view.zoom });
    await new Promise((r) => { m.once("idle", r); m.triggerRepaint(); });
  } else {
    window.peer.map.setView([view.lat, view.lng], view.zoom + 1, { animate: false });
  }
  await frames();
}
"""

#: pans the map along a circle for `seconds`, one move per animation frame; the frame times
PAN = """
async ({ which, seconds, radius, period }) => {
  const move = which === "gep"
    ? (dx, dy) => window.gep.map.panBy([dx, dy], { duration: 0 })
    : (dx, dy) => window.peer.map.panBy([dx, dy], { animate: false });
  return await new Promise((resolve) => {
    const deltas = [];
    let t0 = null, last = null, px = radius, py = 0;
    function frame(t) {
      if (t0 === null) { t0 = t; last = t; requestAnimationFrame(frame); return; }
      deltas.push(t - last);
      last = t;
      const a = (2 * Math.PI * (t - t0)) / (period * 1000);
      const x = radius * Math.cos(a), y = radius * Math.sin(a);
      move(x - px, y - py);
      px = x; py = y;
      if (t - t0 < seconds * 1000) requestAnimationFrame(frame); else resolve(deltas);
    }
    requestAnimationFrame(frame);
  });
}
"""

#: clicks Search; ms until #map[data-footprints=n], then until the map is idle again
GEP_SEARCH = """
async (n) => {
  const box = document.getElementById("map");
  const map = window.gep.map;
  const t0 = performance.now();
  const loaded = new Promise((resolve) => {
    const obs = new MutationObserver(() => {
      if (box.dataset.footprints === String(n)) { obs.disconnect(); resolve(performance.now()); }
    });
    obs.observe(box, { attributes: true, attributeFilter: ["data-footprints"] });
  });
  document.getElementById("search-go").click();
  const t1 = await loaded;
  await new Promise((resolve) => { map.once("idle", resolve); map.triggerRepaint(); });
  // what the map holds: the footprints clustered (the centres the clusters count) or drawn
  const clustered = map.querySourceFeatures("footprint-centres")
    .reduce((sum, f) => sum + (f.properties.point_count || 1), 0);
  return { loaded_ms: t1 - t0, drawn_ms: performance.now() - t0,
           features: clustered || map.querySourceFeatures("footprints").length };
}
"""

PEER_SEARCH = """
async ([collection, n]) => {
  const t0 = performance.now();
  const got = await window.peer.loadFootprints(collection, n);
  return { loaded_ms: performance.now() - t0, drawn_ms: performance.now() - t0, features: got };
}
"""


def _gep(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gep.cli.main", *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"gep {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def make_catalogue(home: Path, env: dict[str, str], n: int) -> float:
    """N Sentinel-1-like items in a public collection of a fresh GEP_HOME; the ingest time."""
    coll = home / "collection.json"
    coll.write_text(json.dumps(collection_dict()))
    items = home / "items.ndjson"
    write_ndjson(items, generate_items(n))
    _gep(env, "db", "upgrade")
    t0 = time.perf_counter()
    _gep(env, "catalog", "ingest", str(coll), str(items))
    return time.perf_counter() - t0


@contextmanager
def static_server(folder: Path) -> Iterator[str]:
    """A quiet threaded http.server on ``folder``; yields its base URL."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(
        ("127.0.0.1", free_port()), functools.partial(Quiet, directory=str(folder))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def peer_folder(folder: Path) -> None:
    dist = WEB / "node_modules" / "leaflet" / "dist"
    if not (dist / "leaflet.js").exists():
        raise SystemExit("Leaflet is missing: `cd src/gep/web && npm ci` (a devDependency)")
    shutil.copy(HERE / "ui_peer" / "index.html", folder / "index.html")
    for name in ("leaflet.js", "leaflet.css"):
        shutil.copy(dist / name, folder / name)


def frame_stats(deltas: list[float]) -> dict[str, float]:
    d = np.asarray(deltas[1:] if len(deltas) > 1 else deltas)  # the first frame: the pan's start
    return {
        "frames": float(d.size),
        "median_ms": float(np.median(d)),
        "p95_ms": float(np.percentile(d, 95)),
        "max_ms": float(d.max()),
        "fps": float(1000.0 * d.size / d.sum()),
    }


def leaflet_version() -> str:
    pkg = WEB / "node_modules" / "leaflet" / "package.json"
    return str(json.loads(pkg.read_text())["version"])


def maplibre_version() -> str:
    pkg = WEB / "node_modules" / "maplibre-gl" / "package.json"
    return str(json.loads(pkg.read_text())["version"]) if pkg.exists() else "?"


def time_to_interactive(browser: Browser, url: str, mark: str, loads: int) -> dict[str, Any]:
    rows = []
    for _ in range(loads):
        ctx = browser.new_context(viewport=VIEWPORT)
        ctx.add_init_script(READY_PROBE)
        page = ctx.new_page()
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        rows.append(page.evaluate(
            """(mark) => {
              const nav = performance.getEntriesByType("navigation")[0];
              const m = performance.getEntriesByName(mark)[0];
              return { map: m ? m.startTime : null, body: window.__ready.body ?? null,
                       dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd };
            }""",
            mark,
        ))  # fmt: skip
        ctx.close()
    out: dict[str, Any] = {"loads": rows}
    for k in ("map", "body", "dcl", "load"):
        v = [r[k] for r in rows if r[k] is not None]
        out[k] = {"median_ms": statistics.median(v), "worst_ms": max(v)} if v else None
    return out


def run_side(
    browser: Browser,
    which: str,
    url: str,
    n: int,
    args: argparse.Namespace,
    views: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One page: pan (basemap only), load the footprints, pan again. Each pan starts from the
    same view: the Geobrowser's (its start, then where its search left it), or ``views``."""
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    pan = {"which": which, "seconds": args.pan_seconds, "radius": 300, "period": 4}
    seen: dict[str, Any] = {"start": page.evaluate(VIEW, which)}
    if views:
        page.evaluate(GO, {"which": which, "view": views["start"]})
    page.wait_for_timeout(500)
    empty = frame_stats(page.evaluate(PAN, pan))
    if which == "gep":
        page.wait_for_selector(f"#collection option[value='{COLLECTION_ID}']", state="attached")
        page.select_option("#collection", COLLECTION_ID)
        loading = page.evaluate(GEP_SEARCH, n)
    else:
        loading = page.evaluate(PEER_SEARCH, [COLLECTION_ID, n])
    seen["searched"] = page.evaluate(VIEW, which)
    page.evaluate(GO, {"which": which, "view": (views or seen)["searched"]})
    page.wait_for_timeout(500)
    full = frame_stats(page.evaluate(PAN, pan))
    # and closer in, where the Geobrowser draws the footprints themselves (below zoom 4 it
    # draws crowds of more than 1 000 as clusters): over Europe, the archive's densest part
    page.evaluate(GO, {"which": which, "view": ZOOMED})
    page.wait_for_timeout(500)
    zoomed = frame_stats(page.evaluate(PAN, pan))
    page.evaluate(GO, {"which": which, "view": (views or seen)["searched"]})
    shots = HERE / "out"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / f"ui-{which}.png"))
    ctx.close()
    return {"empty": empty, "footprints": full, "zoomed": zoomed, "loading": loading,
            "errors": errors, "views": {**seen, "zoomed": ZOOMED}}  # fmt: skip


def fmt(ms: float | None) -> str:
    return "—" if ms is None else f"{ms:,.0f} ms".replace(",", " ")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--footprints", type=int, default=10_000, help="items in the catalogue")
    ap.add_argument("--loads", type=int, default=5, help="fresh page loads timed per map")
    ap.add_argument("--pan-seconds", type=float, default=5.0, help="seconds of panning")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    n = args.footprints
    if not (WEB / "dist" / "index.html").exists():
        raise SystemExit("the Geobrowser is not built: `make ui`")
    if not Path(CHROMIUM).exists():
        raise SystemExit("Debian's chromium is missing: `make chromium`")
    results: dict[str, Any] = {
        "footprints": n,
        "loads": args.loads,
        "pan_seconds": args.pan_seconds,
    }
    with tempfile.TemporaryDirectory(prefix="gep-bench-ui-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        peer_dir = Path(tmp) / "peer"
        peer_dir.mkdir()
        peer_folder(peer_dir)
        env = {"GEP_HOME": str(home), "GEP_DATABASE_URL": "", "GEP_DASK_SCHEDULER": ""}
        t = time.perf_counter()
        ingest_s = make_catalogue(home, env, n)
        print(f"catalogue: {n} items generated and ingested in {time.perf_counter() - t:.1f} s "
              f"(ingest {ingest_s:.1f} s)")  # fmt: skip
        with running_gep(env) as base, static_server(peer_dir) as static:
            r = httpx.post(f"{base}/stac/search", json={"collections": [COLLECTION_ID], "limit": 1})
            matched = r.json().get("numberMatched")
            print(f"anonymous search: numberMatched = {matched}")
            if matched != n:
                raise SystemExit(f"anonymous search matched {matched}, not {n}")
            httpx.get(f"{base}/ui/")  # warm the server (imports, first static answer)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                # the Geobrowser's map size, for the peer's map
                ctx = browser.new_context(viewport=VIEWPORT)
                page = ctx.new_page()
                page.goto(f"{base}/ui/")
                page.wait_for_selector("body[data-ready=true]", timeout=60_000)
                size = page.evaluate("(() => { const r = document.getElementById('map')"
                                     ".getBoundingClientRect(); return [Math.round(r.width), "
                                     "Math.round(r.height)]; })()")  # fmt: skip
                renderer = page.evaluate(
                    "(() => { const gl = window.gep.map.painter.context.gl;"
                    " const x = gl.getExtension('WEBGL_debug_renderer_info');"
                    " return x ? gl.getParameter(x.UNMASKED_RENDERER_WEBGL) : '?'; })()"
                )
                ctx.close()
                peer_url = f"{static}/index.html?api={base}&w={size[0]}&h={size[1]}&z=5"
                print(f"map {size[0]}×{size[1]} px; WebGL renderer: {renderer}")
                results["map_px"] = size
                results["webgl"] = renderer
                results["tti"] = {
                    "gep": time_to_interactive(browser, f"{base}/ui/", "gep-map-ready", args.loads),
                    "peer": time_to_interactive(browser, peer_url, "peer-map-ready", args.loads),
                }
                results["gep"] = run_side(browser, "gep", f"{base}/ui/", n, args)
                results["peer"] = run_side(
                    browser, "peer", peer_url, n, args, results["gep"]["views"]
                )
                results["chromium"] = browser.version
                browser.close()
    g, q, tg, tq = results["gep"], results["peer"], results["tti"]["gep"], results["tti"]["peer"]
    machine = f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print()
    print(f"machine: {machine}; chromium {results['chromium']} headless, WebGL on {renderer}; "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
    print(
        f"GEP: MapLibre GL JS {maplibre_version()}; peer: Leaflet {leaflet_version()} "
        f"(canvas renderer); {n} footprints; {args.loads} loads; {args.pan_seconds:g} s pans"
    )
    tti = f"≤ {TTI_TARGET_MS:.0f} ms"
    rows: list[tuple[str, str, str, str]] = []
    for label, key in (
        ("DOMContentLoaded", "dcl"),
        ("map ready", "map"),
        ("all panels ready", "body"),
    ):
        for stat in ("median", "worst"):
            a, b = tg[key][f"{stat}_ms"], tq[key][f"{stat}_ms"]
            rows.append((f"time to {label}, {stat}", fmt(a), fmt(b), "—" if key == "dcl" else tti))
    for label, key in (("all loaded", "loaded_ms"), ("drawn", "drawn_ms")):
        rows.append((f"{n} footprints: Search → {label}",
                     fmt(g["loading"][key]), fmt(q["loading"][key]), "—"))  # fmt: skip
    for label, side in (
        ("basemap only", "empty"),
        (f"{n} footprints, world", "footprints"),
        (f"{n} footprints, zoom 5", "zoomed"),
    ):
        a, b = g[side], q[side]
        full = side != "empty"
        for stat, name in (("median_ms", "median"), ("p95_ms", "p95"), ("max_ms", "max")):
            target = f"≤ {FRAME_P95_TARGET_MS:.0f} ms" if full and stat == "p95_ms" else "—"
            rows.append((f"pan, {label}: frame time {name}",
                         f"{a[stat]:.1f} ms", f"{b[stat]:.1f} ms", target))  # fmt: skip
        rows.append((f"pan, {label}: frames per second",
                     f"{a['fps']:.1f}", f"{b['fps']:.1f}", "≥ 30" if full else "—"))  # fmt: skip
    print()
    print("| figure | GEP (MapLibre, WebGL) | Leaflet (canvas) | target |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    met_tti = tg["map"]["worst_ms"] <= TTI_TARGET_MS and tg["body"]["worst_ms"] <= TTI_TARGET_MS
    met_pan = max(g["footprints"]["p95_ms"], g["zoomed"]["p95_ms"]) <= FRAME_P95_TARGET_MS
    print(f"interactive within {TTI_TARGET_MS / 1000:g} s (every load, all panels): "
          f"{'met' if met_tti else 'NOT met'}")  # fmt: skip
    print(f"smooth pan with {n} footprints (p95 ≤ {FRAME_P95_TARGET_MS:g} ms): "
          f"{'met' if met_pan else 'NOT met'}")  # fmt: skip
    print(f"footprints the map holds after the search (the clusters' counts at world view; "
          f"tiled: one crossing tiles counts more than once): {g['loading']['features']}; "
          f"peer: {q['loading']['features']}")  # fmt: skip
    for k, v in g["views"].items():
        print(f"pan from ({k}): centre {v['lng']:.2f}, {v['lat']:.2f}, MapLibre zoom "
              f"{v['zoom']:.2f} (Leaflet {v['zoom'] + 1:.2f})")  # fmt: skip
    for side in ("gep", "peer"):
        if results[side]["errors"]:
            print(f"{side} page errors: {results[side]['errors']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
