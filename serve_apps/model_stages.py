"""Reuse the batch pipeline's detect/embed stages from Serve: they take weights as an object with
`local_path()` (ShippedWeights in Ray Data); a local file plays that part here."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class LocalWeights:
    path: Path

    def local_path(self) -> Path:
        return self.path


def stack(items: list[dict]) -> dict[str, np.ndarray]:
    """Per-request dicts -> one column batch, the shape the pipeline stages take."""
    out = {}
    for key in items[0]:
        values = [it[key] for it in items]
        out[key] = np.stack(values) if isinstance(values[0], np.ndarray) else np.array(values, dtype=object)
    return out


def unstack(batch: dict[str, np.ndarray], keys: tuple[str, ...]) -> list[dict]:
    return [{k: batch[k][i] for k in keys} for i in range(len(batch[keys[0]]))]
