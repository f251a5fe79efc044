"""The census estimate (pipelines/estimate.py) on hand-computed cases, its accuracy harness on a
few simulated herds, and (the last tests, on a real Postgres) the stored path: the query, the burst
tracks and the corrections (pipelines/census_estimate.py) against the same herd tallied by hand."""
from __future__ import annotations

import json
import random
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from pipelines.estimate import (Event, Frame, SurveyWindow, Track, chao_mh, chapman, estimate, events_from_rows,
                                label_tracks, lincoln_petersen, schnabel, schnabel_sums)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from census_accuracy import Scenario, run  # noqa: E402

D0 = datetime(2024, 10, 1)
WINDOW = SurveyWindow(date(2024, 10, 1), date(2024, 10, 4))


def herd_events() -> list[Event]:
    """Four days. Bucks A (every day), B (days 0-2), C (days 1-2) and 3 buck photos without an id:
    12 buck photos; 24 doe photos, 12 fawn photos, 2 of unknown class."""
    evs, k = [], 0

    def add(day, *tracks, hour=6):
        nonlocal k
        evs.append(Event(k, D0 + timedelta(days=day, hours=hour, minutes=k), "Hayfield", tracks))
        k += 1

    for day, bucks in enumerate(["AB", "ABC", "ABC", "A"]):
        for b in bucks:
            add(day, Track("buck", b, b == "A", "mature" if b == "A" else "young"))
    for day in range(3):
        add(day, Track("buck"))
    for i in range(12):  # 12 events of a doe with her fawn, 12 of a doe alone
        add(i % 4, Track("doe"), Track("fawn"), hour=18)
        add(i % 4, Track("doe"), hour=19)
    add(0, Track("unknown"))
    add(1, Track("unknown"), Track("doe"))
    return evs


def test_jacobson_figures_by_hand():
    est = estimate(herd_events(), WINDOW, n_boot=200)
    assert est.photos == {"buck": 12, "doe": 25, "fawn": 12, "unknown": 2}
    f = est.figures
    assert f["does_per_buck"].point == pytest.approx(25 / 12)
    assert f["fawns_per_doe"].point == pytest.approx(12 / 25)
    assert f["jacobson_bucks"].point == 3
    assert f["jacobson_does"].point == pytest.approx(3 * 25 / 12)              # 6.25
    assert f["jacobson_fawns"].point == pytest.approx(3 * 25 / 12 * 12 / 25)   # 3
    assert f["jacobson_total"].point == pytest.approx(3 + 6.25 + 3)
    assert est.roster.total == 3 and est.roster.confirmed == 1 and est.roster.automatic == 2
    assert est.roster.by_age["mature"] == {"confirmed": 1, "automatic": 0}
    assert est.roster.by_age["young"] == {"confirmed": 0, "automatic": 2}
    assert est.roster.unidentified_photos == 3
    # every buck seen twice or more: Chao's Mh adds nobody; Schnabel's 18/7 is floored at the 3 seen
    assert f["bucks_chao"].point == 3 and f["bucks_schnabel"].point == 3 and f["bucks"].point == 3
    # the reported figures: the same buck estimate, sightability 1-2 (point at sqrt 2)
    assert f["does"].point == pytest.approx(3 * 25 / 12 * 2 ** 0.5)
    assert f["total"].point == pytest.approx(3 + 3 * 25 / 12 * 2 ** 0.5 * (1 + 12 / 25))
    assert est.days_with_photos == 4 and est.events == 9 + 3 + 24 + 2


def test_sightability_one_reproduces_jacobson_and_the_range_widens_the_interval():
    one = estimate(herd_events(), WINDOW, n_boot=300, sightability=(1, 1)).figures
    wide = estimate(herd_events(), WINDOW, n_boot=300, sightability=(1, 2)).figures
    assert one["total"].point == pytest.approx(one["jacobson_total"].point)
    assert wide["total"].low == pytest.approx(one["total"].low)   # the low end is at r = 1
    assert wide["total"].high > one["total"].high * 1.5


