"""Census estimate accuracy on simulated herds of known composition: bias, 95% interval coverage and
the buck-roster error of pipelines/estimate.py, for the classic Jacobson figures and the reported ones.

    python benchmarks/census_accuracy.py                       # 50 herds per scenario, seed 0
    python benchmarks/census_accuracy.py --herds 200 --seed 3 --days 21 --json out.json

What is simulated (and nothing more; docs/census.md):

- a herd: bucks (young / mid / mature), does, and fawns each tied to a doe; all present for the
  whole window (closed);
- photos: every animal visits cameras as a Poisson process, its own rate drawn around its class's
  (log-normal, sd 0.5: some animals live by a camera, some at the edge); a buck's class rate is
  `r` times a doe's (bucks photographed more often than does, as field studies found; r drawn per
  herd from --true-sightability); a fawn comes with its mother on most of her visits and alone on
  some, at a doe's rate overall. Visits at one camera within 2 minutes are one event (burst);
- the classifier: each animal in an event is seen as its class, or as unknown (antlers or body not
  visible), or now and then as the neighbouring class (fawn <-> doe, a buck as a doe);
- buck re-ID: a buck photo names its individual only when the antlers show (--antler-id); the
  automatic re-ID then merges some bucks of one age class into one profile, splits some bucks
  into two profiles, and puts a few photos into profiles of their own. The review step: each such
  error turns up among the uncertain pairs a person reviews with probability --review-catch,
  and is then put right; the others stay.

Not simulated: births, deaths and movement in and out (closure holds by construction), bait, time
of day, cameras failing, individuals whose antlers change, a classifier biased by site or light.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipelines.estimate import Event, SurveyWindow, Track, estimate  # noqa: E402

AGES = ("young", "mid", "mature")
T0 = datetime(2024, 10, 1)


@dataclass(frozen=True)
class Scenario:
    name: str = "bucks photographed 1-2x as often as does"
    bucks: tuple[int, int] = (4, 20)
    does: tuple[int, int] = (10, 50)
    fawns_per_doe: tuple[float, float] = (0.3, 1.0)
    doe_rate: tuple[float, float] = (0.15, 0.5)         # visits per doe per day, the herd's mean
    true_sightability: tuple[float, float] = (1.0, 2.0)  # buck rate / doe rate, drawn per herd
    heterogeneity: float = 0.5                          # sd of log individual rate
    cameras: int = 4
    days: int = 14
    unknown: float = 0.10                               # an animal in an event seen as class unknown
    confusion: float = 0.03                             # ... seen as the neighbouring class
    antler_id: float = 0.85                             # a buck photo whose antlers name him
    merge: float = 0.10                                 # a buck merged into another of his age class
    split: float = 0.15                                 # a buck split into two profiles
    spurious: float = 0.02                              # a buck photo put in a profile of its own
    review_catch: float = 0.85                          # an error found among the uncertain pairs


def _rates(rng, mean: float, n: int, sd: float) -> np.ndarray:
    return mean * rng.lognormal(-sd * sd / 2, sd, n)  # mean preserved


def simulate_herd(rng: np.random.Generator, sc: Scenario) -> tuple[list[Event], list[Event], dict]:
    """(events with automatic buck ids, events after review, truth)."""
    nb, nd = int(rng.integers(sc.bucks[0], sc.bucks[1] + 1)), int(rng.integers(sc.does[0], sc.does[1] + 1))
    nf = int(round(nd * rng.uniform(*sc.fawns_per_doe)))
    r = float(rng.uniform(*sc.true_sightability))
    doe_rate = float(rng.uniform(*sc.doe_rate))
    ages = rng.choice(3, nb, p=[0.45, 0.35, 0.20])
    mothers = rng.choice(nd, nf) if nd and nf else np.zeros(0, int)
    # animals: 0..nb-1 bucks, then does, then fawns
    kind = ["buck"] * nb + ["doe"] * nd + ["fawn"] * nf
    rate = np.concatenate([_rates(rng, doe_rate * r, nb, sc.heterogeneity), _rates(rng, doe_rate, nd, sc.heterogeneity),
                           np.zeros(nf)])
    home = rng.dirichlet(np.ones(sc.cameras), nb + nd + nf)  # where each animal tends to be seen
    visits = []  # (day, minute, camera, animal)
    for a in range(nb + nd):
        for d in range(sc.days):
            for _ in range(rng.poisson(rate[a])):
                visits.append((d, rng.uniform(0, 1440), int(rng.choice(sc.cameras, p=home[a])), a))
                if kind[a] == "doe":
                    for f in np.flatnonzero(mothers == a - nb):
                        if rng.random() < 0.7:
                            visits.append((d, visits[-1][1] + rng.uniform(0, 1), visits[-1][2], nb + nd + int(f)))
    for f in range(nf):  # alone: 0.3 of the mother's rate, so 1.0 of it in all
        a = nb + nd + f
        for d in range(sc.days):
            for _ in range(rng.poisson(0.3 * rate[nb + mothers[f]])):
                visits.append((d, rng.uniform(0, 1440), int(rng.choice(sc.cameras, p=home[a])), a))
    visits.sort(key=lambda v: (v[2], v[0], v[1]))
    groups: list[list[tuple]] = []
    for v in visits:  # one burst: one camera, within 2 minutes of the previous visit
        if groups and groups[-1][-1][2] == v[2] and groups[-1][-1][0] == v[0] and v[1] - groups[-1][-1][1] <= 2:
            groups[-1].append(v)
        else:
            groups.append([v])

    # buck re-ID errors, each with whether review finds it
    merged_into = {}
    order = rng.permutation(nb)
    targets = set()
    for b in order.tolist():
        same = [o for o in range(nb) if o != b and ages[o] == ages[b] and o not in merged_into and b not in targets]
        if same and rng.random() < sc.merge:
            t = int(rng.choice(same))
            if t not in merged_into:
                merged_into[b] = (t, rng.random() < sc.review_catch)
                targets.add(t)
    split = {b: rng.random() < sc.review_catch for b in range(nb) if rng.random() < sc.split}

    auto_events, reviewed_events = [], []
    photographed = set()
    spur = 0
    for k, g in enumerate(groups):
        auto_t, rev_t = [], []
        seen = set()
        for d, minute, cam, a in g:
            if a in seen:
                continue
            seen.add(a)
            true = kind[a]
            u = rng.random()
            if u < sc.unknown:
                obs = "unknown"
            elif u < sc.unknown + sc.confusion:
                obs = {"buck": "doe", "doe": "fawn", "fawn": "doe"}[true]
            else:
                obs = true
            if obs != "buck" or true != "buck":
                auto_t.append(Track(obs))
                rev_t.append(Track(obs))
                continue
            age = AGES[ages[a]]
            if rng.random() >= sc.antler_id:
                auto_t.append(Track("buck", None, False, age))
                rev_t.append(Track("buck", None, False, age))
                continue
            photographed.add(a)
            auto_id = rev_id = a
            if a in merged_into:
                auto_id = merged_into[a][0]
                rev_id = a if merged_into[a][1] else auto_id
            if a in split and rng.random() < 0.4:
                auto_id = f"{auto_id}-split"
                rev_id = rev_id if split[a] else f"{rev_id}-split"
            if rng.random() < sc.spurious:
                spur += 1
                auto_id = f"spurious-{spur}"
                rev_id = rev_id if rng.random() < sc.review_catch else auto_id
            auto_t.append(Track("buck", auto_id, False, age))
            rev_t.append(Track("buck", rev_id, True, age))
        when = T0 + timedelta(days=g[0][0], minutes=g[0][1])
        auto_events.append(Event(k, when, f"cam{g[0][2]}", tuple(auto_t)))
        reviewed_events.append(Event(k, when, f"cam{g[0][2]}", tuple(rev_t)))
    truth = {"bucks": nb, "does": nd, "fawns": nf, "total": nb + nd + nf, "sightability": r,
             "bucks_photographed": len(photographed)}
    return auto_events, reviewed_events, truth


FIGS = [("jacobson_total", "total"), ("total", "total"), ("jacobson_bucks", "bucks"), ("bucks_schnabel", "bucks"),
        ("bucks_chao", "bucks"), ("jacobson_does", "does"), ("does", "does"), ("fawns", "fawns")]


def run(scenario: Scenario, herds: int, seed: int, n_boot: int = 1000,
        sightability: tuple[float, float] = (1.0, 2.0), buck_estimator: str = "chao") -> dict:
    """Figures over `herds` simulated herds: per estimate, relative bias (mean of est/true - 1),
    coverage of the 95% interval, refusals; the roster's error before and after review."""
    rng = np.random.default_rng(seed)
    window = SurveyWindow(T0.date(), T0.date() + timedelta(days=scenario.days - 1))
    stats = {f: {"rel": [], "covered": 0, "n": 0, "refused": 0, "width": []} for f, _ in FIGS}
    roster = {"automatic": [], "reviewed": []}
    roster_abs = {"automatic": [], "reviewed": []}
    for _ in range(herds):
        auto, reviewed, truth = simulate_herd(rng, scenario)
        est = estimate(reviewed, window, n_boot=n_boot, seed=seed, sightability=sightability,
                       buck_estimator=buck_estimator)
        auto_est = estimate(auto, window, n_boot=10, seed=seed, sightability=sightability)
        for f, true_key in FIGS:
            fig = est.figures[f]
            s = stats[f]
            if fig.refused:
                s["refused"] += 1
                continue
            true = truth[true_key]
            s["n"] += 1
            s["rel"].append(fig.point / true - 1)
            s["covered"] += fig.low <= true <= fig.high
            s["width"].append((fig.high - fig.low) / true)
        p = truth["bucks_photographed"]
        if p:
            roster["automatic"].append(auto_est.roster.total / p - 1)
            roster["reviewed"].append(est.roster.total / p - 1)
            roster_abs["automatic"].append(abs(auto_est.roster.total - p))
            roster_abs["reviewed"].append(abs(est.roster.total - p))
    out = {"scenario": scenario.name, "herds": herds, "seed": seed, "days": scenario.days, "n_boot": n_boot,
           "buck_estimator": buck_estimator,
           "assumed_sightability": list(sightability), "true_sightability": list(scenario.true_sightability),
           "figures": {}, "roster": {}}
    for f, s in stats.items():
        rel = np.array(s["rel"])
        out["figures"][f] = {
            "bias": float(rel.mean()) if rel.size else math.nan,
            "median_bias": float(np.median(rel)) if rel.size else math.nan,
            "coverage": s["covered"] / s["n"] if s["n"] else math.nan,
            "median_width": float(np.median(s["width"])) if s["width"] else math.nan,
            "estimated": s["n"], "refused": s["refused"]}
    for k, errs in roster.items():
        e = np.array(errs)
        out["roster"][k] = {"mean_error": float(e.mean()), "mean_abs_error": float(np.abs(e).mean()),
                            "within_10pct": float((np.abs(e) <= 0.10 + 1e-9).mean()),
                            "within_1_buck": float((np.array(roster_abs[k]) <= 1).mean()), "herds": int(e.size)}
    return out


