"""The project's own metrics, recorded through ray.util.metrics so every node's Ray metrics
endpoint exports them to Prometheus (as ray_thumper_*), beside Ray's own; the dashboard is
cluster/grafana/thumper-dashboard.json. Recording is a no-op outside a Ray worker or driver, so
the stages also run bare (tests, the Serve app's letterbox)."""
from __future__ import annotations

from types import SimpleNamespace

# seconds; a COPY of one write batch is milliseconds locally, a remote server adds round trips
WRITE_BOUNDARIES = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
STAGE_BOUNDARIES = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]


_METRICS: SimpleNamespace | None = None


def _metrics() -> SimpleNamespace | None:
    """Created once per process, and only once Ray is up (a metric needs a connected worker)."""
    global _METRICS
    if _METRICS is None:
        import ray

        if ray.is_initialized():
            _METRICS = _create()
    return _METRICS


def _create() -> SimpleNamespace:
    from ray.util.metrics import Counter, Gauge, Histogram

    return SimpleNamespace(
        # by run too: each run's own figures, whatever other drivers report (one series per run)
        images=Counter("thumper_images", "Images written to the store, by outcome (completed, failed) and run",
                       tag_keys=("outcome", "run")),
        detections=Counter("thumper_detections", "Detections written to the store, by run", tag_keys=("run",)),
        pending=Gauge("thumper_pending_images", "Images claimed by running census jobs and not yet written"),
        db_write=Histogram("thumper_db_write_seconds", "One write batch: COPY detections + image statuses",
                           boundaries=WRITE_BOUNDARIES),
        stage_seconds=Histogram("thumper_stage_seconds", "Busy time of one batch in a pipeline stage",
                                boundaries=STAGE_BOUNDARIES, tag_keys=("stage",)),
        stage_images=Counter("thumper_stage_images", "Images through a pipeline stage", tag_keys=("stage",)),
        stage_failures=Counter("thumper_stage_failures", "Images a pipeline stage failed", tag_keys=("stage",)),
    )


def record_stage(stage: str, seconds: float, images: int, failures: int = 0) -> None:
    if m := _metrics():
        tags = {"stage": stage}
        m.stage_seconds.observe(seconds, tags)
        m.stage_images.inc(images, tags)
        if failures:
            m.stage_failures.inc(failures, tags)


def record_write(seconds: float, completed: int, failed: int, detections: int, run_id: int | None = None) -> None:
    if m := _metrics():
        run = "" if run_id is None else str(run_id)
        m.db_write.observe(seconds)
        if completed:
            m.images.inc(completed, {"outcome": "completed", "run": run})
        if failed:
            m.images.inc(failed, {"outcome": "failed", "run": run})
        if detections:
            m.detections.inc(detections, {"run": run})


def set_pending(images: int) -> None:
    if m := _metrics():
        m.pending.set(images)
