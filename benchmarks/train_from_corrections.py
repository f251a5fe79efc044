"""Does training on people's corrections make the classifier better? From a deliberately weak demo
classifier (models.recipes.classifier.weaken_classifier: its head blended with random weights and
biased towards deer, so it calls other animals and empty ground deer and mixes up buck ages), a
synthetic herd is census'd, a reviewer corrects it as a person would (through pipelines.corrections,
what the API calls: "not a deer" on false deer, the class (doe / fawn / buck
and age) of deer photos as they come, "not this deer" on a profile's strays, merges, and "yes, same deer"
on profiles whose class is right), `thumper train classifier` runs (Ray Train), and then:

- accuracy before / after on the held-out verified crops (bursts never trained on);
- census error before / after: on a second folder never corrected (another seed), the per-class
  deer detection counts (doe, fawn, buck; and anything else called deer) against the generator's
  truth, as sum |said - true| / true deer, with the weak and the new classifier.

    .venv/bin/python benchmarks/train_from_corrections.py --photos 240 --corrections 300

`--model embedder`: the same for the re-ID embedder (the demo one) on a herd of `--herd` deer: a
reviewer of profiles (splits, strays out, merges, "yes, same deer"), `thumper train embedder`,
then pairwise precision / recall on the held-out individuals before / after, and on a
never-corrected folder of another herd the profiles against the true individuals before / after a
reprocess with the new embedder and re-ID.

    .venv/bin/python benchmarks/train_from_corrections.py --model embedder --photos 360 --corrections 400
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from classify_quality import match  # noqa: E402

SIZE = (960, 540)
DEER_KINDS = ("doe", "fawn", "buck")


def photos(root: Path, n: int, seed: int, others: float = 0.35, herd: list | None = None) -> dict[str, list[dict]]:
    """A synthetic folder (three locations, the default herd, or `herd`, among other animals); truth by path."""
    from models.synthetic import DeerSpec, default_herd, make_photo_folder

    # the default six and eight more (every buck age twice), so every class has profiles to confirm
    herd = herd or default_herd() + [DeerSpec("buck", age, f"more-{age}-{k}") for age in ("young", "mid", "mature")
                                     for k in range(2)] + [DeerSpec("doe", None, "more-doe-3"),
                                                           DeerSpec("fawn", "fawn", "more-fawn-2")]
    truth = make_photo_folder(root, photos_per_location=max(1, n // 3), seed=seed, size=SIZE, others=others,
                              herd=herd)
    by_path: dict[str, list[dict]] = defaultdict(list)
    for t in truth:
        by_path[t["path"]].append({**t, "size": SIZE})
    return by_path


def herd_of(n: int, prefix: str) -> list:
    """n individuals of one herd (does, fawns and bucks of every age), their looks from their names."""
    from models.synthetic import DeerSpec

    kinds = [("doe", None), ("doe", None), ("fawn", "fawn"), ("buck", "young"), ("buck", "mid"), ("buck", "mature")]
    return [DeerSpec(kind, age, f"{prefix}-{kind}-{age or 'adult'}-{k}") for k, (kind, age) in
            ((k, kinds[k % len(kinds)]) for k in range(n))]


def census(store, root: Path, classifier: str, max_distance: float = 0.3, embedder: str = "demo"):
    """The whole census (demo detector, this classifier and embedder), then re-ID."""
    from pipelines.census import PipelineOptions, process_pending, run_census
    from pipelines.clustering import ClusterSettings
    from pipelines.reid import ReidSettings, run_reid

    opts = PipelineOptions(detector="demo", classifier=classifier, embedder=embedder)
    report = run_census(store, root, opts)
    if report.run.claimed == 0:  # already ingested: this is a reprocess with other models
        process_pending(store, PipelineOptions(detector="demo", classifier=classifier, embedder=embedder,
                                               reprocess=True), kind="reprocess")
    run_reid(store, ReidSettings(cluster=ClusterSettings(max_distance=max_distance)))
    return report


def _stored(store, root: Path) -> dict[str, list[dict]]:
    cur = store.conn.execute(
        "SELECT d.id, i.path, d.x1, d.y1, d.x2, d.y2, d.species, d.deer_class, d.age_class, d.deer_id"
        " FROM detections d JOIN images i ON i.id = d.image_id ORDER BY d.id")
    names = [c.name for c in cur.description]
    out: dict[str, list[dict]] = defaultdict(list)
    for r in cur.fetchall():
        d = dict(zip(names, r))
        out[os.path.relpath(d["path"], str(root))].append(d)
    return out


def truth_of_detections(store, root: Path, truth: dict[str, list[dict]]) -> dict[int, dict | None]:
    """detection id -> the generator's subject it boxes (IoU >= 0.5), or None for a box on nothing."""
    out: dict[int, dict | None] = {}
    for path, dets in _stored(store, root).items():
        pairs, _, extra = match([t for t in truth.get(path, []) if t["individual"]], dets)
        out.update({d["id"]: t for t, d in pairs})
        out.update({d["id"]: None for d in extra})
    return out