def print_result(res: dict) -> None:
    print(f"\n== {res['scenario']}  (herds {res['herds']}, seed {res['seed']}, {res['days']} days, "
          f"n_boot {res['n_boot']}, bucks by {res['buck_estimator']}, assumed sightability {res['assumed_sightability']}, "
          f"true {res['true_sightability']})")
    print(f"{'figure':16} {'bias':>7} {'median':>7} {'cover95':>8} {'width':>6} {'refused':>8}")
    for f, s in res["figures"].items():
        print(f"{f:16} {s['bias']:+7.1%} {s['median_bias']:+7.1%} {s['coverage']:8.0%} "
              f"{s['median_width']:6.2f} {s['refused']:>8}")
    for k, s in res["roster"].items():
        print(f"roster {k:10} error {s['mean_error']:+.1%} (|error| {s['mean_abs_error']:.1%}), "
              f"within +-10% in {s['within_10pct']:.0%}, within 1 buck in {s['within_1_buck']:.0%} of {s['herds']} herds")


SCENARIOS = {
    "unequal": Scenario(),
    "equal": Scenario(name="bucks and does photographed alike (Jacobson's assumption)",
                      true_sightability=(1.0, 1.0)),
    "outside": Scenario(name="bucks photographed 3x as often (outside the assumed range)",
                        true_sightability=(3.0, 3.0)),
}


