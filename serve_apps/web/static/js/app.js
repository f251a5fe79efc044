// Hash router: #/gallery, #/deer, #/deer/ID, #/review, #/census, #/processing.
import { askKey } from "./api.js";
import { h } from "./dom.js";
import * as census from "./census.js";
import * as deer from "./deer.js";
import * as profile from "./deer_profile.js";
import * as gallery from "./gallery.js";
import * as processing from "./processing.js";
import * as review from "./review.js";

const PAGES = { gallery, deer, review, census, processing };
const TITLES = { gallery: "Photos", deer: "Deer", review: "Review", census: "Census", processing: "Processing" };
let cleanup = null;

async function route() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [first, id] = path.split("/");
  const name = first || "gallery";
  const params = new URLSearchParams(query);
  const main = document.getElementById("main");
  if (cleanup) cleanup();
  cleanup = null;
  for (const a of document.querySelectorAll("nav a")) {
    a.toggleAttribute("aria-current", a.getAttribute("href") === `#/${name}`);
    if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
  }
  document.title = `${TITLES[name] || "Not found"} · Thumper Counter`;
  main.setAttribute("aria-busy", "true");
  try {
    if (name === "deer" && id) cleanup = await profile.render(main, params, Number(id));
    else if (PAGES[name]) cleanup = await PAGES[name].render(main, params);
    else main.replaceChildren(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/gallery" }, "Back to the photos")));
  } catch (e) {
    main.replaceChildren(h("h1", {}, "Something went wrong"), h("p", { class: "error" }, e.message || String(e)));
  } finally {
    main.removeAttribute("aria-busy");
  }
  main.focus({ preventScroll: true });
}

document.getElementById("key-button").addEventListener("click", askKey);
window.addEventListener("hashchange", route);
route();
