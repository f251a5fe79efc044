"""Upload latency and throughput of the Serve app, on generated trail-camera photos.

    python benchmarks/serve_latency.py [--singles 20] [--concurrent 8] [--per-client 4] [--num-cpus N]

Starts a local Ray, a throw-away database (embedded Postgres) and the app with the demo models,
then measures (1) p50/p95 of single uploads one at a time and (2) photos/s with N clients
uploading at once (each photo new, so every request runs detection, embedding and re-ID).
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--singles", type=int, default=20)
    ap.add_argument("--concurrent", type=int, default=8)
    ap.add_argument("--per-client", type=int, default=4)
    ap.add_argument("--num-cpus", type=int)
    ap.add_argument("--max-batch-size", type=int, default=8)
    ap.add_argument("--batch-wait", type=float, default=0.02)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="thumper-serve-bench-"))
    os.environ["THUMPER_DATA_DIR"] = str(work / "data")  # before Ray starts: replicas inherit it
    import httpx
    from ray import serve

    from cluster.runtime import connect as connect_ray
    from models.recipes.demo import ensure_demo_detector, ensure_demo_embedder
    from models.synthetic import make_photo_folder
    from serve_apps.app import build_app

    n_photos = args.singles + args.concurrent * args.per_client + 2
    make_photo_folder(work / "photos", photos_per_location=n_photos // 3 + 1, seed=7)
    photos = sorted((work / "photos").rglob("*.JPG"))
    det, emb = ensure_demo_detector(), ensure_demo_embedder()
    connect_ray(num_cpus=args.num_cpus)
    port = _free_port()
    key = uuid.uuid4().hex
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app({"detector": str(det), "embedder": str(emb), "api_key": key,
                         "max_batch_size": args.max_batch_size, "batch_wait_timeout_s": args.batch_wait}),
              name="thumper", route_prefix="/")
    url = f"http://127.0.0.1:{port}"

    def upload(path: Path) -> float:
        with httpx.Client(base_url=url, timeout=300, headers={"X-API-Key": key}) as c:
            t = time.perf_counter()
            r = c.post("/api/images", data={"location": path.parent.name},
                       files=[("files", (path.name, path.read_bytes(), "image/jpeg"))])
            r.raise_for_status()
            return time.perf_counter() - t

    upload(photos.pop())  # warm-up: first use starts the run and loads the models' first batch
    singles = [upload(photos.pop()) for _ in range(args.singles)]
    detector = serve.get_deployment_handle("DetectorDeployment", app_name="thumper")
    before = detector.info.remote().result()
    batch = [photos.pop() for _ in range(args.concurrent * args.per_client)]
    t = time.perf_counter()
    with ThreadPoolExecutor(args.concurrent) as pool:
        lat = list(pool.map(upload, batch))
    wall = time.perf_counter() - t
    after = detector.info.remote().result()
    calls, frames = after["batches"] - before["batches"], after["frames"] - before["frames"]
    print(f"single uploads ({args.singles}, one at a time): p50 {statistics.median(singles) * 1000:.0f} ms, "
          f"p95 {_percentile(singles, 0.95) * 1000:.0f} ms")
    print(f"{args.concurrent} concurrent clients, {len(batch)} uploads: {len(batch) / wall:.2f} photos/s "
          f"(serial: {1 / statistics.median(singles):.2f}/s); latency p50 {statistics.median(lat) * 1000:.0f} ms, "
          f"p95 {_percentile(lat, 0.95) * 1000:.0f} ms; detector batches: {calls} for {frames} photos "
          f"(mean {frames / max(calls, 1):.1f} per forward pass)")
    serve.shutdown()
    from store.embedded import stop_embedded

    stop_embedded(work / "data" / "pgdata")  # the replicas' throw-away server


if __name__ == "__main__":
    main()
