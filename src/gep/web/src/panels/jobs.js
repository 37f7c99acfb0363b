// Jobs: the caller's jobs with live progress and logs (polled while any is active), dismiss,
// re-submit with the same inputs (GET /jobs/{id}/inputs), and "Show results" which puts the
// published result item on the map.
import { api, errorText } from "../api.js";
import { el, emit, on, state, toast } from "../state.js";
import { addItem } from "./layers.js";

const panel = () => document.getElementById("panel-jobs");
const ACTIVE = new Set(["accepted", "running"]);
let timer = null;
const openLogs = new Set();

export function initJobs() {
  panel().append(
    el("h2", { text: "My jobs" }),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "jobs-status", text: "Status" }),
        el("select", { id: "jobs-status" }, ...["", "accepted", "running", "successful", "failed", "dismissed"].map((s) => el("option", { value: s, text: s || "any" })))),
      el("button", { type: "button", text: "Refresh", onclick: () => refresh() })),
    el("div", { id: "jobs-list", "aria-live": "polite" }),
  );
  document.getElementById("jobs-status").addEventListener("change", () => refresh());
  on("job-submitted", () => refresh());
  on("signed-in", () => refresh());
  refresh();
}

export async function refresh() {
  clearTimeout(timer);
  const list = document.getElementById("jobs-list");
  if (!state.me) { list.replaceChildren(el("p", { class: "muted", text: "Sign in (Account) to see your jobs." })); return; }
  let res;
  try {
    res = await api("/jobs", { params: { limit: 30, status: document.getElementById("jobs-status").value } });
  } catch (e) { list.replaceChildren(el("p", { class: "error", text: errorText(e) })); return; }
  list.replaceChildren(...(res.jobs.length ? await Promise.all(res.jobs.map(card)) : [el("p", { class: "muted", text: "No job yet." })]));
  if (res.jobs.some((j) => ACTIVE.has(j.status))) timer = setTimeout(refresh, 1500);
}

async function card(job) {
  const logsBox = el("div", { class: "logs", hidden: !openLogs.has(job.jobID), tabindex: 0, "aria-label": `Log of job ${job.jobID}` });
  if (openLogs.has(job.jobID)) await fillLogs(job.jobID, logsBox);
  const resultLink = (job.links || []).find((l) => l.type === "application/geo+json");
  const c = el("div", { class: "card job", "data-job": job.jobID, "data-status": job.status },
    el("h3", { text: `${job.processID} · ${job.status}` }),
    el("div", { class: "muted", text: `${job.jobID} · ${(job.created || "").slice(0, 19).replace("T", " ")}${job.message ? ` · ${job.message}` : ""}` }),
    el("div", { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": job.progress ?? 0, "aria-label": `Progress of ${job.jobID}` },
      el("span", { style: `width:${job.progress ?? 0}%` })),
    el("div", { class: "row" },
      el("button", { type: "button", text: "Logs", "aria-expanded": String(openLogs.has(job.jobID)), onclick: async (e) => {
        const open = logsBox.hidden;
        logsBox.hidden = !open;
        e.target.setAttribute("aria-expanded", String(open));
        if (open) { openLogs.add(job.jobID); await fillLogs(job.jobID, logsBox); } else openLogs.delete(job.jobID);
      } }),
      job.status === "successful" ? el("button", { type: "button", class: "primary", text: "Show results", onclick: () => showResults(job) }) : null,
      ACTIVE.has(job.status) ? el("button", { type: "button", text: "Dismiss", onclick: () => dismiss(job) }) : null,
      el("button", { type: "button", text: "Re-submit", onclick: () => resubmit(job) })),
    logsBox);
  if (job.status === "successful" && !resultLink) c.dataset.result = "";
  return c;
}

async function fillLogs(id, box) {
  try {
    const res = await api(`/jobs/${encodeURIComponent(id)}/logs`);
    // times are microseconds since the epoch
    const hms = (us) => (typeof us === "number" ? new Date(us / 1000).toISOString().slice(11, 19) : "");
    box.textContent = res.logs.map((l) => `${hms(l.time)} ${l.level || ""} ${l.message}`).join("\n") || "(no log yet)";
  } catch (e) { box.textContent = errorText(e); }
}

export async function showResults(job) {
  try {
    const status = await api(`/jobs/${encodeURIComponent(job.jobID)}`);
    const link = (status.links || []).find((l) => l.type === "application/geo+json");
    if (!link) { toast("This job published no item to show on the map; its results are in Downloads"); return; }
    const m = /\/stac\/collections\/([^/]+)\/items\/([^/?]+)/.exec(link.href);
    await addItem(`${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`);
  } catch (e) { toast(errorText(e)); }
}

async function dismiss(job) {
  // a running job stops at its next progress report: the card says so when it has
  try { await api(`/jobs/${encodeURIComponent(job.jobID)}`, { method: "DELETE" }); toast(`Dismissal of job ${job.jobID} asked: it stops at its next step`); } catch (e) { toast(errorText(e)); }
  refresh();
}

async function resubmit(job) {
  try {
    const { inputs } = await api(`/jobs/${encodeURIComponent(job.jobID)}/inputs`);
    emit("use-inputs", { process: job.processID, inputs });
  } catch (e) { toast(errorText(e)); }
}
