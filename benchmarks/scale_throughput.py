"""End-to-end census throughput against what the seeds did, on the same photos, in one process.

Generates N 1920x1080 trail-camera JPEGs with EXIF, runs the real pipeline (ingest, Ray Data decode
-> detect pool -> embed pool -> background bulk COPY) against a throw-away embedded Postgres, then a
seeds-style baseline on the same photos: one Ray task per image that loads (cached per worker) the
models, decodes, detects, embeds, and INSERTs each detection on its own connection.

    .venv/bin/python benchmarks/scale_throughput.py                 # N=600, demo weights, local Ray
    .venv/bin/python benchmarks/scale_throughput.py --photos 20000 --address auto --detector megadetector-v6-c
    .venv/bin/python benchmarks/scale_throughput.py --photos 600 --detector-arch yolov9c --imgsz 640
    .venv/bin/python benchmarks/scale_throughput.py --photos 60000 --size 960x540 --no-baseline

Reports images/s end to end, the start-up (to the first result) and the pace over the later half
of the photos, which is what a long run keeps; per-stage busy time (Ray Data's own operator stats); GPU
utilisation (sampled with NVML while the pipeline runs) where there is a GPU; and the pipeline /
baseline ratios. `--decode device` decodes JPEGs in the detector actors (nvJPEG on a GPU).
`--detector-arch yolov8n|yolov9c` runs an untrained detector of that architecture (yolov9c is
MegaDetector v6-c's shape): real compute, meaningless boxes. Memory (the driver's and the Ray
workers' RSS) is sampled as the run goes and printed at a quarter, half, three quarters and all of
the photos, with the database's size at the end: nothing but the database should grow with the
number of photos.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pace import DETECTOR_ARCHS, GpuSampler, MemorySampler, detector_for  # noqa: E402


def stage_busy_seconds(stats: str) -> dict[str, float]:
    """Total remote wall time per operator from Ray Data's ds.stats() text."""
    busy: dict[str, float] = {}
    current = None
    for line in stats.splitlines():
        if m := re.match(r"Operator \d+ (.+?):", line):
            current = m.group(1)
        elif current and (m := re.search(r"\* Remote wall time: .*?, ([\d.]+)(us|ms|s) total", line)):
            value = float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[m.group(2)]
            busy[current] = busy.get(current, 0.0) + value
            current = None
    return busy


