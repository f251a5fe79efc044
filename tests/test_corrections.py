"""Each correction (pipelines/corrections.py) on the real store, without Ray or models: what it
changes at once, the facts it records for later re-ID runs, and each refusal with its type
(NotFound -> 404, Conflict -> 409 at the API)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines import corrections
from pipelines.corrections import Conflict, NotFound
from pipelines.reid import run_reid

from reid_fixtures import T0, World, deer_of, detections_of

LEFT, RIGHT = (0.05, 0.4, 0.3, 0.7), (0.6, 0.4, 0.85, 0.7)


@pytest.fixture
def herd(store) -> World:
    """Doe A (two visits), doe B, buck M, and doe P with doe Q beside her in each photo of a burst."""
    w = World(seed=5)
    w.burst("Hayfield", T0, [("A", 0, "female", LEFT)])
    w.burst("Hayfield", T0 + timedelta(days=1), [("A", 0, "female", LEFT)])
    w.burst("Sanctuary", T0 + timedelta(days=2), [("B", 1, "female", LEFT)])
    w.burst("Sanctuary", T0 + timedelta(days=3), [("M", 2, "male", LEFT)])
    w.burst("270_Jason", T0 + timedelta(days=4), [("P", 3, "female", LEFT), ("Q", 4, "female", RIGHT)])
    w.write(store)
    run_reid(store)
    return w


def _deer(store, w, name) -> int:
    (d,) = deer_of(store, w)[name]
    return d


def _facts(store, kind: str) -> list[tuple]:
    return store.conn.execute("SELECT detection_id, other_detection_id, deer_id, other_deer_id FROM correction_facts"
                              " WHERE kind = %s ORDER BY id", (kind,)).fetchall()


def test_split_moves_the_part_and_records_why(store, herd):
    a = _deer(store, herd, "A")
    dets = detections_of(store, herd, "A")
    part = dets[:2]
    new = corrections.split(store.reid, a, part)
    assert new != a
    assigned = dict(store.conn.execute("SELECT id, deer_id FROM detections WHERE id = ANY(%s)", (dets,)).fetchall())
    assert [assigned[d] for d in part] == [new, new] and all(assigned[d] == a for d in dets[2:])
    assert store.reid.deer(new)["sightings"] == 2 and store.reid.deer(a)["sightings"] == len(dets) - 2
    same = _facts(store, "same_deer")
    assert len(same) == 1 and set(same[0][:2]) == set(part)  # the part is one deer
    apart = _facts(store, "not_this_deer")
    assert len(apart) == len(dets) - 2 + 1  # each of the rest is not the new deer, the new one not the old
    assert store.conn.execute("SELECT kind, deer_id, other_deer_id FROM corrections WHERE kind = 'split'").fetchall() \
        == [("split", a, new)]
    run_reid(store)  # kept by the next run
    again = dict(store.conn.execute("SELECT id, deer_id FROM detections WHERE id = ANY(%s)", (dets,)).fetchall())
    assert again[part[0]] == again[part[1]] != again[dets[2]]


def test_split_refuses_what_it_cannot_do(store, herd):
    a, b = _deer(store, herd, "A"), _deer(store, herd, "B")
    dets = detections_of(store, herd, "A")
    with pytest.raises(Conflict, match="nothing to split it from"):
        corrections.split(store.reid, a, dets)
    with pytest.raises(Conflict, match=rf"\[{detections_of(store, herd, 'B')[0]}\] are not deer {a}"):
        corrections.split(store.reid, a, [dets[0], detections_of(store, herd, "B")[0]])
    with pytest.raises(NotFound, match="no deer 999999"):
        corrections.split(store.reid, 999999, dets[:1])
    corrections.merge(store.reid, b, a)
    with pytest.raises(Conflict, match=f"deer {b} was merged into deer {a}"):
        corrections.split(store.reid, b, dets[:1])
    assert deer_of(store, herd)["A"] == {a}  # nothing changed by a refusal


def test_move_records_both_sides(store, herd):
    a, b = _deer(store, herd, "A"), _deer(store, herd, "B")
    det = detections_of(store, herd, "A")[0]
    corrections.move(store.reid, det, b)
    assert store.conn.execute("SELECT deer_id FROM detections WHERE id = %s", (det,)).fetchone() == (b,)
    (same,) = _facts(store, "same_deer")
    assert same[0] == det and same[1] in detections_of(store, herd, "B") and same[3] == b
    (apart,) = _facts(store, "not_this_deer")
    assert apart[0] == det and apart[1] in detections_of(store, herd, "A") and apart[2] == a
    assert store.reid.deer(b)["sightings"] == 4 and store.reid.deer(a)["sightings"] == 5
    corrections.move(store.reid, det, b)  # already there: nothing more recorded
    assert len(_facts(store, "same_deer")) == 1


def test_move_refuses_a_buck_into_a_doe_and_two_deer_of_one_photo(store, herd):
    m, b, p = _deer(store, herd, "M"), _deer(store, herd, "B"), _deer(store, herd, "P")
    with pytest.raises(Conflict, match="a doe and a buck are never the same deer"):
        corrections.move(store.reid, detections_of(store, herd, "M")[0], b)
    with pytest.raises(Conflict, match="two deer in the same photo"):
        corrections.move(store.reid, detections_of(store, herd, "Q")[0], p)
    with pytest.raises(NotFound, match="no detection 999999999"):
        corrections.move(store.reid, 999999999, b)
    with pytest.raises(NotFound, match="no deer 999999"):
        corrections.move(store.reid, detections_of(store, herd, "B")[0], 999999)
    assert deer_of(store, herd)["M"] == {m} and _facts(store, "same_deer") == []


def test_not_this_deer_takes_it_out_for_good(store, herd):
    a = _deer(store, herd, "A")
    det = detections_of(store, herd, "A")[0]
    corrections.not_this_deer(store.reid, det)
    assert store.conn.execute("SELECT deer_id FROM detections WHERE id = %s", (det,)).fetchone() == (None,)
    (fact,) = _facts(store, "not_this_deer")
    assert fact[0] == det and fact[2] == a and fact[1] in detections_of(store, herd, "A")
    assert store.reid.deer(a)["sightings"] == 5
    with pytest.raises(Conflict, match=f"detection {det} is not assigned to a deer"):
        corrections.not_this_deer(store.reid, det)
    run_reid(store)
    assert store.conn.execute("SELECT deer_id FROM detections WHERE id = %s", (det,)).fetchone() != (a,)


def test_not_deer_and_rename(store, herd):
    b = _deer(store, herd, "B")
    det = detections_of(store, herd, "B")[0]
    corrections.not_deer(store.reid, det)
    assert store.conn.execute("SELECT deer_id FROM detections WHERE id = %s", (det,)).fetchone() == (None,)
    assert [f[0] for f in _facts(store, "not_deer")] == [det] and store.reid.deer(b)["sightings"] == 2
    corrections.rename(store.reid, b, "Two Toes")
    assert store.reid.deer(b)["name"] == "Two Toes"
    with pytest.raises(NotFound):
        corrections.rename(store.reid, 999999, "x")


def test_merge_keeps_a_name_and_refuses_itself(store, herd):
    a, b = _deer(store, herd, "A"), _deer(store, herd, "B")
    corrections.rename(store.reid, b, "Bea")
    corrections.merge(store.reid, b, a)
    kept = store.reid.deer(a)
    assert kept["name"] == "Bea" and kept["sightings"] == 9
    assert store.reid.deer(b)["status"] == "merged" and store.reid.deer(b)["merged_into"] == a
    with pytest.raises(Conflict, match="cannot be merged with itself"):
        corrections.merge(store.reid, a, a)


def test_confirm_links_the_detection_to_its_deer(store, herd):
    a = _deer(store, herd, "A")
    det = detections_of(store, herd, "A")[3]
    assert corrections.confirm_match(store.reid, det) == a
    (fact,) = _facts(store, "same_deer")
    assert fact[0] == det and fact[1] in detections_of(store, herd, "A") and fact[1] != det and fact[2] == a
    assert store.conn.execute("SELECT note FROM corrections WHERE kind = 'same_deer'").fetchone() == (
        "confirmed in review",)
    with pytest.raises(NotFound, match="no detection 999999999"):
        corrections.confirm_match(store.reid, 999999999)
    lone = detections_of(store, herd, "B")[0]
    corrections.split(store.reid, _deer(store, herd, "B"), [lone])  # one sighting: nothing to confirm it against
    with pytest.raises(Conflict, match="no other sighting"):
        corrections.confirm_match(store.reid, lone)
    corrections.not_this_deer(store.reid, det)
    with pytest.raises(Conflict, match="not assigned to a deer"):
        corrections.confirm_match(store.reid, det)


def test_the_anchor_is_the_deer_s_representative(store, herd):
    a = _deer(store, herd, "A")
    rep = store.reid.deer(a)["representative_id"]
    other = next(d for d in detections_of(store, herd, "A") if d != rep)
    corrections.confirm_match(store.reid, other)
    (fact,) = _facts(store, "same_deer")
    assert fact == (other, rep, a, None)


def test_merge_records_the_action_and_refuses_a_doe_into_a_buck(store, herd):
    a, b, m = _deer(store, herd, "A"), _deer(store, herd, "B"), _deer(store, herd, "M")
    with pytest.raises(Conflict) as refused:
        corrections.merge(store.reid, b, m)
    assert str(refused.value) == f"merge {b} into {m}: a doe and a buck are never the same deer"
    corrections.merge(store.reid, b, a)
    assert store.conn.execute("SELECT deer_id, other_deer_id FROM corrections WHERE kind = 'merge'").fetchall() == [
        (b, a)]
    same = _facts(store, "same_deer")
    assert len(same) == 9 - 1 and all(f[2] == b and f[3] == a for f in same)  # all of both, to A's anchor
    run_reid(store)
    assert deer_of(store, herd)["B"] == deer_of(store, herd)["A"] == {a}


def test_buck_pairs_come_first_with_the_buck_count_either_way(store, app_factory):
    """Three bucks re-ID kept apart whose centroids lie just above the threshold, and a doe: the
    review asks about the buck pairs first, says what the buck count would be, and forgets a pair a
    person called two bucks (kept apart by the next re-ID run) or merged."""
    w = World(seed=2)
    for day, (name, k) in enumerate([("M", 2), ("N", 3), ("O", 4), ("D", 5)]):
        w.burst("Hayfield", T0 + timedelta(days=day), [(name, k, "female" if name == "D" else "male", LEFT)])
    w.write(store)
    run_reid(store)
    m, n, o = (_deer(store, w, x) for x in "MNO")
    pairs = store.web.buck_pairs(0.5, 0.15)
    assert {(p["deer_id"], p["other_deer_id"]) for p in pairs} == {(m, n), (m, o), (n, o)}
    assert [p["margin"] for p in pairs] == sorted(p["margin"] for p in pairs)
    assert corrections.buck_count_either_way(3, [(m, n), (m, o), (n, o)]) == (1, 3)
    assert store.web.buck_pairs(0.3, 0.15) == []  # far above a tighter threshold: not asked

    c = app_factory(max_distance=0.5)
    queue = c.get("/api/web/review").json()
    assert [i["kind"] for i in queue["items"][:3]] == ["buck_pair"] * 3
    assert queue["bucks"] == {"pairs_left": 3, "buck_profiles": 3, "if_all_same": 1, "if_none": 3}
    assert c.post(f"/api/web/review/pairs/{m}/{n}/different").status_code == 200
    run_reid(store)  # the cannot-link holds in the next run
    assert _deer(store, w, "M") == m and _deer(store, w, "N") == n
    left = {(p["deer_id"], p["other_deer_id"]) for p in store.web.buck_pairs(0.5, 0.15)}
    assert left == {(m, o), (n, o)}
    corrections.merge(store.reid, o, n)
    queue = c.get("/api/web/review").json()
    assert queue["bucks"] == {"pairs_left": 0, "buck_profiles": 2, "if_all_same": 2, "if_none": 2}
    assert c.post(f"/api/web/review/pairs/{m}/{m}/different").status_code == 409


@pytest.fixture
def app_factory(db_url):
    """The web routes in process, with the server key (an editor), on this test's database."""
    from fastapi.testclient import TestClient

    from serve_apps.api import fastapi_app
    from serve_apps.context import ApiContext, install
    from serve_apps.settings import ServeSettings
    from store.pool import StorePool

    pools = []

    def make(**settings):
        pool = StorePool(db_url, size=1)
        pools.append(pool)
        idle = type("NoUploads", (), {"models": None, "run_id": None})()
        install(ApiContext(ServeSettings(database_url=db_url, api_key="k", **settings), pool, idle))
        return TestClient(fastapi_app, client=("203.0.113.9", 5000), headers={"X-API-Key": "k"})

    yield make
    for pool in pools:
        pool.close()


