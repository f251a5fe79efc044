// Processing: photo counts by status, the progress of runs in progress, recent runs, and a link to
// the Ray dashboard. Refreshes every few seconds while open.
import { get } from "./api.js";
import { fmtDate, h, fill } from "./dom.js";

const REFRESH_MS = 3000;

function progress(run) {
  const done = run.images_completed + run.images_failed;
  const of = Math.max(run.images_claimed, done);
  return h("div", { class: "run" },
    h("p", {}, h("strong", {}, `${run.kind} run #${run.id}`), ` · started ${fmtDate(run.started_at, true)}`,
      run.source ? ` · ${run.source}` : ""),
    of ? h("progress", { max: of, value: done, "aria-label": `run ${run.id} progress` }, `${done} of ${of}`) : null,
    h("p", { class: "muted" }, `${run.images_completed} done, ${run.images_failed} failed of ${run.images_claimed} claimed · ${run.detections} detections`));
}

function runsTable(runs) {
  const cols = ["id", "kind", "status", "images_completed", "images_failed", "detections", "started_at", "finished_at"];
  return h("table", { class: "runs" }, h("caption", {}, "Recent runs"),
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c.replace("_", " "))))),
    h("tbody", {}, runs.map((r) => h("tr", {}, cols.map((c) => h("td", {}, c.endsWith("_at") ? fmtDate(r[c], true) : r[c] ?? ""))))));
}

export async function render(main) {
  const body = h("div", { "aria-live": "polite" });
  async function load() {
    const st = await get("/api/web/processing");
    fill(body,
      h("div", { class: "stats" }, Object.entries(st.images).map(([k, v]) =>
        h("div", { class: `stat ${k}` }, h("span", { class: "value", "data-status": k }, v.toLocaleString()), h("span", {}, k))),
        h("div", { class: "stat" }, h("span", { class: "value" }, st.total.toLocaleString()), h("span", {}, "photos")),
        h("div", { class: "stat" }, h("span", { class: "value" }, st.deer), h("span", {}, "live deer"))),
      h("h2", {}, "Running"),
      st.running.length ? st.running.map(progress) : h("p", { class: "muted" }, "Nothing running."),
      runsTable(st.recent_runs),
      h("p", {}, st.dashboard_url
        ? h("a", { href: st.dashboard_url, target: "_blank", rel: "noopener", id: "ray-dashboard" }, "Open the Ray dashboard ↗")
        : "The Ray dashboard is not available on this cluster."));
  }
  fill(main, h("h1", {}, "Processing"), body);
  await load();
  const timer = setInterval(() => { if (!document.hidden) load().catch(() => {}); }, REFRESH_MS);
  return () => clearInterval(timer);
}
