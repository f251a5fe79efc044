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


STAGES = [("ray_thumper_stage_images_total", {"stage": stage}, "completed") for stage in ("decode", "detect", "embed")]


def _counts(port: int, counted=STAGES) -> list[float]:
    text = _scrape(port)
    return [_total(text, name, **labels) for name, labels, _ in counted]


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
    # run ids count per database and every test has its own: start this one's where no other is
    # (below 2**31: a run's lock key is an int4)
    store.conn.execute("SELECT setval(pg_get_serial_sequence('runs', 'id'), 1_900_000_000)")
    before = _settled(port)
    report = run_census(store, root, demo_options)
    assert report.run.run_id > 1_900_000_000
    # the writer's counters carry the run: this run's exactly, whatever other drivers report late;
    # the stage counters (in the actors) are this run's increments
    run = str(report.run.run_id)
    counted = STAGES + [("ray_thumper_images_total", {"outcome": "completed", "run": run}, "completed"),
                        ("ray_thumper_detections_total", {"run": run}, "detections")]
    before += [0.0, 0.0]  # a new run's series start at nothing
    want = [float(getattr(report.run, attr)) for _, _, attr in counted]
    assert want[-2] > 0 and want[-1] > 0
    deadline, delta = time.time() + 60, []
    while time.time() < deadline:
        delta = [a - b for a, b in zip(_counts(port, counted), before)]
        if delta == want:
            break
        time.sleep(2)
    assert delta == want, dict(zip([f"{n}{l}" for n, l, _ in counted], zip(delta, want)))
    text = _scrape(port)
    for stage in ("decode", "detect", "embed"):
        assert _total(text, "ray_thumper_stage_seconds_sum", stage=stage) > 0, stage
    assert _total(text, "ray_thumper_db_write_seconds_count") >= 1
    assert "ray_thumper_pending_images" in text
