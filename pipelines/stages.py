"""The Ray Data stages of the census pipeline: decode (CPU tasks), detect and embed (actor pools
that hold their model once). Rows stay one per image so an image's detections travel, and are
written, together; per-image lists ride as JSON / raw bytes to keep Arrow types simple."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cluster.metrics import record_stage

log = logging.getLogger(__name__)

PAD_VALUE = 114  # ultralytics' letterbox grey


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
        from models.weights import cache_dir

        target = cache_dir() / "shipped" / self.sha256[:16] / self.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".{id(self)}.part")
            tmp.write_bytes(ray.get(self.ref))
            tmp.replace(target)
        return target


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
def letterbox(data: bytes, size: int) -> tuple[np.ndarray, float, int, int, int, int]:
    """Decode and fit into a size x size canvas. JPEG draft mode decodes at reduced scale,
    several times faster than a full decode of a 1080p photo."""
    with Image.open(io.BytesIO(data)) as im:
        width, height = im.size
        im.draft("RGB", (size, size))
        im = im.convert("RGB")
        scale = size / max(width, height)
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        im = im.resize((w, h), Image.BILINEAR)
        canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
        px, py = (size - w) // 2, (size - h) // 2
        canvas[py:py + h, px:px + w] = np.asarray(im)
    return canvas, scale, px, py, width, height


def decode_batch(batch: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
    """CPU stage. A corrupt or truncated photo gets its error text and an empty canvas: it fails
    alone, the batch goes on."""
    started, n = time.perf_counter(), len(batch["image_id"])
    out = {
        "image_id": batch["image_id"],
        "pixels": np.full((n, size, size, 3), PAD_VALUE, np.uint8),
        "scale": np.zeros(n, np.float32), "pad_x": np.zeros(n, np.int32), "pad_y": np.zeros(n, np.int32),
        "width": np.zeros(n, np.int32), "height": np.zeros(n, np.int32),
        "error": np.array([""] * n, dtype=object),
    }
    for i, path in enumerate(batch["path"]):
        try:
            (out["pixels"][i], out["scale"][i], out["pad_x"][i], out["pad_y"][i],
             out["width"][i], out["height"][i]) = letterbox(_read_bytes(str(path)), size)
        except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, DecompressionBombError...
            out["error"][i] = f"cannot decode image: {type(e).__name__}: {e}"
    record_stage("decode", time.perf_counter() - started, n, int(sum(1 for e in out["error"] if e)))
    return out


# ---- detect ---------------------------------------------------------------------------------
class DetectStage:
    """Actor: holds one detector; batch-predicts, maps boxes back to the original photo, crops."""

    def __init__(self, weights: ShippedWeights, conf: float, imgsz: int, crop_size: int):
        import torch

        from models.detector import Detector

        device, half = _device()
        if device == "cpu":
            torch.set_num_threads(1)  # one actor per CPU: oversubscribing threads only thrashes
        self.detector = Detector(weights.local_path(), device=device, conf=conf, imgsz=imgsz, half=half)
        self.crop_size = crop_size
        log.info("detector %s on %s", self.detector.version, device)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        started, n = time.perf_counter(), len(batch["image_id"])
        ok = [i for i in range(n) if not batch["error"][i]]
        dets_json = np.array(["[]"] * n, dtype=object)
        crops = np.array([b""] * n, dtype=object)
        errors = batch["error"].copy()
        try:
            found = self.detector.detect([batch["pixels"][i] for i in ok]) if ok else []
        except Exception as e:  # a model failure fails these images, visibly, not the whole run
            log.exception("detection failed on a batch of %d", len(ok))
            for i in ok:
                errors[i] = f"detection failed: {type(e).__name__}: {e}"
            record_stage("detect", 0.0, 0, failures=len(ok))
            found, ok = [], []
        for i, dets in zip(ok, found):
            s, px, py = float(batch["scale"][i]), int(batch["pad_x"][i]), int(batch["pad_y"][i])
            w, h = int(batch["width"][i]), int(batch["height"][i])
            rows, pieces = [], []
            for d in dets:
                x1, y1, x2, y2 = d.box
                norm = [min(max((x1 - px) / (s * w), 0.0), 1.0), min(max((y1 - py) / (s * h), 0.0), 1.0),
                        min(max((x2 - px) / (s * w), 0.0), 1.0), min(max((y2 - py) / (s * h), 0.0), 1.0)]
                rows.append([*norm, d.confidence, d.label, d.deer_class, d.sex, d.age_class])
                pieces.append(self._crop(batch["pixels"][i], d.box))
            dets_json[i] = json.dumps(rows)
            crops[i] = b"".join(pieces)
        record_stage("detect", time.perf_counter() - started, n)
        return {"image_id": batch["image_id"], "width": batch["width"], "height": batch["height"],
                "error": errors, "dets": dets_json, "crops": crops}

    def _crop(self, pixels: np.ndarray, box) -> bytes:
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        x1, y1 = max(x1, 0), max(y1, 0)
        x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
        piece = Image.fromarray(pixels[y1:y2, x1:x2]).resize((self.crop_size, self.crop_size), Image.BILINEAR)
        return np.asarray(piece, np.uint8).tobytes()


# ---- embed ----------------------------------------------------------------------------------
class EmbedStage:
    """Actor: holds one embedder; embeds every crop of the batch in one forward pass."""

    def __init__(self, weights: ShippedWeights, crop_size: int):
        import torch

        from models.embedder import Embedder

        device, half = _device()
        if device == "cpu":
            torch.set_num_threads(1)
        self.embedder = Embedder(weights.local_path(), device=device, half=half)
        self.crop_size = crop_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        started, s = time.perf_counter(), self.crop_size
        per_image = [np.frombuffer(c, np.uint8).reshape(-1, s, s, 3) for c in batch["crops"]]
        counts = [len(c) for c in per_image]
        flat = [c for crops in per_image for c in crops]
        vectors = self.embedder.embed(flat) if flat else np.zeros((0, self.embedder.dim), np.float32)
        split = np.split(vectors.astype(np.float32), np.cumsum(counts)[:-1])
        record_stage("embed", time.perf_counter() - started, len(counts))
        return {"image_id": batch["image_id"], "width": batch["width"], "height": batch["height"],
                "error": batch["error"], "dets": batch["dets"],
                "embeddings": np.array([v.tobytes() for v in split], dtype=object),
                "dim": np.full(len(counts), self.embedder.dim, np.int32)}
