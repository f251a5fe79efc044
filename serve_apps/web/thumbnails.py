"""Thumbnails and detection crops, made once and cached as JPEGs under <data dir>/thumbnails.

Names derive from the photo's content hash (and the box for crops), so a cached file never goes
stale: the same bytes always give the same picture. Writes go to a temporary file renamed into
place, so concurrent replicas never serve a half-written file; an in-process lock per name keeps
threads of one replica from doing the same work twice.
"""
from __future__ import annotations

import threading
from pathlib import Path

from PIL import Image

from models.files import atomic_write
from models.letterbox import open_oriented, oriented_size

SIZES = (160, 320, 640, 1280)  # longest side; a few fixed sizes keep the cache small
CROP_SIZES = (128, 256)
QUALITY = 82
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


def _cached(out: Path, make) -> Path:
    if out.exists():
        return out
    with _lock(out.name):
        if out.exists():  # another thread made it while we waited
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(out, hidden=True) as tmp:  # readers see no file or the whole file
            make().save(tmp, "JPEG", quality=QUALITY, optimize=True)
    return out


def _open_rgb(source: Path, size: int) -> Image.Image:
    """As the viewer sees it (EXIF orientation applied: boxes are in those coordinates); JPEG draft
    mode decodes at a reduced scale, much faster for big photos."""
    im = Image.open(source)
    w, h = oriented_size(im)
    k = min(1.0, size / max(w, h))
    return open_oriented(im, (w * k, h * k))


def thumbnail(cache: Path, sha256: str, source: Path, size: int) -> Path:
    def make():
        im = _open_rgb(source, size)
        im.thumbnail((size, size), Image.Resampling.LANCZOS)
        return im

    return _cached(cache / f"{sha256}_{size}.jpg", make)


def crop(cache: Path, sha256: str, source: Path, box: tuple[float, float, float, float], size: int) -> Path:
    """The detection's box (normalised xyxy) with a little margin, longest side `size`."""
    x1, y1, x2, y2 = box
    key = "_".join(f"{v:.4f}" for v in box)

    def make():
        im = open_oriented(Image.open(source))
        w, h = im.size
        mx, my = (x2 - x1) * 0.08, (y2 - y1) * 0.08  # context around the animal helps recognise it
        area = (max(0, int((x1 - mx) * w)), max(0, int((y1 - my) * h)),
                min(w, int((x2 + mx) * w) + 1), min(h, int((y2 + my) * h) + 1))
        part = im.crop(area)
        part.thumbnail((size, size), Image.Resampling.LANCZOS)
        return part

    return _cached(cache / f"{sha256}_crop_{key}_{size}.jpg", make)
