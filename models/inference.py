"""The inference core: detector -> crop classifier -> embedder, as one Ray-free object.

`InferenceCore(photos)` takes encoded photos and returns one `PhotoResult` each. The Ray Data
actors (pipelines/stages.py) and the Serve deployments (serve_apps/) hold the same pieces and stay
thin adapters: the stages below are the only code that turns model outputs into `Detection`s.

1. `detect`: letterboxed squares -> detections, boxes normalised to each photo, labels as the
   detector means them (MegaDetector: 'animal', 'person', 'vehicle').
2. `describe`: for each photo with animals, square crops cut from the photo itself
   (models.crops), classified (species; for deer doe / fawn / buck and age), and the deer among
   them embedded for re-ID. When the detector already speaks deer classes (a seeds-style YOLO) the
   classifier is optional; when both speak, the classifier decides and both are recorded.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from models.classes import ClassMap
from models.crops import CROP_VERSION, cut_crops
from models.letterbox import letterbox, stack
from models.types import Detection, PhotoResult, Placement


def classify_detections(dets: Sequence[Detection], probs: np.ndarray, labels: Sequence[str], version: str,
                        class_map: ClassMap) -> list[Detection]:
    """The classifier's word on each detection. The species is the one whose labels hold the most
    probability together (doe 0.4 + buck 0.3 is a deer at 0.7); the deer class, sex and age come
    from the most probable label of that species."""
    meanings = [class_map.meaning(label) for label in labels]
    keys = [m.species.key for m in meanings]
    out = []
    for det, p in zip(dets, probs):
        by_species: dict[str, float] = {}
        for key, q in zip(keys, p):
            by_species[key] = by_species.get(key, 0.0) + float(q)
        species = max(by_species, key=by_species.get)
        best = max((j for j, k in enumerate(keys) if k == species), key=lambda j: p[j])
        m = meanings[best]
        out.append(replace(det, species=species, species_confidence=round(by_species[species], 4),
                           observation_type=m.species.observation_type, deer_class=m.deer_class, sex=m.sex,
                           age_class=m.age_class, class_label=labels[best], class_confidence=float(p[best]),
                           probs={lab: round(float(q), 4) for lab, q in zip(labels, p)},
                           classifier_version=version))
    return out


def embed_detections(dets: Sequence[Detection], vectors: np.ndarray, version: str) -> list[Detection]:
    return [replace(d, embedding=np.asarray(v, np.float32), embedder_version=version) for d, v in zip(dets, vectors)]


def to_classify(dets: Sequence[Detection]) -> list[int]:
    """Which detections the classifier sees: animals (people and vehicles are what the detector said)."""
    return [j for j, d in enumerate(dets) if d.observation_type == "animal"]


def to_embed(dets: Sequence[Detection]) -> list[int]:
    """Which detections get a re-ID embedding: deer only (other species never reach re-ID)."""
    return [j for j, d in enumerate(dets) if d.is_deer]


@dataclass
class CropModels:
    """The models that read crops: the classifier (optional) and the embedder (optional)."""

    classifier: object | None = None  # models.classifier.Classifier
    embedder: object | None = None  # models.embedder.Embedder
    class_map: ClassMap | None = None

    def __post_init__(self):
        self.class_map = self.class_map or ClassMap.load()
        sizes = [m.input_size for m in (self.classifier, self.embedder) if m is not None]
        self.crop_size = max(sizes) if sizes else 0  # cut once at the larger input, each model resizes down

    def describe(self, data: bytes, dets: list[Detection]) -> list[Detection]:
        """Classify and embed one photo's detections from its encoded bytes."""
        return self.describe_many([data], [dets])[0]

    def describe_many(self, photos: Sequence[bytes], detections: Sequence[list[Detection]]) -> list[list[Detection]]:
        """One forward pass per model for every crop of these photos."""
        if not self.crop_size:
            return [list(d) for d in detections]
        out = [list(d) for d in detections]
        crops: dict[tuple[int, int], np.ndarray] = {}
        for i, (data, dets) in enumerate(zip(photos, out)):
            wanted = sorted(set(to_classify(dets) if self.classifier else []) | set(to_embed(dets)))
            for j, crop in zip(wanted, cut_crops(data, [dets[j].box for j in wanted], self.crop_size)):
                crops[i, j] = crop
                dets[j] = replace(dets[j], crop_version=CROP_VERSION)
        if self.classifier is not None:
            keys = [(i, j) for i, dets in enumerate(out) for j in to_classify(dets)]
            if keys:
                probs = self.classifier.classify([crops[k] for k in keys])
                done = classify_detections([out[i][j] for i, j in keys], probs, self.classifier.labels,
                                           self.classifier.version, self.class_map)
                for (i, j), d in zip(keys, done):
                    out[i][j] = d
        if self.embedder is not None:
            keys = [(i, j) for i, dets in enumerate(out) for j in to_embed(dets) if (i, j) in crops]
            if keys:
                vectors = self.embedder.embed([crops[k] for k in keys])
                for (i, j), d in zip(keys, embed_detections([out[i][j] for i, j in keys], vectors,
                                                            self.embedder.version)):
                    out[i][j] = d
        return out


class InferenceCore:
    """Photos in, `PhotoResult`s out: detector, then classifier and embedder on crops of the photo."""

    def __init__(self, detector, classifier=None, embedder=None, class_map: ClassMap | None = None):
        self.detector = detector
        self.crops = CropModels(classifier, embedder, class_map or getattr(detector, "class_map", None))

    @property
    def versions(self) -> dict[str, str | None]:
        c, e = self.crops.classifier, self.crops.embedder
        return {"detector": self.detector.version, "classifier": c.version if c else None,
                "embedder": e.version if e else None, "crops": CROP_VERSION}

    def detect(self, squares, placements: Sequence[Placement]) -> list[list[Detection]]:
        """Letterboxed squares (numpy list or a device tensor) -> detections per photo."""
        return self.detector.detect(squares, list(placements)) if len(placements) else []

    def __call__(self, photos: Sequence[tuple[int, bytes]]) -> list[PhotoResult]:
        """(image id, encoded photo) pairs -> one PhotoResult each, in the same order; a photo that
        cannot be decoded comes back with its error, the rest go on."""
        results: dict[int, PhotoResult] = {}
        decoded: list[tuple[int, bytes, np.ndarray, Placement]] = []
        for image_id, data in photos:
            try:
                square, at = letterbox(data, self.detector.imgsz)
            except Exception as e:  # failures are data: this photo fails, the rest go on
                results[image_id] = PhotoResult(image_id, error=f"cannot decode image: {type(e).__name__}: {e}")
                continue
            decoded.append((image_id, data, square, at))
        frames, placed = stack([d[2] for d in decoded], [d[3] for d in decoded], self.detector.imgsz)
        found = self.detect(list(frames), placed)
        described = self.crops.describe_many([d[1] for d in decoded], found)
        for (image_id, _, _, at), dets in zip(decoded, described):
            results[image_id] = PhotoResult(image_id, at.width, at.height, dets)
        return [results[image_id] for image_id, _ in photos]
