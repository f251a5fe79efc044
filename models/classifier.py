"""The second model stage: a crop classifier that says the species of each animal the detector
found, and for deer doe / fawn / buck and buck age. Its labels mean what class_map.yaml says.

Loads, by path:
- Ultralytics classification weights (`*-cls.pt`, what `yolo classify train` writes);
- a timm checkpoint: a torch.save dict {"framework": "timm", "arch", "labels", "input_size",
  "state_dict"[, "mean", "std"]} (the demo classifier is one), or a manifest (.yaml / .json) that
  names a timm architecture, a state-dict or safetensors file beside it and the label list: the
  way published timm classifiers (DeepFaune, DeepFaune-New-England) ship;
- TorchScript with a `meta.json` extra file holding labels and input size.
Known public classifiers are registered by name in models/weights.py (KNOWN_CLASSIFIERS), which also
turns a name or "demo" into a path (resolve_classifier) or a loaded Classifier (load_classifier).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

from models.files import file_sha256, is_torchscript

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


class ClassifierLoadError(ValueError):
    """The file is not a classifier this project can load; the message says what it expected."""


def _read_manifest(path: Path) -> dict:
    doc = (json.loads if path.suffix == ".json" else yaml.safe_load)(path.read_text())
    if not isinstance(doc, dict) or not {"arch", "weights", "labels"} <= set(doc):
        raise ClassifierLoadError(f"classifier manifest {path} must give arch, weights and labels")
    return doc


def _load_state(path: Path, key: str | None) -> dict:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    if key:
        state = state[key]
    return state


def build_timm(arch: str, n_labels: int) -> torch.nn.Module:
    import timm

    return timm.create_model(arch, pretrained=False, num_classes=n_labels)


class Classifier:
    """classify(crops) -> (n, len(labels)) probabilities. Same lifecycle as the other wrappers:
    load once, then predict batches."""

    def __init__(self, weights: str | Path, device: str = "cpu", half: bool = False):
        path = Path(weights)
        self.name = path.stem
        self.version = f"{self.name}@{file_sha256(path)[:12]}"
        self.device = torch.device(device)
        self.half = half and self.device.type == "cuda"
        self.mean, self.std = IMAGENET_MEAN, IMAGENET_STD
        self._yolo = None
        if path.suffix in (".yaml", ".yml", ".json"):
            doc = _read_manifest(path)
            model = build_timm(doc["arch"], len(doc["labels"]))
            model.load_state_dict(_load_state(path.parent / doc["weights"], doc.get("weights_key")))
            self._set_meta(doc)
        elif is_torchscript(path):
            extra = {"meta.json": ""}
            model = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
            self._set_meta(json.loads(extra["meta.json"] or "{}"))
        else:
            ckpt = self._timm_checkpoint(path)
            if ckpt is not None:
                model = build_timm(ckpt["arch"], len(ckpt["labels"]))
                model.load_state_dict(ckpt["state_dict"])
                self._set_meta(ckpt)
            else:
                model = self._ultralytics(path)
        if self._yolo is None:
            model = model.eval().to(self.device)
            self.model = model.half() if self.half else model

    @staticmethod
    def _timm_checkpoint(path: Path) -> dict | None:
        try:  # weights_only: a plain dict of tensors and metadata; an Ultralytics file is pickled modules
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            return None
        return ckpt if isinstance(ckpt, dict) and ckpt.get("framework") == "timm" else None

    def _ultralytics(self, path: Path):
        os.environ.setdefault("YOLO_OFFLINE", "1")
        from ultralytics import YOLO

        try:
            yolo = YOLO(str(path))
        except Exception as e:
            raise ClassifierLoadError(
                f"{path} is not a classifier this project loads (Ultralytics *-cls.pt, a timm checkpoint or "
                f"manifest, or TorchScript): {type(e).__name__}: {e}") from None
        if yolo.task != "classify":
            raise ClassifierLoadError(f"{path} is an Ultralytics {yolo.task} model, not a classifier (*-cls.pt)")
        self._yolo = yolo
        self.labels = [yolo.names[i] for i in range(len(yolo.names))]
        self.input_size = int(yolo.overrides.get("imgsz") or 224)
        self.model = yolo

    def _set_meta(self, meta: dict) -> None:
        if not meta.get("labels"):
            raise ClassifierLoadError(f"classifier {self.name} has no label list")
        self.labels = list(meta["labels"])
        self.input_size = int(meta.get("input_size", 224))
        self.mean, self.std = meta.get("mean", IMAGENET_MEAN), meta.get("std", IMAGENET_STD)

    def preprocess(self, crops: list[np.ndarray]) -> torch.Tensor:
        size = (self.input_size, self.input_size)
        batch = np.stack([np.asarray(Image.fromarray(c).resize(size, Image.BILINEAR)) if c.shape[:2] != size[::-1]
                          else c for c in crops])
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255)
        return (x - torch.tensor(self.mean).view(1, 3, 1, 1)) / torch.tensor(self.std).view(1, 3, 1, 1)

    def classify(self, crops: list[np.ndarray]) -> np.ndarray:
        """RGB uint8 crops of any size -> (n, len(labels)) float32 probabilities."""
        if len(crops) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        if self._yolo is not None:  # it reads numpy arrays as BGR and does its own resize
            results = self._yolo.predict([np.ascontiguousarray(c[..., ::-1]) for c in crops], imgsz=self.input_size,
                                         device=str(self.device), verbose=False)
            return torch.stack([r.probs.data for r in results]).float().cpu().numpy()
        with torch.inference_mode():
            x = self.preprocess(crops).to(self.device)
            logits = self.model(x.half() if self.half else x).float()
            return torch.softmax(logits, dim=1).cpu().numpy()
