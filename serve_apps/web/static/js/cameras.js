// Cameras: every deployment (a camera at a location), its coordinates and time zone, its clock
// fixes (shift, drift, DST, AM/PM; undoable), and the survey effort (trap-nights, events per 100).
import { get, patch, post } from "./api.js";
import { fmtDate, h, fill, toast } from "./dom.js";

const CLASSES = ["doe", "fawn", "buck", "deer"];

function camera(d) {
  return [d.camera_make, d.camera_model, d.camera_serial].filter(Boolean).join(" ") || "unknown camera";
}

function clock(d) {
  const notes = [];
  if (d.timestamp_issues) notes.push("flagged untrustworthy");
  if (d.suspect_photos) notes.push(`${d.suspect_photos} dated before 2005 or in the future`);
  if (d.mtime_photos) notes.push(`${d.mtime_photos} timed by file date`);
  if (d.ocr_photos) notes.push(`${d.ocr_photos} timed by the stamp bar`);
  if (d.corrections) notes.push(`${d.corrections} correction(s), ${d.shifted_photos} photos moved`);
  return notes.join("; ") || "ok";
}

async function renderList(main) {
  const [deps, effort] = await Promise.all([get("/api/deployments"), get("/api/effort")]);
  const rows = deps.map((d) => h("tr", {},
    h("td", {}, h("a", { href: `#/cameras/${d.id}` }, `#${d.id}`)), h("td", {}, d.location), h("td", {}, camera(d)),
    h("td", { class: "num" }, d.photos), h("td", {}, `${fmtDate(d.start, true)} – ${fmtDate(d.end, true)}`),
    h("td", {}, d.latitude != null ? `${d.latitude.toFixed(5)}, ${d.longitude.toFixed(5)}` : "not set"),
    h("td", {}, d.time_zone || "not set"), h("td", { "data-clock": d.id }, clock(d))));
  const sites = effort.sites.map((s) => h("tr", {}, h("th", { scope: "row" }, s.site), h("td", { class: "num" }, s.trap_nights),
    CLASSES.map((c) => h("td", { class: "num", "data-rate": `${s.site}:${c}` },
      s[`${c}_per_100`] == null ? "–" : `${s[`${c}_per_100`].toFixed(1)} (${s[`${c}_events`]})`))));
  fill(main, h("h1", {}, "Cameras"),
    h("p", { class: "muted" }, "Each camera at a location is a deployment. Open one to set its coordinates and time zone or fix its clock."),
    h("table", { class: "runs cameras" }, h("caption", {}, "Deployments"),
      h("thead", {}, h("tr", {}, ["id", "location", "camera", "photos", "period (corrected time)", "coordinates", "time zone", "clock"]
        .map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows)),
    h("table", { class: "runs effort" }, h("caption", {}, `Effort: independent events per 100 trap-nights (a stretch of more than ${effort.gap_days} days without a photo counts as the camera not working)`),
      h("thead", {}, h("tr", {}, ["site", "trap-nights", ...CLASSES.map((c) => `${c} (events)`)].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, sites)));
}

function field(label, input) {
  return h("label", {}, label, " ", input);
}

async function renderOne(main, id) {
  const d = await get(`/api/deployments/${id}`);
  const rerender = () => renderOne(main, id);
  const act = (what, call) => async (e) => {
    e.preventDefault();
    try {
      const done = await call();
      await rerender(); // the page shows the new state before it says so
      toast(done && done.photos_changed != null ? `${what}: ${done.photos_changed} photos moved` : what, "ok");
    } catch (err) {
      toast(`Refused: ${err.message}`, "error");
    }
  };
  const num = (v) => (v === "" ? null : Number(v));
  const lat = h("input", { type: "number", step: "any", min: -90, max: 90, value: d.latitude ?? "" });
  const lon = h("input", { type: "number", step: "any", min: -180, max: 180, value: d.longitude ?? "" });
  const zone = h("input", { value: d.time_zone ?? "", placeholder: "America/Chicago or -06:00" });
  const notes = h("input", { value: d.notes ?? "" });
  const issues = h("input", { type: "checkbox", checked: d.timestamp_issues });
  const edit = h("form", { class: "inline", "aria-label": "Deployment", onsubmit: act("Saved", () => {
    const body = { latitude: num(lat.value), longitude: num(lon.value), notes: notes.value || null, timestamp_issues: issues.checked };
    if (zone.value.trim()) body.time_zone = zone.value.trim();
    return patch(`/api/deployments/${id}`, body);
  }) }, field("Latitude", lat), field("Longitude", lon), field("Time zone", zone), field("Notes", notes),
  h("label", { class: "check" }, issues, "clock untrustworthy"), h("button", { type: "submit" }, "Save"));

  const kind = h("select", { "aria-label": "Fix" },
    [["offset", "Shift by"], ["drift", "Drift"], ["dst", "Daylight saving"], ["ampm", "Swap AM/PM"]].map(([v, t]) => h("option", { value: v }, t)));
  const by = h("input", { placeholder: "+1h30m, -1h", size: 8 });
  const said = h("input", { type: "datetime-local", step: 1 });
  const truth = h("input", { type: "datetime-local", step: 1 });
  const from = h("input", { type: "datetime-local", step: 1 });
  const to = h("input", { type: "datetime-local", step: 1 });
  const why = h("input", { placeholder: "why" });
  const fix = h("form", { class: "inline", "aria-label": "Fix the clock", onsubmit: act("Clock fixed", () => post(`/api/deployments/${id}/time-corrections`, {
    kind: kind.value, by: by.value.trim() || null, camera_said: said.value || null, true_time: truth.value || null,
    start: from.value || null, end: to.value || null, note: why.value.trim() || null })) },
  field("Fix", kind), field("By", by), field("Camera said", said), field("True time", truth),
  field("From", from), field("To", to), field("Note", why), h("button", { type: "submit" }, "Apply"));

  const fixes = d.time_corrections.map((c) => h("li", { "data-correction": c.id, class: c.undone ? "muted" : "" },
    `#${c.id} ${c.description}`, c.note ? ` (${c.note})` : "", " ",
    c.undone ? "" : h("button", { type: "button", class: "quiet", onclick: act("Undone", () => post(`/api/time-corrections/${c.id}/undo`)) }, "Undo")));
  fill(main, h("p", {}, h("a", { href: "#/cameras" }, "← All cameras")),
    h("h1", {}, `${camera(d)} at ${d.location}`),
    h("p", {}, `${d.photos} photos, ${fmtDate(d.start, true)} – ${fmtDate(d.end, true)} (corrected time). Clock: `, h("span", { id: "clock" }, clock(d))),
    h("section", { class: "actions" }, edit),
    h("h2", {}, "Camera clock"),
    h("p", { class: "muted" }, "Times are the camera's own (as it recorded them); fixes apply in order, to later photos of this camera too, and survive reprocessing. Drift: what the camera said at a known moment and the true time then; the error grows from zero at the start."),
    h("section", { class: "actions" }, fix),
    fixes.length ? h("ul", { class: "fixes" }, fixes) : h("p", { class: "muted" }, "No fixes."));
  return null;
}

export async function render(main, params, id) {
  return id ? renderOne(main, id) : renderList(main);
}
