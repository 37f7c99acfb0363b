// Results on the map: a STAC item's renders as raster tile layers with their legend, opacity,
// a swipe to compare two layers, a time slider over dated renders (an sbas result's
// displacement_<date>) or over the items of a systematic layer; a click on a time-series
// layer draws the chart; vector assets drawn with popups; download links; sharing and the
// permalink that opens the map on the layer.
import { Map as MapLibre } from "maplibre-gl";
import Compare from "@maplibre/maplibre-gl-compare";
import { api, apiUrl, errorText } from "../api.js";
import { basemapStyle, fitBbox, map, popup } from "../map.js";
import { el, on, safeHref, state, toast } from "../state.js";
import { showTab } from "../tabs.js";
import { showSeries } from "../chart.js";

const panel = () => document.getElementById("panel-layers");
const PREFERRED = ["los_displacement", "velocity", "displacement", "hotspots", "offsets", "coherence"];
const DATED = /^(.*)_(\d{4}-\d{2}-\d{2})$/;
export const layers = []; // {id, item, render, renders, dates, series, opacity, collectionItems}
let compare = null;
let afterMap = null;

export function initLayers() {
  panel().append(
    el("h2", { text: "Layers on the map" }),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "layer-add", text: "Add a result (collection/item id)" }),
        el("input", { id: "layer-add", type: "text", placeholder: "e.g. sbas/sbas-mexico-city-2018" })),
      el("button", { type: "button", text: "Add", onclick: () => addItem(document.getElementById("layer-add").value.trim()) })),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "layer-url", text: "Or a web map layer: XYZ template or WMTS capabilities URL" }),
        el("input", { id: "layer-url", type: "url", placeholder: "https://…/{z}/{x}/{y}.png or …/WMTSCapabilities.xml" })),
      el("button", { type: "button", text: "Add", "aria-label": "Add the web map layer", onclick: () => addWebLayer(document.getElementById("layer-url").value.trim()) })),
    el("div", { id: "layer-list" }),
    el("h3", { text: "Compare two layers" }),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "swipe-right", text: "Right of the swipe" }), el("select", { id: "swipe-right" })),
      el("button", { id: "swipe-toggle", type: "button", text: "Swipe" })),
    el("label", { for: "swipe-pos", text: "Swipe position" }),
    el("input", { id: "swipe-pos", type: "range", min: 0, max: 100, value: 50, disabled: true }),
  );
  document.getElementById("swipe-toggle").addEventListener("click", toggleSwipe);
  document.getElementById("swipe-pos").addEventListener("input", (e) => {
    if (compare) compare.setSlider((map.getContainer().clientWidth * Number(e.target.value)) / 100);
  });
  on("map-click", clickSeries);
  on("show-item", (item) => addItem(`${item.collection}/${item.id}`));
  renderList();
}

function pickRender(renders) {
  const names = Object.keys(renders);
  return PREFERRED.find((n) => names.includes(n)) || names.find((n) => !DATED.test(n)) || names[0];
}

function tileUrl(item, render) {
  const r = item.properties.renders[render];
  const params = new URLSearchParams();
  for (const a of r.assets) params.append("assets", a);
  if (r.rescale) params.set("rescale", r.rescale.map((x) => x.join(",")).join(";"));
  for (const k of ["colormap_name", "nodata", "resampling", "expression", "bidx"]) if (r[k] !== undefined) params.set(k, Array.isArray(r[k]) ? r[k].join(",") : r[k]);
  if (r.colormap) params.set("colormap", JSON.stringify(r.colormap));
  const base = apiUrl(`/stac/collections/${encodeURIComponent(item.collection)}/items/${encodeURIComponent(item.id)}/tiles/WebMercatorQuad/`);
  return `${base}{z}/{x}/{y}.png?${params}`;
}

async function legendOf(item, render) {
  const r = item.properties.renders[render];
  const params = { assets: r.assets[0], f: "json" };
  if (r.colormap_name) params.colormap_name = r.colormap_name;
  if (r.rescale) params.rescale = r.rescale.map((x) => x.join(",")).join(";");
  return api(`/stac/collections/${encodeURIComponent(item.collection)}/items/${encodeURIComponent(item.id)}/legend`, { params });
}

