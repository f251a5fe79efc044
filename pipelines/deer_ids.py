"""Stable deer ids across re-ID runs: each new cluster inherits the id of the existing deer holding
most of its detections, so names and corrections stay attached to the same animal."""
from __future__ import annotations

import numpy as np


def keep_profiles(labels: np.ndarray, prior: np.ndarray, min_sightings: int, pinned: np.ndarray,
                  protected: set[int]) -> np.ndarray:
    """Labels with clusters below min_sightings set to -1, except clusters a person vouched for:
    holding a detection tied by a correction, or a detection of a named / corrected deer."""
    labels = labels.copy()
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    small = ids[counts < min_sightings]
    if not len(small):
        return labels
    keep = set(labels[pinned].tolist()) if len(pinned) else set()
    if protected:
        guarded = np.isin(prior, np.fromiter(protected, np.int64))
        keep |= set(labels[guarded].tolist())
    drop = np.setdiff1d(small, np.fromiter(keep, np.int64, len(keep)))
    labels[np.isin(labels, drop)] = -1
    return labels


def match_clusters(labels: np.ndarray, prior: np.ndarray, eligible: set[int],
                   forbidden: list[tuple[int, int]]) -> dict[int, int | None]:
    """cluster label -> existing deer id (or None: a new deer).

    Greedy by overlap: the (cluster, deer) pair sharing the most detections is matched first, each
    cluster and deer used once. `eligible` excludes merged deer (they must not come back);
    `forbidden` (detection index, deer id) pairs come from "not this deer": a cluster holding that
    detection never takes that id.
    """
    clusters = np.unique(labels[labels >= 0]).tolist()
    mask = (labels >= 0) & (prior >= 0)
    if eligible is not None:
        mask &= np.isin(prior, np.fromiter(eligible, np.int64, len(eligible)))
    pairs, overlap = np.unique(np.stack([labels[mask], prior[mask]], axis=1), axis=0, return_counts=True) \
        if mask.any() else (np.empty((0, 2), np.int64), np.empty(0, np.int64))
    banned = {(int(labels[i]), deer) for i, deer in forbidden if labels[i] >= 0}
    order = np.lexsort((pairs[:, 1], pairs[:, 0], -overlap)) if len(pairs) else []
    result: dict[int, int | None] = dict.fromkeys(clusters)
    taken: set[int] = set()
    for k in order:
        label, deer = int(pairs[k, 0]), int(pairs[k, 1])
        if result[label] is None and deer not in taken and (label, deer) not in banned:
            result[label] = deer
            taken.add(deer)
    return result
