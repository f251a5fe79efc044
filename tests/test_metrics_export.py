"""The project's counters reach Ray's Prometheus endpoint (what Grafana scrapes) after a real run."""
from __future__ import annotations

import re
import time
import urllib.request

from pipelines.census import PipelineOptions, run_census


def _scrape(port: int) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def _total(text: str, name: str, **labels) -> float:
    want = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(float(m.group(2)) for m in re.finditer(rf"^{name}(\{{[^}}]*\}})? ([0-9.e+]+)$", text, re.M)
               if all(w in (m.group(1) or "") for w in want))


def test_census_metrics_are_exported(store, ray_cluster, demo_options, photo_folder):
    import ray

    root, _ = photo_folder
    report = run_census(store, root, demo_options)
    port = ray._private.worker.global_worker.node.metrics_export_port  # this node's exporter
    # counters are cumulative over the session (other tests ran census too): at least this run's
    deadline, text = time.time() + 60, ""
    while time.time() < deadline:  # workers report every few seconds
        text = _scrape(port)
        if (_total(text, "ray_thumper_images_total", outcome="completed") >= report.run.completed
                and _total(text, "ray_thumper_stage_images_total", stage="embed") >= report.run.completed):
            break
        time.sleep(2)
    assert _total(text, "ray_thumper_images_total", outcome="completed") >= report.run.completed
    assert _total(text, "ray_thumper_detections_total") >= report.run.detections > 0
    for stage in ("decode", "detect", "embed"):
        assert _total(text, "ray_thumper_stage_images_total", stage=stage) >= report.run.completed, stage
        assert _total(text, "ray_thumper_stage_seconds_sum", stage=stage) > 0, stage
    assert _total(text, "ray_thumper_db_write_seconds_count") >= 1
    assert "ray_thumper_pending_images" in text
