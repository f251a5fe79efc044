"""Shared by the throughput benchmarks: the detector of a real architecture, each stage's cost
measured alone (what the pipeline's steady pace is held against), and memory sampled while a run
goes (what must not grow with the number of photos)."""
from __future__ import annotations

import threading
import time
from pathlib import Path

DETECTOR_ARCHS = ("demo", "yolov8n", "yolov9c")


def detector_for(arch: str, work: Path, imgsz: int | None) -> Path:
    """'demo': the project's demo detector; yolov8n / yolov9c: an untrained detector of that
    architecture (yolov9c is MegaDetector v6-c's shape, classes animal / person / vehicle), built
    from its Ultralytics YAML: its timings are real, its boxes are not."""
    from models.recipes.demo import ensure_demo_detector

    if arch == "demo":
        return ensure_demo_detector()
    from models.recipes.shapes import build_detector

    return build_detector(arch, work / f"md-shaped-{arch}.pt", imgsz=imgsz or 640)


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
    for paths in batches:
        torch.set_num_threads(1)
        t = time.perf_counter()
        out = decode_batch({"image_id": np.arange(len(paths)), "path": np.array([str(p) for p in paths])}, size=imgsz)
        spent["decode"] += time.perf_counter() - t
        torch.set_num_threads(threads)
        t = time.perf_counter()
        found = detector.detect([out["pixels"][i] for i in range(len(paths))], list(out["placement"]))
        spent["detect"] += time.perf_counter() - t
        torch.set_num_threads(1)
        t = time.perf_counter()
        crops.describe_many(list(out["data"]), found)
        spent["classify + embed"] += time.perf_counter() - t
    torch.set_num_threads(before)
    return {k: v / len(photos) for k, v in spent.items()}


def print_stage_limit(costs: dict[str, float], write_per_photo: float, steady: float) -> float:
    """Each stage's cost, the limit 1 / sum, and the steady pace against it; returns the ratio."""
    costs = {**costs, "write (the run's own COPYs)": write_per_photo}
    total = sum(costs.values())
    print("stage costs, each alone (ms per photo):  " + ", ".join(f"{k} {v * 1000:.1f}" for k, v in costs.items()))
    limit = 1 / total if total else 0.0
    print(f"sum-of-stage-costs limit:                         {limit:8.2f} images/s")
    ratio = steady / limit if limit else 0.0
    print(f"ratio steady pace / stage-cost limit:             {ratio:8.2f}")
    return ratio


class MemorySampler:
    """RSS of the driver and of the Ray worker processes on this node, every `interval` s, with the
    photos written so far (from `progress()`): whether anything grows with the photos."""

    def __init__(self, progress, interval: float = 2.0):
        import psutil

        self._psutil, self._progress, self._interval = psutil, progress, interval
        self.samples: list[tuple[float, int, float, float]] = []  # (t, photos, driver MB, workers MB)
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

    def _workers_mb(self) -> float:
        total = 0
        for p in self._raylet.children(recursive=True) if self._raylet else []:
            try:
                total += p.memory_info().rss
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                continue
        return total / 2**20

    def _sample(self) -> None:
        self.samples.append((time.perf_counter(), int(self._progress()), self._me.memory_info().rss / 2**20,
                             self._workers_mb()))

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
        return "memory as the run went: " + "; ".join(rows) + f" (driver peak {peak:.0f} MB)"
