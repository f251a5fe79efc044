"""The deer census estimate (issue 12): how many bucks, does and fawns use the place, with 95%
intervals, from what the cameras saw in a survey window. Pure numpy: no Ray, no SQL.

The re-ID profile count is not a census (unmarked does and fawns cannot be told apart), so this is
the trail-camera survey deer managers use (Jacobson et al. 1997): antlered bucks are counted as
individuals; does and fawns come from photo ratios over independent events (bursts).

    bucks  N_b  = unique antlered bucks (the classic figure) or a capture-recapture estimate of them
    does   N_d  = N_b x (doe photos / buck photos) x r      r: a buck's photo rate / a doe's
    fawns  N_f  = N_d x (fawn photos / doe photos)
    total       = N_b + N_d + N_f

Two sets of figures come out (docs/census.md):

- `jacobson_*`, the method as published: N_b the raw count, r = 1. Biased low when some bucks
  were never photographed or bucks are photographed more often than does.
- `bucks` / `does` / `fawns` / `total`, the reported ones: N_b from a closed-population
  capture-recapture estimate over daily occasions (Chao's Mh by default, Schnabel / Chapman as
  `buck_estimator="schnabel"`; both are always given as `bucks_chao`, `bucks_schnabel`), and r
  over a stated range (`sightability`, default 1-2): the point at its geometric mean, the interval
  wide enough for any r in the range. benchmarks/census_accuracy.py measures how often it covers a
  simulated truth.

Input is one `Event` per burst holding one `Track` per animal in it; `events_from_rows` builds them
from detection rows, and `label_tracks` decides each track's class from its frames. The same events
and the same seed give the same estimate, whatever order the events come in.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

CLASSES = ("buck", "doe", "fawn", "unknown")
BUCK_AGES = ("young", "mid", "mature", "unknown")
# stored deer_class values that mean "a deer, class not known"
_UNKNOWN_CLASS = {None, "", "deer", "unknown"}

DEFAULT_DAYS = 14
DEFAULT_SIGHTABILITY = (1.0, 2.0)  # a buck's per-animal photo rate over a doe's: assumed range
MIN_BUCK_PHOTOS = 10
MIN_RECAPTURES = 3

# name -> (start month, start day, end month, end day); an end before the start is next year
SEASONS: dict[str, tuple[int, int, int, int]] = {
    "rut": (9, 1, 1, 31),            # antlered, moving: September to January
    "late-summer": (8, 1, 9, 30),    # antlers grown, before the rut and the hunting season
}


# ---- survey window -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SurveyWindow:
    """Days start..end, both included (camera-local dates)."""
    start: date
    end: date
    name: str = "custom"

    def __post_init__(self):
        if self.end < self.start:
            raise ValueError(f"survey window ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, when: date | datetime) -> bool:
        d = when.date() if isinstance(when, datetime) else when
        return self.start <= d <= self.end

    def day_index(self, when: date | datetime) -> int:
        d = when.date() if isinstance(when, datetime) else when
        return (d - self.start).days

    @classmethod
    def last_days(cls, dates: Iterable[date | datetime], days: int = DEFAULT_DAYS) -> "SurveyWindow":
        """The `days` days ending on the latest photo's date (the default window)."""
        found = [d.date() if isinstance(d, datetime) else d for d in dates if d is not None]
        if not found:
            raise ValueError("no dated photos to place a survey window on")
        end = max(found)
        return cls(end - timedelta(days=days - 1), end, f"last-{days}-days")

    @classmethod
    def season(cls, name: str, year: int) -> "SurveyWindow":
        """Season `name` starting in `year`: season("rut", 2024) is 2024-09-01 .. 2025-01-31."""
        if name not in SEASONS:
            raise ValueError(f"unknown season {name!r}: one of {', '.join(SEASONS)}")
        sm, sd, em, ed = SEASONS[name]
        end_year = year + 1 if (em, ed) < (sm, sd) else year
        return cls(date(year, sm, sd), date(end_year, em, ed), f"{name}-{year}")

    @classmethod
    def latest_season(cls, name: str, dates: Iterable[date | datetime]) -> "SurveyWindow":
        """The season `name` that holds the latest photo, or else the last one before it."""
        found = [d.date() if isinstance(d, datetime) else d for d in dates if d is not None]
        if not found:
            raise ValueError("no dated photos to place a survey window on")
        last = max(found)
        for year in (last.year, last.year - 1, last.year - 2):
            w = cls.season(name, year)
            if w.start <= last:
                return w
        raise AssertionError("unreachable: a season starts every year")

    @classmethod
    def parse(cls, spec: str | None, dates: Iterable[date | datetime] = ()) -> "SurveyWindow":
        """What a user types: None / "last-14-days" / "last-N-days", "rut" (latest), "rut-2024",
        "late-summer-2024", or "2024-10-01..2024-10-14"."""
        if not spec:
            return cls.last_days(dates)
        if ".." in spec:
            a, b = spec.split("..", 1)
            return cls(date.fromisoformat(a.strip()), date.fromisoformat(b.strip()))
        if spec.startswith("last-") and spec.endswith("-days"):
            return cls.last_days(dates, int(spec[5:-5]))
        if spec in SEASONS:
            return cls.latest_season(spec, dates)
        name, _, year = spec.rpartition("-")
        if name in SEASONS and year.isdigit():
            return cls.season(name, int(year))
        raise ValueError(f"unknown survey window {spec!r}: last-N-days, START..END, or a season "
                         f"({', '.join(SEASONS)}) optionally with its starting year")


