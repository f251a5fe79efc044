"""The deer report (`thumper report`): how many deer, which, where and when, from the re-ID profiles."""
from __future__ import annotations

from store import Store

AGE_ORDER = ["young", "mid", "mature", "unknown"]


def build_report(store: Store) -> dict:
    q = store.reports
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
