// Thematic entry points: the systematic layers (collections layer-<subscription>) and the
// subscriptions the caller may see, each openable on the map with its time slider.
import { api, errorText } from "../api.js";
import { el, on, toast } from "../state.js";
import { addItem } from "./layers.js";

const panel = () => document.getElementById("panel-thematic");

export function initThematic() {
  panel().append(el("h2", { text: "Systematic layers" }), el("div", { id: "thematic-layers" }),
    el("h3", { text: "Subscriptions" }), el("div", { id: "thematic-subs" }));
  on("signed-in", refresh);
  refresh();
}

async function refresh() {
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
