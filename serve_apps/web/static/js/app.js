// Hash router: #/gallery, #/deer, #/deer/ID, #/review, #/census, #/cameras, #/cameras/ID, #/processing, #/models, #/login.
import { logOut, toLogin, whoAmI } from "./api.js";
import { h, toast } from "./dom.js";
import * as cameras from "./cameras.js";
import * as census from "./census.js";
import * as deer from "./deer.js";
import * as profile from "./deer_profile.js";
import * as gallery from "./gallery.js";
import * as login from "./login.js";
import * as models from "./models.js";
import * as processing from "./processing.js";
import * as review from "./review.js";

const PAGES = { gallery, deer, review, census, cameras, processing, models };
const TITLES = { gallery: "Photos", deer: "Deer", review: "Review", census: "Census", cameras: "Cameras", processing: "Processing", models: "Models", login: "Log in" };
let cleanup = null;

// The header's corner: who is logged in, and the way out (nothing in local-only mode).
function showWho(user) {
  const who = document.getElementById("who");
  if (!user || user.via !== "session") return who.replaceChildren();
  const out = h("button", { type: "button", class: "quiet", onclick: async () => {
    try {
      await logOut();
      showWho(null);
      toLogin();
    } catch (e) {
      toast(`Log out failed: ${e.message}`, "error");
    }
  } }, "Log out");
  who.replaceChildren(h("span", { class: "user" }, `${user.name} (${user.role})`), out);
}

let routing = 0; // which route() call is the newest: an older one still awaiting must not draw over it

async function route() {
  const mine = ++routing;
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
    if (name === "login") cleanup = await login.render(main, params, async () => showWho(await whoAmI()));
    else if (name === "deer" && id) cleanup = await profile.render(main, params, Number(id));
    else if (name === "cameras" && id) cleanup = await cameras.render(main, params, Number(id));
    else if (PAGES[name]) cleanup = await PAGES[name].render(main, params);
    else main.replaceChildren(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/gallery" }, "Back to the photos")));
  } catch (e) {
    // a 401 has already sent the browser to the login page (api.js), which a newer route() draws:
    // this page's error must not replace it
    if (mine !== routing || e.status === 401) return;
    main.replaceChildren(h("h1", {}, "Something went wrong"), h("p", { class: "error" }, e.message || String(e)));
  } finally {
    if (mine === routing) main.removeAttribute("aria-busy");
  }
  main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
whoAmI().then((user) => {
  showWho(user);
  if (!user && !location.hash.startsWith("#/login")) toLogin(); // the hash change routes there
  else route();
}, (e) => toast(`The server did not answer: ${e.message}`, "error"));