def test_capture_recapture_by_hand():
    # occasions 0..3; first captures A0 B1 C3 D0 E1
    h = np.array([[1, 0, 1, 0],   # A
                  [0, 1, 1, 0],   # B
                  [0, 0, 0, 1],   # C
                  [1, 0, 0, 0],   # D
                  [0, 1, 0, 0]])  # E
    # C_t = 2 2 2 1, M_t = 0 2 4 4, R_t = 0 0 2 0
    assert schnabel_sums(h) == (16.0, 2.0)
    assert schnabel(h, plus_one=False) == pytest.approx(8.0)
    assert schnabel(h) == pytest.approx(16 / 3)
    # S 5, f1 3 (C D E), f2 2 (A B), t 4: 5 + 3/4 * 3*2 / (2*3)
    assert chao_mh(h) == pytest.approx(5.75)
    assert chapman(10, 12, 4) == pytest.approx(11 * 13 / 5 - 1)
    assert lincoln_petersen(10, 12, 4) == pytest.approx(30.0)
    with pytest.raises(ValueError):
        lincoln_petersen(10, 12, 0)
    with pytest.raises(ValueError):
        schnabel(np.eye(3), plus_one=False)


def test_two_days_of_bucks_use_chapman():
    evs = [Event(f"{d}-{b}", D0 + timedelta(days=d, minutes=b), "A", (Track("buck", b),))
           for d, bucks in ((0, range(1, 7)), (1, range(4, 10))) for b in bucks]
    est = estimate(evs, SurveyWindow(date(2024, 10, 1), date(2024, 10, 2)), n_boot=200)
    fig = est.figures["bucks_schnabel"]
    assert "Chapman" in fig.method
    assert fig.point == pytest.approx(7 * 7 / 4 - 1)  # n1 = n2 = 6, m2 = 3


def test_every_interval_holds_its_point():
    est = estimate(herd_events(), WINDOW, n_boot=300, seed=4)
    shown = [f for f in est.figures.values() if f.refused is None]
    assert len(shown) == 12
    for f in shown:
        assert f.low <= f.point <= f.high, f
    assert est.figures["total"].high > est.figures["total"].low


def test_same_events_same_seed_same_estimate_in_any_order():
    evs = herd_events()
    a = estimate(evs, WINDOW, n_boot=300, seed=7).to_dict()
    shuffled = evs[:]
    random.Random(1).shuffle(shuffled)
    assert estimate(shuffled, WINDOW, n_boot=300, seed=7).to_dict() == a
    other = estimate(evs, WINDOW, n_boot=300, seed=8).to_dict()
    assert other["figures"]["total"]["point"] == a["figures"]["total"]["point"]
    assert other["figures"]["total"]["low"] != a["figures"]["total"]["low"]
    json.dumps(a)  # JSON as it is
    assert {r["figure"] for r in estimate(evs, WINDOW, n_boot=50).rows()} >= {"total", "jacobson_total", "bucks"}


def test_too_few_buck_photos_is_a_refusal_not_a_number():
    # leave out the 3 buck photos without an id and C's on day 2 (October 3rd)
    evs = [e for e in herd_events() if not (e.tracks[0].deer_class == "buck" and e.tracks[0].buck_id is None)
           and not (e.tracks[0].buck_id == "C" and e.taken_at.day == 3)]
    est = estimate(evs, WINDOW, n_boot=50)
    assert est.photos["buck"] == 8
    for k in ("does_per_buck", "fawns_per_doe", "jacobson_total", "does", "total"):
        assert est.figures[k].point is None
        assert "only 8 buck photos" in est.figures[k].refused and "at least 10" in est.figures[k].refused
    assert est.roster.total == 3  # the roster is still shown: it is a count
    assert any("equally likely" in a for a in est.assumptions)


def test_bucks_seen_on_one_day_only_refuse_capture_recapture():
    evs = [Event(b, D0 + timedelta(minutes=b), "A", (Track("buck", b),)) for b in range(12)]
    est = estimate(evs, SurveyWindow(date(2024, 10, 1), date(2024, 10, 14)), n_boot=50)
    assert "one day only" in est.figures["bucks"].refused
    assert est.figures["total"].refused == est.figures["bucks"].refused
    assert est.figures["jacobson_total"].point == 12  # the classic figure needs no recaptures
    assert estimate([], WINDOW).figures["total"].refused == "no photos of deer in the survey window"


