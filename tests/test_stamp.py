"""Time from the stamp bar: photos without an EXIF time are timed by OCR of the date and time the
camera burned into its info bar (time_source 'ocr'), by the file's mtime only when that fails, and
never when EXIF has a time. Generated bars in every format the generator draws, the real photos."""
from __future__ import annotations

import io
import os
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import REPO, missing_tool
from PIL import Image

from models import stamp
from models.stamp import STAMP_FORMATS, parse_stamp, read_stamp_time
from models.synthetic import _background, draw_stamp_bar, make_photo_folder, write_photo
from pipelines.ingest import read_photo, scan_folder

REAL = REPO.parent / "shared" / "photos" / "real"
REAL_BURST = REPO.parent / "shared" / "photos" / "real-burst"


@pytest.fixture(scope="module", autouse=True)
def _tesseract():
    if not stamp.available():
        missing_tool("no tesseract binary: apt-get install tesseract-ocr (bash .ci/install does)", module=True)


@pytest.mark.parametrize("text, want", [
    ("HAYFIELD 54°F 2024-11-03 17:05:09", datetime(2024, 11, 3, 17, 5, 9)),
    ("A54 2024-11-0317:05:09", datetime(2024, 11, 3, 17, 5, 9)),  # the whitelist may drop spaces
    ("A54 11/03/2024 05:05:09 PM", datetime(2024, 11, 3, 17, 5, 9)),
    ("11/03/2024 12:05 AM", datetime(2024, 11, 3, 0, 5)),
    ("03.11.2024 17:05:09", datetime(2024, 11, 3, 17, 5, 9)),
    ("25/12/2024 07:30", datetime(2024, 12, 25, 7, 30)),  # a slash date over 12 first is day-first
    ("2010-11-06 4:04:00 AM M 1/3 34°F", datetime(2010, 11, 6, 4, 4)),  # Reconyx
    ("07:45 PM 09/30/2024", datetime(2024, 9, 30, 19, 45)),  # time before the date
    ("M 1/10 2°C", None), ("UNIT03-CAM102", None), ("", None),
    ("02/30/2024 10:00", None), ("11/03/2024 13:05 PM", None), ("2024-11-03", None),
])
def test_parse_stamp(text, want):
    assert parse_stamp(text) == want


def _jpeg(image: Image.Image) -> io.BytesIO:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85)
    buf.seek(0)
    return buf


def test_generated_stamp_bars_are_read_in_every_format(capsys):
    """Every format, three frame sizes, bottom and top bars: all read right, and what it costs."""
    start, read, seconds, wrong = datetime(2024, 9, 1, 5, 3, 7), 0, [], []
    cases = [(size, fmt, edge, start + timedelta(hours=37 * k + 5 * j, seconds=13 * k))
             for k, size in enumerate(((960, 540), (640, 360), (1920, 1080)))
             for j, fmt in enumerate(STAMP_FORMATS) for edge in ("bottom", "top")]
    for n, (size, fmt, edge, taken) in enumerate(cases):
        photo = _jpeg(draw_stamp_bar(_background(n, size), taken, fmt, "Hayfield", edge=edge))
        t0 = time.perf_counter()
        got = read_stamp_time(photo)
        seconds.append(time.perf_counter() - t0)
        want = taken.replace(second=0) if "%S" not in STAMP_FORMATS[fmt] else taken
        read += got == want
        if got != want:
            wrong.append((size, fmt, edge, want, got))
    with capsys.disabled():
        print(f"\nstamp OCR: {read}/{len(cases)} generated bars read right, "
              f"{1000 * sum(seconds) / len(seconds):.0f} ms per photo (decode, crop, tesseract)")
    assert not wrong, wrong


def test_ingest_times_photos_without_exif_by_their_bar_and_others_by_exif(tmp_path):
    truth = make_photo_folder(tmp_path, locations=("Hayfield", "Creek"), photos_per_location=6, seed=5,
                              stamp="mixed", no_exif_time=0.5)
    by_path = {str(tmp_path / r["path"]): r for r in truth}
    assert {r["exif_time"] for r in by_path.values()} == {True, False}
    for record in scan_folder(tmp_path).records:
        row = by_path[record.path]
        want = row["taken_at"].replace(second=0) if "%S" not in STAMP_FORMATS[_format(row)] else row["taken_at"]
        assert (record.time_source, record.taken_at) == (("exif", row["taken_at"]) if row["exif_time"]
                                                         else ("ocr", want)), record.path


def _format(row: dict) -> str:
    return next(k for k, f in STAMP_FORMATS.items() if row["taken_at"].strftime(f) == row["stamp"])


def test_no_exif_time_and_no_bar_falls_back_to_mtime(tmp_path):
    plain = tmp_path / "Creek" / "IMG_0001.JPG"
    write_photo(plain, _background(3, (640, 360)), None)  # a scene, no bar, make and model but no time
    os.utime(plain, (1_700_000_000, 1_700_000_000))
    record = read_photo(plain, tmp_path)
    assert (record.time_source, record.taken_at) == ("mtime", datetime.fromtimestamp(1_700_000_000))
    assert record.camera_make == "Browning" and record.error is None
    broken = tmp_path / "Creek" / "BROKEN.JPG"  # not an image at all: no OCR, mtime, stored as failed
    broken.write_bytes(b"\xff\xd8\xff\xe0 a JPEG that ends here")
    record = read_photo(broken, tmp_path)
    assert record.time_source == "mtime" and record.error


def test_real_photos_keep_their_exif_time_and_the_bear_is_read_from_its_bar(tmp_path):
    """EXIF wins wherever it has a time (domestic_dog's bar says 15:09, its EXIF 12:09: EXIF it is);
    the NACTI bear has none, and its Reconyx bar says 2010-11-06 4:04:00 AM; the grayscale and
    CMYK elephants have neither, so their mtime."""
    if not REAL.is_dir():
        missing_tool(f"no real photos at {REAL}")
    for name in ("domestic_dog.jpg", "blank.jpg", "american_black_bear.jpg", "african_elephants_bw.jpg",
                 "african_elephants_cmyk.jpg"):
        shutil.copy(REAL / name, tmp_path / name)
        os.utime(tmp_path / name, (1_700_000_000, 1_700_000_000))
    got = {Path(r.path).name: (r.time_source, r.taken_at) for r in scan_folder(tmp_path).records}
    mtime = datetime.fromtimestamp(1_700_000_000)
    assert got == {"domestic_dog.jpg": ("exif", datetime(2017, 7, 13, 12, 9, 23)),
                   "blank.jpg": ("exif", datetime(2016, 9, 25, 18, 35, 10)),
                   "american_black_bear.jpg": ("ocr", datetime(2010, 11, 6, 4, 4, 0)),
                   "african_elephants_bw.jpg": ("mtime", mtime), "african_elephants_cmyk.jpg": ("mtime", mtime)}


def test_the_real_reconyx_bar_says_what_its_exif_says():
    """The standard's example burst: OCR of the top bar gives the EXIF moment of every frame (the
    file names' 2021-05-31 08:25 is when they were copied)."""
    if not REAL_BURST.is_dir():
        missing_tool(f"no real photos at {REAL_BURST}")
    for photo in sorted(REAL_BURST.glob("*.JPG")):
        exif = read_photo(photo, REAL_BURST)
        with open(photo, "rb") as f:
            assert read_stamp_time(f) == exif.taken_at, photo.name
        assert exif.time_source == "exif" and exif.taken_at.date() == datetime(2021, 4, 11).date()
