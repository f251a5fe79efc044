"""Global re-identification: bursts -> constraints -> clustering of every embedding in Postgres ->
deer profiles with stable ids. Numpy on the driver (100k detections in seconds); `thumper reid`
runs it, and so does a Ray job:

    ray job submit --working-dir . -- python -m thumper reid [--db URL] [--gap 60] ...
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from pipelines.clustering import ClusterSettings, cluster_detections
from pipelines.deer_ids import keep_profiles, match_clusters
from pipelines.reid_constraints import burst_links, fact_constraints, make_bursts
from store import Store
from store.reid import SEX_CODES, ReidStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReidSettings:
    """burst_gap_seconds=60: trail cameras fire 3-10 shots 1-5 s apart per trigger and re-arm after
        a delay of 5 s to minutes; a minute groups one visit's shots without chaining separate visits.
    burst_iou=0.3: a deer moves a little between shots; a box overlapping its next-shot box by 0.3
        is the same animal (two deer side by side overlap far less: detectors suppress overlaps).
    cluster: distance / min sightings thresholds, see pipelines.clustering.ClusterSettings.
    """

    burst_gap_seconds: float = 60.0
    burst_iou: float = 0.3
    cluster: ClusterSettings = field(default_factory=ClusterSettings)


@dataclass
class ReidSummary:
    run_id: int = 0
    bursts: int = 0
    detections: int = 0  # clustered (embedded, not excluded)
    deer: int = 0
    new_deer: int = 0
    retired: int = 0
    unassigned: int = 0  # below min sightings
    reattached: int = 0  # detection rows given back their deer after a reprocess
    must_links: int = 0
    cannot_links: int = 0
    excluded: int = 0  # "not a deer"
    seconds: dict[str, float] = field(default_factory=dict)


def run_reid(store: Store, settings: ReidSettings | None = None) -> ReidSummary:
    settings = settings or ReidSettings()
    reid = store.reid
    reid.lock()
    run_id = store.start_run("reid", settings=asdict(settings))
    try:
        summary = _run(reid, settings, run_id)
        store.finish_run(run_id, "completed")
    except BaseException as e:
        store.finish_run(run_id, "failed", error=f"{type(e).__name__}: {e}")
        raise
    finally:
        reid.unlock()
    return summary


def regroup_bursts(store: Store, gap_seconds: float | None = None) -> int:
    """Bursts from the photos' (corrected) times, as a re-ID run groups them: after a clock
    correction, before the next run. Returns the number of bursts."""
    bursts = make_bursts(store.reid.burst_inputs(), gap_seconds or ReidSettings().burst_gap_seconds)
    return store.reid.save_bursts(bursts.rows, list(bursts.image_burst.items()))


def _run(reid: ReidStore, settings: ReidSettings, run_id: int) -> ReidSummary:
    s = ReidSummary(run_id)
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        s.seconds[name] = round(now - clock, 3)
        clock = now

    bursts = make_bursts(reid.burst_inputs(), settings.burst_gap_seconds)
    s.bursts = reid.save_bursts(bursts.rows, list(bursts.image_burst.items()))
    lap("bursts")
    s.reattached = reid.reattach_members()
    dims = reid.embedding_dims()
    if len(dims) > 1:
        log.warning("embeddings of several sizes %s: clustering the %d-d ones (re-run `thumper process "
                    "--reprocess` to embed everything with one model)", dims, dims[0][0])
    data = reid.read_detections(dims[0][0]) if dims else None
    lap("read")
    if data is None or not len(data["id"]):
        s.retired = reid.write_assignments(np.empty(0, np.int64), np.empty(0, np.int64), run_id)["retired"]
        return s
    facts = fact_constraints(reid.resolved_facts(), data["id"])
    boxes = np.stack([data["x1"], data["y1"], data["x2"], data["y2"]], axis=1)
    tracks = burst_links(bursts, data["image_id"], boxes, settings.burst_iou)
    must = np.concatenate([facts.must_link, tracks])  # people first: applied in order given
    s.detections, s.must_links, s.cannot_links = len(data["id"]), len(must), len(facts.cannot_link)
    s.excluded = len(facts.not_deer)
    lap("constraints")
    labels = cluster_detections(data["embedding"], data["image_id"], SEX_CODES[data["sex"]], must,
                                facts.cannot_link, replace(settings.cluster, min_sightings=1))
    lap("cluster")
    deer_index = reid.deer_index()
    labels = keep_profiles(labels, data["deer_id"], settings.cluster.min_sightings, facts.pinned,
                           reid.corrected_deer())
    eligible = {i for i, (status, _) in deer_index.items() if status != "merged"}
    matched = match_clusters(labels, data["deer_id"], eligible, facts.forbidden)
    new_labels = sorted(label for label, deer in matched.items() if deer is None)
    matched.update(zip(new_labels, reid.create_deer(len(new_labels), run_id)))
    lookup = np.full(int(labels.max(initial=-1)) + 2, -1, np.int64)  # label -1 -> last slot -> -1
    for label, deer in matched.items():
        lookup[label] = deer
    written = reid.write_assignments(data["id"], lookup[labels], run_id)
    lap("write")
    s.deer, s.new_deer, s.retired = len(matched), len(new_labels), written["retired"]
    s.unassigned = int(np.sum(labels < 0))
    log.info("reid run %d: %d detections -> %d deer (%d new, %d retired), %d unassigned in %.1f s",
             run_id, s.detections, s.deer, s.new_deer, s.retired, s.unassigned, sum(s.seconds.values()))
    return s