def test_windows_presets_and_the_default_last_14_days():
    rut = SurveyWindow.season("rut", 2024)
    assert (rut.start, rut.end, rut.days) == (date(2024, 9, 1), date(2025, 1, 31), 153)
    assert datetime(2025, 1, 15, 23, 59) in rut and date(2025, 2, 1) not in rut and date(2024, 8, 31) not in rut
    assert SurveyWindow.latest_season("rut", [date(2025, 1, 10)]) == rut
    assert SurveyWindow.latest_season("rut", [date(2025, 6, 1)]) == rut        # the last one before
    assert SurveyWindow.latest_season("rut", [date(2025, 9, 5)]).start == date(2025, 9, 1)
    assert SurveyWindow.parse("rut-2024") == rut
    assert SurveyWindow.parse("late-summer-2024").end == date(2024, 9, 30)
    assert SurveyWindow.parse("2024-10-01..2024-10-04") == SurveyWindow(date(2024, 10, 1), date(2024, 10, 4))
    last = SurveyWindow.parse(None, [datetime(2024, 10, 20, 5), datetime(2024, 9, 1)])
    assert (last.start, last.end) == (date(2024, 10, 7), date(2024, 10, 20))
    assert SurveyWindow.parse("last-7-days", [date(2024, 10, 20)]).start == date(2024, 10, 14)
    with pytest.raises(ValueError):
        SurveyWindow.parse("spring-2024")
    with pytest.raises(ValueError):
        SurveyWindow(date(2024, 10, 2), date(2024, 10, 1))
    # the default window is the last 14 days of photos: an event 20 days earlier is left out
    evs = herd_events() + [Event("old", D0 - timedelta(days=20), "Hayfield", (Track("doe"),))]
    est = estimate(evs, n_boot=50)
    assert (est.window.start, est.window.end) == (date(2024, 9, 21), date(2024, 10, 4))
    assert est.photos["doe"] == 25
    assert estimate(evs, WINDOW, location="Sanctuary", n_boot=50).events == 0


def test_a_buck_among_does_stays_a_buck_and_one_plain_frame_outweighs_unsure_ones():
    frames = [Frame("doe1", {"doe": 0.8, "fawn": 0.15, "buck_young": 0.05}) for _ in range(3)]
    frames += [Frame("buck", {"doe": 0.9, "buck_mature": 0.1}) for _ in range(3)]
    frames += [Frame("buck", {"buck_mature": 0.999, "doe": 0.001}),  # antlers plain in one frame
               Frame("doe2", {"doe": 0.6, "cattle": 0.4})]          # non-deer mass is left out
    labels = label_tracks(frames)
    assert labels["buck"].deer_class == "buck" and labels["buck"].age_class == "mature"
    # a mean of the probabilities would have said doe: (0.9 * 3 + 0.001) / 4 > 0.5
    assert labels["doe1"].deer_class == "doe" and labels["doe2"].deer_class == "doe"
    assert not any(lab.corrected for lab in labels.values())


def test_a_correction_on_any_frame_decides_its_track_only():
    frames = [Frame(1, {"doe": 0.95, "buck": 0.05}), Frame(1, {"doe": 0.99, "buck": 0.01}, correction="buck"),
              Frame(1, {"doe": 0.9, "buck_mid": 0.1}), Frame(2, {"doe": 0.9, "fawn": 0.1})]
    labels = label_tracks(frames)
    assert labels[1].deer_class == "buck" and labels[1].corrected and labels[1].age_class == "mid"
    assert labels[2].deer_class == "doe" and not labels[2].corrected
    assert label_tracks([Frame(3, {"mature": 0.6, "deer": 0.4})])[3].age_class == "mature"  # class_map labels
    assert label_tracks([Frame(4, {"deer": 0.9, "doe": 0.1})])[4].deer_class == "unknown"
    with pytest.raises(ValueError):
        label_tracks([Frame(5, {"doe": 1.0}, correction="elk")])


