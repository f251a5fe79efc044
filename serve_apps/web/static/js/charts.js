// Bar charts as inline SVG, sized by viewBox so they scale with the page. Each chart carries a
// text summary for screen readers and a data table behind a disclosure.
import { h, s } from "./dom.js";

// the smallest even "round" number at or above v, so the middle gridline is a whole number too
function niceMax(v) {
  if (v <= 2) return 2;
  const step = 10 ** Math.floor(Math.log10(v));
  return [2, 4, 6, 8, 10].map((m) => m * step).find((m) => m >= v);
}

function dataTable(caption, data) {
  return h("details", { class: "chart-data" }, h("summary", {}, "Data"),
    h("table", {}, h("caption", {}, caption),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Label"), h("th", { scope: "col" }, "Count"))),
      h("tbody", {}, data.map((d) => h("tr", {}, h("th", { scope: "row" }, d.label), h("td", {}, d.value))))));
}

// data: [{label, value, color?}]; every `labelEvery`-th label is written under its bar
export function barChart(title, data, { width = 480, height = 200, color = "#2f6f4f", labelEvery = 1 } = {}) {
  const pad = { left: 36, right: 8, top: 10, bottom: 34 };
  const w = width - pad.left - pad.right;
  const ht = height - pad.top - pad.bottom;
  const max = niceMax(Math.max(0, ...data.map((d) => d.value)));
  const band = w / Math.max(1, data.length);
  const y = (v) => pad.top + ht - (v / max) * ht;
  const grid = [0, 0.5, 1].map((f) => [
    s("line", { x1: pad.left, x2: width - pad.right, y1: y(max * f), y2: y(max * f), class: "grid" }),
    s("text", { x: pad.left - 4, y: y(max * f) + 4, "text-anchor": "end", class: "tick" }, Math.round(max * f)),
  ]);
  const bars = data.map((d, i) => {
    const x = pad.left + i * band;
    return s("g", {},
      s("rect", { x: x + band * 0.12, y: y(d.value), width: band * 0.76, height: Math.max(0, pad.top + ht - y(d.value)),
        fill: d.color || color }, s("title", {}, `${d.label}: ${d.value}`)),
      i % labelEvery === 0 ? s("text", { x: x + band / 2, y: height - pad.bottom + 14, "text-anchor": "middle",
        class: "tick" }, d.label) : null);
  });
  const summary = `${title}: ${data.map((d) => `${d.label} ${d.value}`).join(", ")}`;
  const chart = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": summary, class: "chart" },
    grid, bars);
  return h("figure", { class: "chart-box" }, h("figcaption", {}, title), chart, dataTable(title, data));
}

// one horizontal bar split into parts: [{label, value, color}]
export function stackedBar(title, parts) {
  const total = parts.reduce((a, p) => a + p.value, 0) || 1;
  let x = 0;
  const segs = parts.map((p) => {
    const w = (p.value / total) * 100;
    const g = s("rect", { x: `${x}%`, y: 0, width: `${w}%`, height: 28, fill: p.color }, s("title", {}, `${p.label}: ${p.value}`));
    x += w;
    return g;
  });
  const summary = `${title}: ${parts.map((p) => `${p.label} ${p.value}`).join(", ")}`;
  return h("figure", { class: "chart-box" }, h("figcaption", {}, title),
    s("svg", { viewBox: "0 0 100 28", preserveAspectRatio: "none", class: "stack", role: "img", "aria-label": summary }, segs),
    h("ul", { class: "legend" }, parts.map((p) => h("li", {}, h("span", { class: "swatch", style: `background:${p.color}` }),
      `${p.label}: ${p.value} (${Math.round((p.value / total) * 100)}%)`))));
}

const fmt1 = (v) => (v == null ? "—" : v.toFixed(1));

// Estimates with their 95% intervals, one row each: a bar from low to high, a dot at the point.
// rows: [{label, point, low, high, refused?, color?}]; a refused row shows its reason instead.
export function intervalChart(title, rows, { width = 560, rowHeight = 34 } = {}) {
  const pad = { left: 70, right: 130, top: 8, bottom: 26 };  // the right margin holds the numbers
  const height = pad.top + pad.bottom + rows.length * rowHeight;
  const w = width - pad.left - pad.right;
  const max = niceMax(Math.max(1, ...rows.filter((r) => !r.refused).map((r) => r.high ?? r.point ?? 0)));
  const x = (v) => pad.left + (v / max) * w;
  const grid = [0, 0.5, 1].map((f) => [
    s("line", { x1: x(max * f), x2: x(max * f), y1: pad.top, y2: height - pad.bottom, class: "grid" }),
    s("text", { x: x(max * f), y: height - pad.bottom + 16, "text-anchor": "middle", class: "tick" }, Math.round(max * f)),
  ]);
  const text = (r) => (r.refused ? `${r.label}: refused (${r.refused})`
    : `${r.label}: ${fmt1(r.point)}, 95% interval ${fmt1(r.low)} to ${fmt1(r.high)}`);
  const marks = rows.map((r, i) => {
    const y = pad.top + i * rowHeight + rowHeight / 2;
    const color = r.color || "#2f6f4f";
    const label = s("text", { x: pad.left - 8, y: y + 4, "text-anchor": "end", class: "row-label" }, r.label);
    if (r.refused) {
      return s("g", { class: "refused" }, label, s("text", { x: pad.left + 4, y: y + 4, class: "tick" }, "refused: see below"));
    }
    return s("g", {}, s("title", {}, text(r)), label,
      s("line", { x1: x(r.low ?? r.point), x2: x(r.high ?? r.point), y1: y, y2: y, stroke: color, "stroke-width": 8,
        "stroke-opacity": 0.35, "stroke-linecap": "round", class: "interval" }),
      s("circle", { cx: x(r.point), cy: y, r: 6, fill: color, class: "point" }),
      s("text", { x: x(r.high ?? r.point) + 10, y: y + 4, class: "tick" }, `${fmt1(r.point)} (${fmt1(r.low)}–${fmt1(r.high)})`));
  });
  const summary = `${title}: ${rows.map(text).join("; ")}`;
  const table = h("details", { class: "chart-data" }, h("summary", {}, "Data"),
    h("table", {}, h("caption", {}, title),
      h("thead", {}, h("tr", {}, ["Figure", "Estimate", "95% low", "95% high"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, h("th", { scope: "row" }, r.label),
        r.refused ? h("td", { colspan: 3 }, `refused: ${r.refused}`)
          : [h("td", {}, fmt1(r.point)), h("td", {}, fmt1(r.low)), h("td", {}, fmt1(r.high))])))));
  return h("figure", { class: "chart-box estimate" }, h("figcaption", {}, title),
    s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": summary, class: "chart intervals" }, grid, marks),
    table);
}
