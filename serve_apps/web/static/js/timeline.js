// A deer's timeline: one dot per sighting on a time axis, a row per location.
import { h, s } from "./dom.js";

export function timeline(points) {
  if (!points.length) return h("p", { class: "muted" }, "No dated sightings.");
  const times = points.map((p) => Date.parse(p.taken_at));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const span = Math.max(t1 - t0, 86_400_000);
  const places = [...new Set(points.map((p) => p.location || "—"))].sort();
  const width = 720;
  const left = 110;
  const row = 26;
  const height = places.length * row + 30;
  const x = (t) => left + ((t - t0) / span) * (width - left - 16);
  const months = [];
  for (let d = new Date(t0); d.getTime() <= t1; d = new Date(d.getFullYear(), d.getMonth() + 1, 1)) {
    const m = new Date(d.getFullYear(), d.getMonth(), 1).getTime();
    if (m >= t0) months.push(m);
  }
  const label = `Timeline: ${points.length} sightings at ${places.join(", ")}, ${points[0].taken_at.slice(0, 10)} to ${points.at(-1).taken_at.slice(0, 10)}`;
  return s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart timeline", role: "img", "aria-label": label },
    places.map((p, i) => [
      s("line", { x1: left, x2: width - 16, y1: i * row + 14, y2: i * row + 14, class: "grid" }),
      s("text", { x: left - 8, y: i * row + 18, "text-anchor": "end", class: "tick" }, p),
    ]),
    months.map((m) => [
      s("line", { x1: x(m), x2: x(m), y1: 0, y2: height - 22, class: "grid" }),
      s("text", { x: x(m) + 3, y: height - 8, class: "tick" }, new Date(m).toISOString().slice(0, 7)),
    ]),
    points.map((p, i) => s("circle", { cx: x(times[i]), cy: places.indexOf(p.location || "—") * row + 14, r: 5, class: "dot" },
      s("title", {}, `${p.taken_at.replace("T", " ").slice(0, 16)} at ${p.location || "—"}`))));
}
