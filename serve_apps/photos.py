"""Check an uploaded photo before anything is written: type by content (the same check folder
ingest makes, models.images), pixel count, full decode."""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from models.images import ACCEPTED, PhotoRefused, identify
from models.letterbox import letterbox
from models.types import Placement

STATUS = {"type": 415, "pixels": 413, "corrupt": 422}


class PhotoRejected(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class CheckedPhoto:
    data: bytes
    sha256: str
    ext: str
    square: np.ndarray  # letterboxed for the detector
    placement: Placement


def check_photo(data: bytes, imgsz: int, max_pixels: int) -> CheckedPhoto:
    """Raises PhotoRejected (415 wrong type, 413 too many pixels, 422 truncated/corrupt)."""
    if not data:
        raise PhotoRejected(422, "empty file")
    try:
        fmt, _, _ = identify(io.BytesIO(data), max_pixels)
    except PhotoRefused as e:
        raise PhotoRejected(STATUS[e.kind], str(e)) from None
    try:  # the full decode is what catches a truncated or corrupt file
        square, placement = letterbox(data, imgsz)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise PhotoRejected(422, f"the image is truncated or corrupt and cannot be decoded ({e})") from None
    return CheckedPhoto(data, hashlib.sha256(data).hexdigest(), ACCEPTED[fmt], square, placement)
