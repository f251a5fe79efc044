"""Global re-ID of N detections stored in Postgres: bulk-write generated detections (bursts of
1-5 shots, 1-3 animals per encounter, embeddings as in cluster_scale.py) into a throw-away embedded
database with the census's own writer, then time `run_reid` (bursts, binary COPY read, constraints,
clustering, write-back of assignments and profiles) and score it against the truth.

    python benchmarks/reid_scale.py --n 100000 --dim 128 --individuals 400
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipelines.clustering import ClusterSettings, pairwise_precision_recall  # noqa: E402
from pipelines.reid import ReidSettings, run_reid  # noqa: E402
from thumper.render import render_summary  # noqa: E402
from models.types import Detection, PhotoResult  # noqa: E402
from store import ImageRecord, Store, connect  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_scale import individual_centres  # noqa: E402  (the same generated herd)

SLOTS = [(0.05, 0.3, 0.3, 0.7), (0.38, 0.3, 0.62, 0.7), (0.7, 0.3, 0.95, 0.7)]  # one box place per animal


def synthesize(n, dim, individuals, seed, noise=0.8, centre_similarity=0.3, sex_known=0.5, cameras=20):
    """Photos (camera, time) and per-detection (photo, slot, individual, embedding, sex)."""
    rng = np.random.default_rng(seed)
    centres, sex_of = individual_centres(rng, dim, individuals, centre_similarity)
    photos, det_photo, det_slot, ident, visit = [], [], [], [], []
    clock = {c: datetime(2024, 9, 1) for c in range(cameras)}
    visit_id = 0
    while len(ident) < n:
        cam = int(rng.integers(cameras))
        clock[cam] += timedelta(minutes=float(rng.uniform(5, 600)))
        group = rng.choice(individuals, size=rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]), replace=False)
        for shot in range(int(rng.integers(1, 6))):
            present = rng.random(len(group)) < 0.85
            present[0] |= not present.any()
            for m in np.flatnonzero(present):
                det_photo.append(len(photos))
                det_slot.append(m)
                ident.append(group[m])
                visit.append(visit_id + m)
            photos.append((cam, clock[cam] + timedelta(seconds=2 * shot)))
        visit_id += len(group)
    ident, visit = np.array(ident[:n]), np.array(visit[:n])
    step = noise / np.sqrt(2 * dim)
    x = centres[ident] + rng.standard_normal((visit.max() + 1, dim))[visit] * step \
        + rng.standard_normal((n, dim)) * step
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    sexes = np.where(rng.random(n) < sex_known, sex_of[ident], "unknown")
    photos = photos[: det_photo[n - 1] + 1]
    return photos, np.array(det_photo[:n]), np.array(det_slot[:n]), ident, x, sexes


def load(store: Store, photos, det_photo, det_slot, x, sexes, batch: int = 5000) -> tuple[float, list]:
    """Write through Store.add_images / write_results, as the census does; returns seconds and the
    (image id, det_index) of each generated detection."""
    start = time.perf_counter()
    records = [ImageRecord(hashlib.sha256(f"{k}".encode()).hexdigest(), f"/photos/cam{c:02d}/{k:07d}.jpg",
                           f"cam{c:02d}", t, "exif", "Browning", "BTC-8E") for k, (c, t) in enumerate(photos)]
    for s in range(0, len(records), batch):
        store.add_images(records[s:s + batch])
    by_sha = dict(store.conn.execute("SELECT sha256, id FROM images").fetchall())  # add_images: any order
    image_ids = [by_sha[r.sha256] for r in records]
    by_photo = np.split(np.arange(len(det_photo)), np.flatnonzero(np.diff(det_photo)) + 1)
    dets_of = {int(det_photo[g[0]]): g for g in by_photo}
    run = store.start_run("benchmark", detector="synthetic", detector_version="synthetic@1")
    store.claim_pending(run)
    for s in range(0, len(records), batch):
        results = []
        for k in range(s, min(s + batch, len(records))):
            rows = [Detection(SLOTS[det_slot[d]], 0.9, "deer", species="deer", deer_class="deer", sex=str(sexes[d]), age_class=None, embedding=x[d])
                    for d in dets_of.get(k, [])]
            results.append(PhotoResult(image_ids[k], width=1920, height=1080, detections=rows))
        store.write_results(run, results, detector_version="synthetic@1", embedder_version="synthetic@1")
    store.finish_run(run)
    keys = [(image_ids[k], j) for g in by_photo for j, k in enumerate([int(det_photo[g[0]])] * len(g))]
    return time.perf_counter() - start, keys


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--individuals", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--db", help="an empty Postgres database to use (default: a throw-away embedded one)")
    args = ap.parse_args(argv)

    photos, det_photo, det_slot, ident, x, sexes = synthesize(args.n, args.dim, args.individuals, args.seed)
    with tempfile.TemporaryDirectory(prefix="thumper-bench-") as tmp:
        if args.db is None:
            import pgserver

            server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="stop")
            url = server.get_uri()
        else:
            url = args.db
        conn = connect(url)
        store = Store(conn)
        load_s, keys = load(store, photos, det_photo, det_slot, x, sexes)
        print(f"loaded            {args.n} detections in {len(photos)} photos via the bulk writer in {load_s:.1f} s")
        start = time.perf_counter()
        summary = run_reid(store, ReidSettings(cluster=ClusterSettings()))
        first = time.perf_counter() - start
        print(f"reid (first run)  {first:.1f} s   {render_summary(summary)}")
        start = time.perf_counter()
        summary = run_reid(store)
        again = time.perf_counter() - start
        print(f"reid (re-run)     {again:.1f} s   {render_summary(summary)}")
        found = {(i, k): d for i, k, d in conn.execute(
            "SELECT image_id, det_index, coalesce(deer_id, -1) FROM detections").fetchall()}
        pred, true = np.array([found[k] for k in keys]), ident
        p, r = pairwise_precision_recall(true, pred)
        print(f"profiles          {summary.deer} vs true individuals {len(np.unique(ident))}")
        print(f"pairwise P / R    {p:.4f} / {r:.4f}")
        print(f"under a minute    {'yes' if max(first, again) < 60 else 'NO'}")
        conn.close()


if __name__ == "__main__":
    main()
