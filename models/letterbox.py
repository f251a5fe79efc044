"""Photos to detector input: decoded, scaled so the longer side is `size`, and padded grey to the
next multiple of 32 (a 1920x1080 photo at 640 becomes 640x384, not a 640x640 square: 40% fewer
pixels for the detector, as Ultralytics' own rectangular inference does). A batch shares one
canvas, the largest its photos need, each photo centred in it. Two ways to the same canvas:

- `letterbox`: one photo on CPU with Pillow. JPEG draft mode decodes at a reduced scale, several
  times faster than a full decode of a 1080p photo; the CPU pipeline and the Serve app use it.
- `letterbox_batch`: a batch on a torch device. JPEGs go through one batched torchvision
  `decode_jpeg` (nvJPEG on a GPU), the resize runs there too, and the batch stays on the device
  for the detector: a GPU box then needs no decode cores. A PNG, or a JPEG the device decoder
  refuses, goes through Pillow on CPU, which reads it or gives the same error as the CPU path.
  On CPU the same code runs on libjpeg (slower than draft mode; tests use it to check the path).

torchvision 0.29 marks its image decoders deprecated in favour of TorchCodec; they still work and
come with the torchvision that ultralytics needs anyway. Moving means changing `letterbox_batch` only.
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps

from models.types import Placement

PAD_VALUE = 114  # ultralytics' letterbox grey
JPEG_START = b"\xff\xd8\xff"

warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision are deprecated",
                        category=DeprecationWarning)  # said once above, not once per batch in every worker's log


STRIDE = 32  # YOLO's input sides are multiples of its largest stride


def _up(v: int) -> int:
    return -(-v // STRIDE) * STRIDE


def scaled_size(width: int, height: int, size: int) -> tuple[int, int]:
    scale = size / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def place(width: int, height: int, size: int, canvas: tuple[int, int] | None = None) -> tuple[Placement, int, int]:
    """The placement of a width x height photo in a canvas (width, height; default: its own, the
    scaled photo rounded up to multiples of 32), and its scaled width and height."""
    w, h = scaled_size(width, height, size)
    cw, ch = canvas or (_up(w), _up(h))
    return Placement(size / max(width, height), (cw - w) // 2, (ch - h) // 2, width, height), w, h


def batch_canvas(scaled: Sequence[tuple[int, int]], size: int) -> tuple[int, int]:
    """(width, height) of the one canvas a batch of scaled photo sizes shares."""
    if not scaled:
        return _up(size), _up(size)
    return max(_up(w) for w, _ in scaled), max(_up(h) for _, h in scaled)


def stack(frames: Sequence[np.ndarray | None], placements: Sequence[Placement | None], size: int):
    """Letterboxed frames of one batch (None: a photo that failed) on their shared canvas:
    ((n, H, W, 3) uint8, placements moved to where each frame now sits)."""
    cw, ch = batch_canvas([f.shape[1::-1] for f in frames if f is not None], size)
    out = np.full((len(frames), ch, cw, 3), PAD_VALUE, np.uint8)
    moved: list[Placement | None] = []
    for i, (f, at) in enumerate(zip(frames, placements)):
        if f is None:
            moved.append(None)
            continue
        dx, dy = (cw - f.shape[1]) // 2, (ch - f.shape[0]) // 2
        out[i, dy:dy + f.shape[0], dx:dx + f.shape[1]] = f
        moved.append(Placement(at.scale, at.pad_x + dx, at.pad_y + dy, at.width, at.height))
    return out, moved


ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


def oriented_size(im: Image.Image) -> tuple[int, int]:
    """The photo's size as a viewer shows it (EXIF orientation applied), from the header alone."""
    w, h = im.size
    return (h, w) if im.getexif().get(0x0112) in ROTATED else (w, h)