def _true_class(t: dict) -> tuple[str, str | None]:
    return t["kind"], (t["age_class"] if t["kind"] == "buck" else None)


def _merge_profiles(store, ids: list[int], made: Counter, budget: int) -> None:
    """One animal in several profiles: merge them into the first (counted in `made`)."""
    from pipelines import corrections

    for other in ids[1:]:
        if made.total() >= budget:
            break
        try:
            corrections.merge(store.reid, other, ids[0])
            made["merge"] += 1
        except corrections.CorrectionError:  # e.g. the model called one a doe and the other a buck
            pass


def review(store, root: Path, truth: dict[str, list[dict]], budget: int, seed: int = 0) -> Counter:
    """A reviewer with `budget` corrections, as the web UI offers them: "not a deer" on detections
    called deer that are not (another animal, empty ground), the class of deer photos as
    they come (up to 80% of the budget in all), then, profile by profile, "not this deer"
    on detections of another animal in it, and "yes, same deer" on one of the profile's own when the
    profile's class (and a buck's age) is right. Profiles whose class is wrong are left alone (a class
    correction would fix them). Returns the corrections made, by kind."""
    import numpy as np

    from pipelines import corrections

    who = truth_of_detections(store, root, truth)
    said = {d["id"]: d for dets in _stored(store, root).values() for d in dets if d["deer_class"]}
    deer_dets = list(said)
    made: Counter = Counter()
    order = sorted(deer_dets)
    np.random.default_rng(seed).shuffle(order)
    for det_id in order:  # false deer first: the most visible error in a census
        if made.total() >= budget:
            return made
        t = who.get(det_id)
        if t is None or t["kind"] not in DEER_KINDS:
            corrections.not_deer(store.reid, det_id)
            made["not_deer"] += 1
    for det_id in order:  # going through the deer photos: "this is a doe / fawn / buck (age)"
        if made.total() >= budget * 0.8:
            break
        t = who.get(det_id)
        if t is not None and t["kind"] in DEER_KINDS:
            corrections.set_class(store.reid, det_id, *_true_class(t))
            made["class"] += 1
    profiles = [r[0] for r in store.conn.execute("SELECT id FROM deer WHERE status = 'active'"
                                                 " ORDER BY sightings DESC, id").fetchall()]
    of_individual: dict[str, list[int]] = defaultdict(list)
    for deer_id in profiles:  # strays out: "not this deer" on another animal's detections
        members = [m for m in store.reid.members(deer_id) if who.get(m["id"]) is not None]
        if not members:
            continue
        main = Counter(who[m["id"]]["individual"] for m in members).most_common(1)[0][0]
        for m in members:
            if who[m["id"]]["individual"] != main and made.total() < budget:
                corrections.not_this_deer(store.reid, m["id"])
                made["not_this_deer"] += 1
        of_individual[main].append(deer_id)
    for individual, ids in of_individual.items():  # one animal in several profiles: merge them
        _merge_profiles(store, ids, made, budget)
        deer = store.reid.deer(ids[0])
        own = [m for m in store.reid.members(ids[0]) if who.get(m["id"]) is not None]
        if not own or deer["status"] != "active":
            continue
        kind, true_age = _true_class(who[own[0]["id"]])
        if (deer["deer_class"], deer["age_class"] if kind == "buck" else None) != (kind, true_age):
            continue  # its class is wrong: a class correction would fix it, "same deer" would not
        if len(own) >= 2 and made.total() < budget:
            corrections.confirm_match(store.reid, own[0]["id"])
            made["confirm"] += 1
    return made