# ---- input records -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Track:
    """One animal in one event (its frames' labels already decided: `label_tracks`)."""
    deer_class: str                  # buck | doe | fawn | unknown
    buck_id: int | str | None = None  # the buck's profile id, when re-ID (or a person) named him
    confirmed: bool = False           # a person confirmed that id
    age_class: str | None = None      # young | mid | mature for bucks

    def __post_init__(self):
        if self.deer_class not in CLASSES:
            raise ValueError(f"track class {self.deer_class!r}: one of {CLASSES}")


@dataclass(frozen=True)
class Event:
    """One independent sighting event: a burst (one trigger's photos at one camera)."""
    id: int | str
    taken_at: datetime
    location: str | None
    tracks: tuple[Track, ...]


# ---- per-track labels ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """One detection of a track: the classifier's probabilities (label -> prob, the stored
    class_probs), or just its label, and a person's correction of the class if there is one."""
    track: object
    probs: Mapping[str, float] | None = None
    label: str | None = None
    correction: str | None = None          # buck | doe | fawn | unknown, decides the whole track
    correction_age: str | None = None


@dataclass(frozen=True)
class TrackLabel:
    deer_class: str
    age_class: str | None
    corrected: bool
    log_score: float  # summed log-probability of the chosen class (0 when corrected)


_FLOOR = 1e-6  # a probability of exactly 0 in one frame must not veto what other frames say
_class_map = None


def default_fold(label: str) -> tuple[str, str | None] | None:
    """A classifier label -> (census class, buck age) through models/class_map.yaml; None for a
    label that is not a deer (its probability mass is left out)."""
    global _class_map
    if _class_map is None:
        from models.classes import ClassMap  # yaml, not numpy: only when labels need folding
        _class_map = ClassMap.load()
    m = _class_map.meaning(label)
    if not m.is_deer:
        return None
    cls = m.deer_class if m.deer_class in CLASSES else "unknown"
    return cls, (m.age_class if cls == "buck" else None)


