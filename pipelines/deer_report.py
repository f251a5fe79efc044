"""`thumper report`: how many deer, which, where and when, from the re-ID profiles."""
from __future__ import annotations

from store.reid_reports import ReportQueries

AGE_ORDER = ["young", "mid", "mature", "unknown"]


def build_report(conn) -> dict:
    q = ReportQueries(conn)
    totals = q.deer_totals()
    female, male = totals["female"], totals["male"]
    return {
        **totals,
        "sex_ratio": (f"1 buck : {female / male:.2f} does" if male else "no bucks identified") if female or male
        else "no sexed deer",
        "bucks_by_age": q.bucks_by_age(),
        "by_location_month": q.by_location_month(),
        "rut": q.rut(),
    }


def render_report(r: dict) -> str:
    from thumper.report import table

    ages = r["bucks_by_age"]
    lines = [f"Deer identified: {r['deer']} ({r['female']} does, {r['male']} bucks, {r['unknown']} unknown sex)"
             f" from {r['sightings']} detections",
             f"Sex ratio: {r['sex_ratio']}",
             "Bucks by age class: " + (", ".join(f"{a} {ages[a]}" for a in AGE_ORDER if a in ages) or "none"),
             "", "Sightings by location and month (a visit = one deer in one burst):"]
    lines.append(table(r["by_location_month"], [("location", "location"), ("month", "month"),
                                                ("visits", "visits"), ("deer", "deer"), ("detections", "detections")])
                 if r["by_location_month"] else "  none")
    lines += ["", "Rut season (September-January):"]
    rut = [{**row, "season": f"{row['season_start']}-{(row['season_start'] + 1) % 100:02d}"} for row in r["rut"]]
    lines.append(table(rut, [("season", "season"), ("month", "month"), ("buck_visits", "buck visits"),
                             ("doe_visits", "doe visits"), ("bucks", "bucks"), ("does", "does"),
                             ("mature_bucks", "mature bucks")])
                 if rut else "  no sightings between September and January")
    return "\n".join(lines)
