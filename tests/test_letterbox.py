"""Both ways to the detector's input square give the same square; the device way keeps bad files
apart and feeds the detector a tensor directly. Runs on CPU torch: on a GPU only the device
string differs (nvJPEG instead of libjpeg)."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from models.detector import Detector
from models.letterbox import PAD_VALUE, letterbox, letterbox_batch
from models.synthetic import box_iou


@pytest.fixture(scope="module")
def photos(photo_folder) -> list[bytes]:
    root, _ = photo_folder
    jpegs = [p.read_bytes() for p in sorted(root.rglob("*.JPG"))[:5]]
    png = io.BytesIO()
    Image.open(io.BytesIO(jpegs[0])).save(png, "PNG")
    return [*jpegs, png.getvalue()]


@pytest.mark.parametrize("size", [160, 640])
def test_device_letterbox_matches_pillow(photos, size):
    canvas, placed, errors = letterbox_batch(photos, size)
    assert canvas.shape[:2] == (len(photos), 3) and max(canvas.shape[2:]) == size and canvas.dtype == torch.uint8
    assert errors == [""] * len(photos)
    for i, data in enumerate(photos):
        pixels, expected = letterbox(data, size)
        assert placed[i] == expected
        diff = np.abs(canvas[i].permute(1, 2, 0).numpy().astype(int) - pixels.astype(int))
        # Pillow's draft mode scales in the JPEG decoder, torch after it: a few grey levels apart at most
        assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 3, (i, diff.mean())


def test_device_letterbox_bad_files_fail_alone(photos):
    good = photos[0]
    bad = {1: good[: len(good) // 3], 2: b"\xff\xd8\xff" + bytes(300), 3: b"", 4: b"not an image"}
    batch = [good, *bad.values(), photos[-1]]
    canvas, placed, errors = letterbox_batch(batch, 160)
    assert "truncated" in errors[1]
    assert all(errors[i].startswith("cannot decode image: ") for i in bad)
    assert all(placed[i] is None for i in bad) and (canvas[list(bad)] == PAD_VALUE).all()
    assert errors[0] == errors[5] == "" and placed[0] is not None and placed[5] is not None
    assert torch.equal(canvas[0], letterbox_batch([good], 160)[0][0])  # its neighbours changed nothing


def test_detector_takes_a_letterboxed_tensor(demo_weights, photos):
    detector = Detector(demo_weights.detector)
    canvas, _, _ = letterbox_batch(photos, detector.imgsz)
    from_tensor = detector.detect(canvas)
    from_arrays = detector.detect([im.permute(1, 2, 0).numpy() for im in canvas])
    assert len(from_tensor) == len(photos) and sum(map(len, from_tensor)) > 0
    for a, b in zip(from_tensor, from_arrays):  # same pixels, same model: the same deer
        assert len(a) == len(b)
        for da, db in zip(sorted(a, key=lambda d: d.box), sorted(b, key=lambda d: d.box)):
            assert box_iou(da.box, db.box) > 0.95 and da.label == db.label


def test_device_decode_honours_exif_orientation():
    """nvJPEG's path and Pillow's give the same upright photo for an EXIF-rotated JPEG."""
    from pathlib import Path

    real = Path(__file__).resolve().parents[2] / "shared" / "photos" / "real"
    data = (real / "african_elephants_with_exif_orientation.jpg").read_bytes()
    canvas, placed, errors = letterbox_batch([data], 320)
    pixels, at = letterbox(data, 320)
    assert errors == [""] and placed[0] == at and (at.width, at.height) == (2048, 1536)
    diff = np.abs(canvas[0].permute(1, 2, 0).numpy().astype(int) - pixels.astype(int))
    assert diff.mean() < 2.0


def test_canvas_is_the_photo_rounded_to_32_not_a_square():
    """A 16:9 photo at 640 is 640x360 padded to 640x384 (Ultralytics' rectangular inference), and a
    batch with a portrait photo in it shares the canvas that fits both."""
    from models.letterbox import stack

    def jpeg(w, h):
        buf = io.BytesIO()
        Image.new("RGB", (w, h), (90, 120, 60)).save(buf, "JPEG")
        return buf.getvalue()

    wide, tall = jpeg(1920, 1080), jpeg(1080, 1920)
    frame, at = letterbox(wide, 640)
    assert frame.shape == (384, 640, 3) and (at.pad_x, at.pad_y) == (0, 12) and at.scale == pytest.approx(1 / 3)
    canvas, placed, errors = letterbox_batch([wide, tall], 640)
    assert canvas.shape == (2, 3, 640, 640) and errors == ["", ""]
    frames, moved = stack([frame, letterbox(tall, 640)[0]], [at, letterbox(tall, 640)[1]], 640)
    assert frames.shape == (2, 640, 640, 3) and moved == placed
    # a box mapped back through either placement lands on the same photo coordinates
    assert moved[0].to_photo((0, 140, 640, 500)) == pytest.approx((0.0, 0.0, 1.0, 1.0))
