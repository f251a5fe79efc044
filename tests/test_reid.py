"""Re-ID against the real store: bursts stored, constraints honoured from data in Postgres, and
every kind of correction kept by a re-run and by a full reprocess that replaces detection rows."""
from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines import corrections
from pipelines.corrections import CorrectionError
from pipelines.reid import run_reid

from reid_fixtures import T0, World, current, deer_of, detections_of, reprocess_all

LEFT, RIGHT = (0.05, 0.4, 0.3, 0.7), (0.6, 0.4, 0.85, 0.7)


def test_bursts_are_stored_and_every_constraint_holds(store):
    w = World(seed=1)
    w.burst("Hayfield", T0, [("A", 0, "female", LEFT)])  # A's middle shot looks unlike A (below)
    w.burst("Hayfield", T0 + timedelta(seconds=200), [("A", 0, "female", LEFT)])  # gap > 60 s: new burst
    w.burst("Sanctuary", T0 + timedelta(days=1), [("T1", 2, "female", LEFT), ("T2", 2, "female", RIGHT)])
    w.burst("Sanctuary", T0 + timedelta(days=2), [("D", 3, "female", LEFT)])
    w.burst("270_Jason", T0 + timedelta(days=2), [("E", 3, "male", LEFT)])
    w.photos[1].dets[0].emb = w.look(9)  # only the box link says this is A
    image_ids = w.write(store)

    summary = run_reid(store)

    bursts = store.conn.execute("SELECT location_id, n_images FROM bursts").fetchall()
    assert len(bursts) == summary.bursts == 5 and all(n == 3 for _, n in bursts)
    by_image = dict(store.conn.execute("SELECT id, burst_id FROM images").fetchall())
    burst_of = [by_image[i] for i in image_ids]
    assert len({burst_of[0], burst_of[1], burst_of[2]}) == 1 and burst_of[3] != burst_of[0]
    assert None not in burst_of

    found = deer_of(store, w)
    assert found["A"] == {next(iter(found["A"]))} and None not in found["A"]  # box links kept the odd shot
    assert found["T1"].isdisjoint(found["T2"])  # same photo: never the same deer, however alike
    assert found["D"].isdisjoint(found["E"])  # a doe and a buck are never merged
    assert all(len(ds) == 1 for ds in found.values())
    assert len({d for ds in found.values() for d in ds}) == summary.deer == 5

    again = run_reid(store)  # ids are stable, bursts are kept
    assert deer_of(store, w) == found and again.new_deer == 0
    assert dict(store.conn.execute("SELECT id, burst_id FROM images").fetchall()) == by_image


def _world() -> World:
    """Individuals seen in several 3-shot bursts; F looks different in its two visits, G and H
    look alike (one deer to the embedding), B and C are two ordinary does."""
    w = World(seed=2)
    day = timedelta(days=1)
    visits = [("A", 0, 0), ("A", 0, 3), ("B", 1, 0), ("B", 1, 4), ("C", 2, 1), ("C", 2, 5),
              ("F", 6, 2), ("F", 7, 6), ("G", 8, 3), ("H", 8, 7), ("D", 4, 1), ("D", 4, 8)]
    for n, (name, k, d) in enumerate(visits):
        w.burst(["Hayfield", "Sanctuary"][n % 2], T0 + d * day + timedelta(hours=n), [(name, k, "female", LEFT)])
    return w


def _check(store, w, expect) -> None:
    found = deer_of(store, w)
    named = dict(store.conn.execute("SELECT id, name FROM deer").fetchall())
    assert {named[d] for d in found["A"]} == {"Notch"}
    assert len(found["F"]) == 1 and None not in found["F"]  # merged stays merged
    assert found["G"].isdisjoint(found["H"]) and None not in found["G"] | found["H"]  # split stays split
    rows = {(img, k): deer for img, k, deer in store.conn.execute(
        "SELECT image_id, det_index, deer_id FROM detections").fetchall()}
    assert rows[expect["moved"]] in found["A"]  # moved stays moved
    assert rows[expect["not_deer"]] is None  # not a deer: never clustered
    assert rows[expect["not_this"]] not in found["D"] - {None}  # never back in D
    assert expect["not_this_deer_id"] not in {rows[expect["not_this"]]}


def test_corrections_survive_rerun_and_full_reprocess(store):
    w = _world()
    image_ids = w.write(store)
    run_reid(store)
    reid = store.reid
    found = deer_of(store, w)
    assert len(found["F"]) == 2 and found["G"] == found["H"]  # what the corrections fix

    key = {d: (img, k) for d, img, k in store.conn.execute("SELECT id, image_id, det_index FROM detections")}
    (a,), (f1, f2), (gh,) = found["A"], sorted(found["F"]), found["G"]
    corrections.rename(reid, a, "Notch")
    corrections.merge(reid, f1, f2)
    split_off = corrections.split(reid, gh, detections_of(store, w, "H"))
    moved = detections_of(store, w, "B")[1]
    corrections.move(reid, moved, a)
    not_deer = detections_of(store, w, "C")[0]
    corrections.not_deer(reid, not_deer)
    not_this = detections_of(store, w, "D")[2]
    (d_deer,) = found["D"]
    corrections.not_this_deer(reid, not_this)
    expect = {"moved": key[moved], "not_deer": key[not_deer], "not_this": key[not_this], "not_this_deer_id": d_deer}

    assert reid.deer(f1)["status"] == "merged" and reid.deer(f1)["merged_into"] == f2
    assert split_off not in (gh, None)
    _check(store, w, expect)  # effective at once
    run_reid(store)
    _check(store, w, expect)  # kept by a re-run
    reprocess_all(store, w, image_ids)
    assert all(deer is None for *_, deer in current(store, w))  # the rows really were replaced
    run_reid(store)
    _check(store, w, expect)  # kept by a full reprocess
    assert store.conn.execute("SELECT name FROM deer WHERE id = %s", (a,)).fetchone() == ("Notch",)
    assert {a} == deer_of(store, w)["A"]  # same deer id, not just the same name
    assert deer_of(store, w)["H"] == {split_off}


def test_impossible_corrections_are_refused(store):
    w = World(seed=3)
    w.burst("Hayfield", T0, [("doe", 0, "female", LEFT), ("buck", 1, "male", RIGHT)])
    w.write(store)
    run_reid(store)
    reid = store.reid
    found = deer_of(store, w)
    (doe,), (buck,) = found["doe"], found["buck"]
    with pytest.raises(CorrectionError, match="doe and a buck"):
        corrections.merge(reid, doe, buck)
    with pytest.raises(CorrectionError):
        corrections.move(reid, detections_of(store, w, "doe")[0], buck)
    with pytest.raises(CorrectionError, match="every detection"):
        corrections.split(reid, doe, detections_of(store, w, "doe"))
    assert deer_of(store, w) == found
