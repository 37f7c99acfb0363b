// The Geobrowser's start: configuration, the map, the panels, then the permalink (if the
// address has one: #item=collection/id&render=name&map=zoom/lat/lon, or #layer=collection).
import { api, apiUrl } from "./api.js";
import { addHillshade, addOnlineBasemap, createMap, map, setOnlineBasemap } from "./map.js";
import { initDraw } from "./draw.js";
import { initTabs } from "./tabs.js";
import { initChart } from "./chart.js";
import { on, state } from "./state.js";
import { initSearch } from "./panels/search.js";
import { initInsar } from "./panels/insar.js";
import { initProcessing } from "./panels/processing.js";
import { initJobs } from "./panels/jobs.js";
import { initLayers, addItem } from "./panels/layers.js";
import { initThematic, openLayer } from "./panels/thematic.js";
import { initAccount } from "./panels/account.js";

function permalinkView() {
  const h = new URLSearchParams(location.hash.slice(1));
  const m = (h.get("map") || "").split("/").map(Number);
  return { item: h.get("item"), render: h.get("render"), layer: h.get("layer"), view: m.length === 3 && m.every(Number.isFinite) ? { zoom: m[0], lat: m[1], lon: m[2] } : null };
}

async function start() {
  const link = permalinkView();
  const config = api("ui/config.json").catch(() => ({})); // asked while the map starts
  createMap("map", link.view);
  window.gep = { map, state }; // for the console and the tests: the map's own state
  initTabs();
  initChart();
  await new Promise((resolve) => on("map-ready", resolve));
  state.config = await config;
  addOnlineBasemap(state.config.online_basemap);
  document.getElementById("map").dataset.ready = "true";
  performance.mark("gep-map-ready");
  initDraw();
  await initAccount();
  initSearch();
  initInsar();
  initProcessing();
  initJobs();
  initLayers();
  initThematic();
  if (state.config.online_basemap) addBasemapToggle();
  hillshades();
  if (link.item) await addItem(link.item, link.render, { keepView: Boolean(link.view) });
  else if (link.layer) await openLayer(link.layer);
  document.body.dataset.ready = "true";
}

// relief where GEP has a DEM (the demo's gep-dem collection, as the caller may see it)
async function hillshades() {
  let res;
  try {
    res = await api("/stac/search", { method: "POST", body: { collections: ["gep-dem"], limit: 100 } });
  } catch { return; } // no DEM collection, or none visible: the flat basemap
  for (const item of res.features) {
    const asset = item.assets?.dem ? "dem" : null;
    if (!asset) continue;
    addHillshade(item, asset, apiUrl(`/stac/collections/${encodeURIComponent(item.collection)}/items/${encodeURIComponent(item.id)}/tiles/WebMercatorQuad/`));
  }
}

function addBasemapToggle() {
  const tools = document.getElementById("draw-tools");
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = "Online basemap";
  b.setAttribute("aria-pressed", "false");
  b.addEventListener("click", () => {
    const on_ = b.getAttribute("aria-pressed") !== "true";
    b.setAttribute("aria-pressed", String(on_));
    setOnlineBasemap(on_);
  });
  tools.append(b);
}

start();
