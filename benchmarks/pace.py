"""Shared by the throughput benchmarks: the detector of a real architecture, each stage's cost
measured alone (what the pipeline's steady pace is held against), and memory and GPU utilisation
sampled while a run goes (memory must not grow with the number of photos)."""
from __future__ import annotations

import threading
import time
from pathlib import Path

DETECTOR_ARCHS = ("demo", "yolov8n", "yolov9c")


def detector_for(arch: str, imgsz: int | None) -> Path:
    """'demo': the project's demo detector; yolov8n / yolov9c: an untrained detector of that
    architecture (yolov9c is MegaDetector v6-c's shape, classes animal / person / vehicle), built
    from its Ultralytics YAML once and kept in the cache: its timings are real, its boxes are not."""
    from models.recipes.demo import ensure_demo_detector

    if arch == "demo":
        return ensure_demo_detector()
    from models.files import cache_dir
    from models.recipes.shapes import build_detector

    # built once and kept (random weights: a new build is another file), so the next run with it
    # finds the stage costs this one measured, as a user's second run with their detector does
    kept = cache_dir() / "benchmark-detectors" / f"md-shaped-{arch}-{imgsz or 640}.pt"
    if not kept.exists():
        build_detector(arch, kept, imgsz=imgsz or 640)  # written whole or not at all
    return kept


def stage_costs(det: Path, classifier: Path | None, embedder: Path, photos: list[Path], imgsz: int,
                threads: int, conf: float, sample: int = 48, batch: int = 8) -> dict[str, float]:
    """Seconds per photo of each stage alone, in this process, over the first `sample` photos,
    with the threads the pipeline gives it: decode (one thread, as a decode task), detect (the
    detector actor's threads), classify + embed (one thread, as the crop-model actor). The sum is
    what one photo costs the machine when nothing overlaps: 1 / sum is the pace a pipeline on
    these cores should reach once it is up (a decode task can overlap the detector on a spare
    core, so it may beat it a little)."""
    import numpy as np
    import torch

    from models.classifier import Classifier
    from models.detector import Detector
    from models.embedder import Embedder
    from models.inference import CropModels
    from pipelines.stages import decode_batch

    photos = photos[:sample]
    batches = [photos[k:k + batch] for k in range(0, len(photos), batch)]
    detector = Detector(det, conf=conf, imgsz=imgsz)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    crops = CropModels(Classifier(classifier) if classifier else None, Embedder(embedder))
    warm = decode_batch({"image_id": np.arange(len(batches[0])), "path": np.array([str(p) for p in batches[0]])},
                        size=imgsz)
    torch.set_num_threads(threads)
    detector.detect([warm["pixels"][i] for i in range(len(batches[0]))], list(warm["placement"]))
    spent = {"decode": 0.0, "detect": 0.0, "classify + embed": 0.0}
    cpu = dict(spent)

    def timed(stage, fn):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        spent[stage] += time.perf_counter() - t
        cpu[stage] += time.process_time() - c
        return out

    for paths in batches:
        torch.set_num_threads(1)
        out = timed("decode", lambda: decode_batch({"image_id": np.arange(len(paths)),
                                                    "path": np.array([str(p) for p in paths])}, size=imgsz))
        torch.set_num_threads(threads)
        found = timed("detect", lambda: detector.detect([out["pixels"][i] for i in range(len(paths))],
                                                        list(out["placement"])))
        torch.set_num_threads(1)
        timed("classify + embed", lambda: crops.describe_many(list(out["data"]), found))
    torch.set_num_threads(before)
    STAGE_CPU.clear()
    STAGE_CPU.update({k: v / len(photos) for k, v in cpu.items()})
    return {k: v / len(photos) for k, v in spent.items()}


STAGE_CPU: dict[str, float] = {}  # CPU-seconds a photo of each stage, from the last stage_costs()


def print_stage_limit(costs: dict[str, float], write_per_photo: float, steady: float, cores: float = 0) -> float:
    """Each stage's cost alone, the limit 1 / sum (the stages one after another), and the steady
    pace against it; returns that ratio. With `cores`, also the limit of the stages' CPU time
    spread over the cores (cores / sum of CPU-seconds), which a pipeline that overlaps its stages
    on every core could reach."""
    costs = {**costs, "write (the run's own COPYs)": write_per_photo}
    total = sum(costs.values())
    print("stage costs, each alone (ms per photo):  " + ", ".join(f"{k} {v * 1000:.1f}" for k, v in costs.items()))
    limit = 1 / total if total else 0.0
    print(f"sum-of-stage-costs limit:                         {limit:8.2f} images/s")
    ratio = steady / limit if limit else 0.0
    print(f"ratio steady pace / stage-cost limit:             {ratio:8.2f}")
    if cores and STAGE_CPU:
        spent = sum(STAGE_CPU.values()) + write_per_photo
        print("stage CPU time, each alone (CPU-ms per photo): "
              + ", ".join(f"{k} {v * 1000:.1f}" for k, v in STAGE_CPU.items()) + f", write {write_per_photo * 1000:.1f}")
        print(f"all-cores limit ({cores:g} cores / CPU time):         {cores / spent:8.2f} images/s")
        print(f"ratio steady pace / all-cores limit:              {steady * spent / cores:8.2f}")
    return ratio