def test_events_from_stored_rows():
    t = datetime(2024, 10, 2, 6, 30)
    rows = [  # one burst: three photos of a buck (profile 7, confirmed) beside a doe; one lone photo
        *({"burst_id": 11, "image_id": 100 + i, "taken_at": t + timedelta(seconds=i), "location": "Hayfield",
           "track": "a", "deer_class": "buck", "age_class": "mature", "deer_id": 7, "confirmed": True}
          for i in range(3)),
        *({"burst_id": 11, "image_id": 100 + i, "taken_at": t + timedelta(seconds=i), "location": "Hayfield",
           "track": "b", "deer_class": "doe", "deer_id": 8, "confirmed": False} for i in range(2)),
        {"burst_id": 11, "image_id": 102, "taken_at": t + timedelta(seconds=2), "location": "Hayfield",
         "track": "b", "deer_class": "buck", "deer_id": 8, "corrected_class": "doe"},
        {"burst_id": None, "image_id": 200, "taken_at": t + timedelta(hours=5), "location": "Sanctuary",
         "detection_id": 9, "deer_class": "deer", "class_probs": {"fawn": 0.7, "doe": 0.3}},
        {"burst_id": 12, "image_id": 300, "taken_at": None, "deer_class": "doe"},  # undated: left out
    ]
    evs = events_from_rows(rows)
    assert [(e.id, e.taken_at, e.location) for e in evs] == [(11, t, "Hayfield"), ("image-200", t + timedelta(hours=5),
                                                                                   "Sanctuary")]
    assert evs[0].tracks == (Track("buck", 7, True, "mature"), Track("doe"))
    assert evs[1].tracks == (Track("fawn"),)


def test_the_harness_shows_the_bias_and_the_reported_interval_covers():
    res = run(Scenario(), herds=12, seed=1, n_boot=200)
    fig = res["figures"]
    assert fig["jacobson_total"]["bias"] < -0.1  # bucks photographed more often: the classic figure is low
    assert fig["total"]["coverage"] >= 0.8 and abs(fig["total"]["bias"]) < 0.2
    assert fig["total"]["coverage"] > fig["jacobson_total"]["coverage"]
    assert res["roster"]["reviewed"]["mean_abs_error"] < res["roster"]["automatic"]["mean_abs_error"]


# ---- from the store: the query, the tracks, the corrections (a real Postgres) ----------------------
def test_the_stored_herd_gives_the_hand_tallied_estimate(store):
    from estimate_fixtures import load_herd

    from pipelines.census_estimate import census_estimate, survey_window

    herd = load_herd(store)
    window = survey_window(store)  # the last 14 days of deer photos: Sep 21st .. Oct 4th
    assert (window.start, window.end, window.name) == (date(2024, 9, 21), date(2024, 10, 4), "last-14-days")
    est = census_estimate(store, window, "Hayfield", n_boot=300, seed=3)
    # one photo per animal per burst; the unsure frame's track stays a buck, the doe beside B stays a
    # doe, the stump a person marked not a deer is gone, and the doe profile counts nobody
    assert est.photos == {"buck": 12, "doe": 21, "fawn": 8, "unknown": 0}
    assert (est.roster.total, est.roster.confirmed, est.roster.automatic) == (3, 1, 2)
    assert est.roster.by_age["mature"] == {"confirmed": 1, "automatic": 0}
    assert est.roster.unidentified_photos == 3
    by_hand = estimate([e for e in herd["events"] if e.location == "Hayfield"], window, location="Hayfield",
                       n_boot=300, seed=3)
    assert est.to_dict() == by_hand.to_dict()
    assert est.figures["total"].refused is None and est.figures["total"].low < est.figures["total"].point

    pooled = census_estimate(store, window, n_boot=300, seed=3)
    assert pooled.photos["doe"] == 22 and pooled.location is None
    assert pooled.to_dict() == estimate(herd["events"], window, n_boot=300, seed=3).to_dict()


