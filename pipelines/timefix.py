"""Camera clocks put right, as facts: a fixed offset, a linear drift, a daylight-saving hour, an AM/PM
swap, each over a deployment's photos (or a range of them, in the time the camera recorded). The
photo's own time (`recorded_at`) never changes; `taken_at` is recomputed from it and the live
corrections, in the order they were made, and bursts are regrouped, so every filter, chart, report
and export follows. Undo is one more fact. The same corrections apply to photos ingested later and
survive any reprocess (models never touch time).

Kinds, after Timelapse's date-time fixes and Camtrap DP's `timestampIssues`:
- offset: `+1h30m`, `-3600s`, `-2d`: the camera was set wrong by a fixed amount;
- drift: the camera said T_cam when the true time was T_true; its error grew linearly from zero at
  the start (the range's, else the deployment's first photo) to T_true - T_cam at T_cam;
- dst: an hour (or the given amount) from a date on: the camera was left on summer time;
- ampm: 12 hours added to morning times and taken from afternoon ones: a 12-hour clock set wrong.
"""
from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

from store import Store
from store.deployments import DeploymentError, TimeCorrection

KINDS = ("offset", "drift", "dst", "ampm")
_DURATION = re.compile(r"^([+-])?\s*((?:\d+(?:\.\d+)?\s*[dhms]\s*)+)$")
_HMS = re.compile(r"^([+-])?(\d{1,3}):(\d{2})(?::(\d{2}))?$")
_UTC_OFFSET = re.compile(r"^[+-](\d{2}):(\d{2})$")


