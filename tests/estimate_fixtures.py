"""A small herd written into a real database the way the pipeline writes it (images, detections with
classifier probabilities, bursts, profiles, corrections), and the same herd as the `Event`s a person
would write down by hand, so the stored path can be checked against `pipelines.estimate` directly.

Hayfield, October 1st-4th 2024, one camera, bursts of two photos 20 s apart:

- bucks A (every day), B (days 0, 1, 3), C (days 1, 2), and 3 buck bursts without a profile:
  12 buck photos, 6 recaptures; A is named (a person confirmed him);
- one of A's bursts has a frame the classifier called a doe (0.6): the track is still a buck;
- one of B's bursts has a doe standing beside him (her own box): two tracks, buck and doe;
- 20 doe bursts (all in one doe profile: does are never counted by profiles), 8 of them with a fawn;
- one more "buck" burst that a person marked not a deer (a stump): left out;
- Creek, October 2nd: a doe burst (only in the pooled estimate).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from models.types import Detection, PhotoResult
from pipelines import corrections
from pipelines.estimate import Event, Track
from pipelines.reid_constraints import make_bursts
from store import ImageRecord, Store

D0 = datetime(2024, 10, 1, 5, 0)
LEFT, RIGHT = (0.10, 0.30, 0.40, 0.80), (0.55, 0.30, 0.85, 0.80)
BUCK = {"buck_mature": 0.8, "buck_young": 0.1, "doe": 0.1}
YOUNG = {"buck_young": 0.7, "buck_mid": 0.1, "doe": 0.2}
DOE = {"doe": 0.85, "fawn": 0.1, "buck_young": 0.05}
FAWN = {"fawn": 0.8, "doe": 0.2}
SEX = {"buck": "male", "doe": "female", "fawn": "unknown"}


def _bursts():
    """(day, location, [(class, profile key, box, [probs of frame 1, frame 2])])"""
    out = []
    for day, bucks in enumerate(["AB", "ABC", "AC", "AB"]):
        for b in bucks:
            frames = [BUCK, BUCK] if b == "A" else [YOUNG, YOUNG]
            if (day, b) == (1, "A"):
                frames = [BUCK, {"doe": 0.6, "buck_mature": 0.4}]  # one unsure frame
            animals = [("buck", b, LEFT, frames)]
            if (day, b) == (3, "B"):
                animals.append(("doe", "D", RIGHT, [DOE, DOE]))
            out.append((day, "Hayfield", animals))
    for day in range(3):
        out.append((day, "Hayfield", [("buck", None, LEFT, [YOUNG, YOUNG])]))
    for i in range(20):
        animals = [("doe", "D", LEFT, [DOE, DOE])]
        if i < 8:
            animals.append(("fawn", None, RIGHT, [FAWN, FAWN]))
        out.append((i % 4, "Hayfield", animals))
    out.append((2, "Hayfield", [("stump", None, LEFT, [BUCK, BUCK])]))
    out.append((1, "Creek", [("doe", None, LEFT, [DOE, DOE])]))
    return out


def load_herd(store: Store) -> dict:
    """Write the herd; returns {"deer": key -> deer id, "events": hand-made Events, "stump": detection ids}."""
    plan, records = [], []
    for k, (day, loc, animals) in enumerate(_bursts()):
        start = D0 + timedelta(days=day, minutes=10 * k)
        for frame in range(2):
            sha = f"{k:04d}{frame}".rjust(64, "e")
            records.append(ImageRecord(sha, f"/photos/{loc}/{k}-{frame}.jpg", loc, start + timedelta(seconds=20 * frame),
                                       "exif", "Acme", "Trail 1"))
            plan.append((sha, animals, frame))
    assert store.add_images(records).new == len(records)
    by_sha = {sha: i for sha, i in store.conn.execute("SELECT sha256, id FROM images").fetchall()}
    run = store.start_run("census", detector_version="test", embedder_version="none")
    store.claim_pending(run)
    results = []
    for sha, animals, frame in plan:
        dets = []
        for _, _, box, frames in animals:
            top = max(frames[frame], key=frames[frame].get)  # the frame's top label, as the classifier stores it
            stored, _, age = top.partition("_")
            dets.append(Detection(box, 0.9, "animal", species="deer", deer_class=stored, sex=SEX[stored],
                                  age_class=age or None, probs=frames[frame]))
        results.append(PhotoResult(by_sha[sha], width=1, height=1, detections=dets))
    store.write_results(run, results, detector_version="test")
    store.finish_run(run)
    reid = store.reid
    bursts = make_bursts(reid.burst_inputs(), 60.0)
    reid.save_bursts(bursts.rows, list(bursts.image_burst.items()))

    deer_ids = dict(zip("ABCD", reid.create_deer(4)))
    det_ids, det_deer, stump = [], [], []
    rows = store.conn.execute("SELECT d.id, i.sha256, d.det_index FROM detections d JOIN images i ON i.id = d.image_id"
                              " ORDER BY d.id").fetchall()
    animals_of = {sha: animals for sha, animals, _ in plan}
    for det, sha, index in rows:
        cls, key, _, _ = animals_of[sha][index]
        if cls == "stump":
            stump.append(det)
        elif key is not None:
            det_ids.append(det)
            det_deer.append(deer_ids[key])
    reid.write_assignments(np.array(det_ids), np.array(det_deer), None)
    corrections.rename(reid, deer_ids["A"], "Big Ten")
    for det in stump:
        corrections.not_deer(reid, det)
    return {"deer": deer_ids, "events": hand_events(deer_ids), "stump": stump}


def hand_events(deer_ids: dict[str, int]) -> list[Event]:
    """The herd as a person would tally it: one track per animal per burst, stump left out."""
    events = []
    for k, (day, loc, animals) in enumerate(_bursts()):
        tracks = []
        for cls, key, _, frames in animals:
            if cls == "stump":
                continue
            buck = deer_ids[key] if cls == "buck" and key else None
            age = ("mature" if key == "A" else "young") if cls == "buck" else None
            tracks.append(Track(cls, buck, key == "A", age))
        if tracks:
            events.append(Event(k, D0 + timedelta(days=day, minutes=10 * k), loc, tuple(tracks)))
    return events
