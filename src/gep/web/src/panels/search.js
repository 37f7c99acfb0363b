// Search: an area (drawn, uploaded, or a gazetteer place / volcano / plate / named area with
// suggestions as one types), a date range with the data-density histogram, a collection and
// the filters its queryables offer; results as a paged list with quicklooks and as footprints
// on the map (all matches up to 10 000), hover and selection linked both ways; a basket.
import { api, errorText } from "../api.js";
import { fitBbox, hoverFootprint, map, selectFootprint, setFootprints, showArea } from "../map.js";
import { basketAdd, basketRemove, el, emit, itemKey, on, safeHref, setArea, slim, state, toast } from "../state.js";

const PAGE = 20;
const FOOTPRINTS_MAX = 10000;
const FOOTPRINTS_PAGE = 2500;
const panel = () => document.getElementById("panel-search");
let collections = [];
let pageBodies = []; // the POST bodies of the pages seen (for "previous")
let current = []; // the features of the page on show
let footprintsRun = 0;

export async function initSearch() {
  const p = panel();
  p.append(
    el("h2", { text: "Find products" }),
    el("label", { for: "gaz", text: "Place, volcano, plate or named area" }),
    el("input", {
      id: "gaz", type: "search", role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false",
      "aria-controls": "gaz-list", autocomplete: "off", placeholder: "e.g. Rome, Etna, Nazca",
    }),
    el("ul", { id: "gaz-list", class: "suggest", role: "listbox", "aria-label": "Suggestions", hidden: true }),
    el("label", { for: "radius", text: "Around a place that is a point" }),
    el("select", { id: "radius" }, ...[0, 5, 10, 25, 50, 100].map((km) =>
      el("option", { value: km, selected: km === 10, text: km ? `within ${km} km` : "the point only" }))),
    el("label", { for: "area-file", text: "Area from a file (GeoJSON, KML, zipped Shapefile)" }),
    el("input", { id: "area-file", type: "file", accept: ".geojson,.json,.kml,.zip" }),
    el("p", { id: "area-label", class: "muted", text: "No area: the whole world. Draw one with the tools on the map." }),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "date-from", text: "Start date" }), el("input", { id: "date-from", type: "date" })),
      el("div", {}, el("label", { for: "date-to", text: "End date" }), el("input", { id: "date-to", type: "date" }))),
    el("div", { id: "histogram", class: "histogram", role: "img", "aria-label": "Products per month" }),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "slider-from", text: "First month" }), el("input", { id: "slider-from", type: "range", min: 0, max: 0, value: 0 })),
      el("div", {}, el("label", { for: "slider-to", text: "Last month" }), el("input", { id: "slider-to", type: "range", min: 0, max: 0, value: 0 }))),
    el("label", { for: "collection", text: "Collection" }),
    el("select", { id: "collection" }, el("option", { value: "", text: "All collections" })),
    el("div", { id: "filters" }),
    el("div", { class: "row" },
      el("button", { id: "search-go", class: "primary", type: "button", text: "Search" }),
      el("span", { id: "search-count", class: "muted", "aria-live": "polite" })),
    el("ul", { id: "results", class: "results", "aria-label": "Results" }),
    el("div", { class: "pager" },
      el("button", { id: "page-prev", type: "button", text: "Previous", disabled: true }),
      el("span", { id: "page-label", class: "muted" }),
      el("button", { id: "page-next", type: "button", text: "Next", disabled: true })),
    el("h3", { text: "Basket" }),
    el("p", { class: "muted", text: "Products kept across searches: drop them on a form's product fields, or use them for a pair search." }),
    el("ul", { id: "basket", class: "results", "aria-label": "Basket" }),
  );
  wireGazetteer();
  document.getElementById("area-file").addEventListener("change", (e) => loadAreaFile(e.target.files[0]));
  document.getElementById("search-go").addEventListener("click", () => search());
  document.getElementById("page-next").addEventListener("click", () => page(+1));
  document.getElementById("page-prev").addEventListener("click", () => page(-1));
  document.getElementById("collection").addEventListener("change", () => { showFilters(); histogram(); });
  for (const id of ["date-from", "date-to"]) document.getElementById(id).addEventListener("change", () => histogram());
  for (const id of ["slider-from", "slider-to"]) document.getElementById(id).addEventListener("input", sliderMoved);
  on("area", ({ geometry, label }) => {
    showArea(geometry);
    document.getElementById("area-label").textContent = geometry ? `Area: ${label}` : "No area: the whole world.";
    histogram();
  });
  on("footprint-hover", (key) => {
    for (const li of document.querySelectorAll("#results li")) li.classList.toggle("hover", li.dataset.key === key);
  });
  on("footprint-click", (key) => {
    const li = document.querySelector(`#results li[data-key="${CSS.escape(key)}"]`);
    if (li) { toggleSelected(li); li.scrollIntoView({ block: "nearest" }); li.querySelector("button")?.focus(); }
  });
  on("basket", renderBasket);
  renderBasket();
  histogram();
  try {
    collections = (await api("/stac/collections")).collections;
    const sel = document.getElementById("collection");
    for (const c of collections) sel.append(el("option", { value: c.id, text: c.title ? `${c.title} (${c.id})` : c.id }));
  } catch (e) { toast(errorText(e)); }
}

