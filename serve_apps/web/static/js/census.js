// Census dashboard: headline counts, sex ratio, bucks by age, and activity by hour of day and by
// month for each camera location.
import { get } from "./api.js";
import { barChart, stackedBar } from "./charts.js";
import { h, fill } from "./dom.js";

const COLORS = { female: "#c77d1a", male: "#2b67b0", unknown: "#8a6fb0" };
const AGES = ["fawn", "young", "mid", "mature", "unknown"];

function byLocation(rows) {
  const out = new Map();
  for (const r of rows) {
    if (!out.has(r.location)) out.set(r.location, new Map());
    out.get(r.location).set(r.key, r.n);
  }
  return out;
}

function monthsBetween(rows) {
  const keys = rows.map((r) => r.key).sort();
  if (!keys.length) return [];
  const out = [];
  let [y, m] = keys[0].split("-").map(Number);
  const [y1, m1] = keys.at(-1).split("-").map(Number);
  while (y < y1 || (y === y1 && m <= m1)) {
    out.push(`${y}-${String(m).padStart(2, "0")}`);
    [y, m] = m === 12 ? [y + 1, 1] : [y, m + 1];
  }
  return out;
}

const stat = (label, value, id) => h("div", { class: "stat" }, h("span", { class: "value", id }, value), h("span", {}, label));

export async function render(main) {
  const c = await get("/api/web/census");
  const t = c.totals;
  const ratio = t.male ? (t.female / t.male).toFixed(1) : "—";
  const hours = byLocation(c.by_hour);
  const months = byLocation(c.by_month);
  const monthKeys = monthsBetween(c.by_month);
  const ages = AGES.filter((a) => a in c.bucks_by_age || a !== "unknown").map((a) => ({ label: a, value: c.bucks_by_age[a] || 0 }));
  fill(main,
    h("h1", {}, "Census"),
    h("div", { class: "stats" },
      stat("deer", t.deer, "census-deer"), stat("does", t.female), stat("bucks", t.male), stat("unknown sex", t.unknown),
      stat("does per buck", ratio), stat("provisional", t.provisional), stat("photos", t.photos.toLocaleString()),
      stat("detections", t.detections.toLocaleString())),
    h("p", { class: "muted" }, "Counts are active deer profiles; activity counts detections (\"not a deer\" left out) by the camera's local time."),
    h("div", { class: "charts" },
      stackedBar("Sex ratio (active deer)", [
        { label: "Does", value: t.female, color: COLORS.female },
        { label: "Bucks", value: t.male, color: COLORS.male },
        { label: "Unknown", value: t.unknown, color: COLORS.unknown }]),
      barChart("Bucks by age class", ages, { color: COLORS.male, height: 180 })),
    h("h2", {}, "Activity by hour of day"),
    hours.size ? h("div", { class: "charts" }, [...hours].map(([loc, m]) => barChart(loc,
      Array.from({ length: 24 }, (_, hr) => ({ label: String(hr), value: m.get(hr) || 0 })), { labelEvery: 3 })))
      : h("p", { class: "empty" }, "No dated detections yet."),
    h("h2", {}, "Activity by month"),
    months.size ? h("div", { class: "charts" }, [...months].map(([loc, m]) => barChart(loc,
      monthKeys.map((k) => ({ label: k.slice(2), value: m.get(k) || 0 })), { color: "#7a5c2e", labelEvery: Math.ceil(monthKeys.length / 8) })))
      : h("p", { class: "empty" }, "No dated detections yet."));
}
