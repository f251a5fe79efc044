"""What counts as a photo, decided once for folder ingest and for uploads alike: JPEG in every
variant cameras write (baseline, progressive, CMYK, grayscale, EXIF-rotated, and MPO, the
multi-picture JPEG with an embedded preview that Bushnell and other cameras write), and PNG.
Both paths accept the same files and refuse the same ones with the same message."""
from __future__ import annotations

from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from models.letterbox import oriented_size

ACCEPTED = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png"}  # Pillow format -> file extension to store under


class PhotoRefused(ValueError):
    """Not a photo this project reads; `kind` says why: 'type', 'pixels' or 'corrupt'."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def identify(f: BinaryIO, max_pixels: int | None = None) -> tuple[str, int, int]:
    """(Pillow format, width, height as viewed) from the header alone; raises PhotoRefused."""
    not_photo = PhotoRefused("type", "not a JPEG or PNG image (the content was checked, not the file name)")
    try:
        with Image.open(f) as im:
            fmt, (width, height) = im.format, im.size
            if fmt not in ACCEPTED:
                raise PhotoRefused("type", f"unsupported image type {fmt}: only JPEG and PNG are accepted")
            # from the header alone, before anything reads further into the file
            if max_pixels is not None and width * height > max_pixels:
                raise PhotoRefused("pixels", f"image of {width}x{height} pixels is over the {max_pixels} pixel "
                                             "limit (decompression-bomb guard)")
            width, height = oriented_size(im)
    except PhotoRefused:
        raise
    except Image.DecompressionBombError as e:  # Pillow's own guard, past twice its MAX_IMAGE_PIXELS
        raise PhotoRefused("pixels", f"too many pixels (decompression-bomb guard): {e}") from None
    except (UnidentifiedImageError, SyntaxError, ValueError, OSError):  # its message holds a memory address
        raise not_photo from None
    return fmt, width, height
