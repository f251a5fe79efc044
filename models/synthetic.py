"""Generated trail-camera photos with ground truth: no real deer photos exist in this project.

Each individual's look (coat, throat patch, ear notch, flank mark, spots, antlers) is derived from its id only,
so the same deer looks the same in every photo and re-identification has something to work with.
Deer are drawn side-on in unit coordinates (body length 1, +x towards the head, +y down) and mapped to pixels.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

KINDS = ("doe", "fawn", "buck")
AGE_CLASSES = ("fawn", "young", "mid", "mature")
# body length relative to an adult doe: `scale` in a placement is an adult doe's body length in pixels
SIZE = {"doe": 1.0, "fawn": 0.62, "young": 1.0, "mid": 1.1, "mature": 1.2}


@dataclass
class DeerSpec:
    kind: str  # 'doe' | 'fawn' | 'buck'
    age_class: str | None  # 'fawn' | 'young' | 'mid' | 'mature' | None
    individual: str

    @property
    def size(self) -> float:
        return SIZE[self.age_class if self.kind == "buck" else self.kind]


def _seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "little")


@lru_cache(maxsize=256)
def appearance(individual: str, kind: str, age_class: str | None) -> dict:
    """Deterministic look of one individual, from its id alone."""
    r = np.random.default_rng(_seed("deer", individual))
    coat = np.array([140, 98, 62]) * r.uniform(0.75, 1.15) + r.normal(0, 9, 3)
    look = {
        "coat": tuple(int(c) for c in np.clip(coat, 40, 220)),
        "throat": (r.uniform(0.035, 0.085), r.uniform(0.6, 1.8), int(r.integers(1, 3))),  # size, elongation, patches
        "ear_notch": (int(r.integers(0, 3)), r.uniform(0.3, 0.7)),  # 0 none / 1 near ear / 2 far ear, position
        "mark": None if r.random() < 0.3 else (r.uniform(-0.3, 0.3), r.uniform(-0.1, 0.08),
                                               r.uniform(0.03, 0.07), bool(r.random() < 0.5)),  # x, y, r, white?
        "blaze": bool(r.random() < 0.4),  # white band across the muzzle
        "spots": [(r.uniform(-0.4, 0.35), r.uniform(-0.17, 0.05)) for _ in range(int(r.integers(14, 26)))]
        if kind == "fawn" else [],
    }
    if kind == "buck":
        points = {"young": r.integers(2, 4), "mid": r.integers(4, 7), "mature": r.integers(8, 11)}[age_class or "mid"]
        look["antlers"] = {
            "per_side": [int(points) // 2 + int(points) % 2, int(points) // 2],  # near, far
            "beam": {"young": 0.012, "mid": 0.018, "mature": 0.027}[age_class or "mid"],
            "reach": {"young": 0.6, "mid": 0.85, "mature": 1.0}[age_class or "mid"] * r.uniform(0.9, 1.1),
            "curl": r.uniform(0.7, 1.3),
            "tine": r.uniform(0.8, 1.2),
        }
    return look


# ---------------------------------------------------------------- background

@lru_cache(maxsize=64)
def _background(seed: int, size: tuple[int, int]) -> Image.Image:
    """One camera's view: sky or canopy, a field/forest floor with texture, tree trunks. Cached per camera."""
    w, h = size
    r = np.random.default_rng(_seed("background", seed))
    horizon = r.uniform(0.25, 0.5)
    forest = r.random() < 0.5
    t = np.linspace(0, 1, h)[:, None]
    if forest:
        top, far = np.array([40, 60, 35]), np.array([70, 85, 55])
    else:
        top, far = np.array([175, 190, 205]), np.array([200, 205, 200])
    ground_far = np.array([125, 120, 70]) * r.uniform(0.8, 1.1) + r.normal(0, 8, 3)
    ground_near = np.array([100, 105, 55]) * r.uniform(0.75, 1.1) + r.normal(0, 8, 3)
    sky = top + (far - top) * np.clip(t / horizon, 0, 1)
    ground = ground_far + (ground_near - ground_far) * np.clip((t - horizon) / (1 - horizon), 0, 1)
    column = np.where(t < horizon, sky, ground)  # (h, 3)
    # texture: coarse noise upsampled, cheap and grass/leaf-like
    coarse = r.normal(0, 1, (max(2, h // 12), max(2, w // 12), 1)) * 14 + r.normal(0, 1, (max(2, h // 12), max(2, w // 12), 3)) * 4
    texture = np.asarray(Image.fromarray(np.uint8(np.clip(coarse + 128, 0, 255))).resize((w, h), Image.BILINEAR),
                         dtype=np.float32) - 128
    fine = r.normal(0, 6, (h, w, 1)).astype(np.float32)
    img = Image.fromarray(np.uint8(np.clip(column[:, None, :] + texture + fine, 0, 255)))
    draw = ImageDraw.Draw(img)
    base_y = horizon * h
    for _ in range(int(r.integers(3, 12) if forest else r.integers(0, 4))):
        x = r.uniform(-0.05, 1.05) * w
        near = r.random()
        tw = (4 + near * 40) * w / 960
        bottom = base_y + near * (h - base_y) * 0.6
        shade = int(r.uniform(45, 95))
        color = (shade + 10, shade + 5, shade - 5)
        draw.polygon([(x - tw / 2, 0), (x + tw / 2, 0), (x + tw * 0.6, bottom), (x - tw * 0.6, bottom)], fill=color)
    for _ in range(int(r.integers(20, 60))):  # shrubs/rocks on the ground
        x, y = r.uniform(0, w), r.uniform(base_y, h)
        s = (3 + (y - base_y) / h * 30) * r.uniform(0.5, 1.5) * w / 960
        g = r.uniform(0.6, 1.0)
        draw.ellipse([x - s * 1.6, y - s, x + s * 1.6, y], fill=(int(70 * g), int(90 * g), int(45 * g)))
    return img


@lru_cache(maxsize=8)
def _flash_falloff(size: tuple[int, int]) -> Image.Image:
    w, h = size
    y, x = np.ogrid[-1:1:complex(0, h), -1:1:complex(0, w)]
    return Image.fromarray(np.uint8(255 * np.clip(1.15 - 0.55 * (x**2 + y**2), 0.3, 1)))


# ---------------------------------------------------------------- deer

def _shade(color, k: float):
    return tuple(int(min(255, max(0, c * k))) for c in color)


def _draw_deer(draw: ImageDraw.ImageDraw, spec: DeerSpec, cx: float, cy: float, scale: float, facing: int,
               pose: dict) -> tuple[float, float, float, float]:
    """Draw one deer; returns its tight box (x1, y1, x2, y2) in pixels."""
    look = appearance(spec.individual, spec.kind, spec.age_class)
    s = scale * spec.size
    sign = 1 if facing >= 0 else -1
    xs, ys = [], []

    def P(x, y):
        px, py = cx + sign * x * s, cy + y * s
        xs.append(px)
        ys.append(py)
        return px, py

    def ellipse(x, y, rx, ry, fill):
        (x1, y1), (x2, y2) = P(x - rx, y - ry), P(x + rx, y + ry)
        draw.ellipse([min(x1, x2), y1, max(x1, x2), y2], fill=fill)

    def width(u):
        return max(1, int(round(u * s)))

    coat, dark, white = look["coat"], _shade(look["coat"], 0.55), (232, 228, 215)
    stride = pose["stride"]
    legs = [(-0.36 + stride, 0.72), (0.30 - stride, 0.72), (-0.27 - stride, 1.0), (0.37 + stride, 1.0)]  # far, near
    for lx, k in legs:
        foot = lx + pose["lean"] * 0.1
        draw.polygon([P(lx - 0.045, 0.05), P(lx + 0.045, 0.05), P(foot + 0.02, 0.6), P(foot - 0.02, 0.6)],
                     fill=_shade(coat, k * 0.92))
        ellipse(foot, 0.62, 0.024, 0.02, dark)  # hoof
    tail_y = -0.2 if pose["tail_up"] else -0.08
    ellipse(-0.52, tail_y, 0.05, 0.09, white)
    ellipse(0, 0, 0.5, 0.2, coat)
    ellipse(0.02, 0.13, 0.3, 0.06, tuple((c + w) // 2 for c, w in zip(coat, white)))  # paler belly
    hx, hy = pose["head"]
    draw.polygon([P(0.22, -0.16), P(0.44, 0.05), P(hx + 0.02, hy + 0.06), P(hx - 0.09, hy - 0.04)], fill=coat)  # neck
    size, elong, patches = look["throat"]
    for i in range(patches):  # throat patch: size, shape and count identify the individual
        tx, ty = hx + 0.02 - 0.06 * i * (1 if hy < 0 else -1), hy + 0.1 + 0.07 * i
        ellipse(tx - 0.02 * i, ty, size, size * elong / (1 + i), white)
    # head: tapered wedge to the muzzle
    mx, my = hx + 0.17, hy + (0.07 if hy < 0 else 0.1)
    draw.polygon([P(hx - 0.07, hy - 0.05), P(hx + 0.03, hy - 0.07), P(mx, my - 0.025), P(mx, my + 0.02),
                  P(hx - 0.03, hy + 0.07)], fill=_shade(coat, 0.95))
    if look["blaze"]:
        ellipse(mx - 0.05, my - 0.0, 0.02, 0.035, white)
    ellipse(mx, my, 0.022, 0.022, (30, 26, 24))  # nose
    ellipse(hx + 0.01, hy - 0.02, 0.013, 0.011, (20, 18, 16))  # eye
    notch_ear, notch_pos = look["ear_notch"]
    for ear, (ex, k) in enumerate(((hx - 0.08, 0.8), (hx - 0.04, 1.0))):  # far ear, then near ear
        tip = (ex - 0.11, hy - 0.2)
        base_f, base_b = (ex + 0.03, hy - 0.06), (ex - 0.05, hy - 0.03)
        pts = [base_f, tip, base_b]
        if notch_ear == 2 - ear:  # a V cut into the back edge of one ear
            ax = base_b[0] + (tip[0] - base_b[0]) * notch_pos
            ay = base_b[1] + (tip[1] - base_b[1]) * notch_pos
            pts = [base_f, tip, (ax - 0.012, ay - 0.03), (ax + 0.03, ay + 0.005), (ax, ay + 0.03), base_b]
        draw.polygon([P(x, y) for x, y in pts], fill=_shade(coat, k))
    if look["mark"]:
        mx_, my_, mr, is_white = look["mark"]
        ellipse(mx_, my_, mr * 1.4, mr, white if is_white else _shade(coat, 0.4))
    for sx, sy in look["spots"]:
        ellipse(sx, sy, 0.018, 0.015, white)
    if "antlers" in look:
        a = look["antlers"]
        bx, by = hx - 0.03, hy - 0.08
        for side, n_points in enumerate(a["per_side"]):  # near beam, then far beam offset back and darker
            off = -0.04 * side
            reach, curl = a["reach"], a["curl"]
            beam = [(bx + off + reach * u, by - reach * v) for u, v in
                    ((0, 0), (-0.06, 0.12), (0.03 * curl, 0.22), (0.14 * curl, 0.26), (0.24 * curl, 0.22))]
            color = (205, 190, 155) if side == 0 else (170, 155, 125)
            draw.line([P(x, y) for x, y in beam], fill=color, width=width(a["beam"]), joint="curve")
            for t in range(max(0, n_points - 1)):  # tines rise off the beam; the beam tip is one point
                u = 0.25 + 0.65 * t / max(1, n_points - 1)
                i = min(3, int(u * 4))
                f = u * 4 - i
                (x0, y0), (x1, y1) = beam[i], beam[i + 1]
                x_, y_ = x0 + (x1 - x0) * f, y0 + (y1 - y0) * f
                length = 0.09 * reach * a["tine"] * (1.2 if t == 0 else 1.0)
                draw.line([P(x_, y_), P(x_ + 0.015, y_ - length)], fill=color, width=width(a["beam"] * 0.7))
    return min(xs), min(ys), max(xs), max(ys)


def random_pose(rng: np.random.Generator) -> dict:
    head = [(0.6, -0.5), (0.58, -0.42), (0.66, 0.3)][int(rng.integers(0, 3))]  # alert, walking, grazing
    return {"head": (head[0] + rng.normal(0, 0.02), head[1] + rng.normal(0, 0.03)),
            "stride": rng.uniform(-0.06, 0.06), "lean": rng.uniform(-0.3, 0.3), "tail_up": bool(rng.random() < 0.2)}


def place_deer(rng: np.random.Generator, size: tuple[int, int], spec: DeerSpec,
               scale_range: tuple[float, float] = (0.14, 0.36)) -> tuple[float, float, float, int]:
    """A random (cx, cy, scale, facing) that keeps the whole deer inside the image; scale is a fraction of width."""
    w, h = size
    top, bottom = (1.0 if spec.kind == "buck" else 0.72), 0.66  # antler tips / ear tips above, hooves below
    scale = rng.uniform(*scale_range) * w
    scale = min(scale, h / (top + bottom) / spec.size * 0.95)
    s = scale * spec.size
    cx = rng.uniform(0.7 * s, w - 0.7 * s)
    cy = rng.uniform(top * s, h - bottom * s)
    return cx, cy, scale, 1 if rng.random() < 0.5 else -1


def place_group(rng: np.random.Generator, size: tuple[int, int], specs: list[DeerSpec], max_overlap: float = 0.25,
                **kw) -> list[tuple[float, float, float, int]]:
    """Placements for several deer that overlap little (a detector cannot be asked to split a heap)."""
    placed, boxes = [], []
    for spec in specs:
        for _ in range(30):
            p = place_deer(rng, size, spec, **kw)
            cx, cy, scale, _f = p
            s = scale * spec.size
            box = (cx - 0.7 * s, cy - 0.8 * s, cx + 0.7 * s, cy + 0.66 * s)
            if all(box_iou(box, b) <= max_overlap for b in boxes):
                break
        placed.append(p)
        boxes.append(box)
    return placed


def box_iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def render_scene(rng: np.random.Generator, size: tuple[int, int] = (960, 540),
                 deer: list[tuple[DeerSpec, tuple[float, float, float, int]]] = (),
                 background_seed: int = 0, night: bool = False) -> tuple[Image.Image, list[dict]]:
    """One photo: the camera's background, the deer (far ones first), lighting; returns (image, ground truth)."""
    w, h = size
    img = _background(background_seed, (w, h)).copy()
    draw = ImageDraw.Draw(img)
    truth = []
    for spec, (cx, cy, scale, facing) in sorted(deer, key=lambda d: d[1][1]):
        x1, y1, x2, y2 = _draw_deer(draw, spec, cx, cy, scale, facing, random_pose(rng))
        box = (max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2))
        truth.append({"individual": spec.individual, "kind": spec.kind, "age_class": spec.age_class,
                      "box": tuple(round(v, 1) for v in box)})
    if night:  # infrared flash: grey, bright centre, dark corners
        grey = ImageOps.grayscale(img).point(lambda v: min(255, int(v * 1.25 + 10)))
        dark = Image.new("L", (w, h), 0)
        img = Image.merge("RGB", [Image.composite(grey, dark, _flash_falloff((w, h)))] * 3)
    else:  # time of day and weather: brightness, contrast and colour cast through per-channel lookup tables
        gain = rng.uniform(0.75, 1.2)
        cast = rng.normal(1, 0.04, 3)
        contrast = rng.uniform(0.85, 1.1)
        lut = [int(min(255, max(0, ((v - 128) * contrast + 128) * gain * c))) for c in cast for v in range(256)]
        img = img.point(lut)
    return img, truth


# ---------------------------------------------------------------- photos on disk

def write_photo(path: str | Path, image: Image.Image, taken_at: datetime | None, make: str = "Browning",
                model: str = "BTC-8E", quality: int = 85) -> None:
    """JPEG with the EXIF a trail camera writes: Make, Model and DateTimeOriginal (Exif IFD)."""
    exif = Image.Exif()
    exif[271] = make
    exif[272] = model
    if taken_at is not None:
        stamp = taken_at.strftime("%Y:%m:%d %H:%M:%S")
        exif[306] = stamp  # DateTime
        exif.get_ifd(0x8769)[36867] = stamp  # DateTimeOriginal
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=quality, exif=exif.tobytes())


def default_herd() -> list[DeerSpec]:
    return [DeerSpec("doe", None, "doe-1"), DeerSpec("doe", None, "doe-2"), DeerSpec("fawn", "fawn", "fawn-1"),
            DeerSpec("buck", "young", "buck-young-1"), DeerSpec("buck", "mid", "buck-mid-1"),
            DeerSpec("buck", "mature", "buck-mature-1")]


def make_photo_folder(root: str | Path, locations=("270_Jason", "Hayfield", "Sanctuary"), photos_per_location: int = 12,
                      seed: int = 0, size: tuple[int, int] = (960, 540), herd: list[DeerSpec] | None = None) -> list[dict]:
    """Write root/<location>/IMG_xxxx.JPG for a herd wandering between cameras; returns ground-truth rows.

    Photos come in bursts of 3 shots 2 s apart at one camera (same deer, moving a little); bursts are hours to days
    apart between September and January. One row per deer per photo; an empty photo has one row with individual None.
    """
    root = Path(root)
    herd = herd or default_herd()
    rng = np.random.default_rng(seed)
    season_start, season_days = datetime(2024, 9, 1), 152
    rows = []
    for li, location in enumerate(locations):
        background = _seed("camera", seed, location) % 2**31
        bursts = []
        for _ in range((photos_per_location + 2) // 3):
            start = season_start + timedelta(days=float(rng.uniform(0, season_days)))
            start = start.replace(microsecond=0)
            n = int(rng.choice([0, 1, 1, 1, 1, 2, 2], 1)[0])
            members = [herd[i] for i in rng.choice(len(herd), size=n, replace=False)]
            bursts.append((start, members))
        bursts.sort(key=lambda b: b[0])
        for i in range(1, len(bursts)):  # a camera re-arms between bursts: keep them at least an hour apart
            if bursts[i][0] - bursts[i - 1][0] < timedelta(hours=1):
                bursts[i] = (bursts[i - 1][0] + timedelta(hours=1, minutes=int(rng.integers(0, 600))), bursts[i][1])
        shots_left = photos_per_location
        for start, members in bursts:
            placements = place_group(rng, size, members)
            night = not 7 <= start.hour < 18
            for shot in range(min(3, shots_left)):
                taken_at = start + timedelta(seconds=2 * shot)
                index = photos_per_location - shots_left + 1
                shots_left -= 1
                rel = f"{location}/IMG_{index:04d}.JPG"
                deer = []
                for spec, (cx, cy, scale, facing) in zip(members, placements):
                    step = 0.03 * scale * shot * facing  # walking the way it faces, a little per shot
                    s = scale * spec.size
                    deer.append((spec, (float(np.clip(cx + step, 0.7 * s, size[0] - 0.7 * s)), cy, scale, facing)))
                img, truth = render_scene(rng, size, deer, background, night=night)
                write_photo(root / rel, img, taken_at)
                base = {"path": rel, "location": location, "taken_at": taken_at}
                rows += [{**base, **t} for t in truth] or [
                    {**base, "individual": None, "kind": None, "age_class": None, "box": None}]
    return rows
