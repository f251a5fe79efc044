"""Identity-labelled detections written straight into the real store (no Ray, no models):
controlled embeddings, boxes, sexes and photo times, so each re-ID rule can be tested exactly."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from models.types import Detection, PhotoResult
from store import ImageRecord, Store

DIM = 16
T0 = datetime(2024, 10, 5, 6, 30)
SEX_CLASS = {"female": ("doe", None), "male": ("buck", "mid"), "unknown": ("deer", None)}


def unit(v) -> np.ndarray:
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


def centre(k: int, dim: int = DIM) -> np.ndarray:
    """Individual k's look: one-hot plus a shared component (deer resemble each other)."""
    v = np.full(dim, 0.15, np.float32)
    v[k % dim] += 1.0
    return unit(v)


@dataclass
class Det:
    individual: str
    box: tuple[float, float, float, float]
    emb: np.ndarray
    sex: str = "female"


@dataclass
class Photo:
    location: str
    taken_at: datetime | None
    dets: list[Det] = field(default_factory=list)
    path: str = ""


class World:
    """Photos to write; after `write`, maps each detection's individual by detection id."""

    def __init__(self, seed: int = 0):
        self.photos: list[Photo] = []
        self.rng = np.random.default_rng(seed)
        self.truth: dict[tuple[int, int], str] = {}  # (image id, det_index) -> individual

    def look(self, k: int, noise: float = 0.05) -> np.ndarray:
        return unit(centre(k) + self.rng.normal(0, noise, DIM))

    def burst(self, location: str, start: datetime, deer: list[tuple[str, int, str, tuple]], shots: int = 3,
              step_s: int = 2) -> None:
        """`shots` photos `step_s` apart; each deer (individual, centre k, sex, box) moves a little."""
        for s in range(shots):
            dets = [Det(name, (x1 + 0.01 * s, y1, x2 + 0.01 * s, y2), self.look(k), sex)
                    for name, k, sex, (x1, y1, x2, y2) in deer]
            self.photos.append(Photo(location, start + timedelta(seconds=step_s * s), dets))

    def write(self, store: Store) -> list[int]:
        records = []
        for n, p in enumerate(self.photos):
            p.path = p.path or f"/photos/{p.location}/IMG_{n:05d}.JPG"
            records.append(ImageRecord(hashlib.sha256(p.path.encode()).hexdigest(), p.path, p.location,
                                       p.taken_at, "exif", "Browning", "BTC-8E", 1920, 1080, 1000))
        ids = store.add_images(records).image_ids
        by_sha = dict(store.conn.execute("SELECT sha256, id FROM images").fetchall())
        image_ids = [by_sha[r.sha256] for r in records]
        write_detections(store, {i: p.dets for i, p in zip(image_ids, self.photos)})
        self.truth = {(img, k): det.individual for img, p in zip(image_ids, self.photos)
                      for k, det in enumerate(p.dets)}
        assert sorted(ids) == sorted(image_ids)
        return image_ids


def write_detections(store: Store, dets_by_image: dict[int, list[Det]], states=("pending",),
                     jitter: float = 0.0) -> int:
    """One run writing these detections via the bulk writer (states=('completed',): a reprocess)."""
    run = store.start_run("test", detector="fixture", detector_version="fixture@1")
    store.claim_pending(run, list(dets_by_image), states)
    results = [PhotoResult(img, width=1920, height=1080, detections=[
        Detection(tuple(v + jitter for v in d.box), 0.9, SEX_CLASS[d.sex][0], species="deer", deer_class=SEX_CLASS[d.sex][0], sex=d.sex, age_class=SEX_CLASS[d.sex][1], embedding=d.emb) for d in dets]) for img, dets in dets_by_image.items()]
    n = store.write_results(run, results, detector_version="fixture@1", embedder_version="fixture-emb@1")
    store.finish_run(run)
    return n


def reprocess_all(store: Store, world: World, image_ids: list[int], jitter: float = 0.004) -> int:
    """A full reprocess: every image claimed again and its detection rows replaced (same boxes,
    slightly moved as a new detector would draw them)."""
    return write_detections(store, {i: p.dets for i, p in zip(image_ids, world.photos)},
                            states=("completed",), jitter=jitter)


def current(store: Store, world: World) -> list[tuple[int, str, int | None]]:
    """(detection id, individual, deer id) of today's detection rows."""
    rows = store.conn.execute("SELECT id, image_id, det_index, deer_id FROM detections ORDER BY id").fetchall()
    return [(d, world.truth[(img, k)], deer) for d, img, k, deer in rows]


def deer_of(store: Store, world: World) -> dict[str, set]:
    """individual -> set of deer ids its detections are assigned to (None = unassigned)."""
    out: dict[str, set] = {}
    for _, individual, deer in current(store, world):
        out.setdefault(individual, set()).add(deer)
    return out


def detections_of(store: Store, world: World, individual: str) -> list[int]:
    return [d for d, ind, _ in current(store, world) if ind == individual]
