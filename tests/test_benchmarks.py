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
    assert {"decode_batch", "DetectStage", "DescribeStage"} <= set(stages), busy
    assert all(stages[k] > 0 for k in ("decode_batch", "DetectStage", "DescribeStage"))

    photos = store.conn.execute("SELECT id, path FROM images ORDER BY id").fetchall()
    det = Path(options.detector)
    found, loads, first, pace = seeds_baseline(db_url, photos, det, Path(options.embedder),
                                               describe_detector(det).imgsz, options.conf)
    stored = store.conn.execute("SELECT count(*) FROM baseline_detections").fetchone()[0]
    assert stored == found and 1 <= loads <= 2 and 0 < first and pace > 0  # one INSERT per detection, 2 workers
    # the same model on the same squares: the same deer, give or take one at the threshold
    assert abs(found - report.run.detections) <= max(1, report.run.detections // 20)
