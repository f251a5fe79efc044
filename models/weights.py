"""Find model weights: local files, the project's demo weights, or known detectors cached once.

Nothing here downloads unless a registry name is asked for and the file is not cached yet.
"""
from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from models.files import atomic_write, file_sha256, weights_dir
from models.settings import settings

if TYPE_CHECKING:
    from models.classifier import Classifier
    from models.detector import Detector
    from models.embedder import Embedder


@dataclass(frozen=True)
class KnownWeights:
    filename: str
    url: str
    licence: str
    sha256: str | None  # None: no published checksum found; the download is then trusted as is
    description: str


# Real camera-trap detectors that load directly in ultralytics (classes: animal, person, vehicle).
# Source: Pytorch-Wildlife model zoo (microsoft/CameraTraps, docs/model_zoo/megadetector.md), Zenodo record 15398270.
# Microsoft publishes no sha256 for these files, so none is recorded (the MDV6-yolov10-c.pt md5 quoted by
# third parties is 1ecc38fbe462320ea33bf3c57e9e1561; unverified here, this machine has no internet).
KNOWN_DETECTORS: dict[str, KnownWeights] = {
    "megadetector-v6-c": KnownWeights(
        filename="MDV6-yolov9-c.pt",
        url="https://zenodo.org/records/15398270/files/MDV6-yolov9-c.pt?download=1",
        licence="AGPL-3.0",
        sha256=None,
        description="MegaDetector v6 compact (Ultralytics YOLOv9-c, 25.5M params, ~52 MB)",
    ),
    "megadetector-v6-c-yolov10": KnownWeights(
        filename="MDV6-yolov10-c.pt",
        url="https://zenodo.org/records/15398270/files/MDV6-yolov10-c.pt?download=1",
        licence="AGPL-3.0",
        sha256=None,
        description="MegaDetector v6 compact, YOLOv10-n based (2.3M params, ~6 MB, NMS-free)",
    ),
}


# Public crop classifiers, loaded through a timm manifest written beside the downloaded weights.
# DeepFaune-New-England: USGS / University of Vermont, CC0 1.0 (code.usgs.gov/vtcfwru/deepfaune-new-england);
# loader and labels as in Pytorch-Wildlife's DFNE class.
DFNE_LABELS = ["American Marten", "Bird sp.", "Black Bear", "Bobcat", "Coyote", "Domestic Cat", "Domestic Cow",
               "Domestic Dog", "Fisher", "Gray Fox", "Gray Squirrel", "Human", "Moose", "Mouse sp.", "Opossum",
               "Raccoon", "Red Fox", "Red Squirrel", "Skunk", "Snowshoe Hare", "White-tailed Deer", "Wild Boar",
               "Wild Turkey", "no-species"]
KNOWN_CLASSIFIERS: dict[str, KnownWeights] = {
    "deepfaune-new-england": KnownWeights(
        filename="dfne_weights_v1_0.pth",
        url="https://prod-is-usgs-sb-prod-publish.s3.amazonaws.com/67ae17fcd34e3f09c0e0f002/dfne_weights_v1_0.pth",
        licence="CC0-1.0",
        sha256=None,
        description="DeepFaune New England v1.0 (timm vit_large_patch14_dinov2, 24 classes incl. white-tailed deer; "
                    "species only, no sex or age)",
    ),
}
KNOWN_CLASSIFIER_MANIFESTS: dict[str, dict] = {
    "deepfaune-new-england": {"framework": "timm", "arch": "vit_large_patch14_dinov2.lvd142m",
                              "weights_key": "model_state_dict", "input_size": 182, "labels": DFNE_LABELS},
}


class WeightsNotFound(FileNotFoundError):
    """Weights that are neither a local file nor obtainable; the message says how to fix it."""


def _missing_known(name: str, known: KnownWeights, target: Path, reason: str,
                   kind: str = "detector") -> WeightsNotFound:
    return WeightsNotFound(
        f"{kind.capitalize()} weights {known.filename!r} ({name}: {known.description}, licence {known.licence}) "
        f"are not cached at {target} and could not be downloaded: {reason}.\n"
        f"Download it from {known.url} and save it as {target}, "
        f"or pass --{kind} PATH with the path of a local weights file."
    )