def open_oriented(im: Image.Image, at_least: tuple[int, int] | None = None) -> Image.Image:
    """RGB pixels the way the viewer sees them. `at_least` (oriented width, height): JPEG draft mode
    may decode at 1/2, 1/4 or 1/8 scale as long as the result is at least that large."""
    if at_least is not None:
        want = at_least[::-1] if im.getexif().get(0x0112) in ROTATED else at_least
        im.draft("RGB", (max(1, int(want[0])), max(1, int(want[1]))))
    return ImageOps.exif_transpose(im.convert("RGB") if im.mode != "RGB" else im)


def letterbox(data: bytes, size: int) -> tuple[np.ndarray, Placement]:
    """Decode one photo with Pillow, EXIF orientation applied: (H x W x 3 RGB uint8 on its own
    canvas, its placement). Raises what Pillow raises for a corrupt, truncated or oversized file."""
    with Image.open(io.BytesIO(data)) as im:
        at, w, h = place(*oriented_size(im), size)
        im = open_oriented(im, (w, h)).resize((w, h), Image.BILINEAR)
        canvas = np.full((_up(h), _up(w), 3), PAD_VALUE, np.uint8)
        canvas[at.pad_y:at.pad_y + h, at.pad_x:at.pad_x + w] = np.asarray(im)
    return canvas, at


def letterbox_batch(photos: Sequence[bytes], size: int, device="cpu"):
    """Decode and letterbox a batch on `device`.

    Returns (canvas, placements, errors): canvas is (n, 3, H, W) uint8 RGB on the device, the
    batch's shared canvas (batch_canvas); for a photo that cannot be decoded its placement is None,
    its frame stays grey and its error says why, so one bad file never fails the batch.
    """
    import torch
    from torchvision.io import ImageReadMode, decode_jpeg

    n = len(photos)
    images: list = [None] * n
    errors = [""] * n
    for i, data in enumerate(photos):
        try:  # the header only: rejects what is not an image and Pillow's decompression bombs
            with Image.open(io.BytesIO(data)) as im:
                im.size  # noqa: B018
        except Exception as e:
            errors[i] = f"cannot decode image: {type(e).__name__}: {e}"
    jpegs = [i for i in range(n) if not errors[i] and photos[i][:3] == JPEG_START]
    if jpegs:
        encoded = [torch.frombuffer(bytearray(photos[i]), dtype=torch.uint8) for i in jpegs]
        try:
            decoded = decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device, apply_exif_orientation=True)
        except RuntimeError:  # one bad file fails the batched call: decode one by one to find it
            decoded = []
            for data in encoded:
                try:
                    decoded.append(decode_jpeg(data, mode=ImageReadMode.RGB, device=device, apply_exif_orientation=True))
                except RuntimeError:  # left to Pillow below: it reads it, or says why not
                    decoded.append(None)
        for i, image in zip(jpegs, decoded):
            images[i] = image
    for i in range(n):  # PNG, JPEGs the device decoder refused: Pillow on CPU, then moved
        if images[i] is None and not errors[i]:
            try:
                with Image.open(io.BytesIO(photos[i])) as im:
                    rgb = np.array(open_oriented(im))  # a writable copy, as torch wants
                images[i] = torch.from_numpy(rgb).permute(2, 0, 1).to(device)
            except Exception as e:
                errors[i] = f"cannot decode image: {type(e).__name__}: {e}"
    placements: list[Placement | None] = [None] * n
    cw, ch = batch_canvas([scaled_size(im.shape[2], im.shape[1], size) for im in images if im is not None], size)
    canvas = torch.full((n, 3, ch, cw), PAD_VALUE, dtype=torch.uint8, device=device)
    for i, image in enumerate(images):
        if image is None:
            continue
        at, w, h = place(image.shape[2], image.shape[1], size, (cw, ch))
        scaled = torch.nn.functional.interpolate(image[None].float(), size=(h, w), mode="bilinear",
                                                 antialias=True, align_corners=False)
        canvas[i, :, at.pad_y:at.pad_y + h, at.pad_x:at.pad_x + w] = scaled[0].round_().clamp_(0, 255).byte()
        placements[i] = at
    return canvas, placements, errors