def label_tracks(frames: Iterable[Frame],
                 fold: Callable[[str], tuple[str, str | None] | None] = default_fold) -> dict[object, TrackLabel]:
    """Each track's class from all its frames.

    A frame's probabilities are folded to the census classes (summed over labels meaning the same
    class, non-deer mass dropped, renormalised); the track's class is the one with the largest
    SUM OF LOG-PROBABILITIES over its frames (frames as independent evidence, flat prior; each
    probability floored at 1e-6). One frame that shows the antlers plainly thus outweighs several
    that are unsure, which a mean of probabilities would not. A buck's age is decided the same way
    over the buck labels' probabilities. A person's correction on any frame decides the track (the
    last one given wins). Tracks are decided apart: a buck among does stays a buck.
    """
    scores: dict[object, np.ndarray] = {}
    ages: dict[object, np.ndarray] = {}
    corrected: dict[object, tuple[str, str | None]] = {}
    for f in frames:
        if f.correction is not None:
            if f.correction not in CLASSES:
                raise ValueError(f"correction {f.correction!r}: one of {CLASSES}")
            corrected[f.track] = (f.correction, f.correction_age)
        probs = dict(f.probs) if f.probs else ({f.label: 1.0} if f.label else {})
        cls_p = np.zeros(len(CLASSES))
        age_p = np.zeros(3)
        for label, p in probs.items():
            meaning = fold(label)
            if meaning is None or not p or not math.isfinite(p):
                continue
            cls, age = meaning
            cls_p[CLASSES.index(cls)] += p
            if cls == "buck" and age in BUCK_AGES[:3]:
                age_p[BUCK_AGES.index(age)] += p
        s = scores.setdefault(f.track, np.zeros(len(CLASSES)))
        a = ages.setdefault(f.track, np.zeros(3))
        if cls_p.sum() > 0:
            s += np.log(np.maximum(cls_p / cls_p.sum(), _FLOOR))
        if age_p.sum() > 0:
            a += np.log(np.maximum(age_p / age_p.sum(), _FLOOR))
    out = {}
    for track, s in scores.items():
        if track in corrected:
            cls, age = corrected[track]
            if cls == "buck" and age is None and ages[track].any():
                age = BUCK_AGES[int(np.argmax(ages[track]))]
            out[track] = TrackLabel(cls, age if cls == "buck" else None, True, 0.0)
            continue
        if not s.any():  # no frame said anything about this deer
            out[track] = TrackLabel("unknown", None, False, 0.0)
            continue
        k = int(np.argmax(s))  # ties: the order of CLASSES
        cls = CLASSES[k]
        age = BUCK_AGES[int(np.argmax(ages[track]))] if cls == "buck" and ages[track].any() else None
        out[track] = TrackLabel(cls, age, False, float(s[k]))
    return out


def events_from_rows(rows: Iterable[Mapping], fold: Callable[[str], tuple[str, str | None] | None] = default_fold,
                     ) -> list[Event]:
    """Events from detection rows, one row per detection of a deer. Keys:

    burst_id (the event; missing -> the row's image_id, its own event), taken_at, location,
    track (the animal within the burst: the burst's box-link component; missing -> deer_id, then
    detection_id, then one track per row), deer_class (stored: doe | fawn | buck | deer), age_class,
    class_probs (label -> prob, read through `fold`; without it the stored class votes as one sure
    frame), corrected_class / corrected_age (a person's call on that detection), deer_id (the
    profile: a buck's id), confirmed (a person confirmed that profile). Undated rows are left out.
    """
    by_event: dict[tuple, list[Mapping]] = defaultdict(list)
    for n, r in enumerate(rows):
        key = ("burst", r["burst_id"]) if r.get("burst_id") is not None else ("image", r.get("image_id", n))
        by_event[key].append(r)

    def folded(label: str):
        return _stored_fold(label[1:]) if label.startswith("=") else fold(label)

    events = []
    for key, members in by_event.items():
        times = [r["taken_at"] for r in members if r.get("taken_at") is not None]
        if not times:
            continue  # an undated burst cannot be placed in a window
        frames, info = [], defaultdict(list)
        for i, r in enumerate(members):
            t = next(((k, r[k]) for k in ("track", "deer_id", "detection_id") if r.get(k) is not None), ("row", i))
            probs = r.get("class_probs")
            if not probs:
                stored = "unknown" if r.get("deer_class") in _UNKNOWN_CLASS else r["deer_class"]
                if stored == "buck" and r.get("age_class") in BUCK_AGES[:3]:
                    stored = f"buck_{r['age_class']}"
                probs = {f"={stored}": 1.0}
            frames.append(Frame(t, probs=probs, correction=r.get("corrected_class"),
                                correction_age=r.get("corrected_age")))
            info[t].append(r)
        labels = label_tracks(frames, fold=folded)
        tracks = []
        for t, rs in info.items():
            lab = labels[t]
            ids = [r["deer_id"] for r in rs if r.get("deer_id") is not None]
            buck_id = Counter(ids).most_common(1)[0][0] if ids and lab.deer_class == "buck" else None
            confirmed = buck_id is not None and any(r.get("confirmed") for r in rs if r.get("deer_id") == buck_id)
            tracks.append(Track(lab.deer_class, buck_id, confirmed, lab.age_class))
        events.append(Event(key[1] if key[0] == "burst" else f"image-{key[1]}", min(times),
                            members[0].get("location"), tuple(tracks)))
    return events