def review_identities(store, root: Path, truth: dict[str, list[dict]], budget: int) -> Counter:
    """A reviewer of deer profiles with `budget` corrections, as the web UI offers them: profile by
    profile, the detections of another deer in it split off into a profile of their own (two or
    more of one deer) or "not this deer" (a single one, or another animal); then the profiles of one
    deer merged; then "yes, same deer" on each profile left with two detections or more. Returns
    the corrections made, by kind."""
    from pipelines import corrections

    who = truth_of_detections(store, root, truth)
    made: Counter = Counter()
    profiles = [r[0] for r in store.conn.execute("SELECT id FROM deer WHERE status = 'active'"
                                                 " ORDER BY sightings DESC, id").fetchall()]
    of_individual: dict[str, list[int]] = defaultdict(list)
    for deer_id in profiles:
        members = store.reid.members(deer_id)
        by: dict = defaultdict(list)
        for m in members:
            t = who.get(m["id"])
            by[t["individual"] if t is not None and t["kind"] in DEER_KINDS else None].append(m["id"])
        real = [k for k in by if k is not None]
        if not real:
            continue
        main = max(real, key=lambda k: len(by[k]))
        of_individual[main].append(deer_id)
        for individual, ids in by.items():
            if individual == main or made.total() >= budget:
                continue
            if individual is not None and len(ids) >= 2:
                of_individual[individual].append(corrections.split(store.reid, deer_id, ids))
                made["split"] += 1
            else:
                for det in ids:
                    if made.total() < budget:
                        corrections.not_this_deer(store.reid, det)
                        made["not_this_deer"] += 1
    for ids in of_individual.values():
        _merge_profiles(store, ids, made, budget)
    for individual, ids in of_individual.items():
        if made.total() >= budget or store.reid.deer(ids[0])["status"] != "active":
            continue
        own = store.reid.members(ids[0])
        if len(own) >= 2:
            corrections.confirm_match(store.reid, own[0]["id"])
            made["confirm"] += 1
    return made


def profile_quality(store, root: Path, truth: dict[str, list[dict]]) -> dict:
    """The census' deer profiles against the generator's individuals: pairwise precision / recall
    over the deer detections that box a true deer (no profile: a singleton), profiles, individuals."""
    from pipelines.clustering import pairwise_precision_recall

    who = truth_of_detections(store, root, truth)
    dets = [d for ds in _stored(store, root).values() for d in ds
            if who.get(d["id"]) is not None and who[d["id"]]["kind"] in DEER_KINDS]
    names = sorted({who[d["id"]]["individual"] for d in dets})
    p, r = pairwise_precision_recall([names.index(who[d["id"]]["individual"]) for d in dets],
                                     [d["deer_id"] if d["deer_id"] is not None else -1 for d in dets])
    profiles = store.conn.execute("SELECT count(*) FROM deer WHERE status = 'active'").fetchone()[0]
    return {"precision": round(p, 3), "recall": round(r, 3), "profiles": profiles, "individuals": len(names),
            "detections": len(dets)}