// an item (collection/id) onto the map, with one of its renders
export async function addItem(key, render, options = {}) {
  const [collection, ...rest] = key.split("/");
  const id = rest.join("/");
  if (!collection || !id) { toast("Name the result as collection/item id"); return null; }
  let item;
  try {
    item = await api(`/stac/collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(id)}`);
  } catch (e) { toast(errorText(e)); return null; }
  const layer = { id: `result-${layers.length + 1}-${Date.now() % 100000}`, item, opacity: options.opacity ?? 0.85, collectionItems: options.collectionItems || null };
  const renders = item.properties.renders || item.renders || {};
  layer.renders = renders;
  layer.render = render && renders[render] ? render : pickRender(renders);
  const dated = {};
  for (const n of Object.keys(renders)) { const m = DATED.exec(n); if (m) (dated[m[1]] ||= []).push(m[2]); }
  const prefix = layer.render && DATED.exec(layer.render)?.[1];
  // assets=<prefix> for the time series: a prefix with two dates at least (one dated mask is
  // not a series)
  layer.series = Object.keys(dated).find((k) => dated[k].length > 1) || null;
  layer.dates = prefix ? dated[prefix].sort() : (layer.series ? dated[layer.series].sort() : []);
  layers.push(layer);
  if (layer.render) await draw(layer);
  await drawVectors(layer);
  if (!options.keepView) fitBbox(item.bbox);
  renderList();
  showTab("layers");
  return layer;
}

// WebMercatorQuad (OGC) and GoogleMapsCompatible (its WMTS 1.0 well-known name) are the
// tile grids MapLibre draws; a WMTS layer without one is refused with that reason
const WEB_MERCATOR = /WebMercatorQuad|GoogleMapsCompatible|EPSG:3857|EPSG:900913/i;

async function wmtsTemplate(url) {
  const res = await fetch(url, { credentials: "same-origin" });
  if (!res.ok) throw new Error(`the capabilities answered HTTP ${res.status}`);
  const xml = new DOMParser().parseFromString(await res.text(), "application/xml");
  if (xml.querySelector("parsererror")) throw new Error("the capabilities are not XML");
  const sets = new Map();
  for (const tms of xml.querySelectorAll("Contents > TileMatrixSet")) {
    const id = tms.querySelector(":scope > Identifier")?.textContent.trim();
    const wk = tms.querySelector(":scope > WellKnownScaleSet")?.textContent || "";
    const crs = tms.querySelector(":scope > SupportedCRS")?.textContent || "";
    if (id) sets.set(id, WEB_MERCATOR.test(`${id} ${wk} ${crs}`));
  }
  for (const layerNode of xml.querySelectorAll("Contents > Layer")) {
    const links = [...layerNode.querySelectorAll("TileMatrixSetLink > TileMatrixSet")].map((n) => n.textContent.trim());
    const tms = links.find((t) => sets.get(t) || WEB_MERCATOR.test(t));
    const resource = [...layerNode.querySelectorAll("ResourceURL")].find((r) => r.getAttribute("resourceType") === "tile");
    if (!tms || !resource) continue;
    const style = layerNode.querySelector("Style[isDefault='true'] > Identifier, Style > Identifier")?.textContent.trim() || "default";
    const title = layerNode.querySelector(":scope > Title")?.textContent.trim() || "WMTS layer";
    const template = resource.getAttribute("template").replace("{TileMatrixSet}", tms).replace("{Style}", style)
      .replace("{TileMatrix}", "{z}").replace("{TileRow}", "{y}").replace("{TileCol}", "{x}");
    const lower = layerNode.querySelector("WGS84BoundingBox > LowerCorner")?.textContent.trim().split(/\s+/).map(Number);
    const upper = layerNode.querySelector("WGS84BoundingBox > UpperCorner")?.textContent.trim().split(/\s+/).map(Number);
    return { template, title, bbox: lower && upper ? [...lower, ...upper] : null };
  }
  throw new Error("no layer of these capabilities has a Web Mercator tile matrix set and a tile ResourceURL");
}