function wireGazetteer() {
  const input = document.getElementById("gaz");
  const list = document.getElementById("gaz-list");
  let timer = null;
  let active = -1;
  let features = [];
  const close = () => { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; };
  const mark = () => {
    [...list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
    if (active >= 0) input.setAttribute("aria-activedescendant", list.children[active].id);
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2) { close(); return; }
    timer = setTimeout(async () => {
      try {
        features = (await api("/gazetteer/search", { params: { q, limit: 8 } })).features;
      } catch (e) { features = []; toast(errorText(e)); }
      list.replaceChildren(...features.map((f, i) => el("li", {
        id: `gaz-${i}`, role: "option", "aria-selected": "false", "data-kind": f.properties.kind,
        onmousedown: (ev) => { ev.preventDefault(); choose(f); },
      }, `${f.properties.name}`, el("span", { class: "muted", text: ` — ${f.properties.kind}${f.properties.country ? `, ${f.properties.country}` : ""}` }))));
      list.hidden = features.length === 0;
      input.setAttribute("aria-expanded", String(!list.hidden));
      active = -1;
    }, 200);
  });
  input.addEventListener("keydown", (e) => {
    if (list.hidden) return;
    if (e.key === "ArrowDown") { active = Math.min(active + 1, features.length - 1); mark(); e.preventDefault(); }
    else if (e.key === "ArrowUp") { active = Math.max(active - 1, 0); mark(); e.preventDefault(); }
    else if (e.key === "Enter" && active >= 0) { choose(features[active]); e.preventDefault(); }
    else if (e.key === "Escape") close();
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
  function choose(f) {
    input.value = f.properties.name;
    close();
    let geometry = f.geometry;
    const km = Number(document.getElementById("radius").value);
    if (geometry.type === "Point" && km > 0) geometry = circle(geometry.coordinates, km);
    setArea(geometry, `${f.properties.name} (${f.properties.kind}${geometry !== f.geometry ? `, ${km} km around` : ""})`);
    fitBbox(bboxOf(geometry));
  }
}

// a 64-gon of radius km around [lon, lat] (spherical Earth: the search area, not a survey)
export function circle([lon, lat], km) {
  const ring = [];
  const dLat = km / 111.32;
  const dLon = dLat / Math.cos((lat * Math.PI) / 180);
  for (let i = 0; i <= 64; i++) {
    const a = (2 * Math.PI * i) / 64;
    ring.push([+(lon + dLon * Math.cos(a)).toFixed(5), +(lat + dLat * Math.sin(a)).toFixed(5)]);
  }
  ring[64] = ring[0];
  return { type: "Polygon", coordinates: [ring] };
}

export function bboxOf(geometry) {
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
  const walk = (c) => {
    if (typeof c[0] === "number") { w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]); }
    else c.forEach(walk);
  };
  if (geometry.type === "GeometryCollection") geometry.geometries.forEach((g) => walk(g.coordinates));
  else walk(geometry.coordinates);
  return [w, s, e, n];
}

async function loadAreaFile(file) {
  if (!file) return;
  try {
    let gj;
    const name = file.name.toLowerCase();
    if (name.endsWith(".kml")) {
      const { kml } = await import("@tmcw/togeojson");
      gj = kml(new DOMParser().parseFromString(await file.text(), "text/xml"));
    } else if (name.endsWith(".zip")) {
      const shp = (await import("shpjs")).default;
      gj = await shp(await file.arrayBuffer());
      if (Array.isArray(gj)) gj = gj[0];
    } else gj = JSON.parse(await file.text());
    const geoms = (gj.type === "FeatureCollection" ? gj.features.map((f) => f.geometry) : [gj.type === "Feature" ? gj.geometry : gj]).filter(Boolean);
    if (!geoms.length) throw new Error("the file holds no geometry");
    const geometry = geoms.length === 1 ? geoms[0] : { type: "GeometryCollection", geometries: geoms };
    setArea(geometry, `${file.name} (${geoms.length} shape${geoms.length > 1 ? "s" : ""})`);
    fitBbox(bboxOf(geometry));
  } catch (e) {
    toast(`Could not read ${file.name}: ${errorText(e)} (GeoJSON, KML or a zipped Shapefile are read)`);
  }
}