def census_error(store, root: Path, truth: dict[str, list[dict]]) -> dict:
    """Deer detections per class (the model's labels) against the truth's subjects per class."""
    said = Counter(d["deer_class"] for dets in _stored(store, root).values() for d in dets if d["deer_class"])
    true = Counter(t["kind"] for rows in truth.values() for t in rows if t["individual"] and t["kind"] in DEER_KINDS)
    other = sum(n for k, n in said.items() if k not in DEER_KINDS)  # 'deer' of no class
    err = sum(abs(said[k] - true[k]) for k in DEER_KINDS) + other
    return {"said": {k: said[k] for k in DEER_KINDS}, "true": {k: true[k] for k in DEER_KINDS},
            "error": round(err / max(1, sum(true.values())), 3)}


def second_database(url: str, name: str = "never_corrected") -> str:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(**{**conninfo_to_dict(url), "dbname": name})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=("classifier", "embedder"), default="classifier",
                    help="what to train: the crop classifier (default) or the re-ID embedder")
    ap.add_argument("--photos", type=int, default=240, help="photos in the corrected folder (default 240)")
    ap.add_argument("--eval-photos", type=int, default=120, help="photos in the never-corrected folder (120)")
    ap.add_argument("--corrections", type=int, default=300, help="the reviewer's budget (default 300)")
    ap.add_argument("--epochs", type=int, default=None, help="default 6 (classifier), 20 (embedder)")
    ap.add_argument("--keep", type=float, default=0.25, help="how much of the demo head the weak one keeps")
    ap.add_argument("--herd", type=int, default=30, help="embedder: individuals in each folder's herd (default 30)")
    ap.add_argument("--max-distance", type=float, default=0.3,
                    help="re-ID's clustering threshold, in the census and for scoring (default 0.3)")
    ap.add_argument("--num-cpus", type=int, default=None)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="thumper-train-bench-"))
    os.environ.setdefault("THUMPER_DATA_DIR", str(work / "data"))
    os.environ.setdefault("THUMPER_CACHE_DIR", str(work / "cache"))
    from cluster.runtime import connect as connect_ray
    from store import Store, connect
    from store.embedded import embedded_url

    connect_ray(num_cpus=args.num_cpus)
    store = Store(connect(embedded_url(work / "pgdata")))
    (embedder_bench if args.model == "embedder" else classifier_bench)(args, work, store)


def classifier_bench(args, work: Path, store) -> None:
    from models.recipes.classifier import weaken_classifier
    from models.recipes.demo import ensure_demo_classifier
    from pipelines.training import TrainOptions, train_classifier
    from store import Store, connect
    from store.embedded import embedded_url

    epochs = args.epochs or 6
    weak = weaken_classifier(ensure_demo_classifier(), work / "weak-classifier.pt", keep=args.keep)
    truth = photos(work / "photos", args.photos, seed=11)
    t0 = time.time()
    census(store, work / "photos", str(weak))
    print(f"census of {args.photos} photos with the weak classifier: {time.time() - t0:.0f} s", flush=True)
    made = review(store, work / "photos", truth, args.corrections)
    print(f"reviewer: {made.total()} corrections ({dict(made)})", flush=True)
    t0 = time.time()
    result = train_classifier(store, TrainOptions(epochs=epochs), progress=lambda s: print(s, flush=True))
    train_s = time.time() - t0

    # the census error on photos nobody corrected, with the weak and the new classifier (own database)
    held = Store(connect(second_database(embedded_url(work / "pgdata"))))
    held_truth = photos(work / "photos2", args.eval_photos, seed=23)
    census(held, work / "photos2", str(weak))
    before = census_error(held, work / "photos2", held_truth)
    census(held, work / "photos2", result.path)
    after = census_error(held, work / "photos2", held_truth)

    print(f"\nheld-out verified crops ({result.after['crops']}, bursts never trained on):")
    print(f"  accuracy before {result.before['accuracy']:.3f}  after {result.after['accuracy']:.3f}")
    for k in result.after["per_class"]:
        print(f"    {k:<12} {result.before['per_class'].get(k, 0):.3f} -> {result.after['per_class'][k]:.3f}")
    print(f"census error on {args.eval_photos} never-corrected photos (sum |said - true| / true deer):")
    print(f"  before {before['error']:.3f}  said {before['said']}  true {before['true']}")
    print(f"  after  {after['error']:.3f}  said {after['said']}")
    print(f"training: {train_s:.0f} s in all (crop set, scoring both, Ray Train {epochs} epochs); "
          f"version {result.version_id} {'active' if result.activated else 'not active'}")


