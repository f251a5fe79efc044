"""The Ray Data stages of the census pipeline: decode (CPU tasks), detect and embed (actor pools
that hold their model once). Rows stay one per image so an image's detections travel, and are
written, together; per-image lists ride as JSON / raw bytes to keep Arrow types simple."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cluster.metrics import record_stage
from models.letterbox import PAD_VALUE, letterbox, letterbox_batch

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


def read_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """CPU stage when the detector decodes on its own device: only the file's bytes travel (a
    third of a decoded 640 px square), so the GPU, not the CPUs, sets the pace."""
    started, n = time.perf_counter(), len(batch["image_id"])
    data, errors = np.array([b""] * n, dtype=object), np.array([""] * n, dtype=object)
    for i, path in enumerate(batch["path"]):
        try:
            data[i] = _read_bytes(str(path))
        except OSError as e:
            errors[i] = f"cannot read image: {type(e).__name__}: {e}"
    record_stage("read", time.perf_counter() - started, n, int(sum(1 for e in errors if e)))
    return {"image_id": batch["image_id"], "data": data, "error": errors}


def decode_on_device(batch: dict[str, np.ndarray], size: int, device: str) -> dict[str, np.ndarray]:
    """The decode stage's columns from encoded photos, decoded on `device` (models.letterbox);
    `pixels` is then a (n, 3, size, size) uint8 tensor on that device."""
    n = len(batch["image_id"])
    readable = [i for i in range(n) if not batch["error"][i]]
    canvas, placed, errors = letterbox_batch([batch["data"][i] for i in readable], size, device)
    out = {"image_id": batch["image_id"], "error": batch["error"].copy(),
           "scale": np.zeros(n, np.float32), "pad_x": np.zeros(n, np.int32), "pad_y": np.zeros(n, np.int32),
           "width": np.zeros(n, np.int32), "height": np.zeros(n, np.int32)}
    pixels = canvas.new_full((n, *canvas.shape[1:]), PAD_VALUE)
    pixels[readable] = canvas
    out["pixels"] = pixels
    for i, at, error in zip(readable, placed, errors):
        if at is None:
            out["error"][i] = error
            continue
        out["scale"][i], out["pad_x"][i], out["pad_y"][i] = at.scale, at.pad_x, at.pad_y
        out["width"][i], out["height"][i] = at.width, at.height
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
        n = len(batch["image_id"])
        if "data" in batch:  # still encoded (read_batch): decode on this actor's device first
            started = time.perf_counter()
            batch = decode_on_device(batch, self.detector.imgsz, self.detector.device)
            record_stage("decode", time.perf_counter() - started, n, int(sum(1 for e in batch["error"] if e)))
        started = time.perf_counter()
        ok = [i for i in range(n) if not batch["error"][i]]
        dets_json = np.array(["[]"] * n, dtype=object)
        crops = np.array([b""] * n, dtype=object)
        errors = batch["error"].copy()
        pixels = batch["pixels"]
        on_device = not isinstance(pixels, np.ndarray)  # a tensor from decode_on_device
        try:
            found = self.detector.detect(pixels[ok] if on_device else [pixels[i] for i in ok]) if ok else []
        except Exception as e:  # a model failure fails these images, visibly, not the whole run
            log.exception("detection failed on a batch of %d", len(ok))
            for i in ok:
                errors[i] = f"detection failed: {type(e).__name__}: {e}"
            record_stage("detect", 0.0, 0, failures=len(ok))
            found, ok = [], []
        if on_device:  # crops are cut on CPU, as on the CPU path: copy back only photos with deer
            with_deer = [i for i, dets in zip(ok, found) if dets]
            host = pixels[with_deer].permute(0, 2, 3, 1).cpu().numpy() if with_deer else []
            pixels = dict(zip(with_deer, host))
        for i, dets in zip(ok, found):
            s, px, py = float(batch["scale"][i]), int(batch["pad_x"][i]), int(batch["pad_y"][i])
            w, h = int(batch["width"][i]), int(batch["height"][i])
            rows, pieces = [], []
            for d in dets:
                x1, y1, x2, y2 = d.box
                norm = [min(max((x1 - px) / (s * w), 0.0), 1.0), min(max((y1 - py) / (s * h), 0.0), 1.0),
                        min(max((x2 - px) / (s * w), 0.0), 1.0), min(max((y2 - py) / (s * h), 0.0), 1.0)]
                rows.append([*norm, d.confidence, d.label, d.deer_class, d.sex, d.age_class])
                pieces.append(self._crop(pixels[i], d.box))
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
