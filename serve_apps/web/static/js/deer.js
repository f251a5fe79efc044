// Deer profiles: one card per deer with its best crop, what it is, how often and where it was seen.
import { cropUrl, get, setImage } from "./api.js";
import { deerName, describeDeer, fmtDate, h, option, pager, fill } from "./dom.js";

const PAGE = 48;

export function deerCard(d) {
  const img = d.representative_id
    ? setImage(h("img", { alt: `Best photo of ${deerName(d)}`, class: "crop" }), cropUrl(d.representative_id))
    : h("div", { class: "crop none" }, "no photo");
  return h("li", {}, h("a", { class: "card", href: `#/deer/${d.id}`, "data-deer-id": d.id }, img,
    h("span", { class: "card-body" },
      h("strong", {}, deerName(d)), d.status !== "active" ? h("span", { class: `badge ${d.status}` }, d.status) : null,
      h("span", {}, describeDeer(d)),
      h("span", {}, `${d.sightings} sightings`),
      h("span", { class: "muted" }, `${fmtDate(d.first_seen)} – ${fmtDate(d.last_seen)}`),
      h("span", { class: "muted" }, d.locations.join(", ") || "—"))));
}

export async function render(main, params) {
  const status = params.get("status") ?? "active";
  const deerClass = params.get("deer_class") || "";
  const offset = Number(params.get("offset") || 0);
  const page = await get("/api/deer", { status, deer_class: deerClass, limit: PAGE, offset });
  const go = (changes) => {
    const next = new URLSearchParams({ status, deer_class: deerClass, offset, ...changes });
    location.hash = `#/deer?${next}`;
  };
  const form = h("form", { class: "filters", "aria-label": "Filter deer", onchange: (e) => go({ [e.target.name]: e.target.value, offset: 0 }) },
    h("label", {}, "Status", h("select", { name: "status" }, option("", "Any", status),
      ["active", "provisional", "merged", "retired"].map((s) => option(s, s, status)))),
    h("label", {}, "Class", h("select", { name: "deer_class" }, option("", "Any", deerClass),
      ["doe", "fawn", "buck", "deer"].map((c) => option(c, c, deerClass)))));
  fill(main, h("h1", {}, "Deer"), form,
    h("p", { class: "muted" }, `${page.total} deer, most sighted first`),
    page.items.length ? h("ul", { class: "grid cards" }, page.items.map(deerCard)) : h("p", { class: "empty" }, "No deer match."),
    page.total > PAGE ? pager(page.total, PAGE, offset, (o) => go({ offset: Math.max(0, o) })) : null);
}
