"""The re-ID part of `thumper report`: the profiles (buck profiles are individual bucks; profiles of
does and fawns are not individually identifiable, so they are no count of deer), where and when
they were seen. The census itself is pipelines.census_estimate."""
from __future__ import annotations

from pipelines.effort import by_site, effort
from store import Store

AGE_ORDER = ["young", "mid", "mature", "unknown"]


def build_report(store: Store) -> dict:
    q = store.reports
    return {
        **q.deer_totals(),
        "bucks_by_age": q.bucks_by_age(),
        "by_location_month": q.by_location_month(),
        "rut": q.rut(),
        "effort": by_site(effort(store)),  # trap-nights and events per 100 trap-nights, per site
    }
