// Census: the estimate of a site over a survey window (GET /api/census/estimate, the figures
// `thumper report` prints): bucks, does, fawns and their total with 95% interval bars, the bucks
// seen (confirmed by a person or automatic), the photo ratios, the assumptions and any refusal.
// Then the re-ID profiles (buck profiles are individuals; doe and fawn profiles are not
// individually identifiable, so they are no count) and activity by hour and by month.
import { get } from "./api.js";
import { barChart, intervalChart } from "./charts.js";
import { h, fill, option } from "./dom.js";

const COLORS = { buck: "#2b67b0", doe: "#c77d1a", fawn: "#4f8f2a", total: "#22302a" };
const AGES = ["fawn", "young", "mid", "mature", "unknown"];
const PRESET_NAMES = { "last-14-days": "Last 14 days of photos", rut: "Rut, Sep–Jan (latest)", "late-summer": "Late summer, Aug–Sep (latest)" };
const HEADLINE = [["bucks", "Bucks", "buck"], ["does", "Does", "doe"], ["fawns", "Fawns", "fawn"], ["total", "Total", "total"]];
const CLASSIC = [["jacobson_bucks", "Bucks seen"], ["jacobson_does", "Does (r = 1)"], ["jacobson_fawns", "Fawns (r = 1)"],
  ["jacobson_total", "Total (r = 1)"], ["bucks_chao", "Bucks, Chao Mh"], ["bucks_schnabel", "Bucks, Schnabel / Chapman"]];
const WINDOW_PARAMS = ["location", "season", "date_from", "date_to"];

const fmt1 = (v) => (v == null ? "—" : v.toFixed(1));
const fmt2 = (v) => (v == null ? "—" : v.toFixed(2));

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

const stat = (label, value, id, extra) => h("div", { class: "stat" }, h("span", { class: "value", id }, value), h("span", {}, label),
  extra ? h("span", { class: "muted small" }, extra) : null);

function windowForm(facets, params, presets, apply) {
  const v = (k) => params.get(k) || "";
  const custom = v("date_from") || v("date_to");
  const shown = v("season") && !presets.includes(v("season")) ? [...presets, v("season")] : presets;  // e.g. rut-2023 from a link
  const form = h("form", { class: "filters", "aria-label": "Survey window and site" },
    h("label", {}, "Site", h("select", { name: "location" }, option("", "All locations", v("location")),
      facets.locations.map((l) => option(l.name, l.name, v("location"))))),
    h("label", {}, "Survey window", h("select", { name: "season" },
      shown.map((p) => option(p === "last-14-days" ? "" : p, PRESET_NAMES[p] || p, custom ? "custom" : v("season"))),
      option("custom", "Dates below", custom ? "custom" : v("season")))),
    h("label", {}, "From", h("input", { type: "date", name: "date_from", value: v("date_from"), min: facets.first_date, max: facets.last_date })),
    h("label", {}, "To", h("input", { type: "date", name: "date_to", value: v("date_to"), min: facets.first_date, max: facets.last_date })),
    h("button", { type: "submit" }, "Estimate"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const dated = data.get("date_from") || data.get("date_to");
    if (data.get("season") === "custom" || dated) data.delete("season");
    else { data.delete("date_from"); data.delete("date_to"); }
    apply(new URLSearchParams([...data].filter(([, val]) => val)));
  });
  return form;
}

