"""Appearance embeddings of deer crops, for re-identifying individuals across photos."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image

from models.files import file_sha256, is_torchscript


def build_backbone(arch: str, dim: int) -> torch.nn.Module:
    """A model (random init, nothing downloaded) whose classifier is a linear projection to `dim`:
    a torchvision architecture name, or 'timm/NAME' for a timm one (MegaDescriptor is a timm Swin)."""
    if arch.startswith("timm/"):
        import timm

        return timm.create_model(arch.removeprefix("timm/"), pretrained=False, num_classes=dim)
    model = torchvision.models.get_model(arch, weights=None)
    if isinstance(getattr(model, "fc", None), torch.nn.Linear):  # resnet, regnet, ...
        model.fc = torch.nn.Linear(model.fc.in_features, dim)
    elif isinstance(getattr(model, "classifier", None), torch.nn.Module):  # mobilenet, efficientnet, convnext, ...
        heads = model.classifier if isinstance(model.classifier, torch.nn.Sequential) else [model.classifier]
        first = next(m for m in heads if isinstance(m, torch.nn.Linear))
        if isinstance(model.classifier, torch.nn.Sequential) and not isinstance(model.classifier[0], torch.nn.Linear):
            # keep what comes before the first Linear (e.g. convnext's LayerNorm + Flatten)
            keep = list(model.classifier)[: list(model.classifier).index(first)]
            model.classifier = torch.nn.Sequential(*keep, torch.nn.Linear(first.in_features, dim))
        else:
            model.classifier = torch.nn.Linear(first.in_features, dim)
    else:
        raise ValueError(f"don't know how to replace the classifier of {arch!r}")
    return model


class Embedder:
    def __init__(self, weights: str | Path, device: str = "cpu", half: bool = False):
        path = Path(weights)
        self.name = path.stem
        self.version = f"{self.name}@{file_sha256(path)[:12]}"
        self.device = torch.device(device)
        self.half = half and self.device.type == "cuda"  # fp16 convs are slow or unsupported on CPU
        if is_torchscript(path):  # metadata travels as an extra file inside the archive
            extra = {"meta.json": ""}
            model = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
            meta = json.loads(extra["meta.json"] or "{}")
        else:
            meta = torch.load(path, map_location="cpu", weights_only=True)
            model = build_backbone(meta["arch"], int(meta["dim"]))
            model.load_state_dict(meta["state_dict"])
        self.input_size = int(meta.get("input_size", 128))
        self.dim = int(meta.get("dim", 0)) or self._probe_dim(model)
        self.mean = torch.tensor(meta.get("mean", [0.485, 0.456, 0.406])).view(1, 3, 1, 1)
        self.std = torch.tensor(meta.get("std", [0.229, 0.224, 0.225])).view(1, 3, 1, 1)
        model = model.eval().to(self.device)
        self.model = model.half() if self.half else model

    def _probe_dim(self, model) -> int:
        with torch.inference_mode():
            return int(model.eval()(torch.zeros(1, 3, self.input_size, self.input_size)).shape[1])

    def preprocess(self, crops: list[np.ndarray]) -> torch.Tensor:
        """RGB uint8 crops of any size -> normalised (n, 3, input_size, input_size) float tensor."""
        size = (self.input_size, self.input_size)
        batch = np.stack([c if c.shape[:2] == size else np.asarray(Image.fromarray(c).convert("RGB").resize(size, Image.BILINEAR))
                          for c in crops])
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255)
        return (x - self.mean) / self.std

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised so a dot product is a cosine similarity."""
        if len(crops) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with torch.inference_mode():
            x = self.preprocess(crops).to(self.device)
            out = self.model(x.half() if self.half else x).float()
            out = torch.nn.functional.normalize(out, dim=1)
        return out.cpu().numpy().astype(np.float32)
