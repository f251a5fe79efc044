"""The census job: ingest a folder, stream pending photos through Ray Data (decode -> detect ->
classify and embed crops), and write results to Postgres in bulk as they arrive.

Idempotent by design: images are keyed by content hash; a run claims images (pending ->
processing) under an advisory lock that dies with its process; each batch's detections and the
images' completion commit in one transaction. A killed run is reclaimed by the next one, which
finishes exactly the images that had not committed: nothing twice, nothing lost.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np

from models.settings import default
from models.types import PhotoResult
from pipelines import model_versions, stage_costs
from pipelines.ingest import IngestResult, ingest_folder
from pipelines.sink import BackgroundWriter
from store import DatabaseUnavailable, Store, unavailable_reason

log = logging.getLogger(__name__)

DECODE_CHOICES = ("auto", "cpu", "device")


def resolve_classifier_spec(classifier: str, detector: str) -> str | None:
    """'auto': the demo classifier beside the demo detector, else none (a detector's own labels
    stand: MegaDetector's 'animal' is then an animal of unknown species, never counted as a deer)."""
    if classifier == "auto":
        return "demo" if detector == "demo" else None
    return None if classifier in ("none", "") else classifier


@dataclass
class PipelineOptions:
    detector: str = default("detector")
    classifier: str = default("classifier")  # 'auto', 'none', 'demo', a known name or a path
    embedder: str = default("embedder")
    gpu_fraction: float = default("gpu_fraction")
    batch_size: int | None = None  # per actor call; None: sized from GPU memory (cluster/gpu_sizing.py), 8 on CPU
    imgsz: int | None = None  # None: the size the detector was trained at
    conf: float = default("conf")
    decode: str = "auto"  # where JPEGs are decoded: 'cpu' tasks, the detector's 'device', or 'auto'
    write_batch: int = default("write_batch")  # images per database transaction, at most
    reprocess: bool = False  # redo completed images too (new models)
    retry_failed: bool = False


@dataclass
class RunSummary:
    run_id: int
    claimed: int
    completed: int
    failed: int
    detections: int
    recovered: int
    seconds: float
    detector_version: str = ""
    classifier_version: str = ""
    embedder_version: str = ""
    stage_stats: str = ""  # Ray Data's per-operator timings of the run (ds.stats())
    first_result_seconds: float = 0.0  # start-up: from the run's start to its first written batch
    steady_rate: float = 0.0  # photos/s over the later half of the photos (pipelines.sink.steady_pace)
    write_seconds: float = 0.0  # the writer thread's time in COPYs and commits
    stage_costs: object = None  # cluster.runtime.StageCosts this run measured (CPU runs)


class DatabaseLost(RuntimeError):
    """The database went away mid-run. What was committed is kept; a rerun resumes from there."""

    def __init__(self, run_id: int, committed: int, cause: Exception):
        self.run_id, self.committed, self.reason = run_id, committed, unavailable_reason(cause)
        super().__init__(f"{self.what}. Start the database again and rerun the same command: it resumes where "
                         "this run stopped, and nothing is processed twice")

    @property
    def what(self) -> str:
        return (f"the database went away mid-run ({self.reason}); run {self.run_id} had committed {self.committed} "
                "photos, which are kept")


@dataclass
class CensusReport:
    ingest: IngestResult
    run: RunSummary
    status: dict[str, int]
    by_location: list[dict]
    failures: list[tuple[str, str]] = field(default_factory=list)
    others: list[tuple[str, str, int]] = field(default_factory=list)  # (observation type, species, detections)


def _weights_version(path: Path, sha256: str) -> str:
    return f"{path.stem}@{sha256[:12]}"


def use_device_decode(decode: str, pools: dict) -> bool:
    """'device': the detector decodes (nvJPEG on a GPU); 'cpu': CPU tasks decode; 'auto': the
    device when the detectors have GPUs, where CPU decode would need ~20 cores per GPU to keep up."""
    if decode not in DECODE_CHOICES:
        raise ValueError(f"decode must be one of {', '.join(DECODE_CHOICES)}, not {decode!r}")
    return decode == "device" or (decode == "auto" and pools["detect"].num_gpus > 0)


MAX_BLOCKS = 2000  # input blocks of a run at most: a long run's stay few enough to schedule
FIRST_BLOCKS = 16  # blocks of one batch each at a run's start, however long the run


def input_blocks(n: int, batch: int) -> list[int]:
    """The sizes of a run's input blocks for n claimed photos, in order. Each block goes through
    one actor call and is written when it comes back, so the first blocks are one batch each (the
    first through is the first result, after one batch, not after a long run's 30 photos), and the
    rest share out what is left in up to MAX_BLOCKS blocks in all."""
    head = min(n, batch * FIRST_BLOCKS)
    sizes = [batch] * (head // batch) + ([head % batch] if head % batch else [])
    if rest := n - head:
        k = max(1, min(-(-rest // batch), MAX_BLOCKS - len(sizes)))
        size, bigger = divmod(rest, k)
        sizes += [size + 1] * bigger + [size] * (k - bigger)
    return sizes


def build_dataset(claimed: list[tuple[int, str]], options: PipelineOptions, detector, classifier, embedder,
                  pools: dict):
    """The Ray Data plan on these pools (cluster.runtime.plan_pools). Nothing runs until the
    dataset is iterated."""
    import pyarrow as pa
    import ray

    from cluster.runtime import DECODE_CPUS, wait_warm
    from pipelines.stages import DescribeStage, DetectStage, InferStage, decode_batch, read_batch

    wait_warm()

    # each row's Placement and PhotoResult travel as Python objects (Arrow has no type for them):
    # said once here, so Ray does not warn about it from every worker
    ray.data.DataContext.get_current().enable_fallback_to_arrow_object_ext_type = True
    ids, paths, blocks, at = [i for i, _ in claimed], [p for _, p in claimed], [], 0
    for size in input_blocks(len(claimed), pools["detect"].batch_size):
        blocks.append(pa.table({"image_id": pa.array(ids[at:at + size], pa.int64()), "path": paths[at:at + size]}))
        at += size
    ds = ray.data.from_blocks(blocks)
    if use_device_decode(options.decode, pools):  # CPU tasks only read the files; the detector decodes
        log.info("photos are decoded on the detector's device (torchvision decode_jpeg)")
        ds = ds.map_batches(read_batch, batch_size=pools["detect"].batch_size, batch_format="numpy",
                            num_cpus=DECODE_CPUS)
    else:
        ds = ds.map_batches(decode_batch, fn_kwargs={"size": options.imgsz}, batch_size=pools["detect"].batch_size,
                            batch_format="numpy", num_cpus=DECODE_CPUS)
    detect_kwargs = {"weights": detector, "conf": options.conf, "imgsz": options.imgsz}
    if pools["describe"] is None:  # CPU: each actor detects and describes its batch
        log.info("pools: %s, each holding the detector and the crop models", pools["detect"])
        return ds.map_batches(InferStage, fn_constructor_kwargs={**detect_kwargs, "classifier": classifier,
                                                                 "embedder": embedder,
                                                                 "threads": pools["detect"].threads,
                                                                 "lanes": pools["detect"].lanes},
                              batch_format="numpy", **pools["detect"].map_kwargs())
    log.info("pools: detect %s, crop models %s", pools["detect"], pools["describe"])
    ds = ds.map_batches(DetectStage, fn_constructor_kwargs={**detect_kwargs, "threads": pools["detect"].threads},
                        batch_format="numpy", **pools["detect"].map_kwargs())
    ds = ds.map_batches(DescribeStage, fn_constructor_kwargs={"classifier": classifier, "embedder": embedder,
                                                              "threads": pools["describe"].threads},
                        batch_format="numpy", **pools["describe"].map_kwargs())
    return ds


def batch_results(batch: dict[str, np.ndarray]) -> list[PhotoResult]:
    return list(batch["result"])


def process_pending(store: Store, options: PipelineOptions, *, image_ids: list[int] | None = None,
                    kind: str = "census", source: str | None = None) -> RunSummary:
    """Claim pending images (optionally only these ids) and run them through the pipeline."""
    import ray

    from cluster.runtime import plan_pools
    from models.describe import describe_detector, describe_embedder
    from models.weights import resolve_classifier, resolve_detector, resolve_embedder
    from pipelines.stages import ShippedWeights

    # weights first: a one-time build or download is not the run's time
    resolving = time.perf_counter()
    classifier_spec = resolve_classifier_spec(options.classifier, options.detector)
    det_path = model_versions.resolve(store, "detector", options.detector, resolve_detector)
    emb_path = model_versions.resolve(store, "embedder", options.embedder, resolve_embedder)
    cls_path = model_versions.resolve(store, "classifier", classifier_spec, resolve_classifier)
    if time.perf_counter() - resolving > 5:
        log.info("model weights ready in %.1f s (not counted in the run's time)", time.perf_counter() - resolving)
    started = time.perf_counter()
    recovered = store.recover_abandoned_runs()
    if recovered:
        log.warning("recovered %d images from an interrupted run; they will be processed now", recovered)
    detector, embedder = ShippedWeights.ship(det_path), ShippedWeights.ship(emb_path)
    classifier = ShippedWeights.ship(cls_path) if cls_path else None
    det_info = describe_detector(det_path, detector.sha256)
    if options.imgsz is None:  # every photo is letterboxed once, before detection, to what the detector expects
        options = replace(options, imgsz=det_info.imgsz)
    costs_key = stage_costs.key(detector.sha256, options.imgsz, classifier.sha256 if classifier else None,
                                embedder.sha256)
    costs = stage_costs.remembered(costs_key)  # what the last CPU run with these models measured
    pools = plan_pools(options.gpu_fraction, options.batch_size, imgsz=options.imgsz, costs=costs,
                       detect_gflops=det_info.gflops_at(options.imgsz))  # PlanError now, not a hang
    if costs and not pools["detect"].num_gpus:
        log.info("CPU pools sized from the last run's stage costs (%s)", stage_costs.describe(costs))
    elif not pools["detect"].num_gpus and options.batch_size is None and det_info.gflops:
        log.info("CPU batch sized from the detector's %.1f GFLOPs a photo at %d px (no run has timed it yet)",
                 det_info.gflops_at(options.imgsz), options.imgsz)
    # recorded with the run: re-ID reads only one dimension
    embedding_dim = describe_embedder(emb_path, embedder.sha256).dim
    det_version = _weights_version(det_path, detector.sha256)
    emb_version = _weights_version(emb_path, embedder.sha256)
    cls_version = _weights_version(cls_path, classifier.sha256) if classifier else ""
    if not classifier:
        log.warning("no crop classifier: the detector's labels stand (MegaDetector's 'animal' is an animal of "
                    "unknown species and is not counted as a deer); pass --classifier PATH to name species")
    run_id = store.start_run(kind, source=source, detector=options.detector, detector_version=det_version,
                             classifier=classifier_spec, classifier_version=cls_version or None,
                             embedder=options.embedder, embedder_version=emb_version, embedding_dim=embedding_dim,
                             settings={**asdict(options), "ray": ray.cluster_resources()})
    store.models.attach_to_run(run_id, {  # the registry's versions (first use registers them)
        "detector": model_versions.register_used(store, "detector", options.detector, det_path, detector.sha256),
        "embedder": model_versions.register_used(store, "embedder", options.embedder, emb_path, embedder.sha256),
        "classifier": model_versions.register_used(store, "classifier", classifier_spec, cls_path,
                                                   classifier.sha256) if classifier else None})
    summary = RunSummary(run_id, 0, 0, 0, 0, recovered, 0.0, det_version, cls_version, emb_version)
    sink = None
    try:
        states = ["pending"] + (["completed", "failed"] if options.reprocess else
                                ["failed"] if options.retry_failed else [])
        claimed = store.claim_pending(run_id, image_ids, states)
        summary.claimed = len(claimed)
        log.info("run %d: %d images to process (detector %s, classifier %s, embedder %s)",
                 run_id, len(claimed), det_version, cls_version or "none", emb_version)
        if claimed:
            ds = build_dataset(claimed, options, detector, classifier, embedder, pools)
            write = partial(store.write_results, run_id)
            # each block is written as it comes (the first result after the first block); blocks that
            # queue while a COPY runs go together, up to write_batch photos a transaction
            with BackgroundWriter(write, claimed=len(claimed), run_id=run_id, batch=options.write_batch,
                                  depth=max(4, options.write_batch // 8)) as sink:
                tally = stage_costs.Tally()
                for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                    tally.add(batch)
                    sink.put(batch_results(batch))
            summary.completed, summary.failed, summary.detections = sink.completed, sink.failed, sink.detections
            summary.first_result_seconds = sink.timeline[0][0] - started if sink.timeline else 0.0
            summary.steady_rate = sink.steady_rate()
            summary.write_seconds = sink.write_seconds
            if not pools["detect"].num_gpus and (measured := tally.costs()):
                summary.stage_costs = measured
                kept = tally.remember(costs_key)  # the next run's plan, from a run long enough to tell
                log.info("stage costs measured: %s%s", stage_costs.describe(measured),
                         "; the next run's CPU pools are sized from them" if kept else "")
            summary.stage_stats = ds.stats()
        if leftover := store.finish_run(run_id, "completed"):
            log.error("run %d: %d claimed images never came back from the pipeline; "
                      "they are pending again", run_id, leftover)
    except DatabaseUnavailable as e:  # nothing can be recorded now; the next run marks this one aborted
        raise DatabaseLost(run_id, sink.completed if sink else 0, e) from e
    except BaseException as e:  # KeyboardInterrupt too: record it, and free the claimed images
        store.finish_run(run_id, "failed", error=f"{type(e).__name__}: {e}")
        raise
    summary.seconds = time.perf_counter() - started
    return summary


def run_census(store: Store, photos_dir: Path | str, options: PipelineOptions) -> CensusReport:
    """Ingest the folder, process what is pending in it, and summarise it."""
    ingest = ingest_folder(store, photos_dir)  # a folder, or a URI (s3://, gs://...)
    run = process_pending(store, options, image_ids=ingest.image_ids, source=str(ingest.root))
    return CensusReport(
        ingest=ingest, run=run, status=store.status_counts(ingest.image_ids),
        by_location=store.census_by_location(ingest.image_ids),
        failures=store.failures(ingest.image_ids), others=store.others_seen(ingest.image_ids),
    )