def _stored_fold(label: str) -> tuple[str, str | None] | None:
    """A stored census class (or buck_<age>) -> (class, age)."""
    if label.startswith("buck_"):
        return "buck", label[5:]
    return (label, None) if label in CLASSES else None


# ---- estimators ----------------------------------------------------------------------------------
def lincoln_petersen(n1: int, n2: int, m2: int) -> float:
    """N = n1 n2 / m2 (two occasions; undefined without recaptures)."""
    if m2 <= 0:
        raise ValueError("Lincoln-Petersen needs at least one recapture")
    return n1 * n2 / m2


def chapman(n1: int, n2: int, m2: int) -> float:
    """Chapman (1951): N = (n1 + 1)(n2 + 1) / (m2 + 1) - 1, nearly unbiased when n1 + n2 >= N."""
    return (n1 + 1) * (n2 + 1) / (m2 + 1) - 1


def schnabel_sums(histories: np.ndarray) -> tuple[float, float]:
    """(sum C_t M_t, sum R_t) of (individuals x occasions) 0/1 capture histories."""
    h = np.asarray(histories, dtype=bool)
    if h.ndim != 2 or h.shape[0] == 0:
        return 0.0, 0.0
    seen = h.any(1)
    h = h[seen]
    first = h.argmax(1)
    t = np.arange(h.shape[1])
    caught = h.sum(0)                                               # C_t
    marked = (first[:, None] < t[None, :]).sum(0)                   # M_t: marked before occasion t
    recaught = (h & (first[:, None] < t[None, :])).sum(0)           # R_t
    return float((caught * marked).sum()), float(recaught.sum())


def schnabel(histories: np.ndarray, plus_one: bool = True) -> float:
    """Schnabel (1938) multiple-census estimate, N = sum(C_t M_t) / sum(R_t); with `plus_one`
    Chapman's modification, sum(C_t M_t) / (sum(R_t) + 1), finite without recaptures and less biased
    when recaptures are few."""
    cm, r = schnabel_sums(histories)
    if plus_one:
        return cm / (r + 1)
    if r == 0:
        raise ValueError("Schnabel needs at least one recapture")
    return cm / r


# ---- results -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Figure:
    """One estimated number with its 95% interval, or the reason there is none."""
    point: float | None
    low: float | None = None
    high: float | None = None
    method: str = ""
    refused: str | None = None

    @classmethod
    def refuse(cls, why: str, method: str = "") -> "Figure":
        return cls(None, None, None, method, why)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BuckRoster:
    """The antlered bucks seen, one per profile id (a count, not an estimate)."""
    total: int
    confirmed: int            # ids a person confirmed
    automatic: int            # ids only re-ID gave
    by_age: dict[str, dict[str, int]]  # age -> {"confirmed": n, "automatic": n}
    unidentified_photos: int  # buck photos with no id (antlers seen, the individual not)