function estimateSection(est) {
  const f = est.figures;
  const w = est.window;
  const refusals = [...new Set(Object.values(f).map((x) => x.refused).filter(Boolean))];
  const ro = est.roster;
  const ages = Object.entries(ro.by_age).filter(([, c]) => c.confirmed + c.automatic);
  return [
    h("p", { id: "census-window" }, `${est.location || "All locations"}, ${w.start} to ${w.end} (${w.name}, ${w.days} days): `,
      `${est.events} bursts with deer on ${est.days_with_photos} days; photos (one per animal per burst): `,
      `${est.photos.buck} buck, ${est.photos.doe} doe, ${est.photos.fawn} fawn, ${est.photos.unknown} unknown class.`),
    h("div", { class: "stats" }, HEADLINE.map(([k, label]) => stat(label, f[k].refused ? "—" : fmt1(f[k].point), `census-${k}`,
      f[k].refused ? "refused" : `95%: ${fmt1(f[k].low)}–${fmt1(f[k].high)}`))),
    refusals.length ? h("div", { class: "refusal", role: "note", id: "census-refused" }, h("strong", {}, "Not estimated: "),
      h("ul", {}, refusals.map((r) => h("li", {}, r)))) : null,
    HEADLINE.some(([k]) => !f[k].refused) ? h("div", { class: "charts" },
      intervalChart("Deer on the site, with 95% intervals", HEADLINE.map(([k, label, c]) => ({ label, color: COLORS[c], ...f[k] })))) : null,
    f.total.refused ? null : h("p", { class: "muted" }, f.total.method),
    h("h2", {}, "Bucks seen"),
    h("p", { id: "census-roster" }, `Antlered bucks, one per profile: ${ro.total}; `,
      h("strong", { id: "census-bucks-confirmed" }, ro.confirmed), " confirmed by a person, ",
      h("strong", { id: "census-bucks-automatic" }, ro.automatic), " from the automatic re-ID only",
      ages.length ? ` (${ages.map(([a, c]) => `${a} ${c.confirmed + c.automatic}`).join(", ")})` : "",
      `; ${ro.unidentified_photos} buck photos named no individual.`),
    h("p", { class: "muted" }, "Does and fawns are not individually identifiable: they are estimated from the photo ratios, never counted by their profiles."),
    h("h2", {}, "Ratios"),
    h("ul", { class: "ratios" }, [["does_per_buck", "Does per buck (photos)"], ["fawns_per_doe", "Fawns per doe (photos)"]].map(([k, label]) =>
      h("li", { id: `census-${k}` }, `${label}: `, f[k].refused ? `refused (${f[k].refused})` : `${fmt2(f[k].point)} (95%: ${fmt2(f[k].low)}–${fmt2(f[k].high)})`))),
    h("details", {}, h("summary", {}, "The published method and both buck estimates"),
      h("table", { class: "runs" }, h("thead", {}, h("tr", {}, ["Figure", "Estimate", "95% interval", "Method"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, CLASSIC.filter(([k]) => f[k]).map(([k, label]) => h("tr", {}, h("th", { scope: "row" }, label),
          f[k].refused ? h("td", { colspan: 2 }, `refused: ${f[k].refused}`)
            : [h("td", {}, fmt1(f[k].point)), h("td", {}, k === "jacobson_bucks" ? "a count" : `${fmt1(f[k].low)}–${fmt1(f[k].high)}`)],
          h("td", {}, f[k].method)))))),
    est.notes.length ? h("p", { class: "muted" }, est.notes.join(". ")) : null,
    h("h2", {}, "Assumptions"),
    h("ul", { class: "assumptions" }, est.assumptions.map((a) => h("li", {}, a))),
    h("p", { class: "muted" }, `${est.settings.n_boot} bootstrap replicates, seed ${est.settings.seed}: the same photos and corrections give the same figures.`),
  ];
}

// Survey effort: trap-nights per site and independent events (bursts) per 100 trap-nights by class.
function effortSection(effort) {
  const classes = ["doe", "fawn", "buck", "deer"];
  const cell = (s, c) => (s[`${c}_per_100`] == null ? "–" : `${s[`${c}_per_100`].toFixed(1)} (${s[`${c}_events`]})`);
  return h("section", { "aria-label": "Effort" },
    h("h2", {}, "Effort and detection rates"),
    h("table", { class: "runs effort" },
      h("caption", {}, `Independent events per 100 trap-nights, with the events in brackets (camera periods from Cameras, else first to last photo; over ${effort.gap_days} days without a photo counts as not working)`),
      h("thead", {}, h("tr", {}, ["site", "trap-nights", ...classes].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, effort.sites.map((s) => h("tr", {}, h("th", { scope: "row" }, s.site),
        h("td", { class: "num", "data-trap-nights": s.site }, s.trap_nights),
        classes.map((c) => h("td", { class: "num" }, cell(s, c))))))));
}

export async function render(main, params) {
  const [c, facets, effort] = await Promise.all([get("/api/web/census"), get("/api/web/facets"), get("/api/effort")]);
  const section = h("section", { "aria-label": "Census estimate", "aria-live": "polite", id: "census-estimate" }, h("p", { class: "muted" }, "Estimating…"));
  let presets = Object.keys(PRESET_NAMES);

  async function load(state) {
    const query = Object.fromEntries(WINDOW_PARAMS.map((k) => [k, state.get(k) || ""]));
    try {
      const est = await get("/api/census/estimate", query);
      presets = est.presets;
      fill(section, estimateSection(est));
    } catch (e) {
      fill(section, h("p", { class: "error", role: "alert" }, `No estimate: ${e.message}`));
    }
  }
  const apply = (state) => {
    const q = state.toString();
    history.pushState(null, "", `#/census${q ? `?${q}` : ""}`);  // no hashchange: only the estimate redraws
    return load(state);
  };

  const t = c.totals;
  const ages = AGES.filter((a) => a in c.bucks_by_age || a !== "unknown").map((a) => ({ label: a, value: c.bucks_by_age[a] || 0 }));
  const hours = byLocation(c.by_hour);
  const months = byLocation(c.by_month);
  const monthKeys = monthsBetween(c.by_month);
  await load(params);
  fill(main,
    h("h1", {}, "Census"),
    windowForm(facets, params, presets, apply),
    section,
    effortSection(effort),
    h("h2", {}, "Re-ID profiles (not a census)"),
    h("div", { class: "stats" },
      stat("buck profiles", t.male, "census-buck-profiles", "individual bucks"),
      stat("doe, fawn and unknown-sex profiles", t.deer - t.male, "census-other-profiles", "not individually identifiable"),
      stat("provisional", t.provisional), stat("photos", t.photos.toLocaleString()), stat("detections", t.detections.toLocaleString())),
    h("p", { class: "muted" }, "Profiles are the re-ID's groups of photos. A buck's antlers tell him apart; a doe's or fawn's profile may hold several animals or split one, so it counts nobody. Activity counts detections (\"not a deer\" left out) by the camera's local time."),
    h("div", { class: "charts" }, barChart("Buck profiles by age class", ages, { color: COLORS.buck, height: 180 })),
    h("h2", {}, "Activity by hour of day"),
    hours.size ? h("div", { class: "charts" }, [...hours].map(([loc, m]) => barChart(loc,
      Array.from({ length: 24 }, (_, hr) => ({ label: String(hr), value: m.get(hr) || 0 })), { labelEvery: 3 })))
      : h("p", { class: "empty" }, "No dated detections yet."),
    h("h2", {}, "Activity by month"),
    months.size ? h("div", { class: "charts" }, [...months].map(([loc, m]) => barChart(loc,
      monthKeys.map((k) => ({ label: k.slice(2), value: m.get(k) || 0 })), { color: "#7a5c2e", labelEvery: Math.ceil(monthKeys.length / 8) })))
      : h("p", { class: "empty" }, "No dated detections yet."));
}