def run_pipeline(photos_per_location: int, seed: int, n_boot: int) -> dict:
    """One herd of known composition end to end: generated photos, the census with the demo models
    on local Ray into a throw-away embedded Postgres, re-ID, then the stored estimate over the whole
    season the generator spans, beside the truth. The demo models were trained on this generator:
    a check that the pieces join up, not a measure of accuracy on real photos."""
    import shutil
    import tempfile
    from collections import Counter
    from datetime import date

    from cluster.runtime import connect as connect_ray
    from models.recipes.demo import (DEMO_REID_MAX_DISTANCE, ensure_demo_classifier, ensure_demo_detector,
                                     ensure_demo_embedder)
    from models.synthetic import default_herd, make_photo_folder
    from pipelines.census import PipelineOptions, run_census
    from pipelines.census_estimate import census_estimate
    from pipelines.clustering import ClusterSettings
    from pipelines.estimate import SurveyWindow
    from pipelines.reid import ReidSettings, run_reid
    from store import Store
    from store.embedded import embedded_url, stop_embedded

    work = Path(tempfile.mkdtemp(prefix="census-accuracy-"))
    pgdata = work / "pgdata"
    try:
        herd = default_herd()
        truth = Counter(d.kind for d in herd)
        make_photo_folder(work / "photos", photos_per_location=photos_per_location, seed=seed, herd=herd)
        connect_ray(None)
        with Store.open(embedded_url(pgdata)) as store:
            opts = PipelineOptions(detector=str(ensure_demo_detector()), classifier=str(ensure_demo_classifier()),
                                   embedder=str(ensure_demo_embedder()))
            report = run_census(store, work / "photos", opts)
            run_reid(store, ReidSettings(cluster=replace(ClusterSettings(), max_distance=DEMO_REID_MAX_DISTANCE)))
            est = census_estimate(store, SurveyWindow(date(2024, 9, 1), date(2025, 1, 31), "season"), n_boot=n_boot)
        figures = {}
        for key, true in (("bucks", truth["buck"]), ("does", truth["doe"]), ("fawns", truth["fawn"]),
                          ("total", len(herd))):
            f = est.figures[key]
            figures[key] = {"true": true, "point": f.point, "low": f.low, "high": f.high, "refused": f.refused,
                            "covers": None if f.refused else bool(f.low <= true <= f.high)}
        return {"photos": report.ingest.found, "events": est.events, "bucks_seen": est.roster.total,
                "true_bucks": truth["buck"], "figures": figures}
    finally:
        stop_embedded(pgdata)
        shutil.rmtree(work, ignore_errors=True)


