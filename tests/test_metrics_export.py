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


COUNTED = [("ray_thumper_images_total", {"outcome": "completed"}, "completed"),
           ("ray_thumper_detections_total", {}, "detections")] + \
          [("ray_thumper_stage_images_total", {"stage": stage}, "completed") for stage in ("decode", "detect", "embed")]


def _counts(port: int) -> list[float]:
    text = _scrape(port)
    return [_total(text, name, **labels) for name, labels, _ in COUNTED]


def _settled(port: int, seconds: float = 30) -> list[float]:
    """The counters once two scrapes a few seconds apart agree (workers report every few seconds)."""
    deadline, last = time.time() + seconds, _counts(port)
    while time.time() < deadline:
        time.sleep(3)
        now = _counts(port)
        if now == last:
            return now
        last = now
    return last


def test_census_metrics_are_exported(store, ray_cluster, demo_options, photo_folder):
    """This run's increments, exactly: counters are cumulative over the session (other tests ran a
    census too), so the test reads them before and after and compares the difference."""
    import ray

    root, _ = photo_folder
    port = ray._private.worker.global_worker.node.metrics_export_port  # this node's exporter
    before = _settled(port)
    report = run_census(store, root, demo_options)
    want = [float(getattr(report.run, attr)) for _, _, attr in COUNTED]
    assert want[0] > 0 and want[1] > 0
    deadline, delta = time.time() + 60, []
    while time.time() < deadline:
        delta = [a - b for a, b in zip(_counts(port), before)]
        if delta == want:
            break
        time.sleep(2)
    assert delta == want, dict(zip([f"{n}{l}" for n, l, _ in COUNTED], zip(delta, want)))
    text = _scrape(port)
    for stage in ("decode", "detect", "embed"):
        assert _total(text, "ray_thumper_stage_seconds_sum", stage=stage) > 0, stage
    assert _total(text, "ray_thumper_db_write_seconds_count") >= 1
    assert "ray_thumper_pending_images" in text
