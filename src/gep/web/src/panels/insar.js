// Interferometric search: the candidate pairs of a reference product (GET /insar/pairs), or
// the stack over the search area and its small-baseline network (POST /insar/stack,
// /insar/network), on a baseline–time plot; the chosen pairs go to a service's form.
import { api, errorText } from "../api.js";
import { scatter } from "../plot.js";
import { el, emit, on, state, toast } from "../state.js";
import { bboxOf } from "./search.js";
import { showTab } from "../tabs.js";

const panel = () => document.getElementById("panel-insar");
let pairs = []; // [{reference, secondary, bperp, btemp, datetime...}]
const chosen = new Set();

export function initInsar() {
  panel().append(
    el("h2", { text: "Interferometric search" }),
    el("p", { class: "muted", text: "Pick a reference product (“Pairs” in the search results or the basket) to see its candidate pairs, or build the stack and small-baseline network over the search area." }),
    el("label", { for: "insar-ref", text: "Reference product (collection/id)" }),
    el("input", { id: "insar-ref", type: "text", placeholder: "collection/item-id" }),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "insar-btemp", text: "Max temporal baseline (days)" }), el("input", { id: "insar-btemp", type: "number", min: 0, value: 48 })),
      el("div", {}, el("label", { for: "insar-bperp", text: "Max perpendicular baseline (m)" }), el("input", { id: "insar-bperp", type: "number", min: 0, value: 200 }))),
    el("div", { class: "row" },
      el("button", { id: "insar-pairs", class: "primary", type: "button", text: "Find pairs" }),
      el("button", { id: "insar-network", type: "button", text: "Stack & network of the area" })),
    el("p", { id: "insar-status", class: "muted", "aria-live": "polite" }),
    el("div", { id: "insar-plot" }),
    el("table", { id: "insar-table" }),
    el("div", { class: "row" },
      el("label", { for: "insar-service", text: "Service for the chosen pairs" }),
      el("select", { id: "insar-service" }, el("option", { value: "dinsar", text: "dinsar" }), el("option", { value: "coin", text: "coin" }))),
    el("button", { id: "insar-send", type: "button", class: "primary", disabled: true, text: "Open the chosen pair in the service's form" }),
  );
  document.getElementById("insar-pairs").addEventListener("click", findPairs);
  document.getElementById("insar-network").addEventListener("click", network);
  document.getElementById("insar-send").addEventListener("click", send);
  on("pair-search", (item) => {
    document.getElementById("insar-ref").value = `${item.collection}/${item.id}`;
    showTab("insar");
    findPairs();
  });
}

async function findPairs() {
  const ref = document.getElementById("insar-ref").value.trim();
  const status = document.getElementById("insar-status");
  if (!ref.includes("/")) { status.textContent = "Name the reference as collection/id."; return; }
  status.textContent = "Searching pairs…";
  try {
    const res = await api("/insar/pairs", { params: {
      reference: ref,
      max_btemp: document.getElementById("insar-btemp").value,
      max_bperp: document.getElementById("insar-bperp").value,
    } });
    pairs = res.pairs.map((p) => ({ ...p.dinsar_inputs, bperp: p.bperp, btemp: p.btemp, datetime: p.datetime, overlap: p.overlap }));
    status.textContent = `${res.numberMatched} candidate pair${res.numberMatched === 1 ? "" : "s"} for ${ref}${res.numberSkipped ? ` (${res.numberSkipped} skipped: no orbit)` : ""}`;
    chosen.clear();
    if (pairs.length) chosen.add(0);
    render(ref, res);
  } catch (e) { status.textContent = errorText(e); }
}

