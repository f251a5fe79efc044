// Models: the registry's versions per kind (classifier, embedder, detector) with the active one
// marked, parent, held-out scores against the parent, training data; Activate per version and
// "Train classifier" / "Train embedder" (a Ray job, followed here) for editors. Viewers see the same, without buttons.
import { get, me, post } from "./api.js";
import { fmtDate, h, fill, toast } from "./dom.js";

const KINDS = ["classifier", "embedder", "detector"];
const POLL_MS = 2000;
const LIVE = ["PENDING", "RUNNING"];

const num = (v) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v));

function scalars(obj) {
  return Object.entries(obj || {}).filter(([, v]) => v != null && typeof v !== "object").map(([k, v]) => `${k.replace(/_/g, " ")} ${num(v)}`);
}

// held-out accuracy against the parent's on the same crops (classifiers), pairwise precision / recall
// on the same held-out individuals (embedders); else whatever was measured
function score(m) {
  const held = m?.held_out, was = m?.parent_held_out;
  if (held?.accuracy != null) {
    const parts = [h("strong", { class: "accuracy" }, held.accuracy.toFixed(3))];
    if (was?.accuracy != null) parts.push(" vs parent ", h("span", { class: "parent-accuracy" }, was.accuracy.toFixed(3)));
    if (held.crops != null) parts.push(` on ${held.crops} held-out crops`);
    const notes = [];
    if (held.balanced_accuracy != null) notes.push(`mean over classes ${num(held.balanced_accuracy)}${was?.balanced_accuracy != null ? ` vs ${num(was.balanced_accuracy)}` : ""}`);
    if (m.better != null) notes.push(m.better ? "better than its parent" : "not better than its parent");
    const worse = Object.entries(m.worse_classes || {}).map(([k, v]) => `${k} ${num(v.before)} → ${num(v.after)}`);
    if (worse.length) notes.push(`worse on ${worse.join(", ")}`);
    if (notes.length) parts.push(h("br"), h("span", { class: "muted" }, notes.join("; ")));
    return parts;
  }
  if (held?.precision != null && held?.recall != null) {  // embedders: re-ID pairwise precision / recall
    const pr = (x) => `P ${x.precision.toFixed(3)} R ${x.recall.toFixed(3)}${x.f1 != null ? ` F1 ${x.f1.toFixed(3)}` : ""}`;
    const parts = [h("strong", { class: "pairwise" }, pr(held))];
    if (was?.precision != null) parts.push(" vs parent ", h("span", { class: "parent-pairwise" }, pr(was)));
    const notes = [];
    if (held.threshold != null) notes.push(`same deer at cosine ≥ ${num(held.threshold)}, on held-out individuals`);
    if (m.better != null) notes.push(m.better ? "better than its parent" : "not better than its parent");
    parts.push(h("br"), h("span", { class: "muted" }, notes.join("; ")));
    return parts;
  }
  const rest = Object.entries(m || {}).flatMap(([k, v]) => (v && typeof v === "object" ? scalars(v).map((s) => `${k.replace(/_/g, " ")}: ${s}`) : [`${k.replace(/_/g, " ")} ${num(v)}`]));
  return rest.length ? rest.join("; ") : h("span", { class: "muted" }, "not scored");
}

function dataSummary(d) {
  if (!d || !Object.keys(d).length) return h("span", { class: "muted" }, "—");
  const parts = [];
  if (d.train != null || d.held_out != null) parts.push(`${d.train ?? 0} train / ${d.held_out ?? 0} held out`);
  for (const key of ["sources", "verified_by_class"]) {
    if (d[key] && typeof d[key] === "object") parts.push(`${key.replace(/_/g, " ")}: ${Object.entries(d[key]).map(([k, n]) => `${k} ${n}`).join(", ")}`);
  }
  if (!parts.length) parts.push(...scalars(d));
  return parts.join("; ");
}

function versionsTable(kind, versions, activate) {
  const cols = ["id", "version", "parent", "held-out score", "training data", "created", "active"];
  if (activate) cols.push("");
  return h("table", { class: "runs models", "data-kind": kind },
    h("caption", {}, `${kind[0].toUpperCase()}${kind.slice(1)} versions`),
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, versions.map((v) => h("tr", { "data-version-id": v.id, class: v.active ? "active" : null },
      h("td", {}, v.id),
      h("td", {}, h("span", { title: v.sha256 }, v.version), v.name !== v.version.split("@")[0] ? h("span", { class: "muted" }, ` (${v.name})`) : null),
      h("td", {}, v.parent_id ? `#${v.parent_id} ${v.parent_version || ""}` : "—"),
      h("td", { class: "metric" }, score(v.metrics)),
      h("td", {}, dataSummary(v.data)),
      h("td", {}, fmtDate(v.created_at, true)),
      h("td", { "data-active": v.active ? "yes" : "no" }, v.active ? "✓ active" : ""),
      activate ? h("td", {}, v.active ? "" : h("button", { type: "button", class: "small", "aria-label": `Activate version ${v.id}`,
        onclick: () => activate(v) }, "Activate")) : null))));
}

