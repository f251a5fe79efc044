// Tiny DOM helpers: build elements without a framework, format values, show messages.
const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.setAttribute("class", v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVG_NS, tag), attrs, children);

export function fmtDate(iso, withTime = false) {
  if (!iso) return "unknown";
  // camera-local wall time: show it as written, never shifted to the browser's zone
  const [day, time = ""] = iso.split("T");
  return withTime ? `${day} ${time.slice(0, 5)}` : day;
}

export const deerName = (d) => d.name || `Deer #${d.id}`;
export const deerTitle = (id, name) => name || `Deer #${id}`;

export const SEX = { female: "doe", male: "buck", unknown: "unknown sex" };

export function describeDeer(d) {
  const cls = d.deer_class && d.deer_class !== "deer" ? d.deer_class : SEX[d.sex] || d.sex;
  return d.age_class && d.sex === "male" ? `${cls}, ${d.age_class}` : cls;
}

let toastTimer;
export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = `show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.className = ""), 5000);
}

export function option(value, label, selected) {
  return h("option", { value, selected: String(value) === String(selected ?? "") }, label);
}

export function pager(total, limit, offset, go) {
  const pages = Math.max(1, Math.ceil(total / limit));
  const current = Math.floor(offset / limit) + 1;
  return h("nav", { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", disabled: current <= 1, onclick: () => go(offset - limit) }, "← Newer"),
    h("span", {}, `Page ${current} of ${pages} · ${total.toLocaleString()} in all`),
    h("button", { type: "button", disabled: current >= pages, onclick: () => go(offset + limit) }, "Older →"));
}

// replaceChildren without the null / false placeholders of optional parts
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c != null && c !== false));
}
