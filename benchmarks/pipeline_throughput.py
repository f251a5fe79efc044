"""Throughput of the census pipeline against a bare Ultralytics predict loop, and of the bulk writer
against row-at-a-time inserts, measured in one process on the same photos and weights.

    .venv/bin/python benchmarks/pipeline_throughput.py --photos 600
    .venv/bin/python benchmarks/pipeline_throughput.py --photos 600 --detector-arch yolov9c --imgsz 640

--detector-arch yolov8n|yolov9c builds an untrained detector of that architecture (yolov9c is
MegaDetector v6-c's shape; classes animal / person / vehicle): its timings are real, its boxes are
not. The bare loop runs with as many torch threads as the pipeline's inference actors have together.

Then each stage alone on the same photos (decode, detect, classify + embed, and the run's own
write time per photo), with the threads an actor has: the pipeline's pace over the later half of
the photos is held against 1 / (sum of the stage costs), one lane's pace, and against the cores
over the stages' CPU time, the pace these cores allow once every actor is up.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pace import DETECTOR_ARCHS, detector_for, print_stage_limit, stage_costs  # noqa: E402


def bare_predict_loop(weights: Path, photos: list[Path], imgsz: int) -> float:
    """What a script without the pipeline does: one predict call per photo file."""
    from ultralytics import YOLO

    model = YOLO(str(weights))
    model.predict(str(photos[0]), imgsz=imgsz, verbose=False)  # warm-up, as the actors get
    start = time.perf_counter()
    for p in photos:
        model.predict(str(p), imgsz=imgsz, verbose=False, device="cpu")
    return len(photos) / (time.perf_counter() - start)


def bulk_writer(store, n_rows: int, dim: int) -> tuple[float, float]:
    """rows/s of Store.write_results (COPY) and of one INSERT per detection, same rows."""
    from models.types import Detection, PhotoResult
    from store import ImageRecord

    per_image = 4
    n_images = n_rows // per_image
    rng = np.random.default_rng(0)
    records = [ImageRecord(uuid.uuid4().hex * 2, f"/bench/{i}.jpg", "bench", None, "mtime")
               for i in range(n_images * 2)]
    ids = store.add_images(records).image_ids
    run = store.start_run("benchmark")
    store.claim_pending(run)
    vec = rng.standard_normal((per_image, dim)).astype(np.float32)
    results = [PhotoResult(i, width=1920, height=1080,
                           detections=[Detection((0.1, 0.1, 0.2, 0.2), 0.9, "doe", species="deer", deer_class="doe", sex="female", age_class=None, embedding=v)
                                       for v in vec]) for i in ids[:n_images]]
    start = time.perf_counter()
    for k in range(0, len(results), 256):
        store.write_results(run, results[k:k + 256], detector_version="bench", embedder_version="bench")
    copy_rate = n_rows / (time.perf_counter() - start)

    start = time.perf_counter()
    with store.conn.cursor() as cur:
        for i in ids[n_images:]:
            for k, v in enumerate(vec):
                cur.execute("INSERT INTO detections (image_id, det_index, run_id, x1, y1, x2, y2, confidence,"
                            " label, species, deer_class, sex, detector_version, embedding)"
                            " VALUES (%s, %s, %s, .1, .1, .2, .2, .9, 'doe', 'deer', 'doe', 'female', 'bench', %s)",
                            (i, k, run, v))
    row_rate = n_rows / (time.perf_counter() - start)
    store.finish_run(run)
    return copy_rate, row_rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=120, help="synthetic photos to generate (default 120)")
    ap.add_argument("--size", default="1920x1080", help="photo size (default 1920x1080)")
    ap.add_argument("--rows", type=int, default=20000, help="detections for the writer benchmark")
    ap.add_argument("--num-cpus", type=int, default=None)
    ap.add_argument("--db", help="Postgres URL (default: a throw-away embedded one)")
    ap.add_argument("--imgsz", type=int, help="detector input size (default: the weights' own)")
    ap.add_argument("--detector-arch", choices=DETECTOR_ARCHS, default="demo",
                    help="the demo detector, or an untrained one of this architecture (real compute)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="thumper-bench-"))
    import ray

    from cluster.runtime import connect as connect_ray
    from models.recipes.demo import ensure_demo_classifier, ensure_demo_embedder
    from models.synthetic import make_photo_folder
    from pipelines.census import PipelineOptions, run_census
    from store import Store, connect
    from store.embedded import embedded_url, stop_embedded

    det, emb, cls = detector_for(args.detector_arch, args.imgsz), ensure_demo_embedder(), ensure_demo_classifier()
    w, h = map(int, args.size.split("x"))
    per_loc = max(1, args.photos // 3)
    make_photo_folder(work / "photos", photos_per_location=per_loc, seed=1, size=(w, h))
    photos = sorted((work / "photos").rglob("*.JPG"))
    opts = PipelineOptions(detector=str(det), classifier="demo", embedder=str(emb), imgsz=args.imgsz)

    connect_ray(num_cpus=args.num_cpus)
    store = Store(connect(args.db or embedded_url(work / "pgdata")))  # throw-away unless --db
    start = time.perf_counter()
    report = run_census(store, work / "photos", opts)
    pipeline_rate = len(photos) / (time.perf_counter() - start)
    from models.detector import Detector

    from cluster.runtime import plan_pools

    import torch

    plan = plan_pools()["detect"]
    actor_threads = plan.threads  # each inference actor's torch threads
    # the bare loop gets every thread the pipeline's actors have together (one process: the machine)
    torch.set_num_threads(min(os.cpu_count() or 1, plan.max_size * plan.lanes * plan.threads))
    bare_threads = torch.get_num_threads()
    imgsz = args.imgsz or Detector(det).imgsz
    bare_rate = bare_predict_loop(det, photos, imgsz)
    costs = stage_costs(det, cls, emb, photos, imgsz, actor_threads, opts.conf)
    copy_rate, row_rate = bulk_writer(store, args.rows, 128)

    cpus = ray.cluster_resources().get("CPU", 0)
    gpus = ray.cluster_resources().get("GPU", 0)
    print(f"machine: {os.cpu_count()} cores, Ray CPU {cpus:g}, GPU {gpus:g}; {len(photos)} photos {w}x{h}; "
          f"detector {args.detector_arch} at {imgsz} px, "
          f"{bare_threads} torch threads in the bare loop; pipeline: {plan}")
    print(f"full pipeline (ingest+decode+detect+classify+embed+write): {pipeline_rate:8.2f} images/s "
          f"({report.run.detections} detections)")
    print(f"start-up (run start to first written batch):      {report.run.first_result_seconds:8.1f} s")
    print(f"pace over the later half of the photos:           {report.run.steady_rate:8.2f} images/s")
    print(f"bare ultralytics predict loop (detect only):      {bare_rate:8.2f} images/s")
    print(f"ratio pipeline / bare loop:                       {pipeline_rate / bare_rate:8.2f}")
    run = report.run
    print_stage_limit(costs, run.write_seconds / max(1, run.completed + run.failed), run.steady_rate, cores=cpus)
    if run.stage_costs:  # what the run's own stages measured (their threads' CPU time), beside each stage alone
        c = run.stage_costs
        after_first = (run.completed + run.failed) / max(1e-9, run.seconds - run.first_result_seconds)
        print(f"the run's own stage costs (CPU-ms per photo): decode {c.decode * 1000:.1f}, "
              f"detect {c.detect * 1000:.1f}, classify + embed {c.describe * 1000:.1f}")
        print(f"all-cores limit from them ({cpus:g} cores / CPU time):  {cpus / c.total:8.2f} images/s")
        print(f"pace from the first result to the end:            {after_first:8.2f} images/s")
        print(f"ratio that pace / that limit:                     {after_first * c.total / cpus:8.2f}")
    print(f"bulk writer (COPY, {args.rows} detections x 128-d):  {copy_rate:8.0f} rows/s")
    print(f"row-at-a-time INSERT baseline:                    {row_rate:8.0f} rows/s")
    print(f"ratio bulk / row-at-a-time:                       {copy_rate / row_rate:8.2f}")
    store.conn.close()
    if not args.db:
        stop_embedded(work / "pgdata")


if __name__ == "__main__":
    main()