def print_pipeline(res: dict) -> None:
    print(f"\nEnd to end (generated photos -> census -> re-ID -> stored estimate): {res['photos']} photos, "
          f"{res['events']} events, {res['bucks_seen']} buck profiles seen for {res['true_bucks']} true bucks")
    print(f"{'figure':<8} {'true':>5} {'estimate':>9} {'95% interval':>16}  covers")
    for key, f in res["figures"].items():
        if f["refused"]:
            print(f"{key:<8} {f['true']:>5} {'refused':>9}  {f['refused']}")
        else:
            interval = f"{f['low']:.1f} .. {f['high']:.1f}"
            print(f"{key:<8} {f['true']:>5} {f['point']:>9.1f} {interval:>16}  {'yes' if f['covers'] else 'NO'}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--herds", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    ap.add_argument("--sightability", type=float, nargs=2, default=(1.0, 2.0), metavar=("LO", "HI"),
                    help="the range the estimator assumes (buck photo rate / doe photo rate)")
    ap.add_argument("--true-sightability", type=float, nargs=2, metavar=("LO", "HI"),
                    help="override the simulated range of every scenario")
    ap.add_argument("--review-catch", type=float, help="share of re-ID errors the review finds")
    ap.add_argument("--buck-estimator", choices=("chao", "schnabel"), default="chao",
                    help="the buck estimate the reported total uses")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--pipeline", type=int, nargs="?", const=60, metavar="PHOTOS_PER_LOCATION",
                    help="also run one herd end to end through the pipeline on generated photos (default 60 per "
                         "camera; demo models, local Ray, a throw-away Postgres)")
    args = ap.parse_args(argv)
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    results = []
    t = time.perf_counter()
    for name in names:
        sc = replace(SCENARIOS[name], days=args.days)
        if args.true_sightability:
            sc = replace(sc, true_sightability=tuple(args.true_sightability), name=f"{sc.name} [true r overridden]")
        if args.review_catch is not None:
            sc = replace(sc, review_catch=args.review_catch)
        res = run(sc, args.herds, args.seed, args.n_boot, tuple(args.sightability), args.buck_estimator)
        print_result(res)
        results.append(res)
    if args.pipeline:
        res = run_pipeline(args.pipeline, args.seed, args.n_boot)
        print_pipeline(res)
        results.append({"pipeline": res})
    print(f"\n{time.perf_counter() - t:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