// an external layer: an XYZ template as it is, or the first Web Mercator layer of a WMTS
async function addWebLayer(url) {
  if (!url) { toast("Give an XYZ template or a WMTS capabilities URL"); return null; }
  let spec;
  try {
    spec = /\{z\}/.test(url) && /\{x\}/.test(url) && /\{y\}/.test(url)
      ? { template: url, title: new URL(url.replace(/[{}]/g, "")).host, bbox: null }
      : await wmtsTemplate(url);
  } catch (e) { toast(`Not a layer: ${errorText(e)}`); return null; }
  const bbox = spec.bbox || [-180, -85, 180, 85];
  const item = { id: spec.title, collection: "web", bbox, assets: {}, properties: { title: spec.title, renders: {} } };
  const layer = { id: `web-${layers.length + 1}-${Date.now() % 100000}`, item, opacity: 0.85, renders: {}, render: null, dates: [], series: null, web: spec.template };
  map.addSource(`${layer.id}-src`, { type: "raster", tiles: [spec.template], tileSize: 256, bounds: bbox });
  map.addLayer({ id: layer.id, type: "raster", source: `${layer.id}-src`, paint: { "raster-opacity": layer.opacity, "raster-fade-duration": 0 } }, "area-line");
  layers.push(layer);
  if (spec.bbox) fitBbox(spec.bbox);
  renderList();
  return layer;
}

async function draw(layer) {
  const src = `${layer.id}-src`;
  if (map.getLayer(layer.id)) map.removeLayer(layer.id);
  if (map.getSource(src)) map.removeSource(src);
  const [w, s, e, n] = layer.item.bbox;
  map.addSource(src, { type: "raster", tiles: [tileUrl(layer.item, layer.render)], tileSize: 256, bounds: [w, s, e, n], attribution: "GEP" });
  map.addLayer({ id: layer.id, type: "raster", source: src, paint: { "raster-opacity": layer.opacity, "raster-fade-duration": 0 } }, "area-line"); // over the footprints and the area's fill
  try {
    layer.legend = await legendOf(layer.item, layer.render);
  } catch (e) { layer.legend = null; }
  renderLegends();
}

