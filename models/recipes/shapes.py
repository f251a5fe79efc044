"""Models built from their real architectures, untrained: honest for loading, shapes and timing,
never for accuracy. No weights can be downloaded on the project's machines, so tests and benchmarks
use these where a real model's size matters (a MegaDetector-v6-c-shaped YOLOv9-c is 12x the compute
of a YOLOv8n), and load them through the same code that takes real weights by path."""
from __future__ import annotations

import os
from pathlib import Path

from models.files import atomic_write

MEGADETECTOR_CLASSES = ["animal", "person", "vehicle"]
DETECTOR_ARCHS = {"yolov8n": "yolov8n.yaml", "yolov9c": "yolov9c.yaml", "yolov10n": "yolov10n.yaml"}


def build_detector(arch: str, out: Path, names: list[str] = MEGADETECTOR_CLASSES, imgsz: int = 640) -> Path:
    """An Ultralytics detection checkpoint of `arch` (yolov9c: MegaDetector v6-c's shape) with these
    class names, as `yolo detect train` would save it (fp16 model, train_args)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import torch
    from ultralytics.nn.tasks import DetectionModel

    model = DetectionModel(DETECTOR_ARCHS.get(arch, arch), nc=len(names), verbose=False)
    model.names = dict(enumerate(names))
    model.args = {"imgsz": imgsz, "task": "detect"}
    return _save({"model": model.half(), "train_args": {"imgsz": imgsz, "task": "detect"}, "date": "untrained"}, out)


def build_ultralytics_classifier(out: Path, names: list[str], arch: str = "yolov8n-cls.yaml", imgsz: int = 64) -> Path:
    """An Ultralytics classification checkpoint (what `yolo classify train` writes as best.pt)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics.nn.tasks import ClassificationModel

    model = ClassificationModel(arch, nc=len(names), verbose=False)
    model.names = dict(enumerate(names))
    model.args = {"imgsz": imgsz, "task": "classify"}
    return _save({"model": model.half(), "train_args": {"imgsz": imgsz, "task": "classify"}, "date": "untrained"}, out)


def build_timm_classifier(out: Path, names: list[str], arch: str = "resnet10t", input_size: int = 64) -> Path:
    """A timm checkpoint in the format models.classifier loads ({"framework": "timm", ...})."""
    import timm
    import torch

    model = timm.create_model(arch, pretrained=False, num_classes=len(names))
    torch.save({"framework": "timm", "arch": arch, "labels": list(names), "input_size": input_size,
                "state_dict": model.state_dict()}, out)
    return out


def _save(ckpt: dict, out: Path) -> Path:
    import torch

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as part:
        torch.save(ckpt, part)
    return out
