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

// Who said what about a detection: the model versions that made it (detections record them:
// detector, classifier, embedder, each stem@sha12 as in the model registry, #/models), and whether
// its class is a person's correction rather than the classifier's answer.
export function boxProvenance(b) {
  const said = [];
  if (b.not_deer) said.push("not a deer: a person's correction");
  else if (b.class_corrected) said.push(`${boxName(b)}: a person's correction` +
    (b.class_label ? ` (the classifier said ${b.class_label.replace(/_/g, " ")}${b.class_confidence != null ? ` ${Math.round(b.class_confidence * 100)}%` : ""})` : ""));
  else if (b.class_label) said.push(`${boxName(b)}: the classifier's answer (${b.class_label.replace(/_/g, " ")}${b.class_confidence != null ? ` ${Math.round(b.class_confidence * 100)}%` : ""})`);
  else if (b.deer_class || b.species) said.push(`${boxName(b)}: the detector's label`);
  const models = [["detector", b.detector_version], ["classifier", b.classifier_version], ["embedder", b.embedder_version]]
    .filter(([, v]) => v).map(([k, v]) => `${k} ${v}`);
  return { said: said.join(""), models: models.join(" · ") };
}
