// The displacement chart of a clicked pixel (uPlot), its values as a table, and the CSV the
// time-series API gives for the same point.
import uPlot from "uplot";
import { el } from "./state.js";

let plot = null;

export function showSeries(ts, csvUrl, title) {
  const box = document.getElementById("chart");
  box.hidden = false;
  const unit = ts.unit || "";
  document.getElementById("chart-title").textContent = `${title}: ${ts.asset} at ${ts.lat.toFixed(5)}, ${ts.lon.toFixed(5)} (${unit})`;
  document.getElementById("chart-csv").href = csvUrl;
  const rows = ts.values.filter((v) => v.value !== null);
  const xs = rows.map((v) => Date.parse(v.datetime) / 1000);
  const ys = rows.map((v) => v.value);
  const target = document.getElementById("chart-plot");
  target.replaceChildren();
  if (plot) plot.destroy();
  plot = new uPlot({
    width: Math.max(300, target.clientWidth || box.clientWidth - 30),
    height: 190,
    scales: { x: { time: true } },
    series: [{}, { label: `${ts.asset} (${unit})`, stroke: "#1d4e89", width: 2, points: { show: true, size: 6 } }],
    axes: [{}, { label: unit }],
  }, [xs, ys], target);
  const body = document.querySelector("#chart-table tbody");
  body.replaceChildren(...ts.values.map((v) => el("tr", { "data-datetime": v.datetime, "data-value": v.value ?? "" },
    el("td", { text: v.datetime.slice(0, 10) }), el("td", { text: v.value === null ? "no data" : v.value.toFixed(2) }))));
  box.dataset.points = String(rows.length);
  box.dataset.lon = ts.lon;
  box.dataset.lat = ts.lat;
}

export function initChart() {
  document.getElementById("chart-close").addEventListener("click", () => { document.getElementById("chart").hidden = true; });
}