def _download(url: str, target: Path, sha256: str | None, timeout: float = 60) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target) as part:  # concurrent callers never share a part file; readers see all or nothing
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        if sha256 and (got := file_sha256(part)) != sha256:
            raise OSError(f"sha256 mismatch for {url}: expected {sha256}, got {got}")


def _file_or_demo(spec: str, kind: str) -> Path | None:
    """The file `spec` names, or for 'demo' the project's demo weights of this kind; else None."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if spec == "demo":
        from models.recipes import demo  # lazy: building demo weights pulls in the training recipes

        return getattr(demo, f"ensure_demo_{kind}")()
    return None


def resolve_detector(spec: str, download: bool = True) -> Path:
    """Path of detector weights for `spec`: a file path, 'demo', or a name in KNOWN_DETECTORS."""
    if (found := _file_or_demo(spec, "detector")) is not None:
        return found
    known = KNOWN_DETECTORS.get(spec)
    if known is None:
        raise WeightsNotFound(
            f"Detector {spec!r} is neither an existing file nor a known name "
            f"(known: demo, {', '.join(KNOWN_DETECTORS)}). Pass --detector PATH with the path of a local weights file."
        )
    return _fetch_known(spec, known, "detector", download)


def _fetch_known(spec: str, known: KnownWeights, kind: str, download: bool) -> Path:
    target = weights_dir() / known.filename
    if target.is_file():
        return target
    if not download or settings().offline:
        raise _missing_known(spec, known, target, "downloads are disabled", kind)
    try:
        _download(known.url, target, known.sha256)
    except Exception as e:  # any network/disk/checksum failure ends in the same actionable message
        raise _missing_known(spec, known, target, f"{type(e).__name__}: {e}", kind) from e
    return target


def resolve_classifier(spec: str, download: bool = True) -> Path:
    """Path of a crop classifier for `spec`: a file (Ultralytics -cls.pt, timm checkpoint or manifest,
    TorchScript), 'demo', or a name in KNOWN_CLASSIFIERS (its manifest is written beside the weights)."""
    if (found := _file_or_demo(spec, "classifier")) is not None:
        return found
    known = KNOWN_CLASSIFIERS.get(spec)
    if known is None:
        raise WeightsNotFound(
            f"Classifier {spec!r} is neither an existing file nor a known name "
            f"(known: demo, {', '.join(KNOWN_CLASSIFIERS)}). Pass --classifier PATH with a local weights file, "
            f"or --classifier none to keep the detector's own labels."
        )
    weights = _fetch_known(spec, known, "classifier", download)
    manifest = weights.with_name(f"{spec}.json")
    if not manifest.is_file():
        with atomic_write(manifest) as part:
            part.write_text(json.dumps({**KNOWN_CLASSIFIER_MANIFESTS[spec], "weights": weights.name}))
    return manifest


def resolve_embedder(spec: str) -> Path:
    """Path of embedder weights for `spec`: a file path or 'demo'."""
    if (found := _file_or_demo(spec, "embedder")) is not None:
        return found
    raise WeightsNotFound(
        f"Embedder {spec!r} is neither an existing file nor 'demo'. Pass --embedder PATH with the path of a local "
        f"checkpoint (torch.save dict or TorchScript), or 'demo' to build the project's own offline embedder."
    )


# ---- a spec straight to a loaded model (the model modules take paths only and know nothing of specs)
# lazy imports: resolving a path must not cost the driver the torch and ultralytics imports

def load_detector(spec: str, **kw) -> Detector:
    from models.detector import Detector

    return Detector(resolve_detector(spec), **kw)


def load_classifier(spec: str, **kw) -> Classifier:
    from models.classifier import Classifier

    return Classifier(resolve_classifier(spec), **kw)


def load_embedder(spec: str, **kw) -> Embedder:
    from models.embedder import Embedder

    return Embedder(resolve_embedder(spec), **kw)
