"""The census pipeline end to end: real Ray Data on a local Ray, real models, real Postgres."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest

from models.synthetic import box_iou
from pipelines.census import PipelineOptions, process_pending, run_census
from store import Store, connect

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def options(demo_options) -> PipelineOptions:
    return demo_options


def _detections_by_path(store: Store) -> dict[str, list[tuple]]:
    rows = store.conn.execute(
        "SELECT i.path, d.x1, d.y1, d.x2, d.y2, d.deer_class, d.embedding FROM detections d"
        " JOIN images i ON i.id = d.image_id ORDER BY i.path, d.det_index").fetchall()
    out: dict[str, list[tuple]] = {}
    for path, *rest in rows:
        out.setdefault(path, []).append(tuple(rest))
    return out


def _recall(store: Store, root: Path, truth: list[dict]) -> tuple[int, int]:
    """Ground-truth deer under root matched by a stored detection (normalised boxes, IoU >= 0.5)."""
    found = _detections_by_path(store)
    sizes = dict((p, (w, h)) for p, w, h in store.conn.execute("SELECT path, width, height FROM images"))
    matched = total = 0
    for t in truth:
        path = str(root.resolve() / t["path"])
        if not t.get("individual") or path not in sizes:
            continue
        w, h = sizes[path]
        gt = (t["box"][0] / w, t["box"][1] / h, t["box"][2] / w, t["box"][3] / h)
        total += 1
        matched += any(box_iou(gt, d[:4]) >= 0.5 for d in found.get(path, []))
    return matched, total


def test_census_finds_the_deer_and_records_what_produced_them(store, ray_cluster, options, photo_folder):
    root, truth = photo_folder
    options.write_batch = 4  # several transactions, so the run has a pace after its start-up
    report = run_census(store, root, options)
    assert 0 < report.run.first_result_seconds < report.run.seconds and report.run.steady_rate > 0
    # each stage measured what a photo cost it (runs of 100 photos or more keep it for the next plan)
    measured = report.run.stage_costs
    assert measured and min(measured.decode, measured.detect, measured.describe) > 0, measured

    assert report.ingest.found == report.ingest.new == len(list(root.rglob("*.JPG")))
    assert report.status["completed"] == report.ingest.found and report.status["failed"] == 0
    assert {r["location"] for r in report.by_location} == {p.name for p in root.iterdir() if p.is_dir()}

    matched, total = _recall(store, root, truth)
    assert total > 0 and matched / total >= 0.7, f"recall {matched}/{total}"
    found = _detections_by_path(store)

    # every detection carries a unit-length embedding of the embedder's dimension
    vectors = np.stack([d[5].to_numpy() for dets in found.values() for d in dets])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    run = store.run(report.run.run_id)
    assert run["embedding_dim"] == vectors.shape[1]
    assert run["status"] == "completed" and run["detections"] == len(vectors)
    assert run["detector_version"].startswith(Path(options.detector).stem + "@")


def test_rerun_adds_nothing(store, ray_cluster, options, photo_folder):
    root, _ = photo_folder
    first = run_census(store, root, options)
    before = store.detection_count()
    again = run_census(store, root, options)
    assert again.ingest.new == 0 and again.run.claimed == 0
    assert store.detection_count() == before
    assert again.status == first.status


@pytest.mark.parametrize("decode", ["cpu", "device"])  # device: torchvision decode_jpeg in the detect actor
def test_bad_photos_fail_alone_and_the_run_goes_on(store, ray_cluster, options, photo_folder, tmp_path, decode):
    src, truth = photo_folder
    options.decode = decode
    root = tmp_path / "photos"
    shutil.copytree(src / "Hayfield", root / "Hayfield")
    good = sorted((root / "Hayfield").glob("*.JPG"))
    data = good[0].read_bytes()
    (root / "Hayfield" / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (root / "Hayfield" / "garbage.jpg").write_bytes(os.urandom(2048))

    report = run_census(store, root, options)
    assert report.status == {"pending": 0, "processing": 0, "completed": len(good), "failed": 2}
    errors = dict((Path(p).name, e) for p, e in report.failures)
    assert set(errors) == {"truncated.jpg", "garbage.jpg"}
    assert "truncated" in errors["truncated.jpg"]
    assert "not a readable image" in errors["garbage.jpg"]
    matched, total = _recall(store, root, truth)
    assert total > 0 and matched / total >= 0.7, f"recall {matched}/{total} with decode={decode}"


def _count(db_url, sql):
    with psycopg.connect(db_url) as c:
        return c.execute(sql).fetchone()[0]


def _census_in_a_subprocess(root, db_url, ray_address, options, *extra, **popen) -> subprocess.Popen:
    """`thumper census` on the session's Ray, one transaction per two photos (many chances to stop it)."""
    cmd = [sys.executable, "-m", "thumper", "census", str(root), "--db", db_url, "--address", ray_address,
           "--detector", options.detector, "--classifier", options.classifier, "--embedder", options.embedder,
           "--write-batch", "2", *extra]
    return subprocess.Popen(cmd, cwd=REPO, **popen)