async function network() {
  const status = document.getElementById("insar-status");
  if (!state.area) { status.textContent = "Choose a search area first (Search panel)."; return; }
  status.textContent = "Building the stack and its network…";
  const coll = document.getElementById("collection")?.value;
  const stack = { aoi: bboxOf(state.area) };
  if (coll) stack.collections = [coll];
  try {
    const res = await api("/insar/network", { method: "POST", body: {
      stack, max_btemp: Number(document.getElementById("insar-btemp").value), max_bperp: Number(document.getElementById("insar-bperp").value),
    } });
    pairs = res.pairs.map((p) => ({ ...p.dinsar_inputs, bperp: p.bperp, btemp: p.btemp }));
    status.textContent = `${res.acquisitions?.length ?? "?"} acquisitions, ${pairs.length} pairs; ${res.connected ? "connected" : "not connected"}`;
    chosen.clear();
    renderNetwork(res);
  } catch (e) { status.textContent = errorText(e); }
}

function acqPoint(a, cls) {
  return { id: a.id, x: new Date(a.datetime), y: a.bperp, cls, label: `${a.id}: ${a.datetime?.slice(0, 10)}, B⊥ ${a.bperp?.toFixed(1)} m` };
}

function render(ref, res) {
  const refId = ref.split("/").slice(1).join("/");
  const refTime = res.pairs[0] ? new Date(Date.parse(res.pairs[0].datetime) - res.pairs[0].btemp * 86400e3) : new Date();
  const points = [{ id: refId, x: refTime, y: 0, cls: "reference", label: `${refId} (reference)` },
    ...res.pairs.map((p, i) => ({ id: p.id, x: new Date(p.datetime), y: p.bperp, cls: chosen.has(i) ? "selected" : "", label: `${p.id}: ${p.btemp} days, B⊥ ${p.bperp.toFixed(1)} m` }))];
  const lines = res.pairs.map((p, i) => [refId, p.id, chosen.has(i) ? "selected" : ""]);
  document.getElementById("insar-plot").replaceChildren(scatter({
    points, lines, xLabel: "acquisition date", yLabel: "B⊥ (m)",
    onClick: (pt) => { const i = res.pairs.findIndex((p) => p.id === pt.id); if (i >= 0) toggle(i, () => render(ref, res)); },
  }));
  table(() => render(ref, res));
}

function renderNetwork(res) {
  const acqs = res.acquisitions || [];
  const points = acqs.map((a) => acqPoint(a, ""));
  const lines = pairs.map((p, i) => [p.reference.split("/").pop(), p.secondary.split("/").pop(), chosen.has(i) ? "selected" : ""]);
  document.getElementById("insar-plot").replaceChildren(scatter({ points, lines, xLabel: "acquisition date", yLabel: "B⊥ (m)" }));
  table(() => renderNetwork(res));
}

function toggle(i, redraw) {
  if (chosen.has(i)) chosen.delete(i); else chosen.add(i);
  redraw();
}

function table(redraw) {
  const t = document.getElementById("insar-table");
  t.replaceChildren(
    el("caption", { class: "muted", text: "Pairs (choose with the boxes)" }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Use" }), el("th", { scope: "col", text: "Secondary" }), el("th", { scope: "col", text: "Days" }), el("th", { scope: "col", text: "B⊥ (m)" }))),
    el("tbody", {}, ...pairs.map((p, i) => el("tr", { "data-secondary": p.secondary },
      el("td", {}, el("input", { type: "checkbox", checked: chosen.has(i), "aria-label": `Use the pair with ${p.secondary}`, onchange: () => toggle(i, redraw) })),
      el("td", { text: p.secondary.split("/").pop() }),
      el("td", { text: p.btemp }),
      el("td", { text: p.bperp.toFixed(1) })))),
  );
  document.getElementById("insar-send").disabled = chosen.size === 0;
}

function send() {
  const service = document.getElementById("insar-service").value;
  const list = [...chosen].map((i) => pairs[i]);
  if (!list.length) { toast("Choose a pair first"); return; }
  emit("use-inputs", { process: service, inputs: { reference: list[0].reference, secondary: list[0].secondary } });
  if (list.length > 1) toast(`The form has the first of ${list.length} pairs; the others stay chosen here`);
}
