"""How well the model stack says what each animal is, on a held-out synthetic herd with other
animals, people and vehicles among the deer: the whole census pipeline (detector -> crop classifier
-> embedder -> Postgres) on generated photos, each stored detection matched to the generator's truth.

Prints, per task, precision / recall per class and the confusion matrix: species (deer vs every
other kind), doe / fawn / buck among true deer, buck age among true bucks; and the figure that
matters most to a census: how many non-deer (and empty-ground false alarms) were counted as deer.
The demo models are trained on the same generator: these figures say the stack works as built,
not how it would do on real photos.

    .venv/bin/python benchmarks/classify_quality.py --photos 300
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SPECIES_OF_KIND = {"doe": "deer", "fawn": "deer", "buck": "deer", "cow": "cattle", "hog": "hog",
                   "raccoon": "raccoon", "turkey": "turkey", "person": "human", "vehicle": "vehicle"}


def match(truth_rows: list[dict], detections: list[dict], iou: float = 0.5) -> tuple[list, list, list]:
    """(matched (truth, detection) pairs, missed truths, unmatched detections) of one photo, greedy by
    IoU. Truth boxes are pixels of a width x height photo, detections normalised."""
    from models.synthetic import box_iou

    pairs, used = [], set()
    for t in truth_rows:
        w, h = t["size"]
        scored = [(box_iou(t["box"], (d["x1"] * w, d["y1"] * h, d["x2"] * w, d["y2"] * h)), j)
                  for j, d in enumerate(detections) if j not in used]
        best = max(scored, default=(0.0, -1))
        if best[0] >= iou:
            used.add(best[1])
            pairs.append((t, detections[best[1]]))
    missed = [t for t in truth_rows if all(t is not p[0] for p in pairs)]
    return pairs, missed, [d for j, d in enumerate(detections) if j not in used]


def inside(d: dict, truth_rows: list[dict]) -> float:
    """The largest share of a detection's area that lies inside one truth box."""
    best = 0.0
    for t in truth_rows:
        w, h = t["size"]
        x1, y1, x2, y2 = d["x1"] * w, d["y1"] * h, d["x2"] * w, d["y2"] * h
        tx1, ty1, tx2, ty2 = t["box"]
        iw, ih = max(0.0, min(x2, tx2) - max(x1, tx1)), max(0.0, min(y2, ty2) - max(y1, ty1))
        best = max(best, iw * ih / max(1e-9, (x2 - x1) * (y2 - y1)))
    return best