@dataclass
class CensusEstimate:
    window: SurveyWindow
    location: str | None
    events: int
    days_with_photos: int
    photos: dict[str, int]             # per class: animals seen over events (one per track)
    roster: BuckRoster
    figures: dict[str, Figure]
    assumptions: list[str]
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "window": {"start": self.window.start.isoformat(), "end": self.window.end.isoformat(),
                       "name": self.window.name, "days": self.window.days},
            "location": self.location, "events": self.events, "days_with_photos": self.days_with_photos,
            "photos": dict(self.photos), "roster": asdict(self.roster),
            "figures": {k: f.to_dict() for k, f in self.figures.items()},
            "assumptions": list(self.assumptions), "notes": list(self.notes), "settings": dict(self.settings),
        }

    def rows(self) -> list[dict]:
        """One row per figure, for CSV."""
        return [{"figure": k, **f.to_dict()} for k, f in self.figures.items()]


ASSUMPTIONS = [
    "Antlered bucks are told apart by their antlers: each buck profile is one buck (confirmed ids are "
    "a person's; automatic ids may hold re-ID merge or split errors).",
    "Within a class every animal is equally likely to be photographed (does like does, fawns like does; "
    "capture-recapture: every buck alike on every day).",
    "The herd is closed during the window: no births, deaths, arrivals or departures.",
    "Events (bursts) are independent sightings; each animal is counted once per event.",
    "Photos of unknown class are left out of the ratios (as if their classes were in the same proportions).",
]


