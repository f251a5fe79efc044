"""The sample folder for `thumper census --demo`: synthetic trail-camera photos with EXIF, deer
among other animals, people and vehicles (as real cameras see them)."""
from __future__ import annotations

import logging
from pathlib import Path

from store.embedded import data_dir

log = logging.getLogger(__name__)


def demo_folder(root: Path | None = None, photos_per_location: int = 12) -> Path:
    """Generate once (deterministic), then reuse: a rerun of the demo shows idempotency."""
    from models.synthetic import make_photo_folder

    root = root or data_dir() / "demo-photos-2"  # -2: with other animals, people and vehicles
    if not any(root.rglob("*.JPG")):
        log.info("generating sample trail-camera photos in %s", root)
        make_photo_folder(root, photos_per_location=photos_per_location, seed=0, others=0.25)
    return root
