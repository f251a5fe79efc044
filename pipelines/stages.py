"""The Ray Data stages of the census pipeline: decode (CPU tasks), detect, and describe (classify
and embed crops), the last two actor pools that hold the inference core's models once
(models.inference). They are thin adapters: numpy batches in and out, every model call and every
`Detection` made by the core. Rows stay one per image, each carrying its `PhotoResult`, so an
image's detections travel, and are written, together."""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cluster.metrics import record_stage
from models.letterbox import PAD_VALUE, letterbox, letterbox_batch, stack
from models.types import PhotoResult

log = logging.getLogger(__name__)


# ---- weights travel with the job, so worker nodes need no copy of the driver's files --------
@dataclass(frozen=True)
class ShippedWeights:
    name: str
    sha256: str
    ref: object  # ray.ObjectRef of the file's bytes

    @classmethod
    def ship(cls, path: Path) -> "ShippedWeights":
        import ray

        data = Path(path).read_bytes()
        return cls(Path(path).name, hashlib.sha256(data).hexdigest(), ray.put(data))

    def local_path(self) -> Path:
        """The weights on this node: the driver's file if it is here, else written once to cache."""
        import ray
        from models.files import atomic_write, cache_dir

        target = cache_dir() / "shipped" / self.sha256[:16] / self.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(target) as tmp:
                tmp.write_bytes(ray.get(self.ref))
        return target


def _cpu_share(since: float, n: int, clock=time.process_time) -> np.ndarray:
    """Each of n rows' share of the CPU-seconds spent since `since` on `clock` (waiting for a core
    under contention costs nothing)."""
    return np.full(n, (clock() - since) / max(1, n))


def _model_clock():
    """The CPU clock for a model stage's cost: the process's (every thread: torch's own threads
    when it has more than one), or with one torch thread this thread's, where torch then runs its
    ops: lanes of an actor run side by side, and each must count only its own time."""
    import torch

    return time.thread_time if torch.get_num_threads() == 1 else time.process_time


def _worker_logging() -> None:
    """A Ray worker's root logger has no handler, so this module's INFO lines (each model's start-up)
    would go nowhere: send them to stderr, which Ray shows in the driver's output."""
    if not logging.getLogger().handlers and not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


def _process_age() -> float:
    """Seconds since this worker process started (start-up logs: the process, then the models)."""
    import psutil

    return time.time() - psutil.Process().create_time()


def _device() -> tuple[str, bool]:
    """CUDA when Ray gave this actor a GPU (it sets CUDA_VISIBLE_DEVICES), with half precision."""
    import torch

    return ("cuda:0", True) if torch.cuda.is_available() else ("cpu", False)


def _read_bytes(path: str) -> bytes:
    if "://" in path:  # s3://, gs://: pyarrow filesystems, as Ray Data itself uses
        import pyarrow.fs

        fs, inner = pyarrow.fs.FileSystem.from_uri(path)
        with fs.open_input_stream(inner) as f:
            return f.read()
    with open(path, "rb") as f:
        return f.read()


