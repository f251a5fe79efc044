"""Scale/quality benchmark for re-identification clustering on synthetic deer.

Synthetic world: individual centres on the unit sphere sharing a common
"deer" direction (real embeddings of one species are far from orthogonal);
encounters of 1-3 animals produce bursts of 1-5 photos; each detection is
centre + per-encounter offset (pose/light of that visit) + per-frame noise.
Burst tracks become must-links; sex is observed for a fraction of detections.

    python benchmarks/cluster_scale.py --n 100000 --dim 128 --individuals 400 --seed 0
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipelines.clustering import (  # noqa: E402
    ClusterSettings,
    cluster_detections,
    pairwise_precision_recall,
)


def individual_centres(rng, dim, individuals, centre_similarity):
    """Unit centres whose pairwise cosine similarity is `centre_similarity` (all deer look alike
    along one shared direction), and a sex per individual."""
    shared = rng.standard_normal(dim)
    shared /= np.linalg.norm(shared)
    own = rng.standard_normal((individuals, dim))
    own -= np.outer(own @ shared, shared)
    own /= np.linalg.norm(own, axis=1, keepdims=True)
    centres = np.sqrt(centre_similarity) * shared + np.sqrt(1 - centre_similarity) * own
    return centres, rng.choice(np.array(["female", "male"]), individuals)


def synthesize(n, dim, individuals, seed, noise, centre_similarity, sex_known):
    rng = np.random.default_rng(seed)
    centres, sex_of = individual_centres(rng, dim, individuals, centre_similarity)

    ident, photo, visit, must_link = [], [], [], []
    photo_id = visit_id = 0
    while len(ident) < n:
        group = rng.choice(individuals, size=rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]), replace=False)
        last_seen: dict[int, int] = {}
        for _ in range(rng.integers(1, 6)):
            present = rng.random(len(group)) < 0.85
            present[0] |= not present.any()
            for m in np.flatnonzero(present):
                if m in last_seen:
                    must_link.append((last_seen[m], len(ident)))
                last_seen[m] = len(ident)
                ident.append(group[m])
                photo.append(photo_id)
                visit.append(visit_id + m)
            photo_id += 1
        visit_id += len(group)

    ident, photo, visit = np.array(ident[:n]), np.array(photo[:n]), np.array(visit[:n])
    must_link = np.array([p for p in must_link if p[1] < n], dtype=np.int64).reshape(-1, 2)
    # Split noise variance evenly between the visit (shared by a burst) and the frame.
    step = noise / np.sqrt(2 * dim)
    offsets = rng.standard_normal((visit.max() + 1, dim)) * step
    x = centres[ident] + offsets[visit] + rng.standard_normal((n, dim)) * step
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    sexes = np.where(rng.random(n) < sex_known, sex_of[ident], "unknown")
    return x, photo, sexes, must_link, ident


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--individuals", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise", type=float, default=0.8, help="norm of detection noise vs unit centre")
    ap.add_argument("--centre-similarity", type=float, default=0.3, help="mean cosine between individuals")
    ap.add_argument("--sex-known", type=float, default=0.5, help="fraction of detections with known sex")
    ap.add_argument("--max-distance", type=float, default=ClusterSettings.max_distance)
    ap.add_argument("--min-sightings", type=int, default=ClusterSettings.min_sightings)
    args = ap.parse_args(argv)

    x, photo, sexes, must_link, truth = synthesize(
        args.n, args.dim, args.individuals, args.seed, args.noise, args.centre_similarity, args.sex_known
    )
    settings = ClusterSettings(max_distance=args.max_distance, min_sightings=args.min_sightings)
    start = time.perf_counter()
    labels = cluster_detections(x, photo, sexes, must_link, None, settings)
    elapsed = time.perf_counter() - start

    precision, recall = pairwise_precision_recall(truth, labels)
    clustered = labels >= 0
    same_photo = len(np.unique(np.stack([photo, labels])[:, clustered], axis=1)[0]) != clustered.sum()
    print(f"detections        {args.n} x {args.dim}  ({len(np.unique(photo))} photos, {len(must_link)} must-links)")
    print(f"cluster time      {elapsed:.2f} s  ({args.n / elapsed:,.0f} detections/s)")
    print(f"clusters          {labels.max() + 1}  vs true individuals {len(np.unique(truth))}")
    print(f"unassigned (-1)   {np.sum(~clustered)}  ({np.mean(~clustered):.2%})")
    print(f"pairwise P / R    {precision:.4f} / {recall:.4f}")
    print(f"same-photo merges {'YES (bug)' if same_photo else 'none'}")


if __name__ == "__main__":
    main()
