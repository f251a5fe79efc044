"""The inference core's result types, shared from the models to the store.

One `Detection` travels from the detector through the crop classifier and the embedder to the
database: each stage fills in what it knows, and the store writes it as it is. Boxes are in the
photo's own coordinates (as the viewer sees it, EXIF orientation applied), normalised to 0..1, as
MegaDetector's output format has them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Placement:
    """Where a photo sits in the detector's square: photo pixel = (square pixel - pad) / scale."""

    scale: float
    pad_x: int
    pad_y: int
    width: int  # the photo's own size, EXIF orientation applied
    height: int

    def to_photo(self, box) -> tuple[float, float, float, float]:
        """A box in square pixels -> normalised (0..1) photo coordinates, clipped to the photo."""
        x1, y1, x2, y2 = box
        sx, sy = self.scale * self.width, self.scale * self.height
        return (min(max((x1 - self.pad_x) / sx, 0.0), 1.0), min(max((y1 - self.pad_y) / sy, 0.0), 1.0),
                min(max((x2 - self.pad_x) / sx, 0.0), 1.0), min(max((y2 - self.pad_y) / sy, 0.0), 1.0))


@dataclass
class Detection:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2, normalised to the oriented photo
    confidence: float  # the detector's
    label: str  # the detector's raw class name
    observation_type: str = "animal"  # 'animal' | 'human' | 'vehicle' (Camtrap DP's observationType)
    species: str = "animal"  # class map key: 'deer', 'white_tailed_deer', 'cattle', 'human', 'animal' (unknown)...
    species_confidence: float | None = None
    deer_class: str | None = None  # 'doe' | 'fawn' | 'buck' | 'deer' (sex unknown); None: not a deer
    sex: str | None = None  # 'female' | 'male' | 'unknown'
    age_class: str | None = None  # 'fawn' | 'young' | 'mid' | 'mature'
    class_label: str | None = None  # the crop classifier's raw label, when one ran
    class_confidence: float | None = None
    probs: dict[str, float] = field(default_factory=dict)  # the classifier's probability per label
    embedding: np.ndarray | None = None  # deer only: re-ID vector, L2-normalised
    detector_version: str | None = None
    classifier_version: str | None = None
    embedder_version: str | None = None
    crop_version: str | None = None

    @property
    def is_deer(self) -> bool:
        return self.deer_class is not None

    def xyxy(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The box in pixels of a width x height photo."""
        x1, y1, x2, y2 = self.box
        return x1 * width, y1 * height, x2 * width, y2 * height


@dataclass
class PhotoResult:
    """One photo's detections, or the reason it failed (failures are data: one bad file never
    fails its batch)."""

    image_id: int
    width: int | None = None
    height: int | None = None
    detections: list[Detection] = field(default_factory=list)
    error: str | None = None

    @property
    def deer(self) -> list[Detection]:
        return [d for d in self.detections if d.is_deer]
