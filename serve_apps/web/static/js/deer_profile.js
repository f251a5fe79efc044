// One deer: what it is, its timeline, every sighting, and the re-ID corrections (rename, merge,
// split, move, not this deer, not a deer). Each correction is kept as a fact by the server, so a
// later re-ID run keeps it.
import { cropUrl, get, post, setImage } from "./api.js";
import { deerName, deerTitle, describeDeer, fmtDate, h, option, pager, toast, fill } from "./dom.js";
import { timeline } from "./timeline.js";
import { openPhoto } from "./viewer.js";

const PAGE = 60;

async function correct(what, call, then) {
  try {
    await call();
    await then(); // the page shows the new state before it says so (a click meanwhile would hit the old page)
    toast(what, "ok");
  } catch (e) {
    toast(`${e.status === 409 || e.status === 403 ? "Refused" : "Failed"}: ${e.message}`, "error");
  }
}

function deerChoices(facets, self) {
  return facets.deer.filter((d) => d.id !== self.id)
    .map((d) => option(d.id, `${deerName(d)} · #${d.id} · ${describeDeer(d)} · ${d.sightings} sightings`));
}

function actions(deer, facets, selected, rerender) {
  const name = h("input", { name: "name", value: deer.name || "", required: true, maxlength: 100, autocomplete: "off" });
  const into = h("select", { name: "into", required: true }, option("", "Choose a deer…"), deerChoices(facets, deer));
  const splitName = h("input", { name: "split_name", maxlength: 100, placeholder: "optional", autocomplete: "off" });
  const splitButton = h("button", { type: "submit", disabled: true }, "Split off selected");
  selected.onchange = (n) => { splitButton.disabled = n === 0; splitButton.textContent = `Split off ${n} selected`; };
  const submit = (fn) => (e) => { e.preventDefault(); fn(); };
  return h("section", { class: "actions", "aria-label": "Corrections" },
    h("form", { class: "inline", onsubmit: submit(() => correct("Renamed",
      () => post(`/api/deer/${deer.id}/rename`, { name: name.value.trim() }), rerender)) },
      h("label", {}, "Name ", name), h("button", { type: "submit" }, "Rename")),
    h("form", { class: "inline", id: "merge-form", onsubmit: submit(() => {
      const target = Number(into.value);
      if (!confirm(`Merge ${deerName(deer)} into ${into.selectedOptions[0].textContent.split(" · ")[0]}? Its sightings move there.`)) return;
      correct(`${deerName(deer)} merged into deer #${target}`,
        () => post(`/api/deer/${deer.id}/merge`, { into: target }), () => { location.hash = `#/deer/${target}`; });
    }) }, h("label", {}, "Same animal as ", into), h("button", { type: "submit" }, "Merge")),
    h("form", { class: "inline", onsubmit: submit(() => correct("Split off as a new deer",
      async () => {
        const done = await post(`/api/deer/${deer.id}/split`, { detection_ids: [...selected.ids], name: splitName.value.trim() || null });
        selected.newDeer = done.deer_id;
      }, () => { location.hash = `#/deer/${selected.newDeer}`; })) },
      h("label", {}, "New deer's name ", splitName), splitButton));
}

// a person's word on a sighting: it decides its whole track in the census, and outlives reprocessing
const CLASS_CHOICES = {
  doe: { deer_class: "doe" }, fawn: { deer_class: "fawn" }, "buck (age unknown)": { deer_class: "buck" },
  "young buck": { deer_class: "buck", age_class: "young" }, "mid-age buck": { deer_class: "buck", age_class: "mid" },
  "mature buck": { deer_class: "buck", age_class: "mature" }, "deer (sex unknown)": { deer_class: "deer" },
};

