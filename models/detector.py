"""Deer detector: an Ultralytics YOLO model whose labels are mapped onto deer classes."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

# Never let ultralytics reach for the network (hub, fonts, update checks): weights are local files here.
os.environ.setdefault("YOLO_OFFLINE", "1")
from ultralytics import YOLO  # noqa: E402

from models.classes import ClassMap  # noqa: E402
from models.types import Detection  # noqa: E402
from models.weights import file_sha256, resolve_detector  # noqa: E402


class Detector:
    def __init__(self, weights: str | Path, class_map: ClassMap | None = None, device: str = "cpu",
                 conf: float = 0.25, imgsz: int | None = None, half: bool = False):
        path = Path(weights)
        self.name = path.stem
        self.version = f"{self.name}@{file_sha256(path)[:12]}"
        self.class_map = class_map or ClassMap.load()
        self.model = YOLO(str(path), task="detect")
        self.labels = dict(self.model.names)
        # None: the size the weights were trained at (kept in the checkpoint), which is where a detector works best
        self.imgsz = imgsz or int(self.model.overrides.get("imgsz") or 640)
        self.device, self.conf = device, conf
        self.half = half and device != "cpu"  # fp16 only helps (and only works well) on GPUs
        self._deer = {i: self.class_map.lookup(name) for i, name in self.labels.items()}
        # ask for deer classes only: a person never costs a slot in max_det nor suppresses a deer in NMS
        self._classes = [i for i, m in self._deer.items() if m is not None]

    def detect(self, images: list[np.ndarray] | torch.Tensor) -> list[list[Detection]]:
        """Deer in each image, boxes in that image's pixels. Images are RGB uint8: a list of HxWx3
        arrays (any sizes; ultralytics letterboxes them), or an (n, 3, H, W) tensor already
        letterboxed to H and W multiples of 32 (models.letterbox), on any device: it stays there."""
        if len(images) == 0:
            return []
        if not self._classes:
            return [[] for _ in images]
        if isinstance(images, torch.Tensor):
            source = images.to(self.device)  # ultralytics takes tensors as RGB in 0-1, in the model's precision
            source = (source.half() if self.half else source.float()).div_(255)
        else:
            source = [np.ascontiguousarray(im[..., ::-1]) for im in images]  # it reads numpy arrays as BGR
        precision = {"half": True} if self.half else {}  # passing half=False trips a deprecation warning in 8.4
        results = self.model.predict(source, conf=self.conf, imgsz=self.imgsz, device=self.device, classes=self._classes,
                                     agnostic_nms=True, verbose=False, **precision)
        # every image's (x1, y1, x2, y2, conf, cls) rows to the host in one copy: on a GPU, a copy per
        # image would wait on the device once per photo
        counts = [len(res.boxes) for res in results]
        rows = torch.cat([res.boxes.data for res in results]).float().cpu().numpy()
        out, start = [], 0
        for n in counts:
            dets = []
            for x1, y1, x2, y2, c, k in rows[start:start + n].tolist():
                if (deer := self._deer.get(int(k))) is not None:
                    dets.append(Detection(box=(x1, y1, x2, y2), confidence=c, label=self.labels[int(k)], **deer))
            out.append(dets)
            start += n
        return out


def load_detector(spec: str, **kw) -> Detector:
    return Detector(resolve_detector(spec), **kw)