def test_a_class_correction_is_kept_through_a_reprocess_and_decides_the_estimate_rows(store, herd):
    from reid_fixtures import reprocess_all

    det = detections_of(store, herd, "A")[0]
    bucks = store.conn.execute("SELECT count(*) FROM detections WHERE deer_class = 'buck'").fetchone()[0]
    corrections.set_class(store.reid, det, "buck", "mature")
    row = lambda d: store.conn.execute("SELECT deer_class, sex, age_class FROM detections WHERE id = %s",  # noqa: E731
                                       (d,)).fetchone()
    assert row(det) == ("buck", "male", "mature")
    (fact,) = store.conn.execute("SELECT detection_id, c.deer_class, c.age_class FROM correction_facts f"
                                 " JOIN corrections c USING (id) WHERE f.kind = 'class'").fetchall()
    assert fact == (det, "buck", "mature")
    # a full reprocess rewrites every detection row with the model's answer (a doe): the fact wins
    by_path = dict(store.conn.execute("SELECT path, id FROM images").fetchall())
    reprocess_all(store, herd, [by_path[p.path] for p in herd.photos])
    (new_det,) = [d for (d,) in store.conn.execute(
        "SELECT detection_id FROM correction_facts WHERE kind = 'class'")]
    assert new_det != det and row(new_det) == ("buck", "male", "mature")
    others = store.conn.execute("SELECT count(*) FROM detections WHERE deer_class = 'buck'").fetchone()[0]
    assert others == bucks + 1  # M's and the corrected one; nothing else changed
    rows = {r["detection_id"]: r for r in store.reports.estimate_rows(T0.date(), (T0 + timedelta(days=9)).date())}
    assert (rows[new_det]["corrected_class"], rows[new_det]["corrected_age"]) == ("buck", "mature")
    assert sum(r["corrected_class"] is not None for r in rows.values()) == 1
    corrections.set_class(store.reid, new_det, "fawn")  # the newest word wins
    assert row(new_det) == ("fawn", "unknown", "fawn")


