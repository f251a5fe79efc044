"""What the driver must know of a weights file before any worker loads it: the detector's input
size and the embedder's vector size.

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


def _remembered(kind: str, path: Path, load, sha: str | None) -> WeightsInfo:
    sha = sha or file_sha256(path)
    memo = cache_dir() / "described" / f"{kind}-{sha[:32]}.json"
    try:
        return WeightsInfo(**json.loads(memo.read_text()))
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
        from models.detector import Detector

        return {"imgsz": Detector(p).imgsz}

    return _remembered("detector", Path(path), load, sha256)


def describe_embedder(path: str | Path, sha256: str | None = None) -> WeightsInfo:
    def load(p: Path) -> dict:
        from models.embedder import Embedder

        return {"dim": Embedder(p).dim}

    return _remembered("embedder", Path(path), load, sha256)
