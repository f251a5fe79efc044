"""The census estimate from what is stored (issue 12): the deer detections of a survey window, their
bursts linked into tracks by box overlap, and the re-ID profiles with the corrections people made,
through `pipelines.estimate`. `thumper report`, `thumper export --format estimate-*`, the REST API
and the web Census page all call `census_estimate`, so they show the same figures.

Nothing here is random but the seeded bootstrap, and the rows come in a stable order: the same
photos, profiles and corrections give the same estimate, after any number of `thumper reid` runs
or a full reprocess.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from pipelines.bursts import link_burst_detections
from pipelines.estimate import DEFAULT_DAYS, CensusEstimate, SurveyWindow, estimate, events_from_rows
from store import Store

TRACK_IOU = 0.3  # as re-ID's burst links (pipelines.reid.ReidSettings.burst_iou)
DEFAULT_BOOT = 1000


def survey_window(store: Store, spec: str | None = None, date_from: date | None = None,
                  date_to: date | None = None, location: str | None = None,
                  today: date | None = None) -> SurveyWindow:
    """The window a user asked for: dates (both, or one: `date_from` up to the latest deer photo,
    or the 14 days ending on `date_to`), a preset (`SurveyWindow.parse`: last-N-days, rut, rut-2024,
    late-summer ...), or by default the last 14 days of deer photos at the location. With no deer
    photo at all, the 14 days ending `today`. Raises ValueError for a bad spec or dates."""
    if spec and (date_from or date_to):
        raise ValueError("give either a season / preset or dates, not both")
    if date_from and date_to:
        return SurveyWindow(date_from, date_to)
    latest = store.reports.latest_deer_photo(location)
    last = latest.date() if latest else (today or date.today())
    if date_to:
        return SurveyWindow(date_to - timedelta(days=DEFAULT_DAYS - 1), date_to)
    if date_from:
        return SurveyWindow(date_from, max(last, date_from))
    return SurveyWindow.parse(spec, [last])


def link_tracks(rows: Sequence[dict], iou: float = TRACK_IOU) -> None:
    """Set each row's `track`: the animal within its burst, the component of the boxes that overlap
    (IoU >= `iou`, one-to-one, greedily) from one photo of the burst to the next (the links re-ID
    uses as must-links, pipelines.reid_constraints.burst_links). Photos of a burst without a deer in
    them are skipped, so a missed detection does not cut a track. A row without a burst is its own
    track."""
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    bursts: dict[object, dict[int, list[int]]] = {}
    for i, r in enumerate(rows):
        if r.get("burst_id") is not None:
            bursts.setdefault(r["burst_id"], {}).setdefault(r["image_id"], []).append(i)
    for photos in bursts.values():
        order = sorted(photos, key=lambda img: (rows[photos[img][0]]["taken_at"], img))
        dets = [photos[img] for img in order]
        boxes = [[(rows[i]["x1"], rows[i]["y1"], rows[i]["x2"], rows[i]["y2"]) for i in d] for d in dets]
        for (p, a), (q, b) in link_burst_detections(boxes, iou):
            ra, rb = root(dets[p][a]), root(dets[q][b])
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    for i, r in enumerate(rows):
        # named by the burst and its first detection: stable across runs for the same photos
        r["track"] = (r.get("burst_id"), rows[root(i)]["detection_id"]) if r.get("burst_id") is not None else None


def estimate_rows(store: Store, window: SurveyWindow, location: str | None = None) -> list[dict]:
    """The window's deer detections with their tracks, ready for `events_from_rows`."""
    rows = store.reports.estimate_rows(window.start, window.end, location)
    link_tracks(rows)
    return rows


def census_estimate(store: Store, window: SurveyWindow | str | None = None, location: str | None = None, *,
                    n_boot: int = DEFAULT_BOOT, seed: int = 0, **options) -> CensusEstimate:
    """The census of `location` (None: every camera pooled) over `window` (a SurveyWindow, a spec
    for `survey_window`, or None: the last 14 days of deer photos). `options` go to
    `pipelines.estimate.estimate` (sightability, buck_estimator, confirmed_only ...)."""
    if not isinstance(window, SurveyWindow):
        window = survey_window(store, window, location=location)
    events = events_from_rows(estimate_rows(store, window, location))
    return estimate(events, window, location=location, n_boot=n_boot, seed=seed, **options)


# ---- plain figures for the report, exports and the API --------------------------------------------
HEADLINE = ("bucks", "does", "fawns", "total")
RATIOS = ("does_per_buck", "fawns_per_doe")
CLASSIC = ("jacobson_bucks", "jacobson_does", "jacobson_fawns", "jacobson_total")
BUCK_ESTIMATES = ("bucks_chao", "bucks_schnabel")


def figure_order(figures: Mapping) -> list[str]:
    """Headline figures first, then the ratios, the published Jacobson figures, both buck estimates."""
    known = [k for k in (*HEADLINE, *RATIOS, *CLASSIC, *BUCK_ESTIMATES) if k in figures]
    return known + sorted(k for k in figures if k not in known)


__all__ = ["census_estimate", "survey_window", "link_tracks", "estimate_rows", "figure_order", "HEADLINE"]
