"""The date and time a trail camera burns into its photo's info bar, read back by OCR.

Many cheap cameras (and screenshots, and some exports) write no EXIF time, but every trail camera
prints one in a dark bar at the bottom (Browning, Bushnell, Stealth Cam...) or the top (Reconyx)
of the frame. `read_stamp_time` crops that bar, binarises it (light text on dark), scales it to a
height Tesseract reads well, and runs Tesseract (Debian's `tesseract-ocr`) on that one line with a
digits-and-separators whitelist; `parse_stamp` finds a date and a time in what came back.

Tesseract runs as a subprocess with OMP_THREAD_LIMIT=1: its OpenMP threads otherwise fight over
the cores the ingest threads use (about 90 ms a bar instead of 500 ms on 2 busy cores). Without a
`tesseract` binary every photo falls back (`available()` is False), with one warning.
"""
from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
from datetime import datetime
from functools import lru_cache

import numpy as np
from PIL import Image, ImageOps

log = logging.getLogger(__name__)

# strftime formats of real cameras' stamps (what the synthetic generator draws, and parse_stamp reads)
STAMP_FORMATS = {
    "iso": "%Y-%m-%d %H:%M:%S",          # Reconyx, many Chinese OEM cameras
    "us": "%m/%d/%Y %I:%M:%S %p",        # Browning, Bushnell
    "us-short": "%m/%d/%Y %I:%M %p",     # Moultrie, Stealth Cam (no seconds)
    "eu": "%d.%m.%Y %H:%M:%S",           # European menus
}
WHITELIST = "0123456789/-.:APM"
BAR_FRACTION = 0.08  # look at most this much of the frame's height for the bar, each edge
TEXT_HEIGHT = 64  # pixels: the bar is scaled to this before OCR
OCR_TIMEOUT_S = 10
MIN_INK = 0.01  # share of the bar's pixels that must look like text before Tesseract is asked

_DATE_YMD = re.compile(r"(?P<y>(?:19|20)\d{2})\s*(?P<sep>[-/.])\s*(?P<m>\d{1,2})\s*(?P=sep)\s*(?P<d>\d{1,2})")
_DATE_XXY = re.compile(r"(?P<a>\d{1,2})\s*(?P<sep>[-/.])\s*(?P<b>\d{1,2})\s*(?P=sep)\s*(?P<y>(?:19|20)\d{2})")
_TIME = re.compile(r"(?P<H>\d{1,2})\s*:\s*(?P<M>\d{2})(?:\s*:\s*(?P<S>\d{2}))?(?:\s*(?P<p>[AP])\.?\s*M)?",
                   re.I)


def parse_stamp(text: str) -> datetime | None:
    """The first date in `text` (YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY; a slash date whose first
    number is over 12 is day-first) with the time after it (or, failing that, before it):
    HH:MM(:SS) with an optional AM/PM. None unless both are there and make a real moment."""
    text = " ".join(text.split())
    date = _DATE_YMD.search(text)
    if date:
        y, m, d = int(date["y"]), int(date["m"]), int(date["d"])
    else:
        date = _DATE_XXY.search(text)
        if not date:
            return None
        a, b, y = int(date["a"]), int(date["b"]), int(date["y"])
        day_first = date["sep"] == "." or a > 12
        d, m = (a, b) if day_first else (b, a)
    time = _TIME.search(text, date.end()) or _TIME.search(text[:date.start()])
    if not time:
        return None
    hour, minute, second = int(time["H"]), int(time["M"]), int(time["S"] or 0)
    if time["p"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if time["p"].upper() == "P" else 0)
    try:
        moment = datetime(y, m, d, hour, minute, second)
    except ValueError:
        return None
    return moment if 1990 <= moment.year <= 2100 else None


@lru_cache(maxsize=1)
def _tesseract() -> str | None:
    path = shutil.which("tesseract")
    if path is None:
        log.warning("no `tesseract` binary: photos without an EXIF time are timed by their file's mtime "
                    "(apt-get install tesseract-ocr; bash .ci/install does)")
    return path


def available() -> bool:
    return _tesseract() is not None


def bar_crop(gray: Image.Image, edge: str) -> Image.Image:
    """The info bar at one edge ('bottom' or 'top') of a grayscale photo, as dark text on white,
    TEXT_HEIGHT pixels high: the dark rows at that edge (or the whole strip, if the scene beside
    it is as dark), light pixels taken as text."""
    w, h = gray.size
    n = max(12, round(h * BAR_FRACTION))
    strip = np.asarray(gray.crop((0, h - n, w, h) if edge == "bottom" else (0, 0, w, n)), dtype=np.uint8)
    if edge == "bottom":
        strip = strip[::-1]
    dark = np.percentile(strip, 20, axis=1) < 50  # bar rows: mostly near-black, a little text
    rows = len(dark) if dark.all() else int(np.argmin(dark))
    if rows >= 8:
        strip = strip[:rows]
    if edge == "bottom":
        strip = strip[::-1]
    bar = Image.fromarray(strip)  # scaled first, then thresholded: smooth glyph edges (thresholding
    bar = bar.resize((max(1, round(bar.width * TEXT_HEIGHT / bar.height)), TEXT_HEIGHT), Image.LANCZOS)
    ink = Image.fromarray(np.where(np.asarray(bar) > 110, 0, 255).astype(np.uint8))  # first: 80% read right)
    return ImageOps.expand(ink, 12, fill=255)


def ocr_line(image: Image.Image) -> str:
    """Tesseract on one line of text (whitelisted characters only); '' if it fails."""
    exe = _tesseract()
    if exe is None:
        return ""
    png = io.BytesIO()
    image.save(png, "PNG")
    try:
        done = subprocess.run([exe, "stdin", "stdout", "--psm", "7", "-c", f"tessedit_char_whitelist={WHITELIST}"],
                              input=png.getvalue(), capture_output=True, timeout=OCR_TIMEOUT_S,
                              env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    except (OSError, subprocess.TimeoutExpired) as e:
        log.warning("tesseract failed: %s", e)
        return ""
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else ""


def read_stamp_time(photo: Image.Image | io.BufferedIOBase) -> datetime | None:
    """The time printed in the photo's info bar (bottom, then top), or None: no tesseract, no bar,
    or nothing in it that reads as a date and a time."""
    if not available():
        return None
    try:
        image = photo if isinstance(photo, Image.Image) else Image.open(photo)
        if image.format == "JPEG" and image.width >= 1600:
            image.draft("L", (image.width // 2, image.height // 2))  # DCT-scaled decode: half the work
        gray = ImageOps.grayscale(image)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    for edge in ("bottom", "top"):
        line = bar_crop(gray, edge)
        if np.count_nonzero(np.asarray(line) == 0) < MIN_INK * line.width * line.height:
            continue  # nothing light in a dark band (or no band): no text to read, no OCR to pay
        moment = parse_stamp(ocr_line(line))
        if moment is not None:
            return moment
    return None
