// Calls to the server's JSON API. Writes (and reads, if the server says so) need the API key:
// on a 401 the user is asked once for it, and it is kept in this tab's sessionStorage only.
const KEY = "thumper-api-key";

export const apiKey = () => sessionStorage.getItem(KEY);

export function askKey() {
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  input.value = apiKey() || "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const ok = dialog.returnValue === "ok" && input.value.trim();
      if (ok) sessionStorage.setItem(KEY, input.value.trim());
      resolve(Boolean(ok));
    }, { once: true });
    dialog.showModal();
  });
}

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

async function request(method, path, { params, body } = {}, retried = false) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (apiKey()) headers["X-API-Key"] = apiKey();
  const r = await fetch(url(path, params), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if ((r.status === 401 || r.status === 403 && apiKey()) && !retried && await askKey()) {
    return request(method, path, { params, body }, true);
  }
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = (await r.json()).detail ?? detail; } catch { /* not JSON */ }
    throw new ApiError(r.status, typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return r.json();
}

export const get = (path, params) => request("GET", path, { params });
export const post = (path, body = {}) => request("POST", path, { body });

export const thumbUrl = (imageId, size = 320) => `/api/images/${imageId}/thumbnail?size=${size}`;
export const cropUrl = (detectionId, size = 256) => `/api/detections/${detectionId}/crop?size=${size}`;

// <img> cannot send headers: with a key set, images come through fetch as blobs, when visible.
const seen = new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (!e.isIntersecting) continue;
    seen.unobserve(e.target);
    fetch(e.target.dataset.src, { headers: { "X-API-Key": apiKey() } })
      .then((r) => (r.ok ? r.blob() : Promise.reject(r.status)))
      .then((b) => { e.target.src = URL.createObjectURL(b); })
      .catch(() => e.target.classList.add("broken"));
  }
}, { rootMargin: "200px" });

export function setImage(img, src) {
  if (!apiKey()) {
    img.loading = "lazy";
    img.src = src;
    return img;
  }
  img.dataset.src = src;
  seen.observe(img);
  return img;
}
