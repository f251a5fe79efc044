// Calls to the server's JSON API. Unless the server is local-only, the browser logs in (#/login):
// the session cookie is HttpOnly, and every write echoes the session's CSRF token in a header,
// which only this page can read (GET /api/auth/me).
export let me = null; // { name, role, via, csrf, can_edit }, or null before login

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function url(path, params) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v !== "" && v != null) u.searchParams.set(k, v);
  return u;
}

async function failure(r) {
  let detail = r.statusText;
  try { detail = (await r.json()).detail ?? detail; } catch { /* not JSON */ }
  return new ApiError(r.status, typeof detail === "string" ? detail : JSON.stringify(detail));
}

export function toLogin() {
  if (location.hash.startsWith("#/login")) return;
  const next = location.hash && location.hash !== "#/login" ? `?next=${encodeURIComponent(location.hash)}` : "";
  location.hash = `#/login${next}`;
}

async function request(method, path, { params, body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && me?.csrf) headers["X-CSRF-Token"] = me.csrf;
  const r = await fetch(url(path, params), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 401 && !path.startsWith("/api/auth/")) {
    me = null;
    toLogin();
  }
  if (!r.ok) throw await failure(r);
  return r.status === 204 ? null : r.json();
}

export const get = (path, params) => request("GET", path, { params });
export const post = (path, body = {}) => request("POST", path, { body });

// Who is logged in: null when nobody is (the caller shows the login page).
export async function whoAmI() {
  try {
    me = await request("GET", "/api/auth/me");
  } catch (e) {
    if (e.status !== 401) throw e;
    me = null;
  }
  return me;
}

export async function logIn(name, password) {
  me = await request("POST", "/api/auth/login", { body: { name, password } });
  return me;
}

export async function logOut() {
  await request("POST", "/api/auth/logout");
  me = null;
}

export const thumbUrl = (imageId, size = 320) => `/api/images/${imageId}/thumbnail?size=${size}`;
export const cropUrl = (detectionId, size = 256) => `/api/detections/${detectionId}/crop?size=${size}`;

// Images load lazily; the browser sends the session cookie with them like any same-site request.
export function setImage(img, src) {
  img.loading = "lazy";
  img.src = src;
  img.addEventListener("error", () => img.classList.add("broken"), { once: true });
  return img;
}
export const patch = (path, body = {}) => request("PATCH", path, { body });
