"""Crops for the classifier and the embedder, cut from the photo itself, never from the detector's
letterboxed input: a deer 200 px wide in a 1920x1080 photo is 67 px in a 640 px square and 17 px
in the demo's 160 px one.

Each crop is the box made square around its centre, widened by a context margin (as camera-trap
classifiers are trained: DeepFaune and SpeciesNet crop squares with context), shifted to stay
inside the photo. The photo is decoded once per photo, at the smallest JPEG draft scale that keeps
every crop at least `size` pixels across, so a big photo of a close deer costs an 1/8-scale decode.
"""
from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from models.letterbox import open_oriented, oriented_size

CROP_MARGIN = 0.15  # context on each side, as a fraction of the box's longer side
CROP_VERSION = f"square-m{CROP_MARGIN:g}-v1"  # recorded with every detection: changes when the recipe does


def square_region(box: Sequence[float], width: int, height: int, margin: float = CROP_MARGIN):
    """The crop of a normalised box in a width x height photo: a square in photo pixels
    (x1, y1, x2, y2), as large as the box's longer side plus margins, inside the photo where it fits."""
    bx1, by1, bx2, by2 = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    side = max(bx2 - bx1, by2 - by1) * (1 + 2 * margin)
    side = max(2.0, min(side, float(max(width, height))))
    cx, cy = (bx1 + bx2) / 2, (by1 + by2) / 2
    x1 = min(max(cx - side / 2, 0.0), max(0.0, width - side)) if side <= width else (width - side) / 2
    y1 = min(max(cy - side / 2, 0.0), max(0.0, height - side)) if side <= height else (height - side) / 2
    return x1, y1, x1 + side, y1 + side


def cut_crops(data: bytes, boxes: Sequence[Sequence[float]], size: int,
              margin: float = CROP_MARGIN) -> list[np.ndarray]:
    """size x size RGB uint8 crops of the photo `data` (encoded JPEG/PNG) for normalised boxes.
    A square that reaches past a photo narrower than it is padded grey."""
    if not boxes:
        return []
    with Image.open(io.BytesIO(data)) as im:
        width, height = oriented_size(im)
        regions = [square_region(b, width, height, margin) for b in boxes]
        smallest = min(r[2] - r[0] for r in regions)
        k = min(1.0, size / smallest)  # the decode scale at which the smallest crop is `size` px
        photo = open_oriented(im, (width * k, height * k))
        sx, sy = photo.width / width, photo.height / height  # what draft mode gave (>= k)
        return [np.asarray(photo.resize((size, size), Image.BILINEAR,
                                        box=(x1 * sx, y1 * sy, x2 * sx, y2 * sy)).convert("RGB"))
                if x1 >= 0 and y1 >= 0 else _padded(photo, (x1 * sx, y1 * sy, x2 * sx, y2 * sy), size)
                for x1, y1, x2, y2 in regions]


def _padded(photo: Image.Image, region, size: int) -> np.ndarray:
    x1, y1, x2, y2 = (int(round(v)) for v in region)
    canvas = Image.new("RGB", (x2 - x1, y2 - y1), (114, 114, 114))
    canvas.paste(photo, (-x1, -y1))
    return np.asarray(canvas.resize((size, size), Image.BILINEAR))
