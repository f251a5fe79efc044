"""Thumbnails and crops: made once, cached under their content hash, never half-written."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from serve_apps.web import thumbnails


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.jpg"
    im = Image.new("RGB", (1600, 900), "darkgreen")
    im.paste((200, 120, 40), (400, 300, 800, 700))  # a brown "deer" in the box below
    im.save(path, "JPEG", quality=90)
    return path


def test_thumbnail_is_made_once_and_fits_the_size(tmp_path, photo):
    cache = tmp_path / "thumbs"
    out = thumbnails.thumbnail(cache, "abc", photo, 320)
    assert out == cache / "abc_320.jpg"
    with Image.open(out) as im:
        assert im.format == "JPEG" and max(im.size) == 320 and im.size[0] / im.size[1] == pytest.approx(16 / 9, 0.02)
    mtime = out.stat().st_mtime_ns
    photo.unlink()  # served from the cache from now on, even without the original
    assert thumbnails.thumbnail(cache, "abc", photo, 320).stat().st_mtime_ns == mtime


def test_concurrent_requests_make_one_whole_file(tmp_path, photo):
    cache = tmp_path / "thumbs"
    with ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda _: thumbnails.thumbnail(cache, "same", photo, 640), range(16)))
    assert len(set(outs)) == 1
    assert sorted(p.name for p in cache.iterdir()) == ["same_640.jpg"]  # no temporary files left behind
    with Image.open(outs[0]) as im:
        im.load()  # decodes completely: never a half-written file


def test_crop_is_the_box_with_a_margin(tmp_path, photo):
    box = (400 / 1600, 300 / 900, 800 / 1600, 700 / 900)
    out = thumbnails.crop(tmp_path, "abc", photo, box, 256)
    with Image.open(out) as im:
        assert max(im.size) == 256
        r, g, b = im.getpixel((im.size[0] // 2, im.size[1] // 2))
        assert r > 150 and g < 160 and b < 100  # the middle of the crop is the brown box


def test_unreadable_photo_raises_and_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a photo")
    with pytest.raises(OSError):
        thumbnails.thumbnail(tmp_path / "thumbs", "bad", bad, 320)
    assert list((tmp_path / "thumbs").iterdir()) == []


def test_rotated_photo_is_shown_upright_so_its_boxes_line_up(tmp_path):
    """Stored 1536x2048 with EXIF orientation 6: thumbnail and crop in the coordinates the boxes use."""
    from pathlib import Path

    rotated = Path(__file__).resolve().parents[2] / "shared/photos/real/african_elephants_with_exif_orientation.jpg"
    upright = rotated.with_name("african_elephants.jpg")
    a, b = thumbnails.thumbnail(tmp_path, "r", rotated, 320), thumbnails.thumbnail(tmp_path, "u", upright, 320)
    with Image.open(a) as ra, Image.open(b) as ub:
        assert ra.size == ub.size == (320, 240)
        diff = sum(abs(x - y) for x, y in zip(ra.convert("L").getdata(), ub.convert("L").getdata())) / (320 * 240)
        assert diff < 10
    box = (0.3, 0.35, 0.6, 0.7)
    with Image.open(thumbnails.crop(tmp_path, "r", rotated, box, 128)) as cr, \
            Image.open(thumbnails.crop(tmp_path, "u", upright, box, 128)) as cu:
        assert cr.size == cu.size and cr.size[0] > cr.size[1]  # the box is wider than tall as viewed
