"""Plain-text rendering for the terminal: the census, the deer report, re-ID run summaries."""
from __future__ import annotations

from pipelines.census import CensusReport
from pipelines.deer_report import AGE_ORDER
from pipelines.reid import ReidSummary


def table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """Left-aligned first column, right-aligned numbers."""
    head = [title for _, title in columns]
    body = [[str(r.get(key, "")) for key, _ in columns] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(b) for b in body])


LOCATION_COLUMNS = [("location", "location"), ("photos", "photos"), ("completed", "done"),
                    ("failed", "failed"), ("with_deer", "w/ deer"), ("detections", "deer"),
                    ("doe", "doe"), ("fawn", "fawn"), ("buck", "buck"), ("buck_young", "young"),
                    ("buck_mid", "mid"), ("buck_mature", "mature"), ("deer", "unknown")]


def _others(others: list[tuple[str, str, int]]) -> str:
    """'3 cattle, 2 raccoon, 1 human, 1 vehicle', or 'none'; 'animal' is an unidentified species."""
    if not others:
        return "none"
    names = {"animal": "animal of unidentified species", "human": "person"}
    return ", ".join(f"{n} {names.get(species, species.replace('_', ' '))}" for _, species, n in others) + \
        " (kept and shown, not counted)"


def render_census(report: CensusReport) -> str:
    ing, run, st = report.ingest, report.run, report.status
    total = {k: sum(r[k] for r in report.by_location) for k, _ in LOCATION_COLUMNS[1:]}
    lines = [
        f"Census of {ing.root}",
        f"  photos:     {ing.found} found, {ing.new} new, {ing.duplicates} already known"
        + (f", {len(ing.unreadable)} unreadable" if ing.unreadable else ""),
        f"  processing: {st['completed']} completed, {st['failed']} failed, {st['pending']} pending"
        f"  (this run: {run.completed} processed, {run.failed} failed in {run.seconds:.1f} s"
        + (f", {run.completed / run.seconds:.1f} photos/s" if run.seconds and run.completed else "")
        + (f"; first results after {run.first_result_seconds:.1f} s" if run.first_result_seconds else "") + ")",
        f"  deer:       {total['detections']} detections in {total['with_deer']} photos: "
        f"{total['doe']} doe, {total['fawn']} fawn, {total['buck']} buck "
        f"({total['buck_young']} young, {total['buck_mid']} mid, {total['buck_mature']} mature), "
        f"{total['deer']} unknown sex",
        f"  not deer:   {_others(report.others)}",
        f"  models:     detector {run.detector_version}, classifier {run.classifier_version or 'none'}, "
        f"embedder {run.embedder_version} (run {run.run_id})",
        "",
        table(report.by_location + [{"location": "TOTAL", **total}], LOCATION_COLUMNS),
    ]
    if "thumper-demo" in f"{run.detector_version} {run.classifier_version}":
        lines.insert(-2, "  note:       the demo models learned from synthetic drawings only: on real photos their "
                         "species, sex and age mean nothing (use --detector megadetector-v6-c --classifier PATH)")
    if run.recovered:
        lines.insert(1, f"  resumed:    {run.recovered} photos left unfinished by an interrupted run")
    if report.failures:
        lines += ["", "Failed photos:"] + [f"  {p}: {e}" for p, e in report.failures]
    for path, why in ing.unreadable[:20]:
        lines.append(f"  unreadable {path}: {why}")
    return "\n".join(lines)


def _num(x: float | None, ratio: bool = False) -> str:
    return "" if x is None else f"{x:.2f}" if ratio else f"{x:.1f}"


FIGURE_TITLES = {"bucks": "bucks", "does": "does", "fawns": "fawns", "total": "TOTAL DEER",
                 "does_per_buck": "does per buck (photos)", "fawns_per_doe": "fawns per doe (photos)",
                 "jacobson_bucks": "Jacobson: bucks seen", "jacobson_does": "Jacobson: does (r = 1)",
                 "jacobson_fawns": "Jacobson: fawns (r = 1)", "jacobson_total": "Jacobson: total (r = 1)",
                 "bucks_chao": "bucks, Chao Mh", "bucks_schnabel": "bucks, Schnabel / Chapman"}