def seeds_baseline(store_url: str, photos: list[tuple[int, str]], det_path: Path, emb_path: Path,
                   imgsz: int, conf: float) -> tuple[int, int, float, float]:
    """What the seeds did: one task per image, one INSERT (own connection, autocommit) per detection.
    Returns (detections, model loads, seconds to the first finished photo, photos/s over the later
    half); the detections land in a table of its own, baseline_detections, made afresh."""
    import psycopg
    import ray

    from pipelines.sink import steady_pace

    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS baseline_detections")
        conn.execute("CREATE TABLE baseline_detections (image_id bigint, det_index int, x1 real, y1 real,"
                     " x2 real, y2 real, confidence real, deer_class text, embedding vector)")

    @ray.remote(num_cpus=1)
    def one_image(image_id: int, path: str) -> tuple[int, int]:
        import psycopg
        from pgvector.psycopg import register_vector

        from models.detector import Detector
        from models.embedder import Embedder
        from pipelines.stages import _read_bytes, letterbox

        cache = globals().setdefault("_seed_models", {})  # a worker process reuses its models
        loaded = not cache
        if loaded:
            import torch

            torch.set_num_threads(1)
            cache["det"] = Detector(det_path, conf=conf, imgsz=imgsz)
            cache["emb"] = Embedder(emb_path)
        pixels, at = letterbox(_read_bytes(path), imgsz)
        dets = cache["det"].detect([pixels], [at])[0]
        # the seeds cropped the detector's input, not the photo
        sq = [[int(v * at.scale * side + pad) for v, side, pad in
               zip(d.box, (at.width, at.height) * 2, (at.pad_x, at.pad_y) * 2)] for d in dets]
        crops = [pixels[max(y1, 0):max(y2, y1 + 1), max(x1, 0):max(x2, x1 + 1)] for x1, y1, x2, y2 in sq]
        vectors = cache["emb"].embed(crops) if crops else []
        with psycopg.connect(store_url, autocommit=True) as conn:
            register_vector(conn)
            for k, (d, v) in enumerate(zip(dets, vectors)):
                conn.execute("INSERT INTO baseline_detections (image_id, det_index, x1, y1, x2, y2, confidence,"
                             " deer_class, embedding) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                             (image_id, k, *d.box, d.confidence, d.deer_class or d.label, v))
        return len(dets), int(loaded)

    started = time.perf_counter()
    pending, done, times = [one_image.remote(i, p) for i, p in photos], [], []
    while pending:  # each photo's completion time, for the same start-up / pace split as the pipeline's
        ready, pending = ray.wait(pending, num_returns=1)
        done += ray.get(ready)
        times.append(time.perf_counter())
    pace = steady_pace([(t, k + 1) for k, t in enumerate(times)])
    return sum(d for d, _ in done), sum(loads for _, loads in done), times[0] - started, pace


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=600,
                    help="photos to generate (default 600: about 1.5 min on 2 cores, start-up still a third of it)")
    ap.add_argument("--size", default="1920x1080", help="photo size (default 1920x1080)")
    ap.add_argument("--detector", default="demo", help="detector weights (default: the offline demo detector)")
    ap.add_argument("--detector-arch", choices=DETECTOR_ARCHS,
                    help="instead of --detector: an untrained detector of this architecture (real compute)")
    ap.add_argument("--imgsz", type=int, help="detector input size (default: the weights' own)")
    ap.add_argument("--classifier", default="demo", help="crop classifier (default: the demo classifier; 'none')")
    ap.add_argument("--embedder", default="demo")
    ap.add_argument("--address", help="Ray cluster to join (default: a local one)")
    ap.add_argument("--num-cpus", type=int, default=None)
    ap.add_argument("--gpu-fraction", type=float, default=0.25)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--write-batch", type=int, default=64)
    ap.add_argument("--decode", choices=["auto", "cpu", "device"], default="auto",
                    help="where JPEGs are decoded (default auto: on the GPU when there is one)")
    ap.add_argument("--db", help="Postgres URL (default: a throw-away embedded one)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the seeds-style baseline")
    ap.add_argument("--keep", action="store_true", help="keep the generated photos and database")
    ap.add_argument("--photos-dir", type=Path,
                    help="generate the photos here, or reuse those already here (a 60,000-photo folder takes ~10 "
                         "minutes to make on 2 cores); kept afterwards")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="thumper-scale-"))
    os.environ.setdefault("THUMPER_DATA_DIR", str(work / "data"))
    import ray

    from cluster.runtime import connect as connect_ray
    from models.recipes.demo import ensure_demo_detector, ensure_demo_embedder
    from models.describe import describe_detector
    from models.synthetic import make_photo_folder
    from models.weights import resolve_detector, resolve_embedder
    from pipelines.census import PipelineOptions, run_census
    from store import Store, connect
    from store.embedded import embedded_url, stop_embedded

    if args.detector_arch:
        det = detector_for(args.detector_arch, args.imgsz)
    else:
        det = ensure_demo_detector() if args.detector == "demo" else resolve_detector(args.detector)
    emb = ensure_demo_embedder() if args.embedder == "demo" else resolve_embedder(args.embedder)
    w, h = map(int, args.size.split("x"))
    t = time.perf_counter()
    folder = args.photos_dir or work / "photos"
    photos = sorted(folder.rglob("*.JPG")) if folder.is_dir() else []
    if photos:
        print(f"reusing the {len(photos)} photos in {folder}")
    else:
        make_photo_folder(folder, photos_per_location=max(1, args.photos // 3), seed=1, size=(w, h))
        photos = sorted(folder.rglob("*.JPG"))
    mb = sum(p.stat().st_size for p in photos) / len(photos) / 1e6
    print(f"{len(photos)} photos {w}x{h} ({mb:.2f} MB each) ready in {time.perf_counter() - t:.0f} s")

    url = args.db or embedded_url(work / "pgdata")
    store = Store(connect(url))
    connect_ray(args.address, args.num_cpus)
    opts = PipelineOptions(detector=str(det), classifier=args.classifier, embedder=str(emb),
                           gpu_fraction=args.gpu_fraction, imgsz=args.imgsz,
                           batch_size=args.batch_size, write_batch=args.write_batch, decode=args.decode)
    watcher = Store(connect(url))  # its own connection: the run's is busy

    def written() -> int:
        return watcher.conn.execute("SELECT count(*) FROM images WHERE status IN ('completed', 'failed')").fetchone()[0]

    with GpuSampler() as gpu, MemorySampler(written, interval=max(2.0, args.photos / 2000)) as memory:
        start = time.perf_counter()
        report = run_census(store, folder, opts)
        pipeline_s = time.perf_counter() - start
    run = report.run
    pipeline_rate = len(photos) / pipeline_s

    res = ray.cluster_resources()
    print(f"machine: {os.cpu_count()} cores here; Ray CPU {res.get('CPU', 0):g}, GPU {res.get('GPU', 0):g}")
    print(f"pipeline end to end (ingest + decode + detect + classify + embed + write): {pipeline_s:7.1f} s "
          f"{pipeline_rate:8.2f} images/s  ({run.completed} completed, {run.failed} failed, "
          f"{run.detections} detections, {run.detections / pipeline_s:.1f} detections/s)")
    ingest = report.ingest
    print(f"  ingest (hash + EXIF + header, {ingest.found} photos, {ingest.reader}) {ingest.seconds:.1f} s = "
          f"{ingest.found / ingest.seconds:.0f} photos/s; processing alone {run.seconds:.1f} s = "
          f"{len(photos) / run.seconds:.2f} images/s")
    # Until the last actor is up the first stages run ahead; on a short run that backlog fills the
    # later half too and flatters its pace. The pace counts only when start-up is under half the run.
    long_enough = run.first_result_seconds < run.seconds / 2
    print(f"  start-up {run.first_result_seconds:.1f} s to the first written batch; "
          + (f"later half {run.steady_rate:.2f} images/s (the pace a long run keeps)" if long_enough else
             "start-up is most of this run: --photos 3000 or more shows the pace a long run keeps"))
    print("  per-stage busy time (sum over workers, Ray Data stats):")
    for stage, secs in stage_busy_seconds(run.stage_stats).items():
        print(f"    {stage:<40} {secs:8.1f} s  ({secs / len(photos) * 1000:7.1f} ms/image)")
    print(f"  GPU utilisation: {gpu.summary()}")
    import resource

    db_mb = store.conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20
    print(f"  {memory.report()}")
    print(f"  driver max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; database "
          f"{db_mb:.0f} MB ({db_mb * 1024 / len(photos):.1f} kB per photo, {run.detections} detections)")
    watcher.conn.close()

    if not args.no_baseline:
        ids = store.conn.execute("SELECT id, path FROM images ORDER BY id").fetchall()
        start = time.perf_counter()
        n, loads, base_first, base_pace = seeds_baseline(url, ids, det, emb, args.imgsz or describe_detector(det).imgsz,
                                                    opts.conf)
        base_s = time.perf_counter() - start
        base_rate = len(photos) / base_s
        print(f"seeds baseline (task per image, INSERT per detection): {base_s:7.1f} s {base_rate:8.2f} images/s "
              f"({n} detections, models loaded {loads}x; no ingest, so it is favoured)")
        print(f"  start-up {base_first:.1f} s to the first finished photo; later half {base_pace:.2f} images/s")
        steady = f", later half {run.steady_rate / base_pace:.2f}x" if base_pace and long_enough else ""
        print(f"ratio pipeline / baseline: end to end {pipeline_rate / base_rate:.2f}x{steady}")

    store.conn.close()
    if not args.db and not args.keep:
        stop_embedded(work / "pgdata")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
