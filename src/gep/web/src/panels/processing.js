// Processing: the services (built-in and deployed, GET /processes), a form generated from a
// process description (product fields take a dropped product or one from the basket, area
// fields the search area, enums are choices), the credit quote before submitting, submit.
import { api, errorText } from "../api.js";
import { el, emit, on, state, toast } from "../state.js";
import { showTab } from "../tabs.js";

const panel = () => document.getElementById("panel-processing");
let description = null;

export function initProcessing() {
  panel().append(
    el("h2", { text: "Services" }),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "process", text: "Service" }), el("select", { id: "process" })),
      el("button", { id: "process-reload", type: "button", text: "Reload", "aria-label": "Reload the service list" })),
    el("p", { id: "process-about", class: "muted" }),
    el("form", { id: "process-form", novalidate: true }),
    el("div", { class: "row" },
      el("button", { id: "process-quote", type: "button", text: "Quote" }),
      el("button", { id: "process-submit", type: "button", class: "primary", text: "Submit" })),
    el("p", { id: "process-quote-text", class: "muted", "aria-live": "polite" }),
    el("p", { id: "process-error", class: "error", role: "alert" }),
  );
  document.getElementById("process").addEventListener("change", (e) => openProcess(e.target.value));
  document.getElementById("process-reload").addEventListener("click", () => loadProcesses());
  document.getElementById("process-quote").addEventListener("click", quote);
  document.getElementById("process-submit").addEventListener("click", submit);
  on("use-inputs", async ({ process, inputs }) => {
    showTab("processing");
    await openProcess(process);
    fill(inputs);
    quote();
  });
  on("signed-in", () => loadProcesses());
  on("app-opened", () => loadProcesses());
  loadProcesses();
}

export async function loadProcesses(select) {
  const sel = document.getElementById("process");
  const keep = select || sel.value;
  try {
    const res = await api("/processes", { params: { limit: 1000 } });
    // an opened thematic app's services come first, in the app's order
    const first = state.appServices || [];
    const rank = (p) => (first.includes(p.id) ? first.indexOf(p.id) : first.length);
    res.processes.sort((a, b) => rank(a) - rank(b));
    sel.replaceChildren(el("option", { value: "", text: "Choose a service…" }),
      ...res.processes.map((p) => el("option", { value: p.id, text: `${p.title || p.id} (${p.id})` })));
    if (keep && res.processes.some((p) => p.id === keep)) { sel.value = keep; if (!description || description.id !== keep) await openProcess(keep); }
  } catch (e) { toast(errorText(e)); }
}

function schemaOf(input) {
  return input.schema || {};
}

function variants(schema) {
  return schema.anyOf || schema.oneOf || [schema];
}

function isItemRef(schema) {
  return schema.format === "stac-item-ref" || variants(schema).some((v) => v.format === "stac-item-ref");
}

function kindOf(name, input) {
  const s = schemaOf(input);
  if (isItemRef(s)) return "item";
  if (s.type === "array" && s.items && isItemRef(s.items)) return "items";
  if (s.enum) return "enum";
  if (name === "aoi" || /area of interest/i.test(input.description || "")) return "area";
  if (s.type === "boolean") return "boolean";
  if (s.type === "integer" || s.type === "number") return "number";
  if (s.type === "array") return "list";
  if (s.type === "string") return "text";
  return "json";
}

export async function openProcess(id) {
  const form = document.getElementById("process-form");
  form.replaceChildren();
  document.getElementById("process-quote-text").textContent = "";
  document.getElementById("process-error").textContent = "";
  description = null;
  if (!id) return;
  const sel = document.getElementById("process");
  if (![...sel.options].some((o) => o.value === id)) await loadProcesses();
  sel.value = id;
  try {
    description = await api(`/processes/${encodeURIComponent(id)}`);
  } catch (e) { toast(errorText(e)); return; }
  document.getElementById("process-about").textContent = description.description || "";
  for (const [name, input] of Object.entries(description.inputs || {})) form.append(field(name, input));
}