def test_a_class_correction_refuses_what_it_cannot_be(store, herd):
    det = detections_of(store, herd, "B")[0]
    with pytest.raises(corrections.CorrectionError, match="class must be one of"):
        corrections.set_class(store.reid, det, "elk")
    with pytest.raises(corrections.CorrectionError, match="for bucks only"):
        corrections.set_class(store.reid, det, "doe", "mature")
    with pytest.raises(NotFound):
        corrections.set_class(store.reid, 999999, "doe")
    assert store.conn.execute("SELECT count(*) FROM corrections WHERE kind = 'class'").fetchone()[0] == 0


def test_the_class_route_and_command(store, herd, app_factory, db_url):
    import subprocess
    import sys

    det, other = detections_of(store, herd, "B")[:2]
    c = app_factory()
    r = c.post(f"/api/detections/{det}/class", json={"deer_class": "buck", "age_class": "young"})
    assert r.status_code == 200, r.text
    assert c.post(f"/api/detections/{det}/class", json={"deer_class": "elk"}).status_code == 422
    assert c.post(f"/api/detections/{det}/class", json={"deer_class": "doe", "age_class": "mid"}).status_code == 409
    assert c.post("/api/detections/999999/class", json={"deer_class": "doe"}).status_code == 404
    assert c.get(f"/api/images/{store.conn.execute('SELECT image_id FROM detections WHERE id = %s', (det,)).fetchone()[0]}"
                 ).json()["detections"][0]["age_class"] == "young"
    # the detection API says the class is a person's word, and what the classifier had said
    image_id = store.conn.execute("SELECT image_id FROM detections WHERE id = %s", (det,)).fetchone()[0]
    shown = {d["id"]: d for d in c.get(f"/api/images/{image_id}").json()["detections"]}
    assert shown[det]["class_corrected"] and not shown[det]["not_deer"]
    assert not any(d["class_corrected"] for i, d in shown.items() if i != det)
    listed = c.get("/api/detections", params={"deer_id": shown[det]["deer_id"], "limit": 500}).json()["items"]
    assert {d["id"]: d["class_corrected"] for d in listed}[det] is True
    done = subprocess.run([sys.executable, "-m", "thumper", "deer", "class", str(other), "fawn", "--db", db_url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"detection {other} is a fawn", done.stderr
    assert store.conn.execute("SELECT deer_class FROM detections WHERE id = %s", (other,)).fetchone() == ("fawn",)
