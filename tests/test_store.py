"""The store on a real Postgres + pgvector: migrations, claims, bulk writes, crash recovery."""
from __future__ import annotations

import numpy as np
import pytest

from models.types import Detection, PhotoResult
from store import ImageRecord, Store, connect
from store.repository import AddResult
from store.db import _migrations, apply_migrations


def _records(n, prefix="h"):
    return [ImageRecord(f"{prefix}{i:063d}", f"/photos/cam/{i}.jpg", "cam", None, "mtime") for i in range(n)]


def _det(vec):
    return Detection((0.1, 0.2, 0.3, 0.4), 0.9, "doe", species="deer", deer_class="doe", sex="female", age_class=None, embedding=np.asarray(vec, np.float32))


def test_migrations_apply_once(db_url):
    conn = connect(db_url)
    assert apply_migrations(conn) == []  # connect() already applied them
    versions = [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [int(m[0]) for m in _migrations()] and versions[0] == 1
    assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()


def test_results_round_trip_embeddings_and_mark_images(store: Store):
    ids = store.add_images(_records(3)).image_ids
    run = store.start_run("census", detector_version="d@1", embedder_version="e@1", embedding_dim=4)
    claimed = store.claim_pending(run)
    assert [i for i, _ in claimed] == ids
    assert store.status_counts()["processing"] == 3
    n = store.write_results(run, [
        PhotoResult(ids[0], width=640, height=480, detections=[_det([1, 0, 0, 0]), _det([0, 1, 0, 0])]),
        PhotoResult(ids[1], width=640, height=480),
        PhotoResult(ids[2], error="cannot decode image: truncated"),
    ], detector_version="d@1", embedder_version="e@1")
    assert n == 2
    assert store.status_counts() == {"pending": 0, "processing": 0, "completed": 2, "failed": 1}
    rows = store.conn.execute(
        "SELECT det_index, embedding, run_id, detector_version FROM detections ORDER BY det_index").fetchall()
    assert [r[0] for r in rows] == [0, 1]
    np.testing.assert_array_equal(rows[1][1].to_numpy(), np.array([0, 1, 0, 0], np.float32))
    assert {r[2] for r in rows} == {run} and {r[3] for r in rows} == {"d@1"}
    # pgvector distance works on what was written
    (dist,) = store.conn.execute("SELECT min(embedding <=> '[1,0,0,0]') FROM detections").fetchone()
    assert dist == pytest.approx(0.0)
    info = store.run(run)
    assert (info["images_completed"], info["images_failed"], info["detections"]) == (2, 1, 2)


def test_a_writer_cannot_write_images_it_does_not_own(store: Store):
    ids = store.add_images(_records(1)).image_ids
    run = store.start_run("census")
    store.claim_pending(run)
    store.write_results(run, [PhotoResult(ids[0], width=1, height=1, detections=[_det([1, 0])])],
                        detector_version="d", embedder_version="e")
    # the same batch delivered again (a retried task): nothing is written twice
    assert store.write_results(run, [PhotoResult(ids[0], width=1, height=1, detections=[_det([1, 0])])],
                               detector_version="d", embedder_version="e") == 0
    assert store.detection_count() == 1


def test_claims_do_not_overlap_between_live_runs(store: Store, db_url):
    store.add_images(_records(4))
    other = Store(connect(db_url))
    run_a, run_b = store.start_run("census"), other.start_run("census")
    a, b = store.claim_pending(run_a), other.claim_pending(run_b)
    assert len(a) == 4 and b == []
    assert other.recover_abandoned_runs() == 0  # run_a is alive: its images stay claimed


def _wait_backend_gone(store: Store, pid: int, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while store.conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0]:
        assert time.monotonic() < deadline, f"backend {pid} still there after {timeout} s"
        time.sleep(0.05)


def test_a_dead_runs_images_are_recovered_by_the_next_run(store: Store, db_url):
    store.add_images(_records(5))
    crashed = Store(connect(db_url))
    dead_run = crashed.start_run("census")
    claimed = crashed.claim_pending(dead_run)
    crashed.write_results(dead_run, [PhotoResult(claimed[0][0], width=1, height=1, detections=[_det([1])])],
                          detector_version="d", embedder_version="e")
    backend = crashed.conn.info.backend_pid
    crashed.conn.close()  # the process died: Postgres drops its advisory lock
    _wait_backend_gone(store, backend)  # as its backend exits, a moment later on a busy server

    assert store.recover_abandoned_runs() == 4
    assert store.status_counts() == {"pending": 4, "processing": 0, "completed": 1, "failed": 0}
    assert store.run(dead_run)["status"] == "aborted"
    nxt = store.start_run("census")
    assert len(store.claim_pending(nxt)) == 4  # the committed image is not redone


def test_finishing_a_failed_run_releases_its_claims(store: Store):
    store.add_images(_records(2))
    run = store.start_run("census")
    store.claim_pending(run)
    assert store.finish_run(run, "failed", error="boom") == 2
    assert store.status_counts()["pending"] == 2


def test_reprocess_replaces_detections(store: Store):
    ids = store.add_images(_records(1)).image_ids
    for version, n_dets in (("old@1", 2), ("new@2", 1)):
        run = store.start_run("census", detector_version=version)
        store.claim_pending(run, states=("pending", "completed", "failed"))
        store.write_results(run, [PhotoResult(ids[0], width=1, height=1, detections=[_det([1])] * n_dets)],
                            detector_version=version, embedder_version="e")
        store.finish_run(run)
    rows = store.conn.execute("SELECT detector_version FROM detections").fetchall()
    assert rows == [("new@2",)]


def test_the_reads_of_the_census_status_and_uploads(store: Store, db_url):
    """Every Store read the census report, `thumper status` and the upload service use, exactly."""
    recs = [ImageRecord(f"s{i:063d}", f"/photos/{loc}/{i}.jpg", loc, None, "mtime")
            for i, loc in enumerate(["Ridge", "Ridge", "Creek", "Creek"])]
    ids = store.add_images(recs).image_ids
    run = store.start_run("census", source="/photos")
    assert len(store.claim_pending(run, ids[:3])) == 3
    buck = Detection((0.5, 0.1, 0.9, 0.5), 0.8, "buck", species="deer", deer_class="buck", sex="male",
                     age_class="mature")
    raccoon = Detection((0.1, 0.6, 0.2, 0.7), 0.7, "raccoon", species="raccoon")
    person = Detection((0.3, 0.3, 0.4, 0.9), 0.9, "person", observation_type="human", species="human")
    store.write_results(run, [PhotoResult(ids[0], 10, 10, [_det([1, 0]), buck, raccoon, person]),
                              PhotoResult(ids[1], 10, 10, error="boom"),
                              PhotoResult(ids[2], 10, 10, [])], detector_version="d", embedder_version="e")
    store.finish_run(run)

    assert store.status_counts() == {"pending": 1, "processing": 0, "completed": 2, "failed": 1}
    assert store.status_counts(ids[1:3]) == {"pending": 0, "processing": 0, "completed": 1, "failed": 1}
    assert (store.detection_count(), store.detection_count([ids[0]]), store.detection_count(ids[1:])) == (4, 4, 0)
    assert store.failures(ids) == [("/photos/Ridge/1.jpg", "boom")] and store.failures(ids[2:]) == []
    assert store.others_seen(ids) == [("human", "human", 1), ("animal", "raccoon", 1)]  # most seen, then by name
    by_loc = {r["location"]: r for r in store.census_by_location(ids)}
    ridge, creek = by_loc["Ridge"], by_loc["Creek"]
    assert (ridge["photos"], ridge["completed"], ridge["failed"], ridge["with_deer"], ridge["detections"]) == (2, 1, 1, 1, 2)
    assert (ridge["doe"], ridge["buck"], ridge["buck_mature"], ridge["other_animals"], ridge["humans"]) == (1, 1, 1, 1, 1)
    assert (creek["photos"], creek["completed"], creek["with_deer"], creek["detections"]) == (2, 1, 0, 0)
    done = store.run(run)
    assert (done["kind"], done["status"], done["images_completed"], done["images_failed"], done["detections"]) == (
        "census", "completed", 2, 1, 4)
    assert store.run(999_999) == {} and store.latest_runs(1)[0]["id"] == run

    assert store.image_id_by_sha256(recs[2].sha256) == ids[2] and store.image_id_by_sha256("f" * 64) is None
    assert store.image_status(ids[1]) == "failed" and store.image_status(999_999) is None

    upload = store.start_run("serve")
    assert len(store.claim_pending(upload, [ids[3]])) == 1
    other = Store.open(db_url)
    try:
        (live,) = other.live_runs()
        assert (live["id"], live["kind"], live["holding"], live["done"]) == (upload, "serve", 1, 0)
        assert other.live_runs(ids[:3])[0]["holding"] == 0  # none of these
        assert store.live_runs() == []  # this session's own run is not another live run
        other.release_claim(run, ids[3])  # not that run's claim: nothing happens
        assert store.image_status(ids[3]) == "processing"
        other.release_claim(upload, ids[3])
        assert store.image_status(ids[3]) == "pending"
    finally:
        other.close()
    assert other.closed and not store.closed


def test_store_open_is_a_context_and_pings(db_url):
    with Store.open(db_url) as s:
        s.ping()
        with s.transaction():
            s.add_images(_records(1, prefix="t"))
        assert s.status_counts()["pending"] == 1
    assert s.closed
    with pytest.raises(Exception):
        s.ping()


def test_add_images_counts_new_and_known_and_stores_unreadable_as_failed(store: Store):
    assert store.add_images([]) == AddResult([], 0, 0)
    recs = _records(3, prefix="a")
    recs[2].error = "not a readable image: truncated"
    first = store.add_images(recs)
    assert (first.new, first.duplicates, len(first.image_ids)) == (3, 0, 3)
    again = store.add_images(recs[:2] + _records(1, prefix="b"))
    assert (again.new, again.duplicates) == (1, 2) and again.image_ids[:2] == first.image_ids[:2]
    assert store.image_status(first.image_ids[2]) == "failed"
    assert store.failures(first.image_ids) == [(recs[2].path, "not a readable image: truncated")]
    assert store.status_counts() == {"pending": 3, "processing": 0, "completed": 0, "failed": 1}
