// Detection boxes drawn over a photo: an SVG in the photo's own 0..100 coordinates, so it lines
// up at any size. Colours follow the deer class; other animals, people and vehicles are drawn
// as what they are (legend in style.css).
import { s } from "./dom.js";

const OTHER = { human: "person", vehicle: "vehicle" };
export const boxClass = (b) => (b.not_deer ? "not-deer" : b.deer_class || OTHER[b.observation_type] || "other");
export const boxName = (b) => (b.deer_class ? (b.deer_class === "buck" && b.age_class ? `${b.age_class} buck` : b.deer_class)
  : b.observation_type === "human" ? "person" : b.species === "animal" ? "animal (species unknown)"
  : (b.species || "animal").replace(/_/g, " "));

export function boxLayer(boxes) {
  return s("svg", { viewBox: "0 0 100 100", preserveAspectRatio: "none", class: "boxes", "aria-hidden": "true" },
    boxes.map((b) => s("g", {},
      s("rect", { x: b.x1 * 100, y: b.y1 * 100, width: (b.x2 - b.x1) * 100, height: (b.y2 - b.y1) * 100,
        class: `box ${boxClass(b)}`, "vector-effect": "non-scaling-stroke" }, s("title", {}, boxName(b))))));
}

export function boxSummary(boxes) {
  const deer = boxes.filter((b) => !b.not_deer && b.deer_class);
  const others = boxes.filter((b) => !b.not_deer && !b.deer_class).map(boxName);
  const parts = deer.length ? [`${deer.length} deer (${deer.map(boxName).join(", ")})`] : ["no deer"];
  if (others.length) parts.push(others.join(", "));
  return parts.join("; ");
}