function field(name, input) {
  const s = schemaOf(input);
  const kind = kindOf(name, input);
  const id = `in-${name}`;
  const required = (input.minOccurs ?? 1) > 0;
  const label = el("label", { for: id, text: `${input.title || name}${required ? " *" : ""}` });
  const help = input.description ? el("div", { class: "muted", id: `${id}-help`, text: input.description }) : null;
  const common = { id, name, "data-kind": kind, "aria-describedby": help ? `${id}-help` : undefined, required };
  let control;
  if (kind === "enum") {
    control = el("select", common, el("option", { value: "", text: s.default !== undefined && s.default !== null ? `default (${s.default})` : "—" }),
      ...s.enum.map((v) => el("option", { value: v, text: v })));
  } else if (kind === "boolean") {
    control = el("input", { ...common, type: "checkbox", checked: s.default === true });
  } else if (kind === "number") {
    control = el("input", { ...common, type: "number", min: s.minimum, max: s.maximum, step: s.type === "integer" ? 1 : "any", placeholder: s.default ?? "" });
  } else if (kind === "items" || kind === "json" || kind === "list") {
    control = el("textarea", { ...common, rows: 2, placeholder: kind === "items" ? "one collection/id a line (drop products here)" : kind === "list" ? "values, separated by commas" : "JSON" });
  } else {
    control = el("input", { ...common, type: "text", placeholder: kind === "item" ? "collection/id (drop a product here)" : kind === "area" ? "[w, s, e, n] or GeoJSON" : s.default ?? "" });
  }
  const wrap = el("div", { class: "field", "data-input": name }, label, control);
  if (kind === "item" || kind === "items") {
    const add = (key) => {
      if (kind === "item") control.value = key;
      else control.value = [control.value.trim(), key].filter(Boolean).join("\n");
      control.dispatchEvent(new Event("change"));
    };
    wrap.addEventListener("dragover", (e) => { if (e.dataTransfer.types.includes("application/x-gep-item")) e.preventDefault(); });
    wrap.addEventListener("drop", (e) => {
      const raw = e.dataTransfer.getData("application/x-gep-item");
      if (!raw) return;
      e.preventDefault();
      const item = JSON.parse(raw);
      add(`${item.collection}/${item.id}`);
    });
    if (state.basket.size) {
      wrap.append(el("select", { "aria-label": `${input.title || name} from the basket`, onchange: (e) => { if (e.target.value) add(e.target.value); e.target.value = ""; } },
        el("option", { value: "", text: "…or from the basket" }), ...[...state.basket.keys()].map((k) => el("option", { value: k, text: k }))));
    }
  }
  if (kind === "area") {
    wrap.append(el("button", { type: "button", text: "Use the search area", onclick: () => {
      if (!state.area) { toast("Draw or choose an area first (Search panel)"); return; }
      control.value = JSON.stringify(state.area);
    } }));
  }
  if (help) wrap.append(help);
  return wrap;
}

function fill(inputs) {
  for (const [name, value] of Object.entries(inputs)) {
    const c = document.getElementById(`in-${name}`);
    if (!c) continue;
    if (c.type === "checkbox") c.checked = Boolean(value);
    else if (Array.isArray(value) && c.dataset.kind === "items") c.value = value.join("\n");
    else if (typeof value === "object") c.value = JSON.stringify(value);
    else c.value = value;
  }
}

// the inputs the form holds (an empty field is left out: the service's default applies)
export function inputsOf() {
  const out = {};
  for (const c of document.querySelectorAll("#process-form [data-kind]")) {
    const name = c.name;
    const kind = c.dataset.kind;
    if (kind === "boolean") {
      const def = schemaOf(description.inputs[name]).default;
      if (c.checked !== (def === true)) out[name] = c.checked;
      continue;
    }
    const v = c.value.trim();
    if (!v) continue;
    if (kind === "number") out[name] = Number(v);
    else if (kind === "items") out[name] = v.split(/\s+/).filter(Boolean);
    else if (kind === "list") out[name] = v.split(",").map((x) => x.trim()).filter(Boolean).map((x) => (Number.isNaN(Number(x)) ? x : Number(x)));
    else if (kind === "json" || (kind === "area" && /^[[{]/.test(v))) {
      try { out[name] = JSON.parse(v); } catch { throw new Error(`${name}: not valid JSON`); }
    } else out[name] = v;
  }
  return out;
}

function showError(e) {
  const msg = errorText(e);
  document.getElementById("process-error").textContent = msg;
  const fieldName = e.field ? e.field.replace(/^inputs\./, "").split(".")[0] : null;
  for (const c of document.querySelectorAll("#process-form [data-kind]")) c.removeAttribute("aria-invalid");
  const c = fieldName && document.getElementById(`in-${fieldName}`);
  if (c) { c.setAttribute("aria-invalid", "true"); c.focus(); }
}

async function quote() {
  if (!description) return;
  const out = document.getElementById("process-quote-text");
  document.getElementById("process-error").textContent = "";
  try {
    const q = await api(`/processes/${encodeURIComponent(description.id)}/quote`, { method: "POST", body: { inputs: inputsOf() } });
    const avail = state.me?.credits?.available;
    out.textContent = `Quote: ${q.credits} credit${q.credits === 1 ? "" : "s"}${avail !== undefined ? ` (you have ${avail} available)` : ""}`;
    out.dataset.credits = q.credits;
  } catch (e) { out.textContent = ""; showError(e); }
}

async function submit() {
  if (!description) return;
  document.getElementById("process-error").textContent = "";
  const button = document.getElementById("process-submit");
  button.disabled = true;
  try {
    const res = await api(`/processes/${encodeURIComponent(description.id)}/execution`, {
      method: "POST", body: { inputs: inputsOf() }, headers: { Prefer: "respond-async" },
    });
    toast(`Job ${res.jobID} submitted`);
    emit("job-submitted", res);
    showTab("jobs");
  } catch (e) { showError(e); } finally { button.disabled = false; }
}