async function drawVectors(layer) {
  const vectors = Object.entries(layer.item.assets || {}).filter(([, a]) => /geo\+json|application\/json/.test(a.type || "") && (a.roles || []).includes("data"));
  for (const [key] of vectors) {
    let fc;
    try {
      fc = await api(`/stac/collections/${encodeURIComponent(layer.item.collection)}/items/${encodeURIComponent(layer.item.id)}/vector/features`, { params: { assets: key, limit: 5000 } });
    } catch { continue; }
    const id = `${layer.id}-v-${key}`;
    map.addSource(id, { type: "geojson", data: fc });
    map.addLayer({ id: `${id}-fill`, type: "fill", source: id, filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": "#d62728", "fill-opacity": 0.3 } });
    map.addLayer({ id: `${id}-line`, type: "line", source: id, filter: ["!=", ["geometry-type"], "Point"], paint: { "line-color": "#d62728", "line-width": 1.5 } });
    map.addLayer({ id: `${id}-pt`, type: "circle", source: id, filter: ["==", ["geometry-type"], "Point"], paint: { "circle-color": "#d62728", "circle-radius": 5, "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
    (layer.vectors ||= []).push(id);
    for (const sub of ["fill", "line", "pt"]) {
      map.on("click", `${id}-${sub}`, (e) => {
        const props = e.features[0].properties;
        popup(e.lngLat, el("table", {}, el("caption", { text: key }), ...Object.entries(props).slice(0, 20).map(([k, v]) => el("tr", {}, el("th", { scope: "row", text: k }), el("td", { text: String(v) })))));
      });
    }
  }
}

function setOpacity(layer, v) {
  layer.opacity = v;
  if (map.getLayer(layer.id)) map.setPaintProperty(layer.id, "raster-opacity", v);
  if (afterMap?.getLayer(layer.id)) afterMap.setPaintProperty(layer.id, "raster-opacity", v);
}

export function removeLayer(layer) {
  if (map.getLayer(layer.id)) map.removeLayer(layer.id);
  if (map.getSource(`${layer.id}-src`)) map.removeSource(`${layer.id}-src`);
  for (const id of layer.vectors || []) {
    for (const sub of ["fill", "line", "pt"]) if (map.getLayer(`${id}-${sub}`)) map.removeLayer(`${id}-${sub}`);
    map.removeSource(id);
  }
  layers.splice(layers.indexOf(layer), 1);
  renderList();
  renderLegends();
}

function renderLegends() {
  const box = document.getElementById("legends");
  box.replaceChildren(...layers.filter((l) => l.legend && l.legend.stops).map((l) => {
    const stops = l.legend.stops;
    const lo = stops[0].value, hi = stops[stops.length - 1].value;
    const ramp = stops.map((s) => `${s.color.slice(0, 7)} ${(((s.value - lo) / (hi - lo || 1)) * 100).toFixed(1)}%`).join(", ");
    const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toPrecision(2));
    return el("figure", { class: "legend", "data-layer": l.id, "data-render": l.render, style: "margin:0" },
      el("figcaption", { text: l.legend.title || l.render }),
      el("div", { class: "ramp", role: "img", "aria-label": `colour ramp from ${fmt(lo)} to ${fmt(hi)} ${l.legend.unit || ""}`, style: `background: linear-gradient(to right, ${ramp})`, "data-colors": stops.map((s) => s.color.slice(0, 7)).join(" ") }),
      el("div", { class: "ticks" }, el("span", { text: fmt(lo) }), el("span", { text: fmt((lo + hi) / 2) }), el("span", { text: `${fmt(hi)} ${l.legend.unit || ""}` })));
  }));
}

function renderList() {
  const box = document.getElementById("layer-list");
  if (!box) return;
  if (!layers.length) { box.replaceChildren(el("p", { class: "muted", text: "No layer yet: “Show results” on a job, a systematic layer from Thematic, or a result's id above." })); }
  else box.replaceChildren(...layers.map(layerCard));
  const sel = document.getElementById("swipe-right");
  sel.replaceChildren(...layers.map((l) => el("option", { value: l.id, text: l.web ? l.item.id : `${l.item.id} · ${l.render}` })));
}

function layerCard(layer) {
  const item = layer.item;
  if (layer.web) {
    return el("div", { class: "card", "data-layer": layer.id, "data-web": layer.web },
      el("h3", { text: item.properties.title }),
      el("div", { class: "muted", text: layer.web }),
      el("label", { for: `${layer.id}-opacity`, text: "Opacity" }),
      el("input", { id: `${layer.id}-opacity`, type: "range", min: 0, max: 1, step: 0.05, value: layer.opacity, oninput: (e) => setOpacity(layer, Number(e.target.value)) }),
      el("div", { class: "row" }, el("button", { type: "button", text: "Remove", "aria-label": `Remove ${item.id} from the map`, onclick: () => removeLayer(layer) })));
  }
  const rid = `${layer.id}-render`;
  const oid = `${layer.id}-opacity`;
  const card = el("div", { class: "card", "data-layer": layer.id, "data-item": `${item.collection}/${item.id}` },
    el("h3", { text: item.properties.title || item.id }),
    el("div", { class: "muted", text: `${item.collection}/${item.id}` }),
    el("label", { for: rid, text: "Show" }),
    el("select", { id: rid, onchange: (e) => { layer.render = e.target.value; draw(layer).then(renderList); } },
      ...Object.entries(layer.renders).filter(([n]) => !DATED.test(n) || n === layer.render || !layer.dates.length)
        .map(([n, r]) => el("option", { value: n, selected: n === layer.render, text: r.title || n }))),
    el("label", { for: oid, text: "Opacity" }),
    el("input", { id: oid, type: "range", min: 0, max: 1, step: 0.05, value: layer.opacity, oninput: (e) => setOpacity(layer, Number(e.target.value)) }),
  );
  if (layer.dates.length > 1 && layer.series) card.append(dateSlider(layer));
  if (layer.collectionItems && layer.collectionItems.length > 1) card.append(itemSlider(layer));
  if (layer.series) card.append(el("p", { class: "muted", text: "Click a pixel of this layer on the map for its displacement time series." }));
  const downloads = Object.entries(item.assets || {}).filter(([, a]) => safeHref(a.href));
  card.append(el("details", {}, el("summary", { text: `Downloads (${downloads.length})` }),
    el("ul", {}, ...downloads.map(([k, a]) => el("li", {}, el("a", { href: safeHref(a.href), download: "", text: a.title || k }), el("span", { class: "muted", text: ` ${a.type || ""}` }))))));
  card.append(shareBox(layer));
  card.append(el("div", { class: "row" },
    el("button", { type: "button", text: "Zoom to", onclick: () => fitBbox(item.bbox) }),
    el("button", { type: "button", text: "Remove", "aria-label": `Remove ${item.id} from the map`, onclick: () => removeLayer(layer) })));
  return card;
}

function dateSlider(layer) {
  const id = `${layer.id}-date`;
  const current = DATED.exec(layer.render)?.[2];
  const idx = Math.max(0, layer.dates.indexOf(current));
  const label = el("output", { for: id, id: `${id}-out`, text: current || `move for the ${layer.series} of each date` });
  return el("div", {},
    el("label", { for: id, text: "Date" }),
    el("input", { id, type: "range", min: 0, max: layer.dates.length - 1, step: 1, value: current ? idx : 0,
      oninput: (e) => {
        const d = layer.dates[Number(e.target.value)];
        label.textContent = d;
        layer.render = `${layer.series}_${d}`;
        draw(layer);
      } }),
    label);
}

// a systematic layer: one item per date, the slider moves between them
function itemSlider(layer) {
  const id = `${layer.id}-item`;
  const items = layer.collectionItems;
  const idx = Math.max(0, items.findIndex((i) => i.id === layer.item.id));
  const label = el("output", { id: `${id}-out`, text: (items[idx].properties.datetime || "").slice(0, 10) });
  return el("div", {},
    el("label", { for: id, text: "Date of the layer" }),
    el("input", { id, type: "range", min: 0, max: items.length - 1, step: 1, value: idx,
      onchange: async (e) => {
        const next = items[Number(e.target.value)];
        label.textContent = (next.properties.datetime || "").slice(0, 10);
        try {
          layer.item = await api(`/stac/collections/${encodeURIComponent(next.collection)}/items/${encodeURIComponent(next.id)}`);
          layer.renders = layer.item.properties.renders || {};
          if (!layer.renders[layer.render]) layer.render = pickRender(layer.renders);
          if (layer.render) await draw(layer);
        } catch (err) { toast(errorText(err)); }
      } }),
    label);
}

function shareBox(layer) {
  const job = layer.item.properties["gep:job"];
  const sub = layer.item.collection.startsWith("layer-") ? layer.item.collection.slice(6) : null;
  const id = `${layer.id}-share`;
  const status = el("span", { class: "muted", "aria-live": "polite" });
  // anonymous, or a result no job or subscription made: the permalink only (the server says
  // whether a signed-in caller may share: only an owner or an administrator may)
  if (!state.me || !(job || sub)) {
    return el("div", { class: "share" },
      el("div", { class: "row" },
        el("input", { type: "text", readonly: true, "aria-label": "Permalink", class: "permalink", value: permalink(layer) }),
        el("button", { type: "button", text: "Copy link", onclick: (e) => copyLink(e, layer) })));
  }
  const box = el("div", { class: "share" },
    el("label", { for: id, text: "Share" }),
    el("div", { class: "row" },
      el("select", { id }, ...["private", "public", ...((state.me?.groups) || []).map((g) => `group:${g}`)].map((v) => el("option", { value: v, text: v }))),
      el("button", { type: "button", text: "Apply", disabled: !(job || sub) || !state.me,
        onclick: async () => {
          const visibility = document.getElementById(id).value;
          try {
            if (job) await api(`/jobs/${encodeURIComponent(job)}`, { method: "PATCH", body: { visibility } });
            else await api(`/subscriptions/${encodeURIComponent(sub)}`, { method: "PATCH", body: { visibility }, headers: { "Content-Type": "application/merge-patch+json" } });
            status.textContent = `now ${visibility}`;
            toast(`Shared: ${visibility}`);
          } catch (e) { status.textContent = errorText(e); }
        } })),
    el("div", { class: "row" },
      el("input", { type: "text", readonly: true, "aria-label": "Permalink", class: "permalink", value: permalink(layer) }),
      el("button", { type: "button", text: "Copy link", onclick: (e) => copyLink(e, layer) })),
    status);
  return box;
}

async function copyLink(e, layer) {
  const input = e.target.closest(".share").querySelector(".permalink");
  input.value = permalink(layer);
  try { await navigator.clipboard.writeText(input.value); toast("Link copied"); } catch { input.select(); toast("Select and copy the link"); }
}

export function permalink(layer) {
  const c = map.getCenter();
  const h = new URLSearchParams({ item: `${layer.item.collection}/${layer.item.id}`, render: layer.render, map: `${map.getZoom().toFixed(2)}/${c.lat.toFixed(5)}/${c.lng.toFixed(5)}` });
  return `${location.origin}${location.pathname}#${h}`;
}

async function clickSeries(lngLat) {
  const layer = [...layers].reverse().find((l) => l.series && inside(l.item.bbox, lngLat));
  if (!layer) return;
  const path = `/stac/collections/${encodeURIComponent(layer.item.collection)}/items/${encodeURIComponent(layer.item.id)}/timeseries`;
  const params = { lon: lngLat.lng.toFixed(6), lat: lngLat.lat.toFixed(6), assets: layer.series };
  try {
    const ts = await api(path, { params });
    showSeries(ts, apiUrl(path, { ...params, f: "csv" }), layer.item.properties.title || layer.item.id);
  } catch (e) { toast(errorText(e)); }
}

function inside(bbox, p) {
  return p.lng >= bbox[0] && p.lng <= bbox[2] && p.lat >= bbox[1] && p.lat <= bbox[3];
}

function toggleSwipe() {
  const button = document.getElementById("swipe-toggle");
  const pos = document.getElementById("swipe-pos");
  if (compare) {
    compare.remove();
    afterMap.remove();
    document.getElementById("map-after").remove();
    compare = null; afterMap = null;
    for (const l of layers) if (map.getLayer(l.id)) map.setLayoutProperty(l.id, "visibility", "visible");
    button.textContent = "Swipe"; pos.disabled = true;
    return;
  }
  const right = layers.find((l) => l.id === document.getElementById("swipe-right").value);
  if (!right) { toast("Add two layers first"); return; }
  const wrap = document.querySelector(".mapwrap");
  const holder = el("div", { id: "map-after", style: "position:absolute;inset:0" });
  wrap.insertBefore(holder, document.getElementById("legends"));
  afterMap = new MapLibre({ container: holder, style: basemapStyle(), center: map.getCenter(), zoom: map.getZoom(), attributionControl: false, fadeDuration: 0, renderWorldCopies: false, canvasContextAttributes: { preserveDrawingBuffer: true } });
  afterMap.on("load", () => {
    afterMap.getSource("land").setData("basemap/land.geojson"); // its 1:50m at once: it is zoomed in
    afterMap.getSource("borders").setData("basemap/borders.geojson");
    afterMap.addSource(`${right.id}-src`, { type: "raster", tiles: [right.web || tileUrl(right.item, right.render)], tileSize: 256, bounds: right.item.bbox });
    afterMap.addLayer({ id: right.id, type: "raster", source: `${right.id}-src`, paint: { "raster-opacity": right.opacity } });
  });
  map.setLayoutProperty(right.id, "visibility", "none"); // left: every layer but the right one
  compare = new Compare(map, afterMap, wrap, {});
  // a drag of the handle moves the "Swipe position" range with it
  compare.on("slideend", (e) => { pos.value = String(Math.round((100 * e.currentPosition) / map.getContainer().clientWidth)); });
  button.textContent = "End swipe"; pos.disabled = false; pos.value = 50;
}
