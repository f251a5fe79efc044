"""What each stage cost a photo on the last CPU run with these models, remembered so the next run
sizes its CPU pools from it (cluster.runtime.plan_pools). The stages measure themselves: every row
leaves each stage with its share of the CPU time spent on the batch (its lane's thread with one
torch thread, else its process: the cost_decode, cost_detect and cost_describe columns), and the
driver adds them up as the results come in. Kept beside the weights cache, keyed by the models
and the detector's input size: a different detector, or the same one at another size, is measured
afresh."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from cluster.runtime import StageCosts
from models.files import atomic_write, cache_dir

log = logging.getLogger(__name__)

MIN_PHOTOS = 100  # remembered only from runs this long: a short one is mostly its first batch's warm-up
COLUMNS = ("cost_decode", "cost_detect", "cost_describe")


def key(detector_sha: str, imgsz: int, classifier_sha: str | None, embedder_sha: str) -> str:
    return f"{detector_sha[:16]}-{imgsz}-{(classifier_sha or 'none')[:8]}-{embedder_sha[:8]}"


def _path(k: str) -> Path:
    return cache_dir() / "stage-costs" / f"{k}.json"


def remembered(k: str) -> StageCosts | None:
    try:
        doc = json.loads(_path(k).read_text())
        return StageCosts(float(doc["decode"]), float(doc["detect"]), float(doc["describe"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class Tally:
    """The run's stage costs, added up batch by batch in the driver."""

    def __init__(self):
        self.sums, self.photos = np.zeros(3), 0

    def add(self, batch: dict) -> None:
        if all(c in batch for c in COLUMNS):
            self.sums += [float(np.sum(batch[c])) for c in COLUMNS]
            self.photos += len(batch[COLUMNS[0]])

    def costs(self) -> StageCosts | None:
        if not self.photos:
            return None
        return StageCosts(*(float(v) for v in self.sums / self.photos))

    def remember(self, k: str) -> StageCosts | None:
        """Keep this run's costs for the next run's plan (runs of MIN_PHOTOS or more)."""
        costs = self.costs()
        if costs is None or self.photos < MIN_PHOTOS:
            return None
        target = _path(k)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(target) as part:
            part.write_text(json.dumps({"decode": costs.decode, "detect": costs.detect, "describe": costs.describe,
                                        "photos": self.photos}))
        return costs


def describe(costs: StageCosts) -> str:
    return (f"decode {costs.decode * 1000:.1f}, detect {costs.detect * 1000:.1f}, "
            f"classify + embed {costs.describe * 1000:.1f} CPU-ms a photo")
