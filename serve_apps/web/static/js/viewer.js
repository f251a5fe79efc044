// The photo viewer: a large image with labelled boxes, zoom (buttons, + / - keys, double click)
// and previous / next through the current gallery page with the arrow keys.
import { get, setImage, thumbUrl } from "./api.js";
import { boxClass, boxLayer, boxName, boxProvenance } from "./boxes.js";
import { deerTitle, fmtDate, h } from "./dom.js";

const ZOOMS = [1, 1.5, 2, 3, 4];
const kind = boxName;

export function openViewer(items, index) {
  let zoom = 0;
  const dialog = h("dialog", { class: "viewer", "aria-label": "Photo" });
  const stage = h("div", { class: "stage" });
  const title = h("h2", {});
  const details = h("div", { class: "viewer-details" });
  const zoomLabel = h("span", { "aria-live": "polite" });

  function setZoom(z) {
    zoom = Math.max(0, Math.min(ZOOMS.length - 1, z));
    const canvas = stage.firstElementChild;
    // keep the point in the middle of the view in the middle while zooming
    const cx = (stage.scrollLeft + stage.clientWidth / 2) / (stage.scrollWidth || 1);
    const cy = (stage.scrollTop + stage.clientHeight / 2) / (stage.scrollHeight || 1);
    if (canvas) canvas.style.width = `${ZOOMS[zoom] * 100}%`;
    stage.scrollLeft = cx * stage.scrollWidth - stage.clientWidth / 2;
    stage.scrollTop = cy * stage.scrollHeight - stage.clientHeight / 2;
    zoomLabel.textContent = `${ZOOMS[zoom] * 100}%`;
  }

  async function show(i) {
    index = (i + items.length) % items.length;
    const item = items[index];
    title.textContent = `${item.location || "No location"} · ${fmtDate(item.taken_at, true)}`;
    const img = setImage(h("img", { alt: title.textContent, width: item.width, height: item.height }), thumbUrl(item.id, 1280));
    const canvas = h("div", { class: "canvas", style: `aspect-ratio:${item.width || 4}/${item.height || 3}` }, img,
      boxLayer(item.boxes),
      item.boxes.map((b) => h("span", { class: `box-label ${boxClass(b)}`, style: `left:${b.x1 * 100}%;top:${b.y1 * 100}%` },
        b.not_deer ? "not a deer" : `${kind(b)} ${Math.round(b.confidence * 100)}%`)));
    stage.replaceChildren(canvas);
    setZoom(zoom);
    details.replaceChildren(h("ul", { class: "plain" }, item.boxes.length ? item.boxes.map((b) => {
      const p = boxProvenance(b);
      return h("li", { "data-detection-id": b.id },
        h("span", { class: `swatch ${boxClass(b)}` }), `${kind(b)}, `,
        `confidence ${Math.round(b.confidence * 100)}% · `,
        b.deer_id ? h("a", { href: `#/deer/${b.deer_id}`, onclick: () => dialog.close() }, deerTitle(b.deer_id, b.deer_name))
          : b.not_deer ? "marked not a deer" : b.deer_class ? "no deer assigned" : "not a deer: not counted",
        p.said ? h("div", { class: "said muted" }, p.said) : null,
        p.models ? h("div", { class: "versions muted" }, "Models: ", p.models) : null);
    }) : h("li", {}, "No detections in this photo.")));
  }

  dialog.append(
    h("div", { class: "viewer-bar" }, title,
      h("div", { class: "row" },
        h("button", { type: "button", onclick: () => show(index - 1), "aria-label": "Previous photo" }, "←"),
        h("button", { type: "button", onclick: () => show(index + 1), "aria-label": "Next photo" }, "→"),
        h("button", { type: "button", onclick: () => setZoom(zoom - 1), "aria-label": "Zoom out" }, "−"),
        zoomLabel,
        h("button", { type: "button", onclick: () => setZoom(zoom + 1), "aria-label": "Zoom in" }, "+"),
        h("button", { type: "button", onclick: () => dialog.close(), class: "quiet" }, "Close"))),
    stage, details);
  stage.addEventListener("dblclick", () => setZoom(zoom + 1));
  dialog.addEventListener("keydown", (e) => {
    if (e.key === "ArrowLeft") show(index - 1);
    else if (e.key === "ArrowRight") show(index + 1);
    else if (e.key === "+" || e.key === "=") setZoom(zoom + 1);
    else if (e.key === "-") setZoom(zoom - 1);
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  show(index);
  dialog.showModal();
  return dialog;
}

// a single photo by id (from a deer's sighting), in the same viewer
export async function openPhoto(imageId) {
  const image = await get(`/api/images/${imageId}`);
  return openViewer([{ ...image, boxes: image.detections }], 0);
}
