// Drawing the search area on the map: a box (press, drag, release), a polygon (click the
// corners, double-click or Enter to end, Escape to cancel) or a point. The drawn geometry
// becomes the search area (state.setArea).
import { map, showArea } from "./map.js";
import { setArea, state } from "./state.js";

let mode = null;
let points = [];
let start = null;

function buttons() {
  return document.querySelectorAll("#draw-tools button[data-draw]");
}

function setMode(next) {
  mode = next;
  state.drawing = Boolean(next);
  points = [];
  start = null;
  for (const b of buttons()) b.setAttribute("aria-pressed", String(b.dataset.draw === next));
  map.getCanvas().style.cursor = next ? "crosshair" : "";
  if (next === "box") map.dragPan.disable(); else map.dragPan.enable();
  if (next) map.doubleClickZoom.disable(); else map.doubleClickZoom.enable();
}

function boxGeometry(a, b) {
  const [w, e] = [Math.min(a.lng, b.lng), Math.max(a.lng, b.lng)];
  const [s, n] = [Math.min(a.lat, b.lat), Math.max(a.lat, b.lat)];
  return { type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] };
}

function round(c) {
  return [+c.lng.toFixed(6), +c.lat.toFixed(6)];
}

function finishPolygon() {
  if (points.length >= 3) {
    const ring = [...points, points[0]];
    setArea({ type: "Polygon", coordinates: [ring] }, "drawn polygon");
  }
  setMode(null);
}

export function initDraw() {
  for (const b of buttons()) {
    b.setAttribute("aria-pressed", "false");
    b.addEventListener("click", () => {
      if (b.dataset.draw === "clear") { setMode(null); setArea(null, ""); return; }
      setMode(mode === b.dataset.draw ? null : b.dataset.draw);
    });
  }
  map.on("mousedown", (e) => {
    if (mode !== "box") return;
    start = e.lngLat;
  });
  map.on("mousemove", (e) => {
    if (mode === "box" && start) showArea(boxGeometry(start, e.lngLat));
    if (mode === "polygon" && points.length) {
      const ring = [...points, round(e.lngLat), points[0]];
      showArea(points.length >= 2 ? { type: "Polygon", coordinates: [ring] } : { type: "LineString", coordinates: ring.slice(0, 2) });
    }
  });
  map.on("mouseup", (e) => {
    if (mode !== "box" || !start) return;
    const a = start;
    setMode(null);
    if (Math.abs(a.lng - e.lngLat.lng) > 1e-6 && Math.abs(a.lat - e.lngLat.lat) > 1e-6) {
      setArea(boxGeometry(a, e.lngLat), "drawn box");
    }
  });
  map.on("click", (e) => {
    if (mode === "point") { setArea({ type: "Point", coordinates: round(e.lngLat) }, "point"); setMode(null); }
    else if (mode === "polygon") points.push(round(e.lngLat));
  });
  map.on("dblclick", (e) => { if (mode === "polygon") { e.preventDefault(); finishPolygon(); } });
  document.addEventListener("keydown", (e) => {
    if (!mode) return;
    if (e.key === "Escape") { setMode(null); showArea(state.area); }
    if (e.key === "Enter" && mode === "polygon") finishPolygon();
  });
}