function serving(s) {
  if (!s) return h("p", { class: "muted", id: "serving" }, "The app's model deployments did not answer.");
  const follows = s.classifier_spec === "latest";
  return h("p", { id: "serving" }, "New uploads are classified by ", h("strong", { id: "serving-classifier" }, s.classifier || "no classifier"),
    follows ? " (the app's classifier is 'latest': it follows the active version)."
      : ` (the app's classifier is '${s.classifier_spec}', not 'latest': activating a version changes runs with --classifier latest, not uploads).`,
    s.embedder ? ` Embedder ${s.embedder}.` : "");
}

export async function render(main) {
  const canEdit = Boolean(me?.can_edit);
  const list = h("div", { id: "model-list" });
  const jobBox = h("section", { id: "train-job", "aria-live": "polite" });
  let timer = null;

  async function load() {
    const r = await get("/api/models");
    const activate = canEdit ? async (v) => {
      try {
        const done = await post(`/api/models/${v.id}/activate`);
        await load();
        toast(`Version ${v.id} is the active ${v.kind}: ${done.note}`, "ok");
      } catch (e) {
        toast(`Refused: ${e.message}`, "error");
      }
    } : null;
    fill(list, serving(r.serving),
      KINDS.map((k) => {
        const versions = r.versions.filter((v) => v.kind === k);
        return versions.length ? versionsTable(k, versions, activate) : h("p", { class: "muted", "data-kind": k }, `No ${k} versions registered yet.`);
      }));
  }

  function showJob(job) {
    const live = LIVE.includes(job.status);
    const link = job.dashboard_url ? h("a", { href: `${job.dashboard_url.replace(/\/$/, "")}/#/jobs/${job.job_id}`, target: "_blank", rel: "noopener" }, "the Ray dashboard ↗") : "the Ray dashboard";
    fill(jobBox, h("h2", {}, "Training job"),
      h("p", {}, `Job ${job.job_id}: `, h("strong", { id: "job-status" }, job.status), job.message ? ` · ${job.message}` : "",
        canEdit && live ? [" ", h("button", { type: "button", class: "small quiet", onclick: () => stop(job.job_id) }, "Stop")] : null),
      h("p", { class: "muted" }, "Follow it in ", link, " (Jobs; the training run itself under Train). The new version is listed here when it is registered, and active only if it scores better than its parent."),
      job.logs_tail ? h("pre", { class: "job-log", id: "job-log" }, job.logs_tail) : h("p", { class: "muted" }, "No log yet."));
  }

  async function follow(jobId) {
    clearInterval(timer);
    const poll = async () => {
      try {
        const job = await get(`/api/jobs/${encodeURIComponent(jobId)}`);
        showJob(job);
        if (!LIVE.includes(job.status)) {
          clearInterval(timer);
          await load();
        }
      } catch (e) {
        toast(`Job ${jobId}: ${e.message}`, "error");
        clearInterval(timer);
      }
    };
    await poll();
    timer = setInterval(poll, POLL_MS);
  }

  async function stop(jobId) {
    try {
      await post(`/api/jobs/${encodeURIComponent(jobId)}/stop`);
      toast("Stopping the job", "ok");
    } catch (e) {
      toast(`Refused: ${e.message}`, "error");
    }
  }

  const trainButton = (kind) => h("button", { type: "button", id: `train-${kind}`, onclick: async (e) => {
    e.target.disabled = true;
    try {
      const job = await post("/api/models/train", { kind });
      showJob(job);
      toast("Training job submitted", "ok");
      await follow(job.job_id);
    } catch (err) {
      toast(`Refused: ${err.message}`, "error");
    } finally {
      e.target.disabled = false;
    }
  } }, `Train ${kind}`);
  const train = canEdit ? h("section", { class: "actions" },
    trainButton("classifier"), " ", trainButton("embedder"),
    h("span", { class: "muted" }, " Fine-tunes the active classifier on the corrections so far, or the embedder on the deer "
      + "identities people confirmed (a Ray job: thumper train classifier / embedder).")) : null;

  fill(main, h("h1", {}, "Models"),
    h("p", { class: "muted" }, "Every model version a run used or training made. The active one of a kind is what 'latest' means; each detection records the versions that made it (open a photo to see them)."),
    train, jobBox, list);
  await load();
  return () => clearInterval(timer);
}
