"""Burst grouping and within-burst detection linking.

Trail cameras fire several photos per trigger. Photos of one camera a few
seconds apart almost always show the same animals in nearly the same place, so
linking their boxes gives free must-link constraints for re-identification.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

Box = Sequence[float]  # normalised (x1, y1, x2, y2)


def group_bursts(
    camera_keys: Sequence[str],
    times: Sequence[datetime | None],
    gap_seconds: float = 60.0,
) -> np.ndarray:
    """Burst index per photo, numbered 0..k-1 in order of first appearance.

    Photos of the same camera form one burst while each (time-sorted) photo is
    at most ``gap_seconds`` after the previous one; a gap of exactly
    ``gap_seconds`` still continues the burst. Photos without a time cannot be
    placed in a sequence, so each is its own burst.
    """
    if len(camera_keys) != len(times):
        raise ValueError("camera_keys and times must have the same length")
    n = len(times)
    provisional = [-1] * n
    next_id = 0
    by_camera: dict[str, list[int]] = {}
    for i, (key, t) in enumerate(zip(camera_keys, times)):
        if t is None:
            provisional[i] = next_id
            next_id += 1
        else:
            by_camera.setdefault(key, []).append(i)

    for indices in by_camera.values():
        indices.sort(key=lambda i: (times[i], i))  # index breaks ties: stable
        previous = burst = None
        for i in indices:
            if previous is None or (times[i] - previous).total_seconds() > gap_seconds:
                burst, next_id = next_id, next_id + 1
            provisional[i] = burst
            previous = times[i]

    # Renumber so burst ids follow input order, independent of dict/sort order.
    renumber: dict[int, int] = {}
    return np.array([renumber.setdefault(b, len(renumber)) for b in provisional], dtype=np.int64)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix between (n, 4) and (m, 4) xyxy boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def link_burst_detections(
    boxes_by_photo: list[list[Box]],
    iou_threshold: float = 0.3,
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Must-link pairs ``((photo, det), (photo + 1, det'))`` within one burst.

    ``boxes_by_photo`` holds the burst's photos in time order. Each detection is
    matched one-to-one with a detection of the next photo, greedily by highest
    IoU (ties broken by index); pairs below ``iou_threshold`` are not linked.
    Greedy is enough here: a burst has few deer and they barely move.
    """
    links = []
    for p in range(len(boxes_by_photo) - 1):
        here, there = boxes_by_photo[p], boxes_by_photo[p + 1]
        if not here or not there:
            continue
        iou = box_iou(np.array(here), np.array(there))
        rows, cols = np.nonzero(iou >= iou_threshold)
        order = np.lexsort((cols, rows, -iou[rows, cols]))
        used_here, used_there = set(), set()
        for r, c in zip(rows[order].tolist(), cols[order].tolist()):
            if r not in used_here and c not in used_there:
                used_here.add(r)
                used_there.add(c)
                links.append(((p, r), (p + 1, c)))
    links.sort()
    return links
