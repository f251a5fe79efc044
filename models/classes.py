"""Map a detector's raw class names onto the census's deer classes (see class_map.yaml)."""
from __future__ import annotations

from pathlib import Path

import yaml

DEFAULT_CLASS_MAP = Path(__file__).with_name("class_map.yaml")
DEER_CLASSES = ("doe", "fawn", "buck", "deer")
SEXES = ("female", "male", "unknown")
AGE_CLASSES = ("fawn", "young", "mid", "mature", None)


def _normalise(label: str) -> str:
    return label.strip().lower().replace("-", "_").replace(" ", "_")


class ClassMap:
    def __init__(self, labels: dict[str, dict]):
        self._labels = {}
        for label, attrs in labels.items():
            entry = {
                "deer_class": attrs["deer_class"],
                "sex": attrs.get("sex", "unknown"),
                "age_class": attrs.get("age_class"),
            }
            # fail at load time, not deep inside a pipeline
            if entry["deer_class"] not in DEER_CLASSES or entry["sex"] not in SEXES or entry["age_class"] not in AGE_CLASSES:
                raise ValueError(f"bad class map entry {label!r}: {attrs!r}")
            self._labels[_normalise(label)] = entry

    @classmethod
    def load(cls, path: str | Path | None = None) -> "ClassMap":
        with open(path or DEFAULT_CLASS_MAP) as f:
            return cls(yaml.safe_load(f)["labels"])

    def lookup(self, label: str) -> dict | None:
        """{'deer_class', 'sex', 'age_class'} for a detector label, or None if it is not a deer."""
        entry = self._labels.get(_normalise(label))
        return dict(entry) if entry else None

    def __contains__(self, label: str) -> bool:
        return _normalise(label) in self._labels