# ---- the estimate --------------------------------------------------------------------------------
def estimate(events: Iterable[Event], window: SurveyWindow | None = None, *, location: str | None = None,
             n_boot: int = 1000, seed: int = 0, sightability: tuple[float, float] = DEFAULT_SIGHTABILITY,
             buck_estimator: str = "chao", confirmed_only: bool = False, min_buck_photos: int = MIN_BUCK_PHOTOS,
             min_recaptures: int = MIN_RECAPTURES) -> CensusEstimate:
    """The census of `events` (all locations pooled unless `location`) in `window` (default: the
    last 14 days of photos). `sightability` (lo, hi): how many times more often a buck is
    photographed than a doe, per animal; the reported does / fawns / total take the range's
    geometric mean as point and span the whole range in their interval; (1, 1) is Jacobson's
    assumption. `buck_estimator`: "chao" (Mh, robust to bucks differing in how often they are
    photographed) or "schnabel" (Chapman with two days). `confirmed_only` leaves buck ids no person
    confirmed out of the roster and the capture-recapture. Intervals: 95%, percentile bootstrap,
    `n_boot` resamples of the events (ratios) and of the bucks' capture histories (buck estimate),
    from `seed`.
    """
    lo_r, hi_r = sightability
    if buck_estimator not in ("schnabel", "chao"):
        raise ValueError(f"buck estimator {buck_estimator!r}: schnabel or chao")
    if not 0 < lo_r <= hi_r:
        raise ValueError(f"sightability range {sightability!r}: 0 < low <= high")
    evs = [e for e in events if location is None or e.location == location]
    if window is None:
        window = SurveyWindow.last_days([e.taken_at for e in evs]) if evs else None
    if window is None:
        raise ValueError("no events to estimate from, and no survey window given")
    # canonical order: the input's order never changes the bootstrap
    evs = sorted((e for e in evs if e.taken_at in window), key=lambda e: (e.taken_at, str(e.id)))
    settings = {"n_boot": n_boot, "seed": seed, "sightability": [lo_r, hi_r], "buck_estimator": buck_estimator,
                "confirmed_only": confirmed_only,
                "min_buck_photos": min_buck_photos, "min_recaptures": min_recaptures}

    n = len(evs)
    counts = np.zeros((n, len(CLASSES)), np.int64)
    buck_ids: list[object] = []
    id_index: dict[object, int] = {}
    inc_rows, inc_cols = [], []      # event x buck incidence
    id_tracks: dict[object, list[Track]] = defaultdict(list)
    for i, e in enumerate(evs):
        for t in e.tracks:
            counts[i, CLASSES.index(t.deer_class)] += 1
            if t.deer_class == "buck" and t.buck_id is not None:
                id_tracks[t.buck_id].append(t)
    usable = {b for b, ts in id_tracks.items() if not confirmed_only or any(t.confirmed for t in ts)}
    for i, e in enumerate(evs):
        for t in e.tracks:
            if t.deer_class == "buck" and t.buck_id in usable:
                if t.buck_id not in id_index:
                    id_index[t.buck_id] = len(buck_ids)
                    buck_ids.append(t.buck_id)
                inc_rows.append(i)
                inc_cols.append(id_index[t.buck_id])
    nb = len(buck_ids)
    incidence = np.zeros((n, nb), bool)
    incidence[inc_rows, inc_cols] = True
    day = np.array([window.day_index(e.taken_at) for e in evs], np.int64)
    histories = np.zeros((nb, window.days), bool)
    for i, j in zip(inc_rows, inc_cols):
        histories[j, day[i]] = True

    roster = _roster(id_tracks, usable, counts[:, 0].sum() - len(inc_rows))
    photos = dict(zip(CLASSES, (int(x) for x in counts.sum(0))))
    notes: list[str] = []
    B, D, F = photos["buck"], photos["doe"], photos["fawn"]
    figures: dict[str, Figure] = {}

    rng = np.random.default_rng(seed)
    # event bootstrap: n_boot resamples of the events, as weights (how often each event is drawn)
    w = rng.multinomial(n, np.full(n, 1 / n), size=n_boot) if n else np.zeros((n_boot, 0), np.int64)
    boot = w @ counts  # (n_boot, classes)
    bB, bD, bF = (boot[:, CLASSES.index(c)].astype(float) for c in ("buck", "doe", "fawn"))

    why_ratio = None
    if n == 0:
        why_ratio = "no photos of deer in the survey window"
    elif B < min_buck_photos:
        why_ratio = (f"only {B} buck photo{'s' if B != 1 else ''} in the window (at least {min_buck_photos} "
                     "needed): the doe and fawn ratios rest on buck photos")
    with np.errstate(divide="ignore", invalid="ignore"):
        r_dpb, r_fpd = bD / bB, bF / bD
    if why_ratio:
        for k in ("does_per_buck", "fawns_per_doe"):
            figures[k] = Figure.refuse(why_ratio, "photo ratio over events")
    else:
        figures["does_per_buck"] = _fig(D / B, r_dpb, "doe photos / buck photos, bootstrap over events")
        figures["fawns_per_doe"] = (_fig(F / D, r_fpd, "fawn photos / doe photos, bootstrap over events") if D
                                    else Figure.refuse("no doe photos: fawns per doe is undefined",
                                                       "photo ratio over events"))

    # the method as published: raw count of bucks, r = 1; the count has no sampling interval
    classic = "Jacobson et al. 1997: unique bucks x photo ratios (r = 1)"
    fpd, fpd_boot = (F / D if D else 0.0), np.nan_to_num(r_fpd)
    if why_ratio:
        for k in ("jacobson_bucks", "jacobson_does", "jacobson_fawns", "jacobson_total"):
            figures[k] = Figure.refuse(why_ratio, classic)
    else:
        figures["jacobson_bucks"] = Figure(float(nb), float(nb), float(nb),
                                           "unique antlered bucks seen (a count: no sampling interval)")
        figures.update(_totals("jacobson", float(nb), np.full(n_boot, float(nb)), D / B, r_dpb, fpd, fpd_boot,
                               (1.0, 1.0), classic))

    # capture-recapture over daily occasions: both estimators, one of them carried into the totals
    recaptures = int(histories.sum() - nb)
    for name in ("schnabel", "chao"):
        fig, draws = _capture_recapture(histories, name, n_boot, rng, min_recaptures)
        figures[f"bucks_{name}"] = fig
        if name == buck_estimator:
            figures["bucks"], buck_draws = fig, draws
    if figures["bucks"].refused is None:
        notes.append(f"{nb} identified bucks, {recaptures} recaptures over {int(histories.any(0).sum())} days "
                     f"with buck photos")
    reported = (f"{figures['bucks'].method} x photo ratios x buck:doe sightability {lo_r:g}-{hi_r:g} "
                f"(point at {math.sqrt(lo_r * hi_r):.3g}; interval: low end at {lo_r:g}, high end at {hi_r:g})")
    if why_ratio or figures["bucks"].refused:
        why = why_ratio or figures["bucks"].refused
        for k in ("does", "fawns", "total"):
            figures[k] = Figure.refuse(why, reported)
    else:
        figures.update(_totals("", figures["bucks"].point, buck_draws, D / B, r_dpb, fpd, fpd_boot,
                               (lo_r, hi_r), reported))
        if D == 0:
            notes.append("no doe photos: does and fawns are 0 by the ratios")

    assumptions = [*ASSUMPTIONS,
                   f"Bucks are photographed {lo_r:g} to {hi_r:g} times as often as does, per animal (the reported "
                   "does, fawns and total; the jacobson_ figures assume exactly 1)."]
    return CensusEstimate(window, location, n, int(len(np.unique(day))), photos, roster, figures, assumptions,
                          notes, settings)


