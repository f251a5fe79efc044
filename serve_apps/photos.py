"""Check an uploaded photo before anything is written: type by content, pixel count, full decode."""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from pipelines.stages import letterbox
from serve_apps.detector import frame

FORMATS = {"JPEG": "jpg", "PNG": "png"}


class PhotoRejected(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class CheckedPhoto:
    data: bytes
    sha256: str
    ext: str
    frame: dict  # letterboxed for the detector


def check_photo(data: bytes, imgsz: int, max_pixels: int) -> CheckedPhoto:
    """Raises PhotoRejected (415 wrong type, 413 too many pixels, 422 truncated/corrupt)."""
    if not data:
        raise PhotoRejected(422, "empty file")
    try:
        with Image.open(io.BytesIO(data)) as im:  # reads the header only
            fmt, (width, height) = im.format, im.size
    except Image.DecompressionBombError as e:  # PIL's own guard, past twice its MAX_IMAGE_PIXELS
        raise PhotoRejected(413, f"too many pixels (decompression-bomb guard): {e}") from None
    except (UnidentifiedImageError, SyntaxError, ValueError, OSError):
        raise PhotoRejected(415, "not a JPEG or PNG image (the content was checked, not the file name)") from None
    if fmt not in FORMATS:
        raise PhotoRejected(415, f"unsupported image type {fmt}: only JPEG and PNG are accepted")
    if width * height > max_pixels:
        raise PhotoRejected(413, f"image of {width}x{height} pixels is over the {max_pixels} pixel limit "
                                 "(decompression-bomb guard)")
    try:  # the full decode is what catches a truncated or corrupt file
        pixels, scale, px, py, w, h = letterbox(data, imgsz)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise PhotoRejected(422, f"the image is truncated or corrupt and cannot be decoded ({e})") from None
    return CheckedPhoto(data, hashlib.sha256(data).hexdigest(), FORMATS[fmt], frame(pixels, scale, px, py, w, h))