def embedder_bench(args, work: Path, store) -> None:
    """The demo embedder on a herd of `--herd` deer: census, a reviewer of profiles (splits, strays
    out, merges, "yes, same deer"), `train_embedder`, then the held-out individuals' pairwise scores
    before / after, and the profiles of a never-corrected folder of another herd (never trained on)
    before / after a reprocess with the new embedder and re-ID."""
    from pipelines.training_embedder import EmbedderOptions, train_embedder
    from store import Store, connect
    from store.embedded import embedded_url

    epochs = args.epochs or EmbedderOptions().epochs
    truth = photos(work / "photos", args.photos, seed=11, herd=herd_of(args.herd, "a"))
    t0 = time.time()
    census(store, work / "photos", "demo", max_distance=args.max_distance)
    print(f"census of {args.photos} photos ({args.herd} deer) with the demo embedder: {time.time() - t0:.0f} s; "
          f"profiles {profile_quality(store, work / 'photos', truth)}", flush=True)
    made = review_identities(store, work / "photos", truth, args.corrections)
    print(f"reviewer: {made.total()} corrections ({dict(made)})", flush=True)
    t0 = time.time()
    result = train_embedder(store, EmbedderOptions(epochs=epochs, max_distance=args.max_distance),
                            progress=lambda s: print(s, flush=True))
    train_s = time.time() - t0

    held = Store(connect(second_database(embedded_url(work / "pgdata"))))
    held_truth = photos(work / "photos2", args.eval_photos, seed=23, herd=herd_of(args.herd, "b"))
    census(held, work / "photos2", "demo", max_distance=args.max_distance)
    before = profile_quality(held, work / "photos2", held_truth)
    census(held, work / "photos2", "demo", max_distance=args.max_distance, embedder=result.path)
    after = profile_quality(held, work / "photos2", held_truth)

    b, a = result.before, result.after
    print(f"\nheld-out individuals ({a['individuals']}, {a['crops']} crops, {a['pairs']} pairs of which "
          f"{a['same_pairs']} same; never trained on):")
    for label, key in (("pairwise precision", "precision"), ("pairwise recall", "recall"), ("pairwise F1", "f1")):
        print(f"  {label} at cos >= {a['threshold']:.2f}: {b[key]:.3f} -> {a[key]:.3f}")
    print(f"  best F1 (own threshold): {b['best_f1']['f1']:.3f} at {b['best_f1']['threshold']:.2f} -> "
          f"{a['best_f1']['f1']:.3f} at {a['best_f1']['threshold']:.2f}")
    print(f"  mean cosine same / different: {b['same_sim']:.3f} / {b['diff_sim']:.3f} -> "
          f"{a['same_sim']:.3f} / {a['diff_sim']:.3f}")
    print(f"  re-ID clustering of them: precision {b['clustered']['precision']:.3f} -> "
          f"{a['clustered']['precision']:.3f}, recall {b['clustered']['recall']:.3f} -> "
          f"{a['clustered']['recall']:.3f}, profiles {b['clustered']['profiles']} -> {a['clustered']['profiles']} "
          f"for {a['individuals']} deer")
    print(f"never-corrected folder ({args.eval_photos} photos, another herd of {args.herd}), census + re-ID:")
    print(f"  demo embedder: {before}")
    print(f"  new embedder:  {after}")
    print(f"training: {train_s:.0f} s in all (identity set, scoring both, Ray Train {epochs} epochs); "
          f"version {result.version_id} {'active' if result.activated else 'not active'}")


if __name__ == "__main__":
    main()