def test_the_stored_estimate_survives_reid_and_follows_corrections(store):
    from estimate_fixtures import load_herd

    from pipelines import corrections
    from pipelines.census_estimate import census_estimate, survey_window
    from pipelines.reid_constraints import make_bursts

    herd = load_herd(store)
    window = survey_window(store, "rut-2024")
    assert (window.start, window.end) == (date(2024, 9, 1), date(2025, 1, 31))
    first = census_estimate(store, window, n_boot=200).to_dict()
    # bursts made again (as every `thumper reid` does): the same estimate
    reid = store.reid
    bursts = make_bursts(reid.burst_inputs(), 60.0)
    reid.save_bursts(bursts.rows, list(bursts.image_burst.items()))
    assert census_estimate(store, window, n_boot=200).to_dict() == first
    # a person merges C into B: one buck fewer, and B is now confirmed
    corrections.merge(reid, herd["deer"]["C"], herd["deer"]["B"])
    merged = census_estimate(store, window, n_boot=200)
    assert (merged.roster.total, merged.roster.confirmed) == (2, 2)
    assert merged.figures["jacobson_bucks"].point == 2
    # dates and presets
    assert survey_window(store, date_from=date(2024, 10, 2)).end == date(2024, 10, 4)
    assert survey_window(store, date_to=date(2024, 10, 3)).start == date(2024, 9, 20)
    assert survey_window(store, location="Creek").end == date(2024, 10, 2)
    with pytest.raises(ValueError, match="not both"):
        survey_window(store, "rut", date_from=date(2024, 10, 2))
    empty = census_estimate(store, SurveyWindow(date(2024, 6, 1), date(2024, 6, 14)))
    assert empty.events == 0 and empty.figures["total"].refused == "no photos of deer in the survey window"


def test_the_rest_api_serves_the_stored_estimate(store, db_url):
    """GET /api/census/estimate in process (the real app's routers, an API key), on the same herd."""
    from estimate_fixtures import load_herd
    from fastapi.testclient import TestClient

    from pipelines.census_estimate import census_estimate
    from serve_apps.api import fastapi_app
    from serve_apps.context import ApiContext, install
    from serve_apps.settings import ServeSettings
    from store.pool import StorePool

    load_herd(store)
    pool = StorePool(db_url, size=1)
    idle = type("NoUploads", (), {"models": None, "run_id": None})()
    install(ApiContext(ServeSettings(database_url=db_url, api_key="k"), pool, idle))
    try:
        c = TestClient(fastapi_app, client=("203.0.113.9", 5000))
        key = {"X-API-Key": "k"}
        url = "/api/census/estimate"
        assert c.get(url).status_code == 401  # read credentials, like every data route
        r = c.get(url, params={"location": "Hayfield", "date_from": "2024-10-01", "date_to": "2024-10-04"},
                  headers=key)
        assert r.status_code == 200, r.text
        body = r.json()
        expected = census_estimate(store, SurveyWindow(date(2024, 10, 1), date(2024, 10, 4)), "Hayfield")
        assert body["figures"]["total"] == expected.figures["total"].to_dict()
        assert body["roster"]["confirmed"] == 1 and body["photos"]["doe"] == 21
        assert body["window"] == {"start": "2024-10-01", "end": "2024-10-04", "name": "custom", "days": 4}
        assert "rut" in body["presets"] and body["assumptions"]
        rut = c.get(url, params={"season": "rut-2024"}, headers=key).json()
        assert rut["window"]["start"] == "2024-09-01" and rut["location"] is None and rut["photos"]["doe"] == 22
        default = c.get(url, headers=key).json()
        assert default["window"]["name"] == "last-14-days" and default["window"]["end"] == "2024-10-04"
        creek = c.get(url, params={"location": "Creek"}, headers=key).json()
        assert creek["figures"]["total"]["point"] is None and "buck photo" in creek["figures"]["total"]["refused"]
        assert c.get(url, params={"season": "mating"}, headers=key).status_code == 422
        assert c.get(url, params={"season": "rut", "date_from": "2024-10-01"}, headers=key).status_code == 422
        assert c.get(url, params={"date_from": "2024-10-04", "date_to": "2024-10-01"}, headers=key).status_code == 422
        assert c.get(url, params={"location": "Nowhere"}, headers=key).status_code == 404
    finally:
        pool.close()
