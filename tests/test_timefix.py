"""Deployments and camera clocks: every correction kind on a real Postgres, undo, later photos of
the camera, bursts regrouped, survival across a reprocess, refusals that change nothing, the
`thumper cameras` command, and the trap-night arithmetic."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from pipelines import timefix
from pipelines.effort import active_nights, by_site, effort
from store import ImageRecord
from store.deployments import DeploymentError

T0 = datetime(2024, 10, 1, 6, 0, 0)


def _add(store, times, location="Ridge", make="Reconyx", model="HC600", prefix="a"):
    records = [ImageRecord(f"{prefix}{k:063d}", f"/p/{prefix}{k}.jpg", location, t, "exif", make, model)
               for k, t in enumerate(times)]
    return store.add_images(records).image_ids


def _times(store, ids):
    got = dict(store.conn.execute("SELECT id, taken_at FROM images WHERE id = ANY(%s)", (ids,)).fetchall())
    return [got[i] for i in ids]


def _recorded(store, ids):
    got = dict(store.conn.execute("SELECT id, recorded_at FROM images WHERE id = ANY(%s)", (ids,)).fetchall())
    return [got[i] for i in ids]


def _dep(store, ids) -> int:
    (dep,) = store.deployments.deployments_of(ids)
    return dep


def test_ingest_makes_one_deployment_per_camera_and_location(store):
    a = _add(store, [T0, T0 + timedelta(hours=1)])
    b = _add(store, [T0], model="HC500", prefix="b")
    c = _add(store, [T0], location="Creek", prefix="c")
    assert len({_dep(store, a), _dep(store, b), _dep(store, c)}) == 3
    listed = {d["id"]: d for d in store.deployments.list()}
    assert listed[_dep(store, a)]["photos"] == 2 and listed[_dep(store, a)]["start"] == T0
    assert _recorded(store, a) == _times(store, a)


def test_a_serial_set_later_keeps_the_next_card_in_the_same_deployment(store):
    first = _add(store, [T0])
    dep = _dep(store, first)
    store.deployments.update(dep, {"camera_serial": "RCNX-1234"})
    later = _add(store, [T0 + timedelta(days=3)], prefix="n")
    assert _dep(store, later) == dep and len(store.deployments.list()) == 1


def test_offset_moves_the_range_only_and_undo_puts_it_back(store):
    times = [T0 + timedelta(days=d) for d in range(4)]
    ids = _add(store, times)
    dep = _dep(store, ids)
    done = timefix.add_correction(store, dep, "offset", by="-1h30m", start="2024-10-02 00:00", end="2024-10-03 12:00")
    assert done.photos_changed == 2
    assert _times(store, ids) == [times[0], times[1] - timedelta(minutes=90), times[2] - timedelta(minutes=90), times[3]]
    assert _recorded(store, ids) == times  # the camera's own time is kept
    c, undone = timefix.undo(store, done.correction_id)
    assert undone.photos_changed == 2 and _times(store, ids) == times
    assert c.undone_at is not None and store.deployments.corrections(dep)[0].undone_at is not None
    with pytest.raises(DeploymentError, match="undone already"):
        timefix.undo(store, done.correction_id)


def test_linear_drift_grows_from_zero_at_the_start(store):
    times = [T0, T0 + timedelta(days=5), T0 + timedelta(days=10)]
    ids = _add(store, times)
    # ten days in, the camera said 12 minutes past what the true time was: it ran fast
    said = T0 + timedelta(days=10)
    timefix.add_correction(store, _dep(store, ids), "drift", camera_said=said.isoformat(),
                           true_time=(said - timedelta(minutes=12)).isoformat())
    assert _times(store, ids) == [T0, times[1] - timedelta(minutes=6), times[2] - timedelta(minutes=12)]


def test_dst_defaults_to_an_hour_back_from_its_date(store):
    times = [datetime(2024, 11, 2, 18, 0), datetime(2024, 11, 3, 8, 0), datetime(2024, 11, 9, 8, 0)]
    ids = _add(store, times)
    timefix.add_correction(store, _dep(store, ids), "dst", start="2024-11-03 02:00")
    assert _times(store, ids) == [times[0], times[1] - timedelta(hours=1), times[2] - timedelta(hours=1)]


def test_ampm_swaps_morning_and_afternoon(store):
    times = [datetime(2024, 10, 5, 7, 15), datetime(2024, 10, 5, 19, 40), datetime(2024, 10, 20, 7, 0)]
    ids = _add(store, times)
    timefix.add_correction(store, _dep(store, ids), "ampm", end="2024-10-10")
    assert _times(store, ids) == [datetime(2024, 10, 5, 19, 15), datetime(2024, 10, 5, 7, 40), times[2]]


def test_corrections_stack_in_order_and_reach_photos_ingested_later(store):
    ids = _add(store, [T0])
    dep = _dep(store, ids)
    timefix.add_correction(store, dep, "offset", by="+365d")  # a clock reset a year back
    timefix.add_correction(store, dep, "offset", by="-30m")
    assert _times(store, ids) == [T0 + timedelta(days=365, minutes=-30)]
    later = _add(store, [T0 + timedelta(days=1)], prefix="z")  # the next card from the same camera
    from pipelines.timefix import after_ingest

    assert after_ingest(store, later) == 1
    assert _times(store, later) == [T0 + timedelta(days=366, minutes=-30)]


def test_a_shift_regroups_the_bursts(store):
    from pipelines.reid import regroup_bursts

    ids = _add(store, [T0, T0 + timedelta(seconds=20)])  # one trigger, two shots
    regroup_bursts(store)
    bursts = lambda: [b for (b,) in store.conn.execute("SELECT burst_id FROM images WHERE id = ANY(%s) ORDER BY id",  # noqa: E731
                                                       (ids,))]
    assert len(set(bursts())) == 1
    timefix.add_correction(store, _dep(store, ids), "offset", by="+2h", start=(T0 + timedelta(seconds=10)).isoformat())
    assert len(set(bursts())) == 2  # the second shot is two hours later now: its own event


def test_refusals_change_nothing(store):
    ids = _add(store, [T0, T0 + timedelta(days=3)])
    dep = _dep(store, ids)
    before = _times(store, ids)
    cases = [
        (lambda: timefix.add_correction(store, 999_999, "offset", by="+1h"), "no deployment 999999"),
        (lambda: timefix.add_correction(store, 999_999, "drift", camera_said="2024-10-09 00:00",
                                        true_time="2024-10-09 00:05"), "no deployment 999999"),
        (lambda: timefix.add_correction(store, dep, "offset", by="+1h", start="2024-10-05", end="2024-10-01"),
         "ends .* before it starts"),
        (lambda: timefix.add_correction(store, dep, "drift", camera_said="2024-09-01 00:00", true_time="2024-09-01 00:05"),
         "must come after the start"),
        (lambda: timefix.add_correction(store, dep, "offset", by="soon"), "not a duration"),
        (lambda: timefix.add_correction(store, dep, "offset", by="0s"), "zero changes nothing"),
        (lambda: timefix.add_correction(store, dep, "offset", by="+1h", start="2024-10-01T00:00+02:00"), "without a zone"),
        (lambda: timefix.add_correction(store, dep, "tilt", by="+1h"), "kind must be one of"),
        (lambda: timefix.check_coordinates(91.0, 0.0), "latitude 91.0 is out of range"),
        (lambda: timefix.check_coordinates(0.0, -181.0), "longitude -181.0 is out of range"),
        (lambda: timefix.check_time_zone("Mars/Olympus"), "unknown time zone"),
        (lambda: store.deployments.update(dep, {"latitude": 120.0}), "refused, nothing changed"),
        (lambda: store.deployments.update(dep, {"start_at": T0, "end_at": T0 - timedelta(days=1)}), "refused"),
    ]
    for call, message in cases:
        with pytest.raises(DeploymentError, match=message):
            call()
    assert _times(store, ids) == before and store.deployments.corrections(dep) == []
    assert store.deployments.get(dep)["latitude"] is None


def test_durations_and_zones_parse():
    assert timefix.parse_duration("+1h30m") == 5400 and timefix.parse_duration("-90s") == -90
    assert timefix.parse_duration("-2d") == -172800 and timefix.parse_duration("+01:30") == 5400
    assert timefix.parse_duration("3600") == 3600 and timefix.parse_duration("-0:00:30") == -30
    assert timefix.check_time_zone("America/Chicago") == "America/Chicago"
    assert timefix.check_time_zone("-05:00") == "-05:00"
    with pytest.raises(DeploymentError):
        timefix.check_time_zone("+15:00")


def test_corrected_times_survive_a_reprocess(store, ray_cluster, demo_options, tmp_path):
    from models.synthetic import make_photo_folder
    from pipelines.census import process_pending, run_census

    root = tmp_path / "photos"
    make_photo_folder(root, locations=("Ridge",), photos_per_location=3, seed=31)
    report = run_census(store, root, demo_options)
    ids = report.ingest.image_ids
    timefix.add_correction(store, _dep(store, ids), "offset", by="+3h")
    shifted = _times(store, ids)
    assert shifted == [t + timedelta(hours=3) for t in _recorded(store, ids)]
    from dataclasses import replace

    again = process_pending(store, replace(demo_options, reprocess=True), kind="reprocess")
    assert again.completed == 3 and _times(store, ids) == shifted
    run_census(store, root, demo_options)  # re-ingest of the same folder: nothing new, nothing moved
    assert _times(store, ids) == shifted


def test_trap_nights_count_the_working_days():
    start = datetime(2024, 10, 1)
    daily = [start + timedelta(days=d, hours=12) for d in range(10)]
    assert active_nights(start, start + timedelta(days=10), daily, 14) == (10.0, [])
    # a month of silence between two photos: counted dead but for the night after the last photo
    sparse = [start + timedelta(hours=12), start + timedelta(days=31, hours=12)]
    nights, gaps = active_nights(start, start + timedelta(days=32), sparse, 14)
    assert nights == 2.0 and len(gaps) == 1 and gaps[0][0] == sparse[0] + timedelta(days=1)
    assert active_nights(start, start + timedelta(days=32), sparse, 0) == (32.0, [])  # heuristic off
    assert active_nights(start, start, [start], 14) == (1.0, [])


def test_effort_and_rates_per_100_trap_nights(store):
    daily = [T0 + timedelta(days=d) for d in range(20)]
    ids = _add(store, daily)
    dep = _dep(store, ids)
    store.deployments.update(dep, {"start_at": T0 - timedelta(days=0), "end_at": T0 + timedelta(days=20)})
    (e,) = effort(store)
    assert e.trap_nights == 20.0 and e.events == {}  # no detections: no events
    (site, total) = by_site([e])
    assert site["trap_nights"] == 20.0 and site["doe_per_100"] == 0.0 and total["site"] == "all sites"


def _cameras(db_url, *args):
    return subprocess.run([sys.executable, "-m", "thumper", "cameras", *args, "--db", db_url],
                          capture_output=True, text=True, timeout=120)


def test_thumper_cameras_commands(store, db_url):
    ids = _add(store, [T0, T0 + timedelta(days=1)])
    dep = str(_dep(store, ids))
    listed = _cameras(db_url, "list")
    assert listed.returncode == 0 and "Reconyx HC600" in listed.stdout and "not set" in listed.stdout
    ok = _cameras(db_url, "set", dep, "--lat", "44.5", "--lon", "-89.5", "--time-zone", "America/Chicago")
    assert ok.returncode == 0, ok.stderr
    shift = _cameras(db_url, "shift", dep, "--by", "-1h", "--note", "clock fast")
    assert shift.returncode == 0 and "2 photos moved" in shift.stdout, shift.stderr
    shown = _cameras(db_url, "show", dep)
    assert "offset -1:00:00  (clock fast)" in shown.stdout and "America/Chicago" in shown.stdout
    bad = _cameras(db_url, "set", dep, "--lat", "100")
    assert bad.returncode == 2 and "out of range" in bad.stderr
    assert _cameras(db_url, "shift", "999999", "--by", "1h").returncode == 2
    cid = store.deployments.corrections(int(dep))[0].id
    undo = _cameras(db_url, "undo", str(cid))
    assert undo.returncode == 0 and "2 photos moved back" in undo.stdout
    assert _times(store, ids) == [T0, T0 + timedelta(days=1)]
    eff = _cameras(db_url, "effort")
    assert eff.returncode == 0 and "trap-nights" in eff.stdout and "all sites" in eff.stdout


def test_the_deployments_api(store, db_url):
    from fastapi.testclient import TestClient

    from serve_apps.api import fastapi_app
    from serve_apps.context import ApiContext, install
    from serve_apps.settings import ServeSettings
    from store.pool import StorePool

    ids = _add(store, [T0, T0 + timedelta(days=2)])
    dep = _dep(store, ids)
    pool = StorePool(db_url, size=2)
    install(ApiContext(ServeSettings(database_url=db_url, api_key="k"), pool, None))
    c = TestClient(fastapi_app, headers={"X-API-Key": "k"})
    try:
        (listed,) = c.get("/api/deployments").json()
        assert (listed["id"], listed["photos"], listed["camera_model"]) == (dep, 2, "HC600")
        edited = c.patch(f"/api/deployments/{dep}", json={"latitude": 44.5, "longitude": -89.5, "time_zone": "-06:00"})
        assert edited.status_code == 200 and edited.json()["latitude"] == 44.5, edited.text
        assert c.patch(f"/api/deployments/{dep}", json={"latitude": 91}).status_code == 422
        assert c.patch(f"/api/deployments/{dep}", json={"time_zone": "Nowhere/Here"}).status_code == 422
        assert c.patch("/api/deployments/999999", json={"notes": "x"}).status_code == 404
        done = c.post(f"/api/deployments/{dep}/time-corrections", json={"kind": "offset", "by": "+2h", "note": "reset"})
        assert done.status_code == 201 and done.json()["photos_changed"] == 2, done.text
        assert _times(store, ids) == [T0 + timedelta(hours=2), T0 + timedelta(days=2, hours=2)]
        bad = c.post(f"/api/deployments/{dep}/time-corrections",
                     json={"kind": "offset", "by": "+1h", "start": "2024-10-05T00:00", "end": "2024-10-01T00:00"})
        assert bad.status_code == 422 and "before it starts" in bad.json()["detail"]
        detail = c.get(f"/api/deployments/{dep}").json()
        (fix,) = detail["time_corrections"]
        assert fix["description"] == "offset +2:00:00" and fix["note"] == "reset" and not fix["undone"]
        assert c.post(f"/api/time-corrections/{fix['id']}/undo").json()["photos_changed"] == 2
        assert c.post(f"/api/time-corrections/{fix['id']}/undo").status_code == 422  # undone already
        assert c.post("/api/time-corrections/999999/undo").status_code == 404
        assert _times(store, ids) == [T0, T0 + timedelta(days=2)]
        eff = c.get("/api/effort").json()
        assert eff["deployments"][0]["trap_nights"] == 2.0 and eff["sites"][-1]["site"] == "all sites"
    finally:
        pool.close()