def parse_duration(text: str) -> float:
    """Seconds of '+1h30m', '-90s', '2d', '-01:30' or '+1:00:00'; a bare number is seconds."""
    s = text.strip().lower()
    if re.fullmatch(r"[+-]?\d+(\.\d+)?", s):
        return float(s)
    if m := _HMS.match(s):
        sign = -1 if m.group(1) == "-" else 1
        return sign * (int(m.group(2)) * 3600 + int(m.group(3)) * 60 + int(m.group(4) or 0))
    if m := _DURATION.match(s):
        sign = -1 if m.group(1) == "-" else 1
        unit = {"d": 86400, "h": 3600, "m": 60, "s": 1}
        return sign * sum(float(n) * unit[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)\s*([dhms])", m.group(2)))
    raise DeploymentError(f"not a duration: {text!r} (examples: +1h30m, -3600s, -2d, +01:30)")


def parse_time(text: str) -> datetime:
    """A camera-local wall time: 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM[:SS]' or ISO 'T'."""
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DeploymentError(f"not a date and time: {text!r} (example: 2024-11-03 02:00)") from None
    if t.tzinfo is not None:
        raise DeploymentError(f"{text!r}: give camera-local wall time, without a zone (set the zone with "
                              "--time-zone)")
    return t


def check_time_zone(name: str) -> str:
    """An IANA zone name (America/Chicago) or a fixed UTC offset (-05:00)."""
    if m := _UTC_OFFSET.match(name):
        if int(m.group(1)) > 14 or int(m.group(2)) >= 60:
            raise DeploymentError(f"not a UTC offset: {name!r}")
        return name
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DeploymentError(f"unknown time zone {name!r}: an IANA name such as America/Chicago, or an "
                              "offset such as -05:00") from None
    return name


def check_coordinates(latitude: float | None, longitude: float | None) -> None:
    if latitude is not None and not -90 <= latitude <= 90:
        raise DeploymentError(f"latitude {latitude} is out of range (-90 to 90); nothing changed")
    if longitude is not None and not -180 <= longitude <= 180:
        raise DeploymentError(f"longitude {longitude} is out of range (-180 to 180); nothing changed")


def _in_range(t: datetime, c: TimeCorrection) -> bool:
    return (c.range_start is None or t >= c.range_start) and (c.range_end is None or t <= c.range_end)


def corrected(recorded: datetime, corrections: list[TimeCorrection], start: datetime | None) -> datetime:
    """The time after the live corrections, applied in order; ranges are in recorded time."""
    t = recorded
    for c in corrections:
        if c.undone_at is not None or not _in_range(recorded, c):
            continue
        if c.kind in ("offset", "dst"):
            t += timedelta(seconds=c.offset_seconds)
        elif c.kind == "ampm":
            t += timedelta(hours=12) if t.hour < 12 else -timedelta(hours=12)
        elif c.kind == "drift":
            t0 = c.range_start or start
            span = (c.known_recorded - t0).total_seconds()
            error = (c.known_true - c.known_recorded).total_seconds()
            t += timedelta(seconds=error * (recorded - t0).total_seconds() / span)
    return t


@dataclass
class Applied:
    correction_id: int | None
    photos_changed: int
    bursts: int


def recompute(store: Store, deployment_ids: list[int]) -> tuple[int, int]:
    """taken_at of these deployments' photos from recorded_at and their live corrections, then the
    bursts regrouped. Returns (photos changed, bursts)."""
    from pipelines.reid import regroup_bursts

    deps = store.deployments
    per_dep = {d: (deps.corrections(d, include_undone=False), deps.first_recorded(d)) for d in deployment_ids}
    times = []
    for image_id, dep, recorded, taken in deps.recorded_times(deployment_ids):
        fixes, start = per_dep[dep]
        new = corrected(recorded, fixes, start) if recorded is not None else None
        if new != taken:
            times.append((image_id, new))
    changed = deps.set_taken_at(times)
    return changed, regroup_bursts(store) if changed else 0


def add_correction(store: Store, deployment_id: int, kind: str, *, by: str | None = None,
                   camera_said: str | None = None, true_time: str | None = None,
                   start: str | None = None, end: str | None = None, note: str | None = None) -> Applied:
    """Checks, stores and applies one correction; a refused one changes nothing."""
    if kind not in KINDS:
        raise DeploymentError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    store.deployments.get(deployment_id)  # an unknown deployment is named as such, whatever the kind
    range_start, range_end = (parse_time(start) if start else None), (parse_time(end) if end else None)
    if range_start and range_end and range_end < range_start:
        raise DeploymentError(f"the range ends ({range_end}) before it starts ({range_start}); nothing changed")
    values: dict = {"range_start": range_start, "range_end": range_end, "note": note}
    if kind in ("offset", "dst"):
        if by is None and kind == "offset":
            raise DeploymentError("an offset needs --by (e.g. +1h, -30m)")
        values["offset_seconds"] = parse_duration(by) if by is not None else -3600.0
        if values["offset_seconds"] == 0:
            raise DeploymentError("a shift of zero changes nothing")
    elif kind == "drift":
        if not (camera_said and true_time):
            raise DeploymentError("a drift needs the time the camera said and the true time at that moment")
        values["known_recorded"], values["known_true"] = parse_time(camera_said), parse_time(true_time)
        t0 = range_start or store.deployments.first_recorded(deployment_id)
        if t0 is None or values["known_recorded"] <= t0:
            raise DeploymentError(f"the known time ({values['known_recorded']}) must come after the start of the "
                                  f"drift ({t0}): the error is zero there and grows to the known one")
    with store.transaction():
        cid = store.deployments.add_correction(deployment_id, kind, **values)
        changed, bursts = recompute(store, [deployment_id])
    return Applied(cid, changed, bursts)


def undo(store: Store, correction_id: int) -> tuple[TimeCorrection, Applied]:
    with store.transaction():
        c = store.deployments.undo_correction(correction_id)
        changed, bursts = recompute(store, [c.deployment_id])
    return c, Applied(correction_id, changed, bursts)


def after_ingest(store: Store, image_ids: list[int]) -> int:
    """New photos of a deployment that has corrections get them too (a later card from a camera
    whose clock was fixed). Returns how many photos changed."""
    deps = [d for d in store.deployments.deployments_of(image_ids) if store.deployments.corrections(d, include_undone=False)]
    return recompute(store, deps)[0] if deps else 0


def describe(c: TimeCorrection) -> str:
    """One line for a person: what the correction does."""
    where = (f" from {c.range_start:%Y-%m-%d %H:%M}" if c.range_start else "") + (
        f" to {c.range_end:%Y-%m-%d %H:%M}" if c.range_end else "")
    if c.kind in ("offset", "dst"):
        sign = "+" if c.offset_seconds >= 0 else "-"
        what = f"{c.kind} {sign}{timedelta(seconds=abs(c.offset_seconds))}"
    elif c.kind == "drift":
        what = f"drift: camera said {c.known_recorded:%Y-%m-%d %H:%M:%S} at true {c.known_true:%Y-%m-%d %H:%M:%S}"
    else:
        what = "AM/PM swapped"
    return what + where + (" (undone)" if c.undone_at else "")