def table(title: str, pairs: list[tuple[str, str]]) -> tuple[str, float]:
    """Per-class precision / recall and the confusion matrix (rows truth, columns said); accuracy."""
    classes = sorted({t for t, _ in pairs} | {s for _, s in pairs})
    conf = Counter(pairs)
    lines = [f"{title}: {len(pairs)} matched detections"]
    width = max(8, *(len(c) for c in classes))
    lines.append(" " * (width + 2) + "".join(f"{c[:8]:>9}" for c in classes) + "   recall  precision")
    for t in classes:
        row = [conf[(t, s)] for s in classes]
        n_true, n_said = sum(row), sum(conf[(x, t)] for x in classes)
        rec = conf[(t, t)] / n_true if n_true else float("nan")
        prec = conf[(t, t)] / n_said if n_said else float("nan")
        lines.append(f"{t:<{width}}  " + "".join(f"{v:>9}" for v in row) + f"   {rec:6.3f}  {prec:9.3f}")
    acc = sum(conf[(c, c)] for c in classes) / max(1, len(pairs))
    lines.append(f"accuracy {acc:.3f}")
    return "\n".join(lines), acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=300, help="photos to generate (default 300)")
    ap.add_argument("--others", type=float, default=0.35, help="chance a burst has a non-deer (default 0.35)")
    ap.add_argument("--seed", type=int, default=404, help="generator seed (the demo models never saw it)")
    ap.add_argument("--detector", default="demo")
    ap.add_argument("--classifier", default="demo")
    ap.add_argument("--embedder", default="demo")
    ap.add_argument("--num-cpus", type=int, default=None)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="thumper-classify-"))
    os.environ.setdefault("THUMPER_DATA_DIR", str(work / "data"))
    from cluster.runtime import connect as connect_ray
    from models.synthetic import default_herd, make_photo_folder
    from pipelines.census import PipelineOptions, run_census
    from store import Store, connect
    from store.embedded import embedded_url, stop_embedded

    size = (960, 540)
    # a held-out herd: the default six plus more bucks of every age, never seen in training
    from models.synthetic import DeerSpec

    herd = default_herd() + [DeerSpec("buck", age, f"held-out-{age}-{k}") for age in ("young", "mid", "mature")
                             for k in range(2)] + [DeerSpec("doe", None, "held-out-doe-3"),
                                                   DeerSpec("fawn", "fawn", "held-out-fawn-2")]
    truth = make_photo_folder(work / "photos", photos_per_location=max(1, args.photos // 3), seed=args.seed,
                              size=size, herd=herd, others=args.others)
    by_path: dict[str, list[dict]] = defaultdict(list)
    for t in truth:
        if t["individual"]:
            by_path[t["path"]].append({**t, "size": size})
    connect_ray(num_cpus=args.num_cpus)
    store = Store(connect(embedded_url(work / "pgdata")))
    opts = PipelineOptions(detector=args.detector, classifier=args.classifier, embedder=args.embedder)
    report = run_census(store, work / "photos", opts)
    cur = store.conn.execute(
        "SELECT i.path, d.x1, d.y1, d.x2, d.y2, d.species, d.deer_class, d.age_class, d.observation_type"
        " FROM detections d JOIN images i ON i.id = d.image_id")
    names = [c.name for c in cur.description]
    stored: dict[str, list[dict]] = defaultdict(list)
    root = str(work / "photos")
    for row in cur.fetchall():
        d = dict(zip(names, row))
        stored[os.path.relpath(d["path"], root)].append(d)

    species, deer_class, ages = [], [], []
    missed, counted_non_deer, false_alarm_deer, false_alarms = Counter(), Counter(), 0, 0
    fragments = Counter()  # false alarms counted as deer: part of a real subject, or empty ground
    for path in sorted(set(by_path) | set(stored)):
        pairs, miss, extra = match(by_path.get(path, []), stored.get(path, []))
        missed.update(t["kind"] for t in miss)
        false_alarms += len(extra)
        for d in extra:
            if d["deer_class"]:
                false_alarm_deer += 1
                fragments["part of a subject" if inside(d, by_path.get(path, [])) >= 0.5 else "empty ground"] += 1
        for t, d in pairs:
            said = "deer" if d["deer_class"] else d["species"]
            species.append((SPECIES_OF_KIND[t["kind"]], said))
            if t["kind"] not in ("doe", "fawn", "buck") and d["deer_class"]:
                counted_non_deer[t["kind"]] += 1
            if t["kind"] in ("doe", "fawn", "buck") and d["deer_class"]:
                deer_class.append((t["kind"], d["deer_class"]))
                if t["kind"] == "buck" and d["deer_class"] == "buck":
                    ages.append((t["age_class"], d["age_class"] or "unknown"))
    subjects = Counter(t["kind"] for rows in by_path.values() for t in rows)
    print(f"{report.run.completed} photos ({size[0]}x{size[1]}), {sum(subjects.values())} subjects: "
          + ", ".join(f"{k} {n}" for k, n in subjects.most_common()))
    print(f"models: detector {report.run.detector_version}, classifier {report.run.classifier_version}, "
          f"embedder {report.run.embedder_version}  (synthetic herd, held out: seed {args.seed})")
    print(f"detection: {sum(subjects.values()) - sum(missed.values())} of {sum(subjects.values())} subjects found "
          f"(missed: {dict(missed) or 'none'}); {false_alarms} boxes on no subject")
    out = []
    for title, pairs in (("species", species), ("doe / fawn / buck (true deer said deer)", deer_class),
                         ("buck age (true bucks said buck)", ages)):
        text, acc = table(title, pairs)
        out.append(acc)
        print("\n" + text)
    print(f"\nnon-deer counted as deer: {sum(counted_non_deer.values())} "
          f"({dict(counted_non_deer) or 'none'}); false alarms counted as deer: {false_alarm_deer} "
          f"({dict(fragments) or 'none'})")
    print(f"summary: species {out[0]:.3f}, doe/fawn/buck {out[1]:.3f}, buck age {out[2]:.3f}, "
          f"non-deer counted {sum(counted_non_deer.values()) + false_alarm_deer}")
    store.conn.close()
    stop_embedded(work / "pgdata")


if __name__ == "__main__":
    main()