def render_estimate(est) -> str:
    """The census estimate (pipelines.estimate.CensusEstimate) as a table with its intervals, the
    buck roster, and the assumptions it rests on."""
    from pipelines.census_estimate import figure_order

    w, p, ro = est.window, est.photos, est.roster
    where = est.location or "all locations"
    lines = [f"Census estimate: {where}, {w.start} .. {w.end} ({w.name}, {w.days} days): {est.events} bursts "
             f"on {est.days_with_photos} days",
             f"  photos (one per animal per burst): {p['buck']} buck, {p['doe']} doe, {p['fawn']} fawn, "
             f"{p['unknown']} unknown class (left out of the ratios)", ""]
    rows, refusals = [], []
    for k in figure_order(est.figures):
        f = est.figures[k]
        ratio = k in ("does_per_buck", "fawns_per_doe")
        if f.refused:
            if f.refused not in refusals:
                refusals.append(f.refused)
            note = f"refused [{refusals.index(f.refused) + 1}]"
            rows.append({"figure": FIGURE_TITLES.get(k, k), "point": note, "interval": ""})
        else:
            count = k == "jacobson_bucks" or f.low is None  # the bucks seen: no sampling interval
            interval = "(a count)" if count else f"{_num(f.low, ratio)} - {_num(f.high, ratio)}"
            rows.append({"figure": FIGURE_TITLES.get(k, k), "point": _num(f.point, ratio), "interval": interval})
    lines.append(table(rows, [("figure", "figure"), ("point", "estimate"), ("interval", "95% interval")]))
    lines += [f"  [{i}] {why}" for i, why in enumerate(refusals, 1)]
    total = est.figures.get("total")
    if total is not None and total.refused is None:
        lines.append(f"  bucks, does, fawns, total: {total.method}")
    ages = ", ".join(f"{a} {c['confirmed'] + c['automatic']}" for a, c in ro.by_age.items()
                     if c["confirmed"] + c["automatic"])
    lines += ["", f"Bucks seen (antlered, one per profile): {ro.total} ({ro.confirmed} confirmed by a person, "
                  f"{ro.automatic} automatic re-ID only)" + (f"; by age: {ages}" if ages else ""),
              f"  {ro.unidentified_photos} buck photos named no individual",
              "  does and fawns are not individually identifiable: they are estimated from the photo ratios, "
              "never counted by their profiles"]
    lines += [f"Note: {n}" for n in est.notes]
    lines += ["", "Assumptions (docs/census.md says what to do when one fails):"]
    lines += [f"  - {a}" for a in est.assumptions]
    s = est.settings
    lines.append(f"  ({s['n_boot']} bootstrap replicates, seed {s['seed']}: the same photos and corrections "
                 "give the same figures)")
    return "\n".join(lines)


def render_report(r: dict) -> str:
    ages = r["bucks_by_age"]
    others = r["deer"] - r["male"]
    lines = [f"Re-ID profiles: {r['deer']} active from {r['sightings']} detections (not a census: see the "
             f"estimate above)",
             f"  {r['male']} buck profiles (antlered bucks, told apart one by one)",
             f"  {others} other profiles ({r['female']} of does, {others - r['female']} of fawns or unknown sex): "
             "not individually identifiable, not a count of deer",
             "Buck profiles by age class: " + (", ".join(f"{a} {ages[a]}" for a in AGE_ORDER if a in ages) or "none"),
             "", "Sightings by location and month (a visit = one deer in one burst; bucks = buck profiles seen):"]
    lines.append(table(r["by_location_month"], [("location", "location"), ("month", "month"),
                                                ("visits", "visits"), ("bucks", "bucks"), ("detections", "detections")])
                 if r["by_location_month"] else "  none")
    lines += ["", "Rut season (September-January):"]
    rut = [{**row, "season": f"{row['season_start']}-{(row['season_start'] + 1) % 100:02d}"} for row in r["rut"]]
    lines.append(table(rut, [("season", "season"), ("month", "month"), ("buck_visits", "buck visits"),
                             ("doe_visits", "doe visits"), ("bucks", "bucks"), ("mature_bucks", "mature bucks")])
                 if rut else "  no sightings between September and January")
    lines += ["", render_effort(r.get("effort", []))]
    return "\n".join(lines)


def render_effort(sites: list[dict]) -> str:
    """Trap-nights and independent events (bursts) per 100 trap-nights, by class and site."""
    from pipelines.effort import CLASSES, GAP_DAYS

    if not sites:
        return "Effort: no deployments yet"
    rows = []
    for s in sites:
        row = {"site": s["site"], "trap_nights": s["trap_nights"]}
        for c in CLASSES:
            rate = s[f"{c}_per_100"]
            row[c] = "-" if rate is None else f"{rate:.1f} ({s[f'{c}_events']})"
        rows.append(row)
    return (f"Effort: trap-nights per site, and events (bursts) per 100 trap-nights (camera periods as set with "
            f"thumper cameras, else first to last photo; over {GAP_DAYS:g} days without a photo counts as not "
            "working):\n" + table(rows, [("site", "site"), ("trap_nights", "trap-nights"),
                                          *((c, f"{c} per 100 (events)") for c in CLASSES)]))


def render_summary(s: ReidSummary) -> str:
    return (f"reid run {s.run_id}: {s.detections} detections in {s.bursts} bursts -> {s.deer} deer profiles "
            f"({s.new_deer} new, {s.retired} retired), {s.unassigned} below min sightings, "
            f"{s.excluded} marked not a deer; {s.must_links} must-links, {s.cannot_links} cannot-links; "
            + ", ".join(f"{k} {v:.2f} s" for k, v in s.seconds.items()))