function sighting(det, deer, facets, selected, rerender) {
  const move = h("select", { "aria-label": "Move to deer" }, option("", "Choose a deer…"), deerChoices(facets, deer));
  const kind = h("select", { "aria-label": `Class of sighting ${det.id}` }, option("", "Choose…"),
    Object.keys(CLASS_CHOICES).map((k) => option(k, k)));
  const box = h("input", { type: "checkbox", "aria-label": `Select sighting ${det.id} for split`, onchange: (e) => {
    if (e.target.checked) selected.ids.add(det.id); else selected.ids.delete(det.id);
    selected.onchange(selected.ids.size);
  } });
  return h("li", { class: "sighting", "data-detection-id": det.id },
    h("button", { type: "button", class: "plain-button", onclick: () => openPhoto(det.image_id), "aria-label": `Open the photo of sighting ${det.id}` },
      setImage(h("img", { class: "crop", alt: `${det.deer_class} at ${det.location}, ${fmtDate(det.taken_at, true)}` }), cropUrl(det.id))),
    h("span", {}, fmtDate(det.taken_at, true)), h("span", { class: "muted" }, `${det.location || "—"} · ${det.deer_class}`),
    deer.status === "active" || deer.status === "provisional" ? [
      h("label", { class: "check" }, box, "select"),
      h("div", { class: "row" },
        h("button", { type: "button", class: "small", onclick: () => correct("Marked not this deer",
          () => post(`/api/detections/${det.id}/not-this-deer`), rerender) }, "Not this deer"),
        h("button", { type: "button", class: "small", onclick: () => correct("Marked not a deer",
          () => post(`/api/detections/${det.id}/not-deer`), rerender) }, "Not a deer")),
      h("details", { class: "move" }, h("summary", {}, "Move to…"), move,
        h("button", { type: "button", class: "small", onclick: () => move.value && correct(`Moved to deer #${move.value}`,
          () => post(`/api/detections/${det.id}/move`, { deer_id: Number(move.value) }), rerender) }, "Move")),
      h("details", { class: "move" }, h("summary", {}, "It is a…"), kind,
        h("button", { type: "button", class: "small", onclick: () => kind.value && correct(`Marked ${kind.selectedOptions[0].text}`,
          () => post(`/api/detections/${det.id}/class`, CLASS_CHOICES[kind.value]), rerender) }, "Set")),
    ] : null);
}

export async function render(main, params, id) {
  const offset = Number(params.get("offset") || 0);
  const [deer, points, facets] = await Promise.all([
    get(`/api/deer/${id}`, { limit: PAGE, offset }), get(`/api/web/deer/${id}/timeline`), get("/api/web/facets")]);
  const rerender = () => render(main, params, id);
  const selected = { ids: new Set(), onchange: () => {} };
  const live = deer.status === "active" || deer.status === "provisional";
  const sightings = deer.sightings_page;
  fill(main,
    h("p", {}, h("a", { href: "#/deer" }, "← All deer")),
    h("header", { class: "profile" },
      deer.representative_id ? setImage(h("img", { class: "crop big", alt: `Best photo of ${deerName(deer)}` }), cropUrl(deer.representative_id)) : null,
      h("div", {},
        h("h1", {}, deerName(deer), " ", h("span", { class: `badge ${deer.status}` }, deer.status)),
        deer.merged_into ? h("p", { class: "note" }, "Merged into ", h("a", { href: `#/deer/${deer.merged_into}` }, deerTitle(deer.merged_into))) : null,
        h("dl", { class: "facts" },
          h("dt", {}, "Is"), h("dd", {}, describeDeer(deer)),
          h("dt", {}, "Sightings"), h("dd", { id: "sightings-count" }, deer.sightings),
          h("dt", {}, "First seen"), h("dd", {}, fmtDate(deer.first_seen, true)),
          h("dt", {}, "Last seen"), h("dd", {}, fmtDate(deer.last_seen, true)),
          h("dt", {}, "Locations"), h("dd", {}, deer.locations.join(", ") || "—"),
          h("dt", {}, "Photos"), h("dd", {}, h("a", { href: `#/gallery?deer_id=${deer.id}` }, "in the gallery"))))),
    live ? actions(deer, facets, selected, rerender) : null,
    h("h2", {}, "Timeline"), timeline(points),
    h("h2", {}, `Sightings (${sightings.total})`),
    h("ul", { class: "grid sightings" }, sightings.items.map((d) => sighting(d, deer, facets, selected, rerender))),
    sightings.total > PAGE ? pager(sightings.total, PAGE, offset, (o) => { location.hash = `#/deer/${id}?offset=${Math.max(0, o)}`; }) : null);
  document.title = `${deerName(deer)} · Thumper Counter`;
}
