"""Re-ID quality on photos of known individuals: runs the census (detect + embed) and `reid`, then
reports pairwise precision / recall of "same deer", profiles found vs true individuals, and time.

    python benchmarks/reid_quality.py --synthetic 24            # generated herd, 24 photos per camera
    python benchmarks/reid_quality.py --folders /photos/by_deer  # one sub-folder per individual
    python benchmarks/reid_quality.py --csv labels.csv           # columns path,individual

Labelled real photos are taken to show one deer each (its detection with the highest confidence
is scored; others are ignored). Generated photos carry true boxes, matched to detections by IoU.
By default detector and embedder are the project's demo weights (only meaningful on generated
photos): pass --detector / --embedder for real ones.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipelines.clustering import ClusterSettings, pairwise_precision_recall  # noqa: E402
from pipelines.reid import ReidSettings, run_reid  # noqa: E402


def synthetic_herd(individuals: int) -> list:
    from models.synthetic import DeerSpec, default_herd

    if individuals <= 6:
        return default_herd()[:individuals]
    kinds = [("doe", None), ("doe", None), ("fawn", "fawn"), ("buck", "young"), ("buck", "mid"), ("buck", "mature")]
    return [DeerSpec(k, a, f"{k}-{a or ''}-{n}") for n, (k, a) in
            ((n, kinds[n % len(kinds)]) for n in range(individuals))]


def labelled_photos(args, work: Path) -> tuple[Path, list[dict]]:
    """(photo root, truth rows: path relative to root, individual, optional pixel box)."""
    if args.synthetic:
        from models.synthetic import make_photo_folder

        root = work / "photos"
        rows = make_photo_folder(root, photos_per_location=args.synthetic, seed=args.seed,
                                 herd=synthetic_herd(args.individuals))
        return root, [r for r in rows if r["individual"]]
    if args.folders:
        root = Path(args.folders).resolve()
        return root, [{"path": str(p.relative_to(root)), "individual": p.parent.name, "box": None}
                      for p in sorted(root.rglob("*")) if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    with open(args.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    paths = [Path(r["path"]).resolve() for r in rows]
    root = Path(os.path.commonpath([p.parent for p in paths]))
    return root, [{"path": str(p.relative_to(root)), "individual": r["individual"], "box": None}
                  for p, r in zip(paths, rows)]


def score(conn, root: Path, truth: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(true individual, predicted deer or -1) per scored detection."""
    from models.synthetic import box_iou

    dets: dict[str, list] = {}
    for path, w, h, box, conf, deer in conn.execute(
            "SELECT i.path, i.width, i.height, ARRAY[d.x1, d.y1, d.x2, d.y2], d.confidence, coalesce(d.deer_id, -1)"
            " FROM detections d JOIN images i ON i.id = d.image_id").fetchall():
        dets.setdefault(str(Path(path).resolve().relative_to(root.resolve())), []).append((w, h, box, conf, deer))
    true, pred = [], []
    for t in truth:
        found = dets.get(t["path"], [])
        if t["box"] is None:
            best = max(found, key=lambda d: d[3], default=None)
        else:
            matches = [(box_iou([v / s for v, s in zip(t["box"], (d[0], d[1], d[0], d[1]))], d[2]), d) for d in found]
            best = max((m for m in matches if m[0] >= 0.5), key=lambda m: m[0], default=(0, None))[1]
        if best is not None:
            true.append(t["individual"])
            pred.append(best[4])
    return np.unique(np.array(true), return_inverse=True)[1], np.array(pred)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--synthetic", type=int, metavar="N", help="generate N photos per camera location")
    src.add_argument("--folders", help="a folder with one sub-folder of photos per individual")
    src.add_argument("--csv", help="a CSV with columns path,individual")
    ap.add_argument("--individuals", type=int, default=6, help="--synthetic: herd size (default 6)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--detector", default="demo")
    ap.add_argument("--embedder", default="demo")
    ap.add_argument("--db", help="an empty Postgres database (default: a throw-away embedded one)")
    ap.add_argument("--num-cpus", type=int)
    ap.add_argument("--max-distance", type=float, nargs="+", default=[ClusterSettings.max_distance],
                    help="one or more thresholds to compare (the census runs once)")
    ap.add_argument("--min-sightings", type=int, default=ClusterSettings.min_sightings)
    args = ap.parse_args(argv)

    from cluster.runtime import connect as connect_ray
    from pipelines.census import PipelineOptions, run_census
    from store import Store, connect

    with tempfile.TemporaryDirectory(prefix="thumper-quality-") as tmp:
        work = Path(tmp)
        root, truth = labelled_photos(args, work)
        if args.db is None:
            import pgserver

            url = pgserver.get_server(work / "pgdata", cleanup_mode="stop").get_uri()
        else:
            url = args.db
        conn = connect(url)
        connect_ray(None, args.num_cpus)
        start = time.perf_counter()
        report = run_census(Store(conn), root, PipelineOptions(detector=args.detector, classifier="demo" if args.detector == "demo" else "auto",
                                                                 embedder=args.embedder))
        census_s = time.perf_counter() - start
        print(f"photos            {report.ingest.found} ({report.run.detections} detections, census {census_s:.1f} s)")
        for max_distance in args.max_distance:  # each run re-clusters everything from scratch
            settings = ReidSettings(cluster=ClusterSettings(max_distance=max_distance,
                                                            min_sightings=args.min_sightings))
            start = time.perf_counter()
            summary = run_reid(Store(conn), settings)
            reid_s = time.perf_counter() - start
            true, pred = score(conn, root, truth)
            precision, recall = pairwise_precision_recall(true, pred)
            print(f"\nmax distance      {max_distance}")
            print(f"scored detections {len(true)} of {len(truth)} labelled ({np.mean(pred < 0):.0%} without a profile)")
            print(f"profiles          {summary.deer} vs true individuals {len({t['individual'] for t in truth})}")
            print(f"pairwise P / R    {precision:.3f} / {recall:.3f}")
            print(f"time to cluster   {summary.seconds.get('cluster', 0):.3f} s (whole reid {reid_s:.2f} s)")
        conn.close()


if __name__ == "__main__":
    main()