def _wait_until_written(watch, proc, photos: int = 2, timeout_s: float = 240) -> None:
    """Until `photos` photos are completed while the census still runs."""
    deadline, done = time.time() + timeout_s, 0
    while time.time() < deadline and proc.poll() is None:
        if watch.execute("SELECT to_regclass('images') IS NOT NULL").fetchone()[0]:
            done = watch.execute("SELECT count(*) FROM images WHERE status = 'completed'").fetchone()[0]
        if done >= photos:
            break  # at once: the caller stops the writer before it can finish the run
        time.sleep(0.05)
    assert proc.poll() is None and done >= photos, "the run ended before it could be interrupted"


def test_killed_run_resumes_with_nothing_twice_and_nothing_lost(make_db, ray_cluster, options, tmp_path):
    db_url = make_db()
    from models.synthetic import make_photo_folder

    root = tmp_path / "photos"
    make_photo_folder(root, photos_per_location=16, seed=11)
    total = len(list(root.rglob("*.JPG")))
    proc = _census_in_a_subprocess(root, db_url, ray_cluster, options, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    # Once a few photos are written, lock the detections table: the writer then blocks inside its
    # next batch (whose images stay claimed), and the kill lands mid-run however fast the run is.
    with psycopg.connect(db_url, autocommit=True) as watch:
        try:
            _wait_until_written(watch, proc)
            with watch.transaction():
                watch.execute("LOCK TABLE detections IN SHARE MODE")  # blocks the writer's next DELETE/INSERT
                time.sleep(0.5)  # let the writer reach the lock with its batch half done
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
    # Postgres ends the dead client's backend (rolling back any open batch, freeing its run lock)
    # when it notices the closed socket: wait for that before counting
    from store.repository import RUN_LOCK

    held = f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = {RUN_LOCK}"
    for _ in range(100):
        if _count(db_url, held) == 0:
            break
        time.sleep(0.1)
    done_before = _count(db_url, "SELECT count(*) FROM images WHERE status = 'completed'")
    assert 0 < done_before < total
    assert _count(db_url, "SELECT count(*) FROM images WHERE status = 'processing'") > 0

    store = Store(connect(db_url))
    resumed = run_census(store, root, options)
    assert resumed.run.recovered == total - done_before  # the dead run had claimed them all
    assert resumed.run.claimed == total - done_before
    assert resumed.status == {"pending": 0, "processing": 0, "completed": total, "failed": 0}
    dupes = _count(db_url, "SELECT count(*) FROM (SELECT image_id, det_index FROM detections"
                           " GROUP BY 1, 2 HAVING count(*) > 1) d")
    assert dupes == 0

    # same detections, image by image, as one uninterrupted run over the same photos
    reference = Store(connect(make_db()))
    run_census(reference, root, options)
    per_image = ("SELECT i.sha256, count(d.id) FROM images i LEFT JOIN detections d ON d.image_id = i.id"
                 " GROUP BY 1 ORDER BY 1")
    assert store.conn.execute(per_image).fetchall() == reference.conn.execute(per_image).fetchall()
    store.conn.close()
    reference.conn.close()


def test_process_pending_with_nothing_pending_is_a_clean_no_op(store, ray_cluster, options):
    summary = process_pending(store, options)
    assert (summary.claimed, summary.completed, summary.detections) == (0, 0, 0)
    assert store.run(summary.run_id)["status"] == "completed"


def test_steady_pace_is_the_later_half():
    from pipelines.sink import steady_pace

    # a slow start (10 s to the first 10 photos), then 10 photos/s: the start-up does not count
    timeline = [(10.0, 10)] + [(10.0 + k, 10 + 10 * k) for k in range(1, 10)]
    assert steady_pace(timeline) == pytest.approx(10.0)
    # a backlog flushed at once right after the start does not flatter it either
    assert steady_pace([(10.0, 10), (10.1, 60), (15.1, 110)]) == pytest.approx(10.0)
    assert steady_pace([(3.0, 64)]) == 0.0 and steady_pace([]) == 0.0


def test_decode_goes_to_the_gpu_only_where_there_is_one():
    from cluster.runtime import plan_pools
    from pipelines.census import use_device_decode

    gpu_box = plan_pools(resources={"CPU": 16, "GPU": 1, "accelerator_type:H100": 1})
    laptop = plan_pools(resources={"CPU": 2})
    assert use_device_decode("auto", gpu_box) and not use_device_decode("auto", laptop)
    assert use_device_decode("device", laptop) and not use_device_decode("cpu", gpu_box)
    with pytest.raises(ValueError, match="auto, cpu, device"):
        use_device_decode("gpu", laptop)


def test_census_on_one_cpu_finishes(make_db, options, tmp_path):
    """A 1-vCPU box or a container limited to one core: every pool still gets its share and the run
    ends (the predecessor's failure was a queue that waited forever). Its own Ray, 1 CPU."""
    from models.synthetic import make_photo_folder

    root = tmp_path / "photos"
    make_photo_folder(root, locations=("Ridge",), photos_per_location=4, seed=13, others=0.5)
    cmd = [sys.executable, "-m", "thumper", "census", str(root), "--db", make_db(), "--num-cpus", "1",
           "--detector", options.detector, "--classifier", options.classifier, "--embedder", options.embedder,
           "--no-reid"]
    env = {**os.environ, "RAY_ADDRESS": ""}
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "4 completed, 0 failed, 0 pending" in done.stdout, done.stdout


def _end_connections_mid_run(db_url, proc) -> None:
    """As when Postgres restarts: the server ends the census's connections while it writes."""
    with psycopg.connect(db_url, autocommit=True) as watch:
        _wait_until_written(watch, proc)
        with watch.transaction():  # hold the writer at its next batch, so the loss lands mid-run
            watch.execute("LOCK TABLE detections IN SHARE MODE")
            time.sleep(0.5)
            watch.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE datname = current_database() AND pid <> pg_backend_pid()")


def _no_duplicates(db_url) -> bool:
    return _count(db_url, "SELECT count(*) FROM (SELECT image_id, det_index FROM detections"
                          " GROUP BY 1, 2 HAVING count(*) > 1) d") == 0


def test_database_lost_mid_run_is_one_clear_line_and_a_rerun_resumes(make_db, ray_cluster, options, tmp_path):
    """With no grace time (--db-grace 0), a lost database ends the census: it says so in one line,
    with what it had committed, exits 4 without a traceback; the rerun marks that run aborted and
    finishes the rest, nothing twice."""
    db_url = make_db()
    from models.synthetic import make_photo_folder

    root = tmp_path / "photos"
    make_photo_folder(root, photos_per_location=16, seed=17)
    total = len(list(root.rglob("*.JPG")))
    proc = _census_in_a_subprocess(root, db_url, ray_cluster, options, "--no-reid", "--db-grace", "0",
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _end_connections_mid_run(db_url, proc)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 4, (proc.returncode, err[-3000:])
    assert "Traceback" not in err and "the database went away mid-run" in err, err[-3000:]
    committed = int(re.search(r"had committed (\d+) photos", err).group(1))
    done_before = _count(db_url, "SELECT count(*) FROM images WHERE status = 'completed'")
    assert 0 < done_before < total and committed <= done_before

    store = Store(connect(db_url))
    resumed = run_census(store, root, options)
    assert resumed.status == {"pending": 0, "processing": 0, "completed": total, "failed": 0}
    assert resumed.run.claimed == total - done_before
    assert _count(db_url, "SELECT count(*) FROM runs WHERE status = 'aborted'") == 1
    assert _no_duplicates(db_url)
    store.close()


def test_a_lost_database_that_comes_back_is_waited_for_and_the_run_resumes(make_db, ray_cluster, options, tmp_path):
    """Within the grace time (default 60 s) the census reconnects with backoff and finishes by
    itself: one run aborted (marked by the resuming connection), every photo done once."""
    db_url = make_db()
    from models.synthetic import make_photo_folder

    root = tmp_path / "photos"
    make_photo_folder(root, photos_per_location=16, seed=19)
    total = len(list(root.rglob("*.JPG")))
    proc = _census_in_a_subprocess(root, db_url, ray_cluster, options, "--no-reid", stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
    _end_connections_mid_run(db_url, proc)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (proc.returncode, err[-3000:])
    assert "Traceback" not in err and "the database went away mid-run" in err, err[-3000:]
    assert "Waiting up to 60 s for it to come back" in err and "the database is back after" in err, err[-3000:]
    assert _count(db_url, "SELECT count(*) FROM images WHERE status = 'completed'") == total
    assert _count(db_url, "SELECT count(*) FROM runs WHERE status = 'aborted'") == 1
    assert _count(db_url, "SELECT count(*) FROM runs WHERE status = 'completed' AND kind = 'census'") == 1
    assert _no_duplicates(db_url)
    assert f"{total} completed, 0 failed, 0 pending" in out, out


def _crash_postgres(pgdata: Path) -> None:
    """SIGKILL the postmaster and every process it started, as an out-of-memory kill or a power cut
    would (pg_ctl -m immediate hung here under a loaded full run)."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == postmaster:
            children.append(int(stat.parent.name))
    for pid in [postmaster, *children]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.time() + 30
    while time.time() < deadline and Path(f"/proc/{postmaster}").exists():
        time.sleep(0.1)


def test_the_embedded_server_killed_mid_run_is_restarted_and_the_run_resumes(options, tmp_path):
    """No database configured: the census's own embedded Postgres is killed (the postmaster and its
    backends, SIGKILL) while the census writes. The census starts it again and finishes."""
    from models.synthetic import make_photo_folder
    from store.embedded import embedded_url, stop_embedded

    root = tmp_path / "photos"
    make_photo_folder(root, photos_per_location=16, seed=23)
    total = len(list(root.rglob("*.JPG")))
    # outside pytest's tmp root (mode 0700): as root, Postgres runs as the `pgserver` user (conftest.py)
    data = Path(tempfile.mkdtemp(prefix="thumper-test-embedded-"))
    env = {**os.environ, "THUMPER_DATA_DIR": str(data), "RAY_ADDRESS": ""}
    env.pop("THUMPER_DATABASE_URL", None)
    cmd = [sys.executable, "-m", "thumper", "census", str(root), "--num-cpus", "2", "--no-reid",
           "--detector", options.detector, "--classifier", options.classifier, "--embedder", options.embedder,
           "--write-batch", "2", "--db-grace", "120"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pgdata = data / "pgdata"
    try:
        deadline = time.time() + 120
        while not (pgdata / "postmaster.pid").exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        url = embedded_url(pgdata)
        watch = psycopg.connect(url, autocommit=True)
        _wait_until_written(watch, proc)
        watch.execute("BEGIN")  # hold the writer at its next batch, so the crash lands mid-run
        watch.execute("LOCK TABLE detections IN SHARE MODE")
        time.sleep(0.5)
        _crash_postgres(pgdata)
        watch.close()  # its server is gone; the lock with it
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (proc.returncode, err[-3000:])
        assert "the database went away" in err and "the database is back after" in err, err[-3000:]
        assert _count(url, "SELECT count(*) FROM images WHERE status = 'completed'") == total
        assert _count(url, "SELECT count(*) FROM runs WHERE status = 'aborted'") == 1
        assert _no_duplicates(url)
    finally:
        if proc.poll() is None:
            proc.kill()
        stop_embedded(pgdata)
        shutil.rmtree(data, ignore_errors=True)


def test_lanes_of_one_cpu_actor_run_side_by_side_and_answer_as_one(ray_cluster, demo_weights, photo_folder):
    """The CPU actor (pipelines.stages.InferStage) with two lanes, called from two threads at once
    as Ray Data calls it: every batch gets the detections, classes and embeddings one lane alone
    gives it (no predictor shared between threads), and each lane counts only its own CPU time."""
    import threading

    import torch

    from models.describe import describe_detector
    from pipelines.stages import InferStage, ShippedWeights, decode_batch

    root, _ = photo_folder
    paths = sorted(str(p) for p in root.rglob("*.JPG"))[:16]
    imgsz = describe_detector(demo_weights.detector).imgsz
    batches = [decode_batch({"image_id": np.arange(k, k + 8), "path": np.array(paths[k:k + 8])}, size=imgsz)
               for k in (0, 8)]
    threads_before = torch.get_num_threads()
    try:
        stage = InferStage(ShippedWeights.ship(demo_weights.detector), 0.25, imgsz,
                           ShippedWeights.ship(demo_weights.classifier), ShippedWeights.ship(demo_weights.embedder),
                           threads=1, lanes=2)
        deadline = time.monotonic() + 60
        while stage.lanes_loaded < 2 and time.monotonic() < deadline:  # the second loads on a thread
            time.sleep(0.05)
        assert stage.lanes_loaded == 2
        [stage(dict(b)) for b in batches]  # each lane's first call (the lanes take turns) warms it up
        alone = [stage(dict(b)) for b in batches]
        together: list = [[], []]

        def run(i):  # each thread both batches, three times: the lanes overlap for most of it
            together[i] = [stage(dict(b)) for b in batches * 3]

        workers = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
        [w.start() for w in workers]
        [w.join() for w in workers]
    finally:
        torch.set_num_threads(threads_before)

    def seen(out):
        return [[(d.label, d.deer_class, round(d.confidence, 4), tuple(np.round(d.embedding[:4], 4)))
                 for d in r.detections] for r in out["result"]]

    assert sum(len(r.detections) for b in alone for r in b["result"]) > 0, "the demo herd has deer to find"
    for out in together:
        for a, t in zip(alone * 3, out):
            assert seen(a) == seen(t)
            assert (t["cost_detect"] > 0).all() and (t["cost_describe"] >= 0).all()
    # a lane's cost is its own thread's: the process's clock would count both lanes' work in each
    cost = lambda outs: sum(float(b["cost_detect"].sum() + b["cost_describe"].sum()) for b in outs)  # noqa: E731
    cpu = {"alone": 6 * cost(alone), "together": cost(together[0] + together[1])}
    assert cpu["together"] < 1.5 * cpu["alone"], cpu


def test_further_lanes_load_once_the_first_batch_is_through(ray_cluster, demo_weights, photo_folder, monkeypatch):
    """A run's first written batch is its start-up: the second lane's models must not load beside
    the first batch (they took the GIL and a core from it), only after it (or after LANE_WAIT_S
    with no batch at all)."""
    from models.describe import describe_detector
    from pipelines.stages import InferStage, ShippedWeights, decode_batch

    root, _ = photo_folder
    paths = sorted(str(p) for p in root.rglob("*.JPG"))[:4]
    imgsz = describe_detector(demo_weights.detector).imgsz
    monkeypatch.setattr(InferStage, "LANE_WAIT_S", 60.0)
    stage = InferStage(ShippedWeights.ship(demo_weights.detector), 0.25, imgsz,
                       ShippedWeights.ship(demo_weights.classifier), ShippedWeights.ship(demo_weights.embedder),
                       threads=1, lanes=2)
    time.sleep(1.5)  # the second lane loads in well under a second here once it may
    assert stage.lanes_loaded == 1, "the second lane loaded before any batch came"
    out = stage(decode_batch({"image_id": np.arange(4), "path": np.array(paths)}, size=imgsz))
    assert len(out["result"]) == 4
    deadline = time.monotonic() + 60
    while stage.lanes_loaded < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stage.lanes_loaded == 2, "the second lane never loaded after the first batch"


def test_the_first_batch_is_detected_while_the_crop_models_load(ray_cluster, demo_weights, photo_folder,
                                                                monkeypatch):
    """The actor takes work once its detector is ready: the first batch's detection runs while the
    crop models load on a thread (4-5 s of a fresh process's start-up on 2 cores), and its classify
    and embed wait for them; a crop model that fails to load fails the first call with its error."""
    import threading

    from models.describe import describe_detector
    from pipelines.stages import DescribeStage, DetectStage, InferStage, ShippedWeights, decode_batch

    root, _ = photo_folder
    paths = sorted(str(p) for p in root.rglob("*.JPG"))[:8]
    imgsz = describe_detector(demo_weights.detector).imgsz
    batch = decode_batch({"image_id": np.arange(8), "path": np.array(paths)}, size=imgsz)
    weights = [ShippedWeights.ship(w) for w in demo_weights]
    release, events = threading.Event(), []
    load, detect = DescribeStage.__init__, DetectStage.__call__

    def slow_load(self, *a, **k):
        release.wait(30)
        load(self, *a, **k)
        events.append("crop models loaded")

    def detected(self, b):
        out = detect(self, b)
        events.append("detected")
        return out

    monkeypatch.setattr(DescribeStage, "__init__", slow_load)
    monkeypatch.setattr(DetectStage, "__call__", detected)
    started = time.monotonic()
    stage = InferStage(weights[0], 0.25, imgsz, weights[1], weights[2], threads=1, lanes=1)
    assert time.monotonic() - started < 25, "the actor waited for its crop models before taking work"
    out: dict = {}
    call = threading.Thread(target=lambda: out.update(stage(dict(batch))))
    call.start()
    deadline = time.monotonic() + 60
    while not events and time.monotonic() < deadline:
        time.sleep(0.05)
    assert events == ["detected"], "the first batch was not detected while the crop models loaded"
    assert call.is_alive(), "the first batch came back before its crop models were loaded"
    release.set()
    call.join(60)
    assert events == ["detected", "crop models loaded"]
    found = [d for r in out["result"] for d in r.detections]
    assert found and all(d.embedding is not None for d in found), "the first batch went without its embeddings"

    def broken(self, *a, **k):
        raise RuntimeError("the embedder's file is not a model")

    monkeypatch.setattr(DescribeStage, "__init__", broken)
    stage = InferStage(weights[0], 0.25, imgsz, weights[1], weights[2], threads=1, lanes=1)
    with pytest.raises(RuntimeError, match="not a model"):
        stage(dict(batch))


def test_a_run_starts_with_blocks_of_one_batch_however_long_it_is():
    """Each input block is one actor call and is written when it comes back: a 60,000-photo run's
    first block must be a batch, not the 30 photos that 2,000 equal blocks would give it."""
    from pipelines.census import FIRST_BLOCKS, MAX_BLOCKS, input_blocks

    for n, batch in [(1, 8), (7, 8), (600, 8), (129, 8), (60_000, 8), (60_000, 2), (1_000_000, 8)]:
        sizes = input_blocks(n, batch)
        assert sum(sizes) == n and all(s > 0 for s in sizes), (n, batch)
        assert len(sizes) <= MAX_BLOCKS, (n, batch, len(sizes))
        head = sizes[:FIRST_BLOCKS]
        assert all(s == batch for s in head[:-1]) and head[-1] <= batch, (n, batch, head)
        tail = sizes[FIRST_BLOCKS:]
        assert not tail or max(tail) - min(tail) <= 1, "the rest shared out evenly"
    assert input_blocks(600, 8) == [8] * 75, "a short run: every block a batch"
