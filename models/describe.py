"""What the driver must know of a weights file before any worker loads it: the detector's input
size and compute (its GFLOPs, which size a CPU batch before any run has timed the detector), and
the embedder's vector size.

Loading a model to ask costs the driver the torch and ultralytics imports, seconds of every run's
start on a small machine, for two integers. The answer is remembered beside the weights cache,
keyed by the file's sha256, so only the first run that sees a file loads it (which also checks,
early and in the driver, that the file is a model at all).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from models.files import atomic_write, cache_dir, file_sha256


@dataclass(frozen=True)
class WeightsInfo:
    sha256: str
    imgsz: int = 0  # detector: the input size it was trained at
    dim: int = 0  # embedder: length of its vectors
    gflops: float = 0.0  # detector: GFLOPs of one image at imgsz (Ultralytics' count); 0 unknown

    def gflops_at(self, imgsz: int | None) -> float:
        """The detector's GFLOPs for one image at another input size (a conv net's scale with the
        pixels)."""
        return self.gflops * ((imgsz or self.imgsz) / self.imgsz) ** 2 if self.imgsz else 0.0


def _remembered(kind: str, path: Path, load, sha: str | None, fields: tuple[str, ...]) -> WeightsInfo:
    sha = sha or file_sha256(path)
    memo = cache_dir() / "described" / f"{kind}-{sha[:32]}.json"
    try:
        known = json.loads(memo.read_text())
        if all(f in known for f in fields):  # a memo from before a field was asked for is asked again
            return WeightsInfo(**known)
    except (OSError, ValueError, TypeError):  # not described yet, or an unreadable memo: ask the model
        pass
    info = WeightsInfo(sha256=sha, **load(path))
    memo.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(memo) as part:  # a concurrent run reads no memo or a whole one
        part.write_text(json.dumps(asdict(info)))
    return info


def describe_detector(path: str | Path, sha256: str | None = None) -> WeightsInfo:
    """sha256: the file's, when the caller has it already (it is read whole otherwise)."""

    def load(p: Path) -> dict:
        from ultralytics.utils.torch_utils import get_flops

        from models.detector import Detector

        detector = Detector(p)
        try:  # an exported format (ONNX, TensorRT) has no torch module to count: unknown, not an error
            gflops = round(float(get_flops(detector.model.model, detector.imgsz)), 3)
        except Exception:
            gflops = 0.0
        return {"imgsz": detector.imgsz, "gflops": gflops}

    return _remembered("detector", Path(path), load, sha256, ("imgsz", "gflops"))


def describe_embedder(path: str | Path, sha256: str | None = None) -> WeightsInfo:
    def load(p: Path) -> dict:
        from models.embedder import Embedder

        return {"dim": Embedder(p).dim}

    return _remembered("embedder", Path(path), load, sha256, ("dim",))