let filtersRun = 0;
function showFilters() {
  const run = ++filtersRun;
  const box = document.getElementById("filters");
  box.replaceChildren();
  const id = document.getElementById("collection").value;
  const url = id ? `/stac/collections/${encodeURIComponent(id)}/queryables` : "/stac/queryables";
  api(url).then((q) => {
    if (run !== filtersRun) return; // another collection was chosen meanwhile
    const props = q.properties || {};
    const fields = [];
    if (props.platform) fields.push(filterField("platform", "Mission / platform", "text", "e.g. sentinel-1a"));
    if (props["sar:product_type"]) fields.push(filterField("sar:product_type", "Product type", "text", "e.g. SLC, GRD"));
    if (props["sat:orbit_state"]) fields.push(filterField("sat:orbit_state", "Orbit direction", ["", "ascending", "descending"]));
    if (props["sat:relative_orbit"]) fields.push(filterField("sat:relative_orbit", "Relative orbit (track)", "number"));
    if (props["sar:polarizations"]) fields.push(filterField("sar:polarizations", "Polarisation", ["", "VV", "VH", "HH", "HV"]));
    if (props["eo:cloud_cover"]) fields.push(filterField("eo:cloud_cover", "Cloud cover at most (%)", "number"));
    box.replaceChildren(...fields);
  }).catch((e) => toast(errorText(e)));
}

function filterField(prop, label, kind, placeholder) {
  const id = `f-${prop.replace(/[^a-z0-9]/gi, "-")}`;
  const input = Array.isArray(kind)
    ? el("select", { id, "data-prop": prop }, ...kind.map((v) => el("option", { value: v, text: v || "any" })))
    : el("input", { id, type: kind, "data-prop": prop, placeholder, min: kind === "number" ? 0 : undefined });
  return el("div", {}, el("label", { for: id, text: label }), input);
}

// the CQL2-JSON filter the chosen values make
export function filterOf() {
  const args = [];
  for (const input of document.querySelectorAll("#filters [data-prop]")) {
    const v = input.value.trim();
    if (!v) continue;
    const prop = { property: input.dataset.prop };
    if (input.dataset.prop === "sar:polarizations") args.push({ op: "a_contains", args: [prop, [v]] });
    else if (input.dataset.prop === "eo:cloud_cover") args.push({ op: "<=", args: [prop, Number(v)] });
    else if (input.type === "number") args.push({ op: "=", args: [prop, Number(v)] });
    else args.push({ op: "=", args: [prop, v] });
  }
  if (!args.length) return null;
  return args.length === 1 ? args[0] : { op: "and", args };
}

function datetimeOf() {
  const a = document.getElementById("date-from").value;
  const b = document.getElementById("date-to").value;
  if (!a && !b) return null;
  return `${a ? `${a}T00:00:00Z` : ".."}/${b ? `${b}T23:59:59Z` : ".."}`;
}

function searchBody(extra = {}) {
  const body = { limit: PAGE, sortby: [{ field: "datetime", direction: "desc" }], ...extra };
  const coll = document.getElementById("collection").value;
  if (coll) body.collections = [coll];
  if (state.area) body.intersects = state.area;
  const dt = datetimeOf();
  if (dt) body.datetime = dt;
  const filter = filterOf();
  if (filter) { body.filter = filter; body["filter-lang"] = "cql2-json"; }
  return body;
}

export async function search() {
  pageBodies = [searchBody()];
  await showPage(pageBodies[0]);
  loadFootprints(searchBody({ limit: FOOTPRINTS_PAGE, fields: { include: ["id", "collection", "geometry", "properties.datetime"] } }));
}

async function page(step) {
  if (step < 0 && pageBodies.length > 1) { pageBodies.pop(); await showPage(pageBodies[pageBodies.length - 1]); return; }
  const next = page.next;
  if (step > 0 && next) { pageBodies.push(next); await showPage(next); }
}

