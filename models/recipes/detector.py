"""The demo detector's recipe: a YOLOv8n shaped like MegaDetector (classes animal, person,
vehicle), trained on synthetic scenes of deer, other animals, people and vehicles (run by
models.recipes.demo in a child process). Species, sex and age are the demo classifier's job.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from models.synthetic import DeerSpec, box_iou, place_group, random_subject, render_scene

DETECTOR_CLASSES = ["animal", "person", "vehicle"]  # MegaDetector's
AGES = ("young", "mid", "mature")


def detector_class(kind: str, age_class: str | None = None) -> str:
    """The demo detector's class for a synthetic subject of this kind."""
    return kind if kind in ("person", "vehicle") else "animal"


def classifier_label(kind: str, age_class: str | None) -> str:
    """The demo classifier's label for a synthetic subject (class_map.yaml says what each means)."""
    return f"buck_{age_class}" if kind == "buck" else kind


def random_deer(rng: np.random.Generator, prefix: str) -> DeerSpec:
    return random_subject(rng, prefix, others=0.0)


def random_scene(rng: np.random.Generator, size: tuple[int, int], prefix: str, max_deer: int = 3,
                 others: float = 0.3):
    """A scene of 0..max_deer never-seen subjects (deer, or with chance `others` each another animal,
    a person or a vehicle) at a never-seen camera."""
    n = int(rng.choice(np.arange(max_deer + 1), p=[0.06] + [0.94 / max_deer] * max_deer))
    specs = [random_subject(rng, prefix, others=others) for _ in range(n)]
    deer = list(zip(specs, place_group(rng, size, specs, scale_range=(0.1, 0.38))))
    return render_scene(rng, size, deer, background_seed=int(rng.integers(1 << 30)), night=bool(rng.random() < 0.25))


def write_yolo_dataset(root: Path, n_train: int, n_val: int, size: tuple[int, int], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img, truth = random_scene(rng, size, f"{split}{seed}")
            img.save(root / "images" / split / f"{i:05d}.jpg", quality=90)
            w, h = size
            lines = []
            for t in truth:
                x1, y1, x2, y2 = t["box"]
                k = DETECTOR_CLASSES.index(detector_class(t["kind"], t["age_class"]))
                lines.append(f"{k} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
            (root / "labels" / split / f"{i:05d}.txt").write_text("\n".join(lines))
    data = root / "data.yaml"
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(DETECTOR_CLASSES))
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    return data


def train_detector(out: Path, workdir: Path, n_train: int = 640, epochs: int = 24, imgsz: int = 160,
                   lr0: float = 0.003, batch: int = 8, workers: int = 1, seed: int = 0) -> dict:
    """Train yolov8n from its YAML (no pretrained weights exist offline) and copy the weights to `out`."""
    from ultralytics import YOLO, settings

    # no experiment trackers (ray tune is installed alongside) and no telemetry; child process, private config dir
    settings.update({"sync": False, "raytune": False, "mlflow": False, "comet": False, "clearml": False,
                     "dvc": False, "wandb": False, "tensorboard": False, "runs_dir": str(workdir / "runs")})
    start = time.time()
    data = write_yolo_dataset(workdir / "data", n_train, 16, (640, 360), seed)
    model = YOLO("yolov8n.yaml")
    # From scratch on CPU there is time for a few hundred steps only: a step per batch (nbs=batch), AdamW, the
    # shortest warmup ultralytics allows (100 iterations) and mild augmentation, since test scenes share the generator.
    model.train(data=str(data), epochs=epochs, imgsz=imgsz, batch=batch, nbs=batch, workers=workers, device="cpu",
                seed=seed, project=str(workdir / "runs"), name="demo", exist_ok=True, plots=False, amp=False,
                val=False, pretrained=False, optimizer="AdamW", lr0=lr0, lrf=0.1, warmup_epochs=1, mosaic=1.0,
                close_mosaic=3, scale=0.3, translate=0.1, cache="ram", verbose=False)
    calibrated = workdir / "calibrated.pt"  # ultralytics insists on a .pt suffix
    shutil.copyfile(model.trainer.last, calibrated)
    shift = calibrate_confidence(calibrated)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(calibrated, out)
    return {"train_seconds": round(time.time() - start, 1), "epochs": epochs, "n_train": n_train, "imgsz": imgsz,
            "confidence_logit_shift": round(shift, 3)}


def calibrate_confidence(weights: Path, n_scenes: int = 40, seed: int = 777, target: float = 0.25) -> float:
    """Shift the class logits so the best-F1 threshold on calibration scenes lands on the usual conf=0.25.

    A few hundred steps localise deer well but leave scores timid (the classes share the probability), so
    at 0.25 half the deer would be missed; one constant added to the class biases is a monotone recalibration.
    """
    import torch

    from models.detector import Detector

    detector = Detector(weights, conf=0.01)
    rng = np.random.default_rng(seed)
    scored = []  # (confidence, is a true positive)
    n_deer = 0
    scenes = [random_scene(rng, (960, 540), f"calib{seed}") for _ in range(n_scenes)]
    for (img, truth), dets in zip(scenes, detector.detect([np.asarray(img) for img, _ in scenes])):
        n_deer += len(truth)
        used = set()
        for d in sorted(dets, key=lambda d: -d.confidence):
            match = next((i for i, t in enumerate(truth)
                          if i not in used and box_iou(t["box"], d.xyxy(*img.size)) >= 0.5), None)
            used.add(match)
            scored.append((d.confidence, match is not None))
    scored.sort(reverse=True)
    tp = np.cumsum([hit for _, hit in scored])
    f1 = 2 * tp / (np.arange(1, len(scored) + 1) + n_deer)
    best = float(scored[int(f1.argmax())][0]) if scored else target
    shift = max(0.0, float(np.log(target / (1 - target)) - np.log(best / (1 - best))))
    ckpt = torch.load(weights, map_location="cpu", weights_only=False)
    for branch in ckpt["model"].model[-1].cv3:  # Detect head: the last conv of each class branch
        branch[-1].bias.data += shift
    ckpt["optimizer"] = None
    torch.save(ckpt, weights)
    return shift


def measure_recall(weights: Path, n_scenes: int = 60, seed: int = 12345, size=(960, 540), iou: float = 0.5) -> dict:
    """Recall of any subject (and of its exact class: animal / person / vehicle) at IoU >= iou on fresh
    scenes of never-seen subjects."""
    from models.detector import Detector

    detector = Detector(weights)
    rng = np.random.default_rng(seed)
    hits = class_hits = total = false_pos = 0
    for _ in range(n_scenes // 10):
        scenes = [random_scene(rng, size, f"eval{seed}") for _ in range(10)]
        found = detector.detect([np.asarray(img) for img, _ in scenes])
        for (img, truth), dets in zip(scenes, found):
            used = set()
            for t in truth:
                total += 1
                best = max(((box_iou(t["box"], d.xyxy(*img.size)), j) for j, d in enumerate(dets) if j not in used),
                           default=(0, -1))
                if best[0] >= iou:
                    used.add(best[1])
                    hits += 1
                    class_hits += dets[best[1]].label == detector_class(t["kind"], t["age_class"])
            false_pos += len(dets) - len(used)
    return {"recall": round(hits / max(1, total), 3), "class_accuracy": round(class_hits / max(1, hits), 3),
            "false_positives": false_pos, "subjects": total, "scenes": n_scenes}
