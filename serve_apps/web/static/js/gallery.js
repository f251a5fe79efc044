// Photo gallery: filters, a page of thumbnails with their boxes, paging through any number of
// photos (the server counts and pages; the browser holds one page).
import { get, setImage, thumbUrl } from "./api.js";
import { boxLayer, boxSummary } from "./boxes.js";
import { deerName, fmtDate, h, option, pager, fill } from "./dom.js";
import { openViewer } from "./viewer.js";

const PAGE = 60;
const FILTERS = ["location", "date_from", "date_to", "season", "deer_class", "age_class", "deer_id"];

function select(name, label, choices, value) {
  return h("label", {}, label, h("select", { name }, option("", "Any", value), choices.map(([v, l]) => option(v, l, value))));
}

function filterForm(facets, params, apply) {
  const v = (k) => params.get(k) || "";
  const form = h("form", { class: "filters", "aria-label": "Filter photos" },
    select("location", "Location", facets.locations.map((l) => [l.name, `${l.name} (${l.photos})`]), v("location")),
    h("label", {}, "From", h("input", { type: "date", name: "date_from", value: v("date_from"), min: facets.first_date, max: facets.last_date })),
    h("label", {}, "To", h("input", { type: "date", name: "date_to", value: v("date_to"), min: facets.first_date, max: facets.last_date })),
    select("season", "Season", [["rut", "Rut (Sep–Jan)"], ["fall", "Fall"], ["winter", "Winter"], ["spring", "Spring"], ["summer", "Summer"]], v("season")),
    select("deer_class", "Class", [["doe", "Doe"], ["fawn", "Fawn"], ["buck", "Buck"], ["deer", "Deer (unknown)"]], v("deer_class")),
    select("age_class", "Buck age", [["young", "Young"], ["mid", "Mid"], ["mature", "Mature"]], v("age_class")),
    select("deer_id", "Deer", facets.deer.map((d) => [d.id, `${deerName(d)} (${d.sightings})`]), v("deer_id")),
    h("button", { type: "reset", class: "quiet" }, "Clear"));
  form.addEventListener("change", () => apply(new FormData(form)));
  form.addEventListener("submit", (e) => { e.preventDefault(); apply(new FormData(form)); });
  form.addEventListener("reset", () => setTimeout(() => apply(new FormData(form))));
  return form;
}

function tile(item, open) {
  const label = `${item.location || "No location"}, ${fmtDate(item.taken_at, true)}: ${boxSummary(item.boxes)}`;
  const img = setImage(h("img", { alt: label, width: item.width, height: item.height }), thumbUrl(item.id));
  return h("li", {}, h("button", { type: "button", class: "tile", onclick: open, "data-image-id": item.id },
    h("span", { class: "frame", style: `aspect-ratio:${item.width || 4}/${item.height || 3}` }, img, boxLayer(item.boxes)),
    h("span", { class: "cap" }, h("span", {}, item.location || "—"), h("span", {}, fmtDate(item.taken_at, true)),
      h("span", { class: "count" }, item.boxes.filter((b) => !b.not_deer).length || ""))));
}

export async function render(main, params) {
  const facets = await get("/api/web/facets");
  const results = h("section", { "aria-label": "Photos", "aria-live": "polite" });
  let state = params;

  async function load() {
    const query = Object.fromEntries(FILTERS.map((k) => [k, state.get(k) || ""]));
    const offset = Number(state.get("offset") || 0);
    const page = await get("/api/web/gallery", { ...query, limit: PAGE, offset });
    const go = (o) => { state.set("offset", Math.max(0, o)); update(); window.scrollTo(0, 0); };
    fill(results,
      h("p", { class: "muted", id: "gallery-total" }, `${page.total.toLocaleString()} photos`),
      page.items.length
        ? h("ul", { class: "grid photos" }, page.items.map((item, i) => tile(item, () => openViewer(page.items, i))))
        : h("p", { class: "empty" }, "No photos match these filters."),
      page.total > PAGE ? pager(page.total, PAGE, offset, go) : null);
  }

  function update() {
    const q = state.toString();
    history.pushState(null, "", `#/gallery${q ? `?${q}` : ""}`);  // no hashchange: only the grid redraws
    return load();
  }

  const apply = (data) => {
    state = new URLSearchParams([...data].filter(([, v]) => v));
    update();
  };
  fill(main, h("h1", {}, "Photos"), filterForm(facets, params, apply),
    h("p", { class: "legend-line" }, ["doe", "fawn", "buck", "deer", "other", "person", "not-deer"].map((c) =>
      h("span", {}, h("span", { class: `swatch ${c}` }), c === "other" ? "other animal" : c.replace("-", " ")))), results);
  await load();
}
