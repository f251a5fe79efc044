"""Survey effort: trap-nights per deployment, and detection rates per 100 trap-nights by class and
site, from independent events (bursts) so that a deer standing in front of a camera for 40 shots
counts once.

A deployment is active from its start to its end (as set with `thumper cameras set`, else its
first and last photo, in corrected time). A stretch longer than `gap_days` with no photo at all is
counted as the camera not working (a flat battery, a full card, a fallen camera), but for the day
after its last photo: trail cameras on a site with deer fire most days, and two silent weeks are
likelier a dead camera than no animal. That is a heuristic, shown with its gaps so a person can
judge; `gap_days=0` turns it off, and a deployment's own start/end always bound it. A deployment
has at least one trap-night for each day it took a photo.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from store import Store

GAP_DAYS = 14.0
CLASSES = ("doe", "fawn", "buck", "deer")


@dataclass
class DeploymentEffort:
    deployment_id: int
    location: str
    camera: str
    start: datetime | None
    end: datetime | None
    trap_nights: float
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)  # counted as not working
    events: dict[str, int] = field(default_factory=dict)  # deer class -> independent events

    def rate(self, deer_class: str) -> float | None:
        """Events per 100 trap-nights; None without effort."""
        return 100 * self.events.get(deer_class, 0) / self.trap_nights if self.trap_nights else None


def active_nights(start: datetime, end: datetime, photos: list[datetime], gap_days: float) -> tuple[float, list]:
    """Days from start to end, less the photo-free stretches over gap_days; and those stretches."""
    inside = [t for t in photos if start <= t <= end]
    photo_days = len({t.date() for t in inside})
    if end <= start:
        return float(max(photo_days, 1)), []  # one photo, or one burst: a night of effort at least
    total = (end - start).total_seconds() / 86400
    gaps = []
    if gap_days > 0:
        marks = [start, *inside, end]
        for a, b in zip(marks, marks[1:]):
            if b - a > timedelta(days=gap_days):
                gaps.append((a + timedelta(days=1), b))  # it worked the night after its last photo
    dead = sum((b - a).total_seconds() for a, b in gaps) / 86400
    return round(max(total - dead, float(photo_days)), 2), gaps


def effort(store: Store, gap_days: float = GAP_DAYS, location: str | None = None) -> list[DeploymentEffort]:
    deployments = store.deployments.list(location)
    photos: dict[int, list[datetime]] = defaultdict(list)
    for dep, t in store.deployments.photo_days():
        photos[dep].append(t)
    events: dict[int, dict[str, int]] = defaultdict(dict)
    for r in store.deployments.events_by_class():
        events[r["deployment_id"]][r["deer_class"]] = r["events"]
    out = []
    for d in deployments:
        start, end = d["start"], d["end"]
        nights, gaps = active_nights(start, end, photos[d["id"]], gap_days) if start and end else (0.0, [])
        camera = " ".join(x for x in (d["camera_make"], d["camera_model"]) if x) or "unknown camera"
        out.append(DeploymentEffort(d["id"], d["location"], camera, start, end, nights, gaps, events[d["id"]]))
    return out


def by_site(efforts: list[DeploymentEffort]) -> list[dict]:
    """Per location, then all: trap-nights, events and events per 100 trap-nights by class."""
    sites: dict[str, list[DeploymentEffort]] = defaultdict(list)
    for e in efforts:
        sites[e.location].append(e)
    rows = []
    for name, group in [*sorted(sites.items()), ("all sites", efforts)]:
        nights = sum(e.trap_nights for e in group)
        row = {"site": name, "deployments": len(group), "trap_nights": round(nights, 1)}
        for c in CLASSES:
            n = sum(e.events.get(c, 0) for e in group)
            row[f"{c}_events"] = n
            row[f"{c}_per_100"] = round(100 * n / nights, 1) if nights else None
        rows.append(row)
    return rows
