"""The throughput benchmark's own parts, on a real run: its reading of Ray Data's stats and its
seeds-style baseline. A Ray upgrade that changes the stats text fails here, not in a figure."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from models.describe import describe_detector
from pipelines.census import PipelineOptions, run_census

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from scale_throughput import seeds_baseline, stage_busy_seconds  # noqa: E402


@pytest.fixture
def options(demo_options) -> PipelineOptions:
    return demo_options


def test_scale_benchmark_reads_stages_and_runs_the_baseline(store, db_url, ray_cluster, options, photo_folder):
    root, _ = photo_folder
    report = run_census(store, root, options)
    busy = stage_busy_seconds(report.run.stage_stats)
    stages = {name.split("(")[-1].rstrip(")"): secs for name, secs in busy.items()}
    # on CPU: decode tasks, then actors that detect and describe (pipelines.stages.InferStage)
    assert {"decode_batch", "InferStage"} <= set(stages), busy
    assert all(stages[k] > 0 for k in ("decode_batch", "InferStage"))

    photos = store.conn.execute("SELECT id, path FROM images ORDER BY id").fetchall()
    det = Path(options.detector)
    found, loads, first, pace = seeds_baseline(db_url, photos, det, Path(options.embedder),
                                               describe_detector(det).imgsz, options.conf)
    stored = store.conn.execute("SELECT count(*) FROM baseline_detections").fetchone()[0]
    assert stored == found and 1 <= loads <= 2 and 0 < first and pace > 0  # one INSERT per detection, 2 workers
    # the same model on the same squares: the same deer, give or take one at the threshold
    assert abs(found - report.run.detections) <= max(1, report.run.detections // 20)


def test_pace_parts_measure_each_stage_and_memory(ray_cluster, options, photo_folder):
    """benchmarks/pace.py: each stage alone costs something, the limit is 1 / their sum, and the
    memory sampler reports the driver and this session's Ray processes at the run's quarters."""
    from pace import MemorySampler, print_stage_limit, stage_costs

    from models.weights import resolve_classifier

    root, _ = photo_folder
    photos = sorted(root.rglob("*.JPG"))
    det = Path(options.detector)
    costs = stage_costs(det, resolve_classifier("demo"), Path(options.embedder), photos,
                        describe_detector(det).imgsz, threads=1, conf=options.conf, sample=8)
    assert set(costs) == {"decode", "detect", "classify + embed"} and all(v > 0 for v in costs.values()), costs
    total = sum(costs.values()) + 0.001
    assert abs(print_stage_limit(costs, 0.001, steady=0.5 / total) - 0.5) < 1e-6  # half the limit

    done = iter(range(0, 100, 10))
    with MemorySampler(lambda: next(done, 90), interval=0.05) as memory:
        import time

        time.sleep(0.4)
    line = memory.report()
    assert "driver" in line and "Ray processes" in line and memory.samples[-1][3] > 0, line  # workers found


def test_core_benchmark_runs_without_ray_or_postgres(demo_weights):
    """benchmarks/core_throughput.py is what a GPU machine without Ray or Postgres runs: here, on CPU
    with Ray and psycopg made unimportable, it prints a row of positive figures per batch size."""
    import re
    import subprocess

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "core_throughput.py"
    run = ("import runpy, sys; sys.modules.update(ray=None, psycopg=None, pgvector=None); "
           f"sys.argv = [{str(script)!r}, '--device', 'cpu', '--detector-arch', 'demo', '--imgsz', '160', "
           "'--batches', '2,4', '--photos', '3', '--repeat', '1']; runpy.run_path(sys.argv[0], run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {int(m[1]): [float(v) for v in m[2].split()]
            for m in re.finditer(r"^\s+(\d+)\s+([\d. ]+?)\s+-\s+nan", done.stdout, re.M)}
    assert sorted(rows) == [2, 4], done.stdout
    assert all(len(v) == 4 and min(v) > 0 for v in rows.values()), done.stdout  # decode, detect, crops, cut
    assert "device cpu" in done.stdout and "Pillow draft-mode letterbox" in done.stdout
