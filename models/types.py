"""Plain result types shared by the model wrappers and the pipelines."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the image passed in
    confidence: float
    label: str  # the detector's raw class name
    deer_class: str  # 'doe' | 'fawn' | 'buck' | 'deer'
    sex: str  # 'female' | 'male' | 'unknown'
    age_class: str | None  # 'fawn' | 'young' | 'mid' | 'mature' | None