def _interval(boot: np.ndarray) -> tuple[float | None, float | None]:
    ok = boot[np.isfinite(boot)]
    if ok.size == 0:
        return None, None
    lo, hi = np.percentile(ok, [2.5, 97.5])
    return float(lo), float(hi)


def _fig(point: float, boot: np.ndarray, method: str) -> Figure:
    lo, hi = _interval(boot)
    if lo is None:
        return Figure(float(point), None, None, method)
    # a percentile interval may miss a skewed point; the point always lies in what is shown
    return Figure(float(point), min(lo, point), max(hi, point), method)


def _totals(prefix: str, nb: float, nb_boot: np.ndarray, dpb: float, dpb_boot: np.ndarray, fpd: float,
            fpd_boot: np.ndarray, r: tuple[float, float], method: str) -> dict[str, Figure]:
    """Does, fawns and total. The sightability r is not sampled but a stated range: the point takes
    its geometric mean, the interval runs from the 2.5th percentile with r at the range's low end to
    the 97.5th with r at its high end, so it is a 95% interval for every r in the range."""
    p = f"{prefix}_" if prefix else ""
    r_point = math.sqrt(r[0] * r[1])
    does = nb * dpb * r_point
    fawns = does * fpd
    points = {"does": does, "fawns": fawns, "total": nb + does + fawns}
    ends = {}
    for end, rr in zip((0, 1), r):
        d_b = nb_boot * dpb_boot * rr
        f_b = d_b * fpd_boot
        ends[end] = {"does": _interval(d_b), "fawns": _interval(f_b), "total": _interval(nb_boot + d_b + f_b)}
    out = {}
    for k, point in points.items():
        lo, hi = ends[0][k][0], ends[1][k][1]
        out[f"{p}{k}"] = (Figure(float(point), min(lo, point), max(hi, point), method) if lo is not None
                          else Figure(float(point), None, None, method))
    return out


def chao_mh(histories: np.ndarray) -> float:
    """Chao's (1987) heterogeneity estimator (model Mh), bias-corrected:
    N = S + (t - 1) / t * f1 (f1 - 1) / (2 (f2 + 1)), S the individuals seen, f1 / f2 those seen on
    exactly one / two of the t occasions (occasions: columns with a capture). Robust when some bucks
    are photographed far more often than others, which Schnabel's equal-catchability model is not."""
    h = np.asarray(histories, bool)
    t = int(h.any(0).sum())
    k = h.sum(1)
    k = k[k > 0]
    f1, f2 = int((k == 1).sum()), int((k == 2).sum())
    return k.size + ((t - 1) / t if t else 0.0) * f1 * max(f1 - 1, 0) / (2 * (f2 + 1))


