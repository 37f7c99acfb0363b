// A small SVG scatter/line plot (baseline–time, and the displacement chart's fallback):
// values stay in the DOM (data-* attributes, <title>s) so that they are readable by people
// with a screen reader and by tests.
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  return n;
}

function ticks(lo, hi, n = 5) {
  if (lo === hi) { lo -= 1; hi += 1; }
  const step = (hi - lo) / n;
  return Array.from({ length: n + 1 }, (_, i) => lo + i * step);
}

// points: [{x: Date|number, y, label, id, cls}], lines: [[pointIdA, pointIdB, cls]]
export function scatter({ points, lines = [], xLabel, yLabel, width = 340, height = 220, onClick }) {
  const m = { l: 48, r: 10, t: 10, b: 34 };
  const xs = points.map((p) => +p.x);
  const ys = points.map((p) => p.y);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys, 0), Math.max(...ys, 0)];
  if (x0 === x1) { x0 -= 86400e3; x1 += 86400e3; }
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const padY = (y1 - y0) * 0.08;
  y0 -= padY; y1 += padY;
  const X = (v) => m.l + ((+v - x0) / (x1 - x0)) * (width - m.l - m.r);
  const Y = (v) => height - m.b - ((v - y0) / (y1 - y0)) * (height - m.t - m.b);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "plot", role: "img", "aria-label": `${yLabel} against ${xLabel}` });
  const axes = svg("g", { stroke: "#667", "font-size": "10", fill: "#333" });
  axes.append(svg("line", { x1: m.l, y1: height - m.b, x2: width - m.r, y2: height - m.b }));
  axes.append(svg("line", { x1: m.l, y1: m.t, x2: m.l, y2: height - m.b }));
  const isDate = points[0] && points[0].x instanceof Date;
  for (const t of ticks(x0, x1, 4)) {
    const lbl = svg("text", { x: X(t), y: height - m.b + 14, "text-anchor": "middle", stroke: "none" });
    lbl.textContent = isDate ? new Date(t).toISOString().slice(0, 10) : t.toFixed(0);
    axes.append(lbl);
  }
  for (const t of ticks(y0, y1, 4)) {
    const lbl = svg("text", { x: m.l - 4, y: Y(t) + 3, "text-anchor": "end", stroke: "none" });
    lbl.textContent = Math.abs(y1 - y0) > 20 ? t.toFixed(0) : t.toFixed(1);
    axes.append(lbl);
    axes.append(svg("line", { x1: m.l, x2: width - m.r, y1: Y(t), y2: Y(t), stroke: "#eee" }));
  }
  const xl = svg("text", { x: (width + m.l) / 2, y: height - 4, "text-anchor": "middle", stroke: "none" });
  xl.textContent = xLabel;
  const yl = svg("text", { x: 10, y: height / 2, transform: `rotate(-90 10 ${height / 2})`, "text-anchor": "middle", stroke: "none" });
  yl.textContent = yLabel;
  axes.append(xl, yl);
  root.append(axes);
  const byId = new Map(points.map((p) => [p.id, p]));
  for (const [a, b, cls] of lines) {
    const pa = byId.get(a), pb = byId.get(b);
    if (!pa || !pb) continue;
    root.append(svg("line", { x1: X(pa.x), y1: Y(pa.y), x2: X(pb.x), y2: Y(pb.y), stroke: cls === "selected" ? "#e07b00" : "#1d4e8988", "stroke-width": cls === "selected" ? 2.5 : 1, "data-pair": `${a}|${b}` }));
  }
  for (const p of points) {
    const c = svg("circle", { cx: X(p.x), cy: Y(p.y), r: p.cls === "reference" ? 6 : 4.5, fill: p.cls === "reference" ? "#c28a00" : p.cls === "selected" ? "#e07b00" : "#1d4e89", "data-id": p.id, "data-x": isDate ? p.x.toISOString() : p.x, "data-y": p.y, tabindex: onClick ? 0 : -1 });
    const t = svg("title");
    t.textContent = p.label;
    c.append(t);
    if (onClick) {
      c.addEventListener("click", () => onClick(p));
      c.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onClick(p); } });
    }
    root.append(c);
  }
  return root;
}
