"""What a model's label means (see class_map.yaml): its species, and for deer the census class,
sex and buck age. Every detector's and classifier's labels go through this one map."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

DEFAULT_CLASS_MAP = Path(__file__).with_name("class_map.yaml")
DEER_CLASSES = ("doe", "fawn", "buck", "deer")
SEXES = ("female", "male", "unknown")
AGE_CLASSES = ("fawn", "young", "mid", "mature", None)
OBSERVATION_TYPES = ("animal", "human", "vehicle", "blank")


def normalise(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")


@dataclass(frozen=True)
class Species:
    key: str
    name: str
    scientific: str | None
    observation_type: str  # Camtrap DP observationType
    deer: bool  # counted by the census


@dataclass(frozen=True)
class LabelMeaning:
    label: str  # the model's own label
    species: Species
    deer_class: str | None = None  # None unless the species is a deer
    sex: str | None = None
    age_class: str | None = None

    @property
    def is_deer(self) -> bool:
        return self.deer_class is not None


class ClassMap:
    def __init__(self, species: dict[str, dict], labels: dict[str, dict]):
        self.species: dict[str, Species] = {}
        for key, s in species.items():
            entry = Species(normalise(key), s.get("name", key), s.get("scientific"), s.get("type", "animal"),
                            bool(s.get("deer", False)))
            if entry.observation_type not in OBSERVATION_TYPES:
                raise ValueError(f"bad species entry {key!r}: type must be one of {OBSERVATION_TYPES}")
            self.species[entry.key] = entry
        self._labels: dict[str, LabelMeaning] = {}
        for label, attrs in labels.items():  # fail at load time, not deep inside a pipeline
            sp = self.species.get(normalise(str(attrs.get("species", ""))))
            if sp is None:
                raise ValueError(f"bad class map entry {label!r}: unknown species {attrs.get('species')!r}")
            meaning = LabelMeaning(label, sp)
            if sp.deer:
                meaning = replace(meaning, deer_class=attrs.get("deer_class", "deer"),
                                  sex=attrs.get("sex", "unknown"), age_class=attrs.get("age_class"))
                if (meaning.deer_class not in DEER_CLASSES or meaning.sex not in SEXES
                        or meaning.age_class not in AGE_CLASSES):
                    raise ValueError(f"bad class map entry {label!r}: {attrs!r}")
            elif any(k in attrs for k in ("deer_class", "sex", "age_class")):
                raise ValueError(f"bad class map entry {label!r}: deer attributes on {sp.key}, not a deer")
            self._labels[normalise(label)] = meaning

    @classmethod
    def load(cls, path: str | Path | None = None) -> "ClassMap":
        with open(path or DEFAULT_CLASS_MAP) as f:
            doc = yaml.safe_load(f)
        return cls(doc["species"], doc["labels"])

    def meaning(self, label: str) -> LabelMeaning:
        """What `label` says. A label not in the map is an animal of that name, never a deer."""
        found = self._labels.get(normalise(label))
        if found is not None:
            return replace(found, label=label)
        key = normalise(label) or "animal"
        return LabelMeaning(label, Species(key, label, None, "animal", False))

    def scientific_name(self, species: str) -> str | None:
        sp = self.species.get(normalise(species))
        return sp.scientific if sp else None

    def observation_type(self, species: str) -> str:
        sp = self.species.get(normalise(species))
        return sp.observation_type if sp else "animal"

    def __contains__(self, label: str) -> bool:
        return normalise(label) in self._labels