async function showPage(body) {
  const count = document.getElementById("search-count");
  count.textContent = "Searching…";
  let res;
  try {
    res = await api("/stac/search", { method: "POST", body });
  } catch (e) { count.textContent = ""; toast(errorText(e)); return; }
  current = res.features;
  const next = (res.links || []).find((l) => l.rel === "next");
  page.next = next ? next.body : null;
  const n = res.numberMatched;
  const first = (pageBodies.length - 1) * PAGE;
  count.textContent = n === undefined ? `${current.length} shown` : `${n} product${n === 1 ? "" : "s"} found`;
  document.getElementById("page-label").textContent = current.length ? `${first + 1}–${first + current.length}` : "";
  document.getElementById("page-next").disabled = !next;
  document.getElementById("page-prev").disabled = pageBodies.length <= 1;
  document.getElementById("results").replaceChildren(...current.map(resultRow));
  if (pageBodies.length === 1 && !state.area) fitBbox(unionBbox(current)); // show what was found
}

function unionBbox(items) {
  const boxes = items.map((f) => f.bbox).filter((b) => Array.isArray(b) && b.length >= 4);
  if (!boxes.length) return null;
  const flat = boxes.map((b) => (b.length === 6 ? [b[0], b[1], b[3], b[4]] : b));
  return [Math.min(...flat.map((b) => b[0])), Math.min(...flat.map((b) => b[1])),
    Math.max(...flat.map((b) => b[2])), Math.max(...flat.map((b) => b[3]))];
}

function quicklook(item) {
  const a = item.assets || {};
  const thumb = Object.entries(a).find(([, v]) => (v.roles || []).includes("thumbnail"))
    || Object.entries(a).find(([, v]) => (v.roles || []).includes("overview"));
  return thumb ? safeHref(thumb[1].href) : null;
}

function resultRow(item) {
  const key = itemKey(item);
  const p = item.properties;
  const when = (p.datetime || p.start_datetime || "").slice(0, 19).replace("T", " ");
  const orbit = p["sat:relative_orbit"] !== undefined ? ` · track ${p["sat:relative_orbit"]} ${p["sat:orbit_state"] || ""}` : "";
  const src = quicklook(item);
  const li = el("li", { "data-key": key, "data-selected": "false" },
    src ? el("img", { src, alt: `Quicklook of ${item.id}`, loading: "lazy" }) : el("div", { class: "muted", style: "width:64px", text: "no quicklook" }),
    el("div", { class: "meta" },
      el("strong", { text: p.title || item.id }),
      el("div", { text: item.id }),
      el("div", { text: `${item.collection} · ${when}${orbit}` }),
      el("div", { class: "row" },
        el("button", { type: "button", text: "Select", "aria-label": `Select ${item.id}`, "aria-pressed": "false", onclick: () => toggleSelected(li) }),
        el("button", { type: "button", text: "Basket", "aria-label": `Add ${item.id} to the basket`, onclick: () => { basketAdd(item); toast(`${item.id} is in the basket`); } }),
        p.renders ? el("button", { type: "button", text: "Map", "aria-label": `Show ${item.id} on the map`, onclick: () => emit("show-item", item) })
          : el("button", { type: "button", text: "Pairs", "aria-label": `Interferometric pairs of ${item.id}`, onclick: () => emit("pair-search", item) }))));
  li.addEventListener("mouseenter", () => hoverFootprint(key));
  li.addEventListener("mouseleave", () => hoverFootprint(null));
  li.addEventListener("focusin", () => hoverFootprint(key));
  li.draggable = true;
  li.addEventListener("dragstart", (e) => e.dataTransfer.setData("application/x-gep-item", JSON.stringify(slim(item))));
  return li;
}

function toggleSelected(li) {
  const on_ = li.dataset.selected !== "true"; // aria-selected is not allowed on a plain li
  li.dataset.selected = String(on_);
  li.querySelector("button[aria-pressed]")?.setAttribute("aria-pressed", String(on_));
  li.classList.toggle("selected", on_);
  selectFootprint(li.dataset.key, on_);
  const item = current.find((f) => itemKey(f) === li.dataset.key);
  if (on_ && item) fitBbox(item.bbox);
}

