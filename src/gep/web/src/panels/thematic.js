// Thematic entry points: the thematic apps (GET /apps: bundles of collections, services,
// layers and areas; "Open" puts the map on the app's area with its layers and its services
// first in the processing panel), the systematic layers (collections layer-<subscription>) and
// the subscriptions the caller may see, each openable on the map with its time slider.
import { api, errorText } from "../api.js";
import { fitBbox } from "../map.js";
import { el, emit, on, state, toast } from "../state.js";
import { addItem } from "./layers.js";

const panel = () => document.getElementById("panel-thematic");

export function initThematic() {
  panel().append(el("h2", { text: "Thematic apps" }), el("div", { id: "thematic-apps" }),
    el("h2", { text: "Systematic layers" }), el("div", { id: "thematic-layers" }),
    el("h3", { text: "Subscriptions" }), el("div", { id: "thematic-subs" }));
  on("signed-in", refresh);
  refresh();
}

async function refreshApps() {
  const box = document.getElementById("thematic-apps");
  try {
    const list = (await api("/apps")).apps || [];
    box.replaceChildren(...(list.length ? list.map((a) => el("div", { class: "card", "data-app": a.id },
      el("h3", { text: a.title || a.id }),
      el("p", { class: "muted", text: a.description || "" }),
      el("div", { class: "muted", text: (a.services || []).map((s) => s.title || s.id).join(" · ") }),
      el("button", { type: "button", text: "Open", "aria-label": `Open the app ${a.title || a.id}`, onclick: () => openApp(a.id) }))) : [el("p", { class: "muted", text: "No thematic app you may see." })]));
  } catch (e) { box.textContent = errorText(e); }
}

export async function openApp(id) {
  try {
    const app = await api(`/apps/${encodeURIComponent(id)}`);
    state.appServices = (app.services || []).map((s) => s.id);
    emit("app-opened", app);
    for (const layer of app.layers || []) {
      if (layer.visible === false || layer.subscription) continue;
      if (layer.item) await addItem(`${layer.collection}/${layer.item}`);
      else await openLayer(layer.collection);
    }
    if (app.bbox) fitBbox(app.bbox); // last: adding a layer moves the map to it
    toast(`Opened ${app.title || app.id}`);
  } catch (e) { toast(errorText(e)); }
}

async function refresh() {
  refreshApps();
  const box = document.getElementById("thematic-layers");
  try {
    const cols = (await api("/stac/collections")).collections.filter((c) => c.id.startsWith("layer-") || (c.keywords || []).includes("gep:layer"));
    box.replaceChildren(...(cols.length ? cols.map((c) => el("div", { class: "card", "data-collection": c.id },
      el("h3", { text: c.title || c.id }),
      el("p", { class: "muted", text: c.description || "" }),
      el("button", { type: "button", text: "Open on the map", onclick: () => openLayer(c.id) }))) : [el("p", { class: "muted", text: "No systematic layer you may see." })]));
  } catch (e) { box.textContent = errorText(e); }
  const subs = document.getElementById("thematic-subs");
  try {
    const res = await api("/subscriptions", { params: { limit: 100 } });
    const list = res.subscriptions || [];
    subs.replaceChildren(...(list.length ? list.map((s) => el("div", { class: "card", "data-subscription": s.id },
      el("h4", { text: s.title || s.id }),
      el("div", { class: "muted", text: `${s.process} · ${s.state} · ${s.visibility || ""}` }),
      el("button", { type: "button", text: "Open its layer", onclick: () => openLayer(s.layer) }))) : [el("p", { class: "muted", text: "No subscription you may see." })]));
  } catch (e) { subs.textContent = errorText(e); }
}

export async function openLayer(collection) {
  try {
    const res = await api(`/stac/search`, { method: "POST", body: { collections: [collection], limit: 500, sortby: [{ field: "datetime", direction: "asc" }] } });
    if (!res.features.length) { toast(`${collection} has no product yet`); return; }
    const items = res.features;
    const last = items[items.length - 1];
    await addItem(`${last.collection}/${last.id}`, undefined, { collectionItems: items });
  } catch (e) { toast(errorText(e)); }
}
