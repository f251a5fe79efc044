"""The detector: an Ultralytics YOLO model (MegaDetector, the seeds' deer YOLO, the demo)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

# Never let ultralytics reach for the network (hub, fonts, update checks): weights are local files here.
os.environ.setdefault("YOLO_OFFLINE", "1")
from ultralytics import YOLO  # noqa: E402

from models.classes import ClassMap  # noqa: E402
from models.types import Detection, Placement  # noqa: E402
from models.files import file_sha256  # noqa: E402
from models.settings import default  # noqa: E402


# A box this much inside a more confident one is a part of that animal (a head, a leg), not another
# animal: NMS at IoU 0.7 keeps such boxes, and each would be counted as a deer of its own.
CONTAINED = 0.8


def suppress_contained(dets: list[Detection], share: float = CONTAINED) -> list[Detection]:
    """Drop detections whose area lies `share` or more inside a more confident detection of the same
    observation type (a fawn beside a doe overlaps her box, it does not lie inside it)."""
    keep: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.confidence):
        x1, y1, x2, y2 = d.box
        area = max(1e-12, (x2 - x1) * (y2 - y1))
        if not any(k.observation_type == d.observation_type and
                   max(0.0, min(x2, k.box[2]) - max(x1, k.box[0])) * max(0.0, min(y2, k.box[3]) - max(y1, k.box[1]))
                   >= share * area for k in keep):
            keep.append(d)
    return keep


class Detector:
    """Finds animals, people and vehicles. Every class the weights know is detected and kept: what
    a label means (a species, or just 'animal' for MegaDetector) comes from the class map, and the
    crop classifier (models.classifier) names the species of an 'animal'."""

    def __init__(self, weights: str | Path, class_map: ClassMap | None = None, device: str = "cpu",
                 conf: float = default("conf"), imgsz: int | None = None, half: bool = False):
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
        self.meanings = {i: self.class_map.meaning(name) for i, name in self.labels.items()}
        self.contained = CONTAINED

    def detect(self, images: list[np.ndarray] | torch.Tensor,
               placements: list[Placement] | None = None) -> list[list[Detection]]:
        """What is in each image. Images are RGB uint8: a list of HxWx3 arrays (any sizes;
        ultralytics letterboxes them), or an (n, 3, H, W) tensor already letterboxed to H and W
        multiples of 32 (models.letterbox), on any device: it stays there. Boxes come back
        normalised to each photo: through its placement in the square when given, else to the
        image passed in."""
        if len(images) == 0:
            return []
        if isinstance(images, torch.Tensor):
            source = images.to(self.device)  # ultralytics takes tensors as RGB in 0-1, in the model's precision
            source = (source.half() if self.half else source.float()).div_(255)
        else:
            source = [np.ascontiguousarray(im[..., ::-1]) for im in images]  # it reads numpy arrays as BGR
        precision = {"half": True} if self.half else {}  # passing half=False trips a deprecation warning in 8.4
        results = self.model.predict(source, conf=self.conf, imgsz=self.imgsz, device=self.device,
                                     agnostic_nms=True, verbose=False, **precision)
        # every image's (x1, y1, x2, y2, conf, cls) rows to the host in one copy: on a GPU, a copy per
        # image would wait on the device once per photo
        counts = [len(res.boxes) for res in results]
        rows = torch.cat([res.boxes.data for res in results]).float().cpu().numpy()
        out, start = [], 0
        for k, n in enumerate(counts):
            if placements is not None:
                to_photo = placements[k].to_photo
            else:
                h, w = (images.shape[2], images.shape[3]) if isinstance(images, torch.Tensor) else images[k].shape[:2]
                to_photo = Placement(1.0, 0, 0, w, h).to_photo
            dets = []
            for x1, y1, x2, y2, c, cls in rows[start:start + n].tolist():
                m = self.meanings[int(cls)]
                dets.append(Detection(box=to_photo((x1, y1, x2, y2)), confidence=c, label=m.label,
                                      observation_type=m.species.observation_type, species=m.species.key,
                                      deer_class=m.deer_class, sex=m.sex, age_class=m.age_class,
                                      detector_version=self.version))
            out.append(suppress_contained(dets, self.contained))
            start += n
        return out