# ---- decode ---------------------------------------------------------------------------------
def decode_batch(batch: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
    """CPU stage: each photo read once and letterboxed (EXIF orientation applied) onto the batch's
    shared canvas; its bytes go on with it for the crops. A corrupt or truncated photo gets its
    error text and an empty frame: it fails alone, the batch goes on."""
    started, cpu, n = time.perf_counter(), time.process_time(), len(batch["image_id"])
    data = np.array([b""] * n, dtype=object)
    errors = np.array([""] * n, dtype=object)
    frames, placed = [None] * n, [None] * n
    for i, path in enumerate(batch["path"]):
        try:
            data[i] = _read_bytes(str(path))
            frames[i], placed[i] = letterbox(data[i], size)
        except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, DecompressionBombError...
            errors[i] = f"cannot decode image: {type(e).__name__}: {e}"
    pixels, placed = stack(frames, placed, size)
    placement = np.empty(n, dtype=object)
    placement[:] = placed
    record_stage("decode", time.perf_counter() - started, n, int(sum(1 for e in errors if e)))
    return {"image_id": batch["image_id"], "data": data, "pixels": pixels, "placement": placement,
            "error": errors, "cost_decode": _cpu_share(cpu, n)}


def read_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """CPU stage when the detector decodes on its own device: only the file's bytes travel (a
    third of a decoded 640 px square), so the GPU, not the CPUs, sets the pace."""
    started, cpu, n = time.perf_counter(), time.process_time(), len(batch["image_id"])
    data, errors = np.array([b""] * n, dtype=object), np.array([""] * n, dtype=object)
    for i, path in enumerate(batch["path"]):
        try:
            data[i] = _read_bytes(str(path))
        except OSError as e:
            errors[i] = f"cannot read image: {type(e).__name__}: {e}"
    record_stage("read", time.perf_counter() - started, n, int(sum(1 for e in errors if e)))
    return {"image_id": batch["image_id"], "data": data, "error": errors, "cost_decode": _cpu_share(cpu, n)}


def decode_on_device(batch: dict[str, np.ndarray], size: int, device: str) -> dict[str, np.ndarray]:
    """The decode stage's columns from encoded photos, decoded on `device` (models.letterbox);
    `pixels` is then a (n, 3, H, W) uint8 tensor on that device (the batch's shared canvas)."""
    n = len(batch["image_id"])
    readable = [i for i in range(n) if not batch["error"][i]]
    canvas, placed, errors = letterbox_batch([batch["data"][i] for i in readable], size, device)
    out = {"image_id": batch["image_id"], "data": batch["data"], "error": batch["error"].copy(),
           "placement": np.array([None] * n, dtype=object)}
    pixels = canvas.new_full((n, *canvas.shape[1:]), PAD_VALUE)
    pixels[readable] = canvas
    out["pixels"] = pixels
    for i, at, error in zip(readable, placed, errors):
        if at is None:
            out["error"][i] = error
        out["placement"][i] = at
    return out


# ---- detect ---------------------------------------------------------------------------------
class DetectStage:
    """Actor: holds the detector; batch-predicts; each row leaves with its PhotoResult (boxes in
    photo coordinates) and, if it has animals to classify or embed, its bytes for the crops."""

    def __init__(self, weights: ShippedWeights, conf: float, imgsz: int, threads: int = 1):
        started = time.perf_counter()
        _worker_logging()
        import torch

        from models.detector import Detector

        device, half = _device()
        if device == "cpu":
            torch.set_num_threads(threads)  # cluster.runtime.plan_pools: one a lane on CPU
        self.detector = Detector(weights.local_path(), device=device, conf=conf, imgsz=imgsz, half=half)
        self._clock = _model_clock()
        log.info("detector %s on %s ready in %.1f s (process up %.1f s before)", self.detector.version, device,
                 time.perf_counter() - started, _process_age() - (time.perf_counter() - started))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["image_id"])
        cost_decode = batch.get("cost_decode", np.zeros(n))
        if "pixels" not in batch:  # still encoded (read_batch): decode on this actor's device first
            started, cpu = time.perf_counter(), self._clock()
            batch = decode_on_device(batch, self.detector.imgsz, self.detector.device)
            record_stage("decode", time.perf_counter() - started, n, int(sum(1 for e in batch["error"] if e)))
            cost_decode = cost_decode + _cpu_share(cpu, n, self._clock)
        started, cpu = time.perf_counter(), self._clock()
        ok = [i for i in range(n) if not batch["error"][i]]
        results = np.array([PhotoResult(int(batch["image_id"][i]), error=str(batch["error"][i]) or None)
                            for i in range(n)], dtype=object)
        pixels = batch["pixels"]
        on_device = not isinstance(pixels, np.ndarray)  # a tensor from decode_on_device
        placements = [batch["placement"][i] for i in ok]
        try:
            found = self.detector.detect(pixels[ok] if on_device else [pixels[i] for i in ok], placements) if ok else []
        except Exception as e:  # a model failure fails these images, visibly, not the whole run
            log.exception("detection failed on a batch of %d", len(ok))
            for i in ok:
                results[i].error = f"detection failed: {type(e).__name__}: {e}"
            record_stage("detect", 0.0, 0, failures=len(ok))
            found, ok = [], []
        data = np.array([b""] * n, dtype=object)
        for i, at, dets in zip(ok, placements, found):
            results[i].width, results[i].height, results[i].detections = at.width, at.height, dets
            if dets:  # only photos with something to crop carry their bytes on
                data[i] = batch["data"][i]
        record_stage("detect", time.perf_counter() - started, n)
        return {"image_id": batch["image_id"], "result": results, "data": data, "cost_decode": cost_decode,
                "cost_detect": _cpu_share(cpu, n, self._clock)}


