// Detection boxes drawn over a photo: an SVG in the photo's own 0..100 coordinates, so it lines
// up at any size. Colours follow the deer class (legend in style.css).
import { s } from "./dom.js";

export const boxClass = (b) => (b.not_deer ? "not-deer" : b.deer_class || "deer");

export function boxLayer(boxes) {
  return s("svg", { viewBox: "0 0 100 100", preserveAspectRatio: "none", class: "boxes", "aria-hidden": "true" },
    boxes.map((b) => s("g", {},
      s("rect", { x: b.x1 * 100, y: b.y1 * 100, width: (b.x2 - b.x1) * 100, height: (b.y2 - b.y1) * 100,
        class: `box ${boxClass(b)}`, "vector-effect": "non-scaling-stroke" }))));
}

export function boxSummary(boxes) {
  const real = boxes.filter((b) => !b.not_deer);
  if (!real.length) return "no deer";
  const kinds = real.map((b) => (b.deer_class === "buck" && b.age_class ? `${b.age_class} buck` : b.deer_class));
  return `${real.length} deer (${kinds.join(", ")})`;
}