class GpuSampler:
    """Mean utilisation of every visible GPU while running (NVML: no CUDA context needed here)."""

    def __init__(self, interval: float = 0.2):
        self.samples: list[float] = []
        self._stop = threading.Event()
        try:
            import pynvml

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self._nvml = pynvml
        except Exception:  # no driver, no GPU: nothing to sample
            self._handles = []
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.samples += [self._nvml.nvmlDeviceGetUtilizationRates(h).gpu for h in self._handles]

    def __enter__(self):
        if self._handles:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()

    def mean(self) -> float | None:
        """Mean utilisation (%) over the samples, None without any."""
        return sum(self.samples) / len(self.samples) if self.samples else None

    def summary(self) -> str:
        if not self._handles:
            return "no GPU visible on the driver's node"
        if not self.samples:
            return f"{len(self._handles)} GPU(s), no samples"
        return f"{len(self._handles)} GPU(s), mean {self.mean():.0f}% over the run"


class MemorySampler:
    """Private memory (USS: shared object-store pages left out) of the driver and of this session's
    Ray processes on this node, every `interval` s, with the photos written so far (from
    `progress()`): whether anything grows with the photos, and which process."""

    def __init__(self, progress, interval: float = 2.0):
        import psutil

        self._psutil, self._progress, self._interval = psutil, progress, interval
        self.samples: list[tuple[float, int, float, float]] = []  # (t, photos, driver MB, workers MB)
        self.by_process: list[dict[str, float]] = []  # each sample's MB by "name pid"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _find_raylet(self):
        """This driver's raylet (every worker of the session is its child); None when joined to a
        cluster whose raylet is not on this machine."""
        import ray

        try:
            session = ray._private.worker._global_node.get_session_dir_path()
        except Exception:
            return None
        for p in self._psutil.process_iter(["cmdline"]):
            cmd = p.info["cmdline"] or []
            if cmd and cmd[0].endswith("raylet") and any(session in c for c in cmd):
                return p
        return None

    def _uss_mb(self, p) -> float:
        try:
            return p.memory_full_info().uss / 2**20
        except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
            return 0.0

    def _workers(self) -> dict[str, float]:
        out = {}
        for p in self._raylet.children(recursive=True) if self._raylet else []:
            try:
                name = p.name()
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                continue
            out[f"{name} {p.pid}"] = self._uss_mb(p)
        return out

    def _sample(self) -> None:
        workers = self._workers()
        self.by_process.append(workers)
        self.samples.append((time.perf_counter(), int(self._progress()), self._uss_mb(self._me),
                             sum(workers.values())))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self):
        self._me, self._raylet = self._psutil.Process(), self._find_raylet()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()  # the end of the run

    def report(self) -> str:
        """Memory at a quarter, half, three quarters and all of the photos written."""
        if not self.samples:
            return "memory: no samples"
        last = max(s[1] for s in self.samples) or 1
        rows = []
        for share in (0.25, 0.5, 0.75, 1.0):
            s = next((s for s in self.samples if s[1] >= share * last), self.samples[-1])
            rows.append(f"{s[1]} photos: driver {s[2]:.0f} MB, this session's Ray processes {s[3]:.0f} MB")
        peak = max(s[2] for s in self.samples)
        # who grew, from the quarter mark to the last sample while the actors were still up
        quarter = next(i for i, s in enumerate(self.samples) if s[1] >= 0.25 * last)
        live = [i for i, s in enumerate(self.samples) if i > quarter and self.by_process[i]]
        grew = ""
        if live:
            a, b = self.by_process[quarter], self.by_process[live[-2] if len(live) > 1 else live[-1]]
            # a process whose memory could not be read in a sample (0) is left out, not counted as growth
            top = sorted(((b[k] - a[k], k) for k in a.keys() & b.keys() if a[k] and b[k]), reverse=True)[:3]
            grew = "; grew most since a quarter: " + ", ".join(f"{k} {d:+.0f} MB" for d, k in top)
        return ("memory (USS) as the run went: " + "; ".join(rows) + f" (driver peak {peak:.0f} MB)" + grew)