def _capture_recapture(h: np.ndarray, estimator: str, n_boot: int, rng: np.random.Generator, min_recaptures: int,
                       ) -> tuple[Figure, np.ndarray]:
    """(figure, bootstrap draws). `schnabel`: Chapman's two-sample estimate when bucks were seen on two
    days, the modified Schnabel with more; `chao`: Chao's Mh. The interval comes from resampling capture
    histories among the estimated population (Buckland & Garthwaite 1991: the n seen plus N - n never
    seen), which keeps each day's sampling whole (resampling events would thin every capture history)."""
    occasions = np.flatnonzero(h.any(0)) if h.size else np.empty(0, np.int64)
    h = h[:, occasions] if h.size else h
    n_seen = h.shape[0]
    rec = int(h.sum()) - n_seen
    if estimator == "chao":
        method = "Chao (1987) Mh over daily occasions"
    elif len(occasions) > 2:
        method = "modified Schnabel (1938; +1) over daily occasions"
    else:
        method = "Chapman (1951) over two days"
    if n_seen == 0:
        return Figure.refuse("no identified buck in the window", method), np.zeros(n_boot)
    if len(occasions) < 2:
        return Figure.refuse("identified bucks were photographed on one day only: capture-recapture needs "
                             "two or more", method), np.zeros(n_boot)
    if rec < min_recaptures:
        return Figure.refuse(f"{rec} recapture{'s' if rec != 1 else ''} of identified bucks (at least "
                             f"{min_recaptures} needed): no buck estimate beyond the count of {n_seen}",
                             method), np.zeros(n_boot)
    k = h.sum(1)
    first = h.argmax(1)
    before = first[:, None] < np.arange(h.shape[1])[None, :]

    def est(wts: np.ndarray) -> np.ndarray:
        """One estimate per row of `wts` (each seen individual's multiplicity); all sums linear in it."""
        seen = wts.sum(1)
        if estimator == "chao":
            f1, f2 = wts @ (k == 1), wts @ (k == 2)
            t = h.shape[1]
            n_hat = seen + (t - 1) / t * f1 * np.maximum(f1 - 1, 0) / (2 * (f2 + 1))
        else:
            caught, marked, recaught = wts @ h, wts @ before, wts @ (h & before)  # C_t, M_t, R_t
            if h.shape[1] == 2:
                n_hat = (caught[:, 0] + 1) * (caught[:, 1] + 1) / (recaught[:, 1] + 1) - 1
            else:
                n_hat = (caught * marked).sum(1) / (recaught.sum(1) + 1)
        return np.maximum(n_hat, seen)  # never fewer than were seen

    point = float(est(np.ones((1, n_seen)))[0])
    total = max(int(round(point)), n_seen)
    # draw `total` animals from the n seen and the total - n never seen (who add nothing)
    picks = rng.multinomial(total, np.full(total, 1 / total), size=n_boot)[:, :n_seen].astype(float)
    boot = est(picks)
    return _fig(point, boot, method), boot


def _roster(id_tracks: dict[object, list[Track]], usable: set, unidentified: int) -> BuckRoster:
    by_age: dict[str, dict[str, int]] = {a: {"confirmed": 0, "automatic": 0} for a in BUCK_AGES}
    confirmed = 0
    for b in sorted(usable, key=str):
        ts = id_tracks[b]
        ages = Counter(t.age_class for t in ts if t.age_class in BUCK_AGES[:3])
        # majority age; a tie goes to the older class (antlers grow, they do not shrink in a season)
        age = max(ages, key=lambda a: (ages[a], BUCK_AGES.index(a))) if ages else "unknown"
        kind = "confirmed" if any(t.confirmed for t in ts) else "automatic"
        confirmed += kind == "confirmed"
        by_age[age][kind] += 1
    return BuckRoster(len(usable), confirmed, len(usable) - confirmed, by_age, int(unidentified))


__all__ = ["SurveyWindow", "Track", "Event", "Frame", "TrackLabel", "label_tracks", "events_from_rows",
           "estimate", "CensusEstimate", "Figure", "BuckRoster", "schnabel", "chao_mh", "schnabel_sums", "chapman",
           "lincoln_petersen", "SEASONS", "ASSUMPTIONS"]
