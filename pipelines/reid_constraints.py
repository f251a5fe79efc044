"""Turn what the photos and people say into clustering constraints over detection indices:
bursts (same camera, photos close in time), box links across a burst (must-link), and corrections
(same deer = must-link, not this deer = cannot-link)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from pipelines.bursts import group_bursts, link_burst_detections


@dataclass
class Bursts:
    rows: list[tuple]  # (k, location_id, camera, started_at, ended_at, n_images)
    image_burst: dict[int, int]  # image id -> burst k
    photos: list[list[int]] = field(default_factory=list)  # burst k -> its image ids in time order


def make_bursts(images: list[tuple[int, int | None, str, datetime]], gap_seconds: float) -> Bursts:
    """images: (id, location id, camera, taken_at); a camera is (location, make + model)."""
    keys = [f"{loc}|{cam}" for _, loc, cam, _ in images]
    times = [t for *_, t in images]
    labels = group_bursts(keys, times, gap_seconds) if images else np.empty(0, np.int64)
    photos: list[list[int]] = [[] for _ in range(int(labels.max(initial=-1)) + 1)]
    for k, img in sorted(zip(labels.tolist(), range(len(images))), key=lambda p: (p[0], times[p[1]], p[1])):
        photos[k].append(img)
    rows = []
    for k, members in enumerate(photos):
        _, loc, cam, start = images[members[0]]
        rows.append((k, loc, cam, start, images[members[-1]][3], len(members)))
    return Bursts(rows, {images[i][0]: k for i, k in enumerate(labels.tolist())},
                  [[images[i][0] for i in members] for members in photos])


def burst_links(bursts: Bursts, image_ids: np.ndarray, boxes: np.ndarray, iou: float) -> np.ndarray:
    """(m, 2) must-link detection-index pairs: boxes overlapping from one photo to the next in a burst."""
    order = np.argsort(image_ids, kind="stable")
    unique, first, counts = np.unique(image_ids[order], return_index=True, return_counts=True)
    by_image = {img: order[s:s + c] for img, s, c in zip(unique.tolist(), first.tolist(), counts.tolist())}
    links = []
    for photos in bursts.photos:
        if len(photos) < 2:
            continue
        dets = [by_image.get(p, np.empty(0, np.int64)) for p in photos]
        if sum(len(d) > 0 for d in dets) < 2:
            continue
        for (p, r), (q, c) in link_burst_detections([boxes[d].tolist() for d in dets], iou):
            links.append((dets[p][r], dets[q][c]))
    return np.array(links, np.int64).reshape(-1, 2)


@dataclass
class FactConstraints:
    must_link: np.ndarray  # (m, 2) detection indices
    cannot_link: np.ndarray  # (m, 2)
    not_deer: set[int]  # detection ids
    forbidden: list[tuple[int, int]]  # (detection index, deer id): this detection is never that deer
    pinned: np.ndarray  # detection indices a person tied to another detection


def fact_constraints(facts: list[tuple[str, int, int | None, int | None]],
                     detection_ids: np.ndarray) -> FactConstraints:
    """facts: (kind, detection id, other detection id, deer id) resolved to today's detection rows."""
    index = {d: i for i, d in enumerate(detection_ids.tolist())}
    must, cannot, forbidden, not_deer = [], [], [], set()
    for kind, det, other, deer_id in facts:
        if kind == "not_deer":
            not_deer.add(det)
            continue
        a, b = index.get(det), index.get(other) if other is not None else None
        if a is None:
            continue
        if kind == "same_deer" and b is not None and a != b:
            must.append((a, b))
        elif kind == "not_this_deer":
            if b is not None and a != b:
                cannot.append((a, b))
            if deer_id is not None:
                forbidden.append((a, deer_id))
    must_arr = np.array(must, np.int64).reshape(-1, 2)
    return FactConstraints(must_arr, np.array(cannot, np.int64).reshape(-1, 2), not_deer, forbidden,
                           np.unique(must_arr))