// every match's footprint (up to 10 000), in big pages of trimmed features
async function loadFootprints(body) {
  const run = ++footprintsRun;
  const features = [];
  let next = body;
  while (next && features.length < FOOTPRINTS_MAX) {
    let res;
    try { res = await api("/stac/search", { method: "POST", body: next }); } catch (e) { toast(errorText(e)); return; }
    if (run !== footprintsRun) return;
    for (const f of res.features) {
      if (f.geometry) features.push({ type: "Feature", geometry: f.geometry, properties: { key: itemKey(f), id: f.id, collection: f.collection, datetime: f.properties?.datetime } });
    }
    const link = (res.links || []).find((l) => l.rel === "next");
    next = link ? link.body : null;
    // the first page at once, then the whole set once: each setData tiles all it is given
    if (features.length === res.features.length || !next || features.length >= FOOTPRINTS_MAX) setFootprints(features);
  }
  document.getElementById("map").dataset.footprints = String(features.length);
}

// months between the dates (or of the last two years), and how many products each holds
let bins = [];
let histogramRun = 0;
async function histogram() {
  const run = ++histogramRun;
  const box = document.getElementById("histogram");
  const a = document.getElementById("date-from").value;
  const b = document.getElementById("date-to").value;
  const end = b ? new Date(`${b}T00:00:00Z`) : new Date();
  const start = a ? new Date(`${a}T00:00:00Z`) : new Date(Date.UTC(end.getUTCFullYear() - 2, end.getUTCMonth(), 1));
  const months = [];
  for (let y = start.getUTCFullYear(), m = start.getUTCMonth(); Date.UTC(y, m, 1) <= end.getTime() && months.length < 60; m++) {
    months.push([new Date(Date.UTC(y, m, 1)), new Date(Date.UTC(y, m + 1, 1) - 1000)]);
  }
  const base = searchBody({ limit: 1, fields: { include: ["id"] } });
  const count = ([s, e]) =>
    api("/stac/search", { method: "POST", body: { ...base, datetime: `${s.toISOString().slice(0, 19)}Z/${e.toISOString().slice(0, 19)}Z` } })
      .then((r) => r.numberMatched || 0).catch(() => 0);
  // a few counts at a time (one search a month: not 25 at once on the server), dropped as
  // soon as a newer histogram is asked for
  const counts = [];
  for (let i = 0; i < months.length; i += 6) {
    counts.push(...(await Promise.all(months.slice(i, i + 6).map(count))));
    if (run !== histogramRun) return;
  }
  if (!months.length) return;
  bins = months;
  for (const id of ["slider-from", "slider-to"]) document.getElementById(id).max = String(bins.length - 1);
  document.getElementById("slider-from").value = "0";
  document.getElementById("slider-to").value = String(bins.length - 1);
  const max = Math.max(1, ...counts);
  const month = (i) => bins[i][0].toISOString().slice(0, 7);
  box.replaceChildren(...counts.map((c, i) => el("span", {
    style: `height:${(100 * c) / max}%`, title: `${month(i)}: ${c} product${c === 1 ? "" : "s"}`, "data-count": c,
  })));
  box.setAttribute("aria-label", `Products per month, ${month(0)} to ${month(bins.length - 1)}: ${counts.join(", ")}`);
}

function sliderMoved() {
  let i = Number(document.getElementById("slider-from").value);
  let j = Number(document.getElementById("slider-to").value);
  if (i > j) [i, j] = [j, i];
  if (!bins.length) return;
  document.getElementById("date-from").value = bins[i][0].toISOString().slice(0, 10);
  document.getElementById("date-to").value = bins[j][1].toISOString().slice(0, 10);
  [...document.getElementById("histogram").children].forEach((s, k) => { s.style.opacity = k >= i && k <= j ? "0.8" : "0.25"; });
}

function renderBasket() {
  const ul = document.getElementById("basket");
  if (!ul) return;
  ul.replaceChildren(...[...state.basket.values()].map((item) => {
    const key = itemKey(item);
    const li = el("li", { "data-key": key },
      el("div", { class: "meta" }, el("strong", { text: item.id }),
        el("div", { text: `${item.collection} · ${(item.properties.datetime || "").slice(0, 10)}` }),
        el("div", { class: "row" },
          el("button", { type: "button", text: "Show", onclick: () => fitBbox(item.bbox) }),
          el("button", { type: "button", text: "Pairs", onclick: () => emit("pair-search", item) }),
          el("button", { type: "button", text: "Remove", "aria-label": `Remove ${item.id} from the basket`, onclick: () => basketRemove(key) }))));
    li.draggable = true;
    li.addEventListener("dragstart", (e) => e.dataTransfer.setData("application/x-gep-item", JSON.stringify(item)));
    return li;
  }));
  if (!state.basket.size) ul.append(el("li", { class: "muted", text: "Empty" }));
}

