// Review queue: buck pairs first (two buck profiles that may be one buck: each answer moves the
// buck count), then matches closest to the re-ID threshold and deer with too few sightings, most
// useful first. Each answer is a correction the next re-ID run keeps; "Skip" only hides the item
// in this browser tab.
import { cropUrl, get, post, setImage } from "./api.js";
import { deerTitle, h, toast, fill } from "./dom.js";

const SKIPPED = "thumper-review-skipped";
const skipped = () => new Set(JSON.parse(sessionStorage.getItem(SKIPPED) || "[]"));
const keyOf = (item) => `${item.kind}:${item.detection_id}:${item.other_deer_id ?? ""}`;

function crop(detId, alt) {
  return detId ? setImage(h("img", { class: "crop", alt }), cropUrl(detId)) : h("div", { class: "crop none" }, "no photo");
}

function card(item, threshold, done) {
  const answer = (label, call) => h("button", { type: "button", onclick: async () => {
    try {
      if (call) await call();
      toast(label, "ok");
      done(item, !call);
    } catch (e) {
      toast(`Refused: ${e.message}`, "error");
    }
  } }, label);
  const deer = h("a", { href: `#/deer/${item.deer_id}` }, deerTitle(item.deer_id, item.deer_name));
  const distance = `distance ${item.distance.toFixed(2)} (threshold ${threshold.toFixed(2)})`;
  if (item.kind === "buck_pair") {
    const other = h("a", { href: `#/deer/${item.other_deer_id}` }, deerTitle(item.other_deer_id, item.other_name));
    return h("li", { class: "review", "data-kind": item.kind },
      h("div", { class: "pair" }, crop(item.representative_id, "the first buck's best photo"), crop(item.other_representative_id, "the second buck's best photo")),
      h("p", {}, "Are ", deer, " and ", other, " the same buck?"),
      h("p", { class: "muted" }, distance),
      h("div", { class: "row" },
        answer("Same buck: merge", () => post(`/api/deer/${item.deer_id}/merge`, { into: item.other_deer_id })),
        answer("Different bucks", () => post(`/api/web/review/pairs/${item.deer_id}/${item.other_deer_id}/different`)),
        answer("Skip", null)));
  }
  if (item.kind === "small_deer") {
    const other = h("a", { href: `#/deer/${item.other_deer_id}` }, deerTitle(item.other_deer_id, item.other_name));
    return h("li", { class: "review", "data-kind": item.kind },
      h("div", { class: "pair" }, crop(item.representative_id, "the deer with few sightings"), crop(item.other_representative_id, "its nearest deer")),
      h("p", {}, deer, ` has only ${item.sightings} sighting${item.sightings === 1 ? "" : "s"}. Is it `, other, "?"),
      h("p", { class: "muted" }, distance),
      h("div", { class: "row" },
        answer(`Same deer: merge into ${deerTitle(item.other_deer_id, item.other_name)}`,
          () => post(`/api/deer/${item.deer_id}/merge`, { into: item.other_deer_id })),
        answer("Skip", null)));
  }
  return h("li", { class: "review", "data-kind": item.kind },
    h("div", { class: "pair" }, crop(item.detection_id, "the sighting in question"), crop(item.representative_id, "the deer's best photo")),
    h("p", {}, "Is this ", deer, "?"), h("p", { class: "muted" }, distance),
    h("div", { class: "row" },
      answer("Same deer", () => post(`/api/web/review/${item.detection_id}/confirm`)),
      answer("Not this deer", () => post(`/api/detections/${item.detection_id}/not-this-deer`)),
      answer("Not a deer", () => post(`/api/detections/${item.detection_id}/not-deer`)),
      answer("Skip", null)));
}

export async function render(main) {
  const list = h("ul", { class: "grid review-list" });
  const status = h("p", { class: "muted", "aria-live": "polite" });
  const bucks = h("p", { id: "review-bucks", "aria-live": "polite" });

  async function load() {
    const hidden = skipped();
    const queue = await get("/api/web/review", { limit: 60 });
    const items = queue.items.filter((i) => !hidden.has(keyOf(i))).slice(0, 12);
    const done = (item, skip) => {
      if (skip) sessionStorage.setItem(SKIPPED, JSON.stringify([...skipped(), keyOf(item)]));
      load();
    };
    fill(list, ...items.map((i) => card(i, queue.threshold, done)));
    status.textContent = items.length ? `${items.length} to review, most useful first` : "Nothing to review.";
    const b = queue.bucks;
    bucks.textContent = b.pairs_left
      ? `${b.pairs_left} buck pair${b.pairs_left === 1 ? "" : "s"} left; buck count ${b.if_all_same} if all are the same deer, ${b.if_none} if none (buck profiles now: ${b.buck_profiles}).`
      : `No buck pairs left to review (buck profiles: ${b.buck_profiles}).`;
  }

  fill(main, h("h1", {}, "Review"),
    h("p", {}, "Buck pairs first: two buck profiles that may be one buck, each answer moving the buck count the census rests on. ",
      "Then matches whose distance to their deer is closest to the re-ID threshold, and deer with too few sightings to trust. ",
      "Every answer is kept: later re-ID runs follow it."),
    h("p", {}, h("button", { type: "button", class: "quiet", onclick: () => { sessionStorage.removeItem(SKIPPED); load(); } }, "Show skipped again")),
    bucks, status, list);
  await load();
}