# ---- classify and embed ---------------------------------------------------------------------
class DescribeStage:
    """Actor: holds the crop classifier and the embedder; cuts every animal's crop from its photo
    and runs each model once over the batch's crops (models.inference.CropModels)."""

    def __init__(self, classifier: ShippedWeights | None, embedder: ShippedWeights | None, threads: int = 1):
        started = time.perf_counter()
        _worker_logging()
        import torch

        from models.classifier import Classifier
        from models.embedder import Embedder
        from models.inference import CropModels

        device, half = _device()
        if device == "cpu":
            torch.set_num_threads(threads)
        self.models = CropModels(
            Classifier(classifier.local_path(), device=device, half=half) if classifier else None,
            Embedder(embedder.local_path(), device=device, half=half) if embedder else None)
        self._clock = _model_clock()
        log.info("crop models on %s ready in %.1f s (process up %.1f s before)", device,
                 time.perf_counter() - started, _process_age() - (time.perf_counter() - started))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        started, cpu, n = time.perf_counter(), self._clock(), len(batch["image_id"])
        results = batch["result"]
        todo = [i for i in range(n) if results[i].detections and not results[i].error]
        try:
            described = self.models.describe_many([batch["data"][i] for i in todo],
                                                  [results[i].detections for i in todo])
            for i, dets in zip(todo, described):
                results[i].detections = dets
        except Exception as e:  # e.g. a photo that decoded for the detector but not at crop scale
            log.exception("classify/embed failed on a batch of %d", len(todo))
            for i in todo:
                results[i].error = f"classify/embed failed: {type(e).__name__}: {e}"
        record_stage("embed", time.perf_counter() - started, n)
        return {"image_id": batch["image_id"], "result": results, "cost_decode": batch.get("cost_decode", np.zeros(n)),
                "cost_detect": batch.get("cost_detect", np.zeros(n)), "cost_describe": _cpu_share(cpu, n, self._clock)}


# ---- both in one actor (CPU) ------------------------------------------------------------------
class InferStage:
    """Actor for CPU clusters: holds the detector and the crop models and takes each batch through
    both (cluster.runtime.plan_pools fuses them there), so a photo's bytes stay in this process.
    With `lanes` > 1 Ray Data runs that many calls at once on threads of this actor: each call
    takes a free lane (its own detector and crop models: an Ultralytics predictor is not to be
    shared between threads) and runs on one torch thread, which torch then runs on the calling
    thread; the GIL is let go inside torch's ops and Pillow's decoding, so lanes run side by side.
    The first lane's detector loads before the actor takes work and its crop models on a thread
    behind it, so the first batch's detection (torch ops, which let the GIL go) runs while they
    load; that batch's classify and embed wait for them. The other lanes load once the first batch
    is through (or after LANE_WAIT_S without one): loading beside the first batch held the GIL and
    a core from it, and the first batch written is the run's start-up (1.5 s for a first YOLOv8n
    batch of 8 at 640 alone on this lane, 2.9 s with the second lane loading beside it, on 2 cores)."""

    LANE_WAIT_S = 2.0

    def __init__(self, weights: ShippedWeights, conf: float, imgsz: int, classifier: ShippedWeights | None,
                 embedder: ShippedWeights | None, threads: int = 1, lanes: int = 1):
        import queue
        import threading
        from concurrent.futures import Future

        self.threads = threads
        self._lanes: queue.SimpleQueue = queue.SimpleQueue()

        def lane():
            return DetectStage(weights, conf, imgsz, threads), DescribeStage(classifier, embedder, threads)

        # the first lane before any batch comes: its detector now, its crop models behind it
        self._first_crops: Future = Future()

        def first_crops():
            try:
                self._first_crops.set_result(DescribeStage(classifier, embedder, threads))
            except BaseException as e:  # said by the first call that needs them, as __init__ would have
                self._first_crops.set_exception(e)

        self._lanes.put((DetectStage(weights, conf, imgsz, threads), self._first_crops))
        threading.Thread(target=first_crops, name="thumper-crop-models", daemon=True).start()
        self.lanes_loaded = 1  # how many lanes take work (the first's crop models may still be loading)
        self._first_through = threading.Event()
        if lanes > 1:
            threading.Thread(target=self._more_lanes, args=(lane, lanes - 1), name="thumper-lanes", daemon=True).start()

    def _more_lanes(self, lane, n: int) -> None:
        from concurrent.futures import wait

        wait([self._first_crops])  # not beside the first lane's crop models, which the first batch waits for
        self._first_through.wait(self.LANE_WAIT_S)
        for _ in range(n):
            try:
                self._lanes.put(lane())
                self.lanes_loaded += 1
            except Exception:  # the first lane loaded the same files: this is rare, and not fatal
                log.exception("a further lane of models did not load; this actor goes on with fewer")
                return

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        if torch.get_num_threads() != self.threads:  # per thread in OpenMP: Ray's call threads start at its default
            torch.set_num_threads(self.threads)
        lane = self._lanes.get()
        try:
            detect, describe = lane
            found = detect(batch)
            if describe is self._first_crops:  # the first lane's first batches: its crop models may still load
                describe = describe.result()  # raises what their loading raised
                lane = detect, describe
            return describe(found)
        finally:
            self._lanes.put(lane)
            self._first_through.set()
