"""Generated trail-camera photos with ground truth: no real deer photos exist in this project.

Each individual's look (coat, throat patch, ear notch, flank mark, spots, antlers) is derived from its id only,
so the same deer looks the same in every photo and re-identification has something to work with.
Deer are drawn side-on in unit coordinates (body length 1, +x towards the head, +y down) and mapped to pixels.
Cameras also catch other animals, people and vehicles (OtherSpec, OTHER_KINDS), drawn the same way and just as
stable per id, so a detector can learn to tell them from deer.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from models.stamp import STAMP_FORMATS

KINDS = ("doe", "fawn", "buck")
AGE_CLASSES = ("fawn", "young", "mid", "mature")
# body length relative to an adult doe: `scale` in a placement is an adult doe's body length in pixels
SIZE = {"doe": 1.0, "fawn": 0.62, "young": 1.0, "mid": 1.1, "mature": 1.2}
OTHER_KINDS = ("cow", "hog", "raccoon", "turkey", "person", "vehicle")
ALL_KINDS = KINDS + OTHER_KINDS
# the unit a non-deer is drawn in, relative to a doe's body length: body length, or a person's standing height
OTHER_SIZE = {"cow": 1.6, "hog": 0.9, "raccoon": 0.45, "turkey": 0.5, "person": 1.1, "vehicle": 1.8}


@dataclass
class DeerSpec:
    kind: str  # 'doe' | 'fawn' | 'buck'
    age_class: str | None  # 'fawn' | 'young' | 'mid' | 'mature' | None
    individual: str

    @property
    def size(self) -> float:
        return SIZE[self.age_class if self.kind == "buck" else self.kind]

    species = property(lambda self: "deer")


@dataclass
class OtherSpec:
    kind: str  # one of OTHER_KINDS
    individual: str

    @property
    def size(self) -> float:
        return OTHER_SIZE[self.kind]

    age_class = property(lambda self: None)
    species = property(lambda self: self.kind)


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


# ---------------------------------------------------------------- other animals, people, vehicles

def _pick(r: np.random.Generator, options, jitter: float = 8.0):
    """One colour from a list, nudged per individual."""
    base = np.array(options[int(r.integers(len(options)))], dtype=float)
    return tuple(int(c) for c in np.clip(base * r.uniform(0.88, 1.1) + r.normal(0, jitter, 3), 8, 250))


@lru_cache(maxsize=256)
def other_appearance(individual: str, kind: str) -> dict:
    """Deterministic look of one non-deer individual, from its id alone (colours, markings, accessories)."""
    r = np.random.default_rng(_seed(kind, individual))
    if kind == "cow":  # black / brown / red / tan, maybe white patches (Holstein-ish) or a white face (Hereford)
        coat = _pick(r, [(28, 26, 26), (105, 68, 42), (140, 72, 40), (185, 150, 105)])
        pattern = str(r.choice(["solid", "patches", "face"], p=[0.45, 0.35, 0.2]))
        return {"coat": coat, "pattern": pattern, "white": _pick(r, [(236, 232, 222)], 5),
                "patches": [(r.uniform(-0.32, 0.3), r.uniform(-0.13, 0.12), r.uniform(0.06, 0.13),
                             r.uniform(0.05, 0.09)) for _ in range(int(r.integers(3, 7)))],
                "horns": r.uniform(0.06, 0.11) if r.random() < 0.35 else 0.0}
    if kind == "hog":  # feral: black / grey-brown / rusty with a bristly mane; domestic: pink, maybe spotted
        pink = bool(r.random() < 0.3)
        coat = _pick(r, [(215, 165, 150)] if pink else [(34, 31, 29), (82, 70, 60), (112, 78, 54)])
        return {"coat": coat, "pink": pink, "tusks": bool(not pink and r.random() < 0.5),
                "spots": [(r.uniform(-0.4, 0.3), r.uniform(-0.12, 0.1), r.uniform(0.04, 0.09))
                          for _ in range(int(r.integers(2, 5)))] if pink and r.random() < 0.4 else []}
    if kind == "raccoon":
        return {"coat": _pick(r, [(118, 115, 110), (126, 117, 104), (102, 100, 98)], 2), "rings": int(r.integers(4, 7)),
                "tail": r.uniform(0.85, 1.15)}
    if kind == "turkey":  # toms: bronze, red-blue head, beard, often strutting; hens: browner, grey head
        tom = bool(r.random() < 0.5)
        return {"coat": _pick(r, [(62, 48, 34), (74, 56, 36)] if tom else [(92, 72, 50), (104, 84, 60)], 5),
                "tom": tom, "fan": bool(tom and r.random() < 0.6), "bars": _pick(r, [(200, 190, 170)], 10),
                "head": (205, 60, 55) if tom else (150, 160, 175)}
    if kind == "person":
        coat = _pick(r, [(240, 105, 20), (86, 96, 60), (110, 84, 60), (70, 78, 100), (60, 60, 58)], 6)
        return {"coat": coat, "camo": bool(r.random() < 0.4 and coat[0] < 200),
                "pants": _pick(r, [(86, 96, 60), (60, 70, 100), (110, 90, 64), (45, 45, 45)], 6),
                "hat": _pick(r, [(240, 105, 20), (86, 96, 60), (40, 40, 40), (120, 95, 70)], 6),
                "skin": _pick(r, [(230, 190, 160), (190, 140, 105), (120, 84, 60)], 6),
                "pack": bool(r.random() < 0.4), "rifle": bool(r.random() < 0.35)}
    if kind == "vehicle":  # a UTV / side-by-side
        return {"body": _pick(r, [(45, 95, 45), (160, 30, 30), (70, 72, 70), (180, 150, 100), (40, 60, 120)], 8),
                "cage": (30, 30, 32) if r.random() < 0.6 else _pick(r, [(150, 150, 150)], 6),
                "roof": bool(r.random() < 0.6), "rim": _pick(r, [(90, 90, 90), (40, 40, 40), (160, 160, 150)], 6)}
    raise ValueError(f"unknown kind {kind!r}")


class _Pen:
    """Unit coordinates (+x towards the front, +y down) to pixels, remembering every point for a tight box."""

    def __init__(self, draw: ImageDraw.ImageDraw, cx: float, cy: float, s: float, facing: int):
        self.draw, self.cx, self.cy, self.s, self.sign = draw, cx, cy, s, (1 if facing >= 0 else -1)
        self.xs, self.ys = [], []

    def P(self, x, y):
        px, py = self.cx + self.sign * x * self.s, self.cy + y * self.s
        self.xs.append(px)
        self.ys.append(py)
        return px, py

    def poly(self, pts, fill):
        self.draw.polygon([self.P(x, y) for x, y in pts], fill=fill)

    def ellipse(self, x, y, rx, ry, fill):
        (x1, y1), (x2, y2) = self.P(x - rx, y - ry), self.P(x + rx, y + ry)
        self.draw.ellipse([min(x1, x2), y1, max(x1, x2), y2], fill=fill)

    def line(self, pts, fill, width):
        for x, y in pts:  # the stroke's half width counts towards the box
            self.P(x - width / 2, y - width / 2), self.P(x + width / 2, y + width / 2)
        self.draw.line([self.P(x, y) for x, y in pts], fill=fill, width=max(1, int(round(width * self.s))),
                       joint="curve")

    def box(self):
        return min(self.xs), min(self.ys), max(self.xs), max(self.ys)


def _turn(pts, ox, oy, a):
    """Points given relative to (ox, oy), turned by `a` radians (positive: front end goes down)."""
    c, s = np.cos(a), np.sin(a)
    return [(ox + u * c - v * s, oy + u * s + v * c) for u, v in pts]


def _legs(pen, xs, top, bottom, w, color, hoof, rng, k_far=0.8):
    """Four legs (far pair darker) from `top` to `bottom`, with a little stride."""
    st = rng.uniform(-0.04, 0.04)
    for i, lx in enumerate((xs[0] + st, xs[1] - st, xs[0] + 0.06 - st, xs[1] + 0.06 + st)):
        c = _shade(color, k_far if i < 2 else 1.0)
        pen.poly([(lx - w, top), (lx + w, top), (lx + w * 0.8, bottom), (lx - w * 0.8, bottom)], c)
        pen.poly([(lx - w * 0.85, bottom - 0.035), (lx + w * 0.85, bottom - 0.035), (lx + w * 0.9, bottom),
                  (lx - w * 0.9, bottom)], hoof)


def _cow(pen, look, rng):
    c, white = look["coat"], look["white"]
    body = white if look["pattern"] == "patches" else c
    _legs(pen, (-0.34, 0.26), 0.1, 0.5, 0.06, body, (35, 30, 28), rng)
    pen.line([(-0.49, -0.17), (-0.53, 0.05), (-0.52, 0.28)], body, 0.025)  # tail with a dark switch
    pen.ellipse(-0.52, 0.3, 0.025, 0.05, (40, 34, 30))
    pen.ellipse(-0.3, -0.01, 0.2, 0.23, body)
    pen.ellipse(0.27, 0.0, 0.22, 0.24, body)
    pen.poly([(-0.3, -0.23), (0.27, -0.24), (0.27, 0.24), (-0.3, 0.22)], body)
    for x, y, rx, ry in look["patches"] if look["pattern"] == "patches" else []:
        pen.ellipse(x, y, rx, ry, c)
    a = 1.3 if rng.random() < 0.4 else rng.uniform(0.5, 0.8)  # grazing or standing
    ox, oy = 0.5, -0.13
    pen.poly([(0.28, -0.24), (ox + 0.04, oy - 0.02), (ox + 0.06, oy + 0.16), (0.3, 0.25)], body)  # thick neck
    pen.poly([(0.3, 0.1), (ox, oy + 0.14), (0.4, 0.27), (0.3, 0.24)], body)  # dewlap
    face = white if look["pattern"] == "face" else (c if look["pattern"] == "patches" else body)
    pen.poly(_turn([(0, -0.05), (0.06, -0.07), (0.27, -0.06), (0.3, 0.04), (0.12, 0.08), (0, 0.07)], ox, oy, a), face)
    (mx, my), = _turn([(0.27, 0.0)], ox, oy, a)
    pen.ellipse(mx, my, 0.04, 0.045, (150, 115, 105))  # muzzle
    (ex, ey), = _turn([(0.08, -0.035)], ox, oy, a)
    pen.ellipse(ex, ey, 0.015, 0.013, (15, 14, 14))
    pen.poly([(ox - 0.02, oy - 0.02), (ox - 0.13, oy - 0.06), (ox - 0.12, oy + 0.0)], _shade(face, 0.85))  # ear
    if look["horns"]:
        h = look["horns"]
        pen.line([(ox + 0.01, oy - 0.05), (ox - 0.02, oy - 0.05 - h * 0.6), (ox + 0.03, oy - 0.05 - h)],
                 (215, 205, 175), 0.02)


def _hog(pen, look, rng):
    c = look["coat"]
    _legs(pen, (-0.33, 0.22), 0.08, 0.38, 0.045, c, (30, 26, 24), rng, 0.75)
    pen.line([(-0.48, -0.06), (-0.54, 0.04), (-0.52, 0.12)], c, 0.018)  # tail
    pen.ellipse(-0.12, 0.0, 0.39, 0.18, c)
    pen.ellipse(0.16, -0.02, 0.24, 0.2 if look["pink"] else 0.22, c)
    for x, y, rr in look["spots"]:
        pen.ellipse(x, y, rr * 1.3, rr, (40, 36, 34))
    if not look["pink"]:  # bristly mane along the back
        pen.poly([(0.36, -0.19)] + [(x, -0.2 - 0.055 * (i % 2) - 0.02 * (x > 0)) for i, x in
                                    enumerate(np.linspace(0.32, -0.3, 12))] + [(-0.3, -0.15), (0.36, -0.15)],
                 _shade(c, 0.55))
    a = rng.uniform(0.15, 0.65)  # walking to rooting
    ox, oy = 0.34, -0.1
    head = [(0, -0.08), (0.1, -0.08), (0.4, 0.07), (0.41, 0.15), (0.12, 0.2), (0, 0.2)]
    pen.poly(_turn(head, ox, oy, a), _shade(c, 0.95))
    (sx, sy), = _turn([(0.41, 0.11)], ox, oy, a)
    pen.ellipse(sx, sy, 0.02, 0.04, (200, 140, 135) if look["pink"] else (60, 48, 45))  # snout disc
    (ex, ey), = _turn([(0.14, -0.01)], ox, oy, a)
    pen.ellipse(ex, ey, 0.013, 0.011, (12, 10, 10))
    ear = [(0.05, -0.07), (0.2, -0.14), (0.14, -0.03)] if look["pink"] else [(0.05, -0.07), (0.0, -0.2), (0.12, -0.08)]
    pen.poly(_turn(ear, ox, oy, a), _shade(c, 0.8))
    if look["tusks"]:
        pen.line(_turn([(0.3, 0.14), (0.33, 0.08), (0.31, 0.05)], ox, oy, a), (235, 228, 205), 0.014)


def _raccoon(pen, look, rng):
    c, dark, pale = look["coat"], (38, 36, 35), (215, 212, 205)
    _legs(pen, (-0.3, 0.22), 0.08, 0.32, 0.05, dark, (25, 24, 24), rng, 0.85)
    n, L = 3 * look["rings"], look["tail"]
    for i in range(n):  # bushy ringed tail, black tip, drawn tip first
        t = 1 - i / (n - 1)
        pen.ellipse(-0.5 - 0.42 * L * t, -0.06 + 0.16 * L * t ** 1.5, 0.075, 0.08,
                    dark if (i // 3) % 2 == 0 else _shade(c, 1.25))
    pen.ellipse(-0.18, -0.06, 0.33, 0.2, c)  # hunched: rump higher than shoulders
    pen.ellipse(0.12, 0.01, 0.28, 0.16, c)
    hx, hy = 0.46, -0.03 + rng.uniform(-0.03, 0.06)
    pen.poly([(hx - 0.1, hy - 0.1), (hx - 0.14, hy - 0.21), (hx - 0.02, hy - 0.12)], dark)  # ear, pale rim
    pen.poly([(hx - 0.1, hy - 0.11), (hx - 0.125, hy - 0.18), (hx - 0.05, hy - 0.12)], pale)
    pen.ellipse(hx, hy, 0.13, 0.11, _shade(c, 1.1))
    pen.poly([(hx + 0.04, hy - 0.06), (hx + 0.22, hy + 0.03), (hx + 0.21, hy + 0.07), (hx + 0.04, hy + 0.08)], pale)
    mask = [(hx - 0.08, hy - 0.05), (hx + 0.12, hy - 0.03), (hx + 0.15, hy + 0.02), (hx - 0.07, hy + 0.04)]
    pen.poly(mask, dark)  # black eye mask
    pen.ellipse(hx + 0.03, hy - 0.07, 0.08, 0.02, pale)  # white brow
    pen.ellipse(hx + 0.22, hy + 0.045, 0.025, 0.022, (15, 14, 14))  # nose


def _turkey(pen, look, rng):
    c, bars = look["coat"], look["bars"]
    legs = (190, 150, 140) if look["tom"] else (160, 135, 120)
    st = rng.uniform(0.0, 0.08)
    for x, k in ((-0.05 - st, 0.8), (0.04 + st, 1.0)):
        pen.line([(x + 0.02, 0.15), (x, 0.6)], _shade(legs, k), 0.028)
        pen.line([(x - 0.06, 0.61), (x + 0.1, 0.61)], _shade(legs, k), 0.02)
    if look["fan"]:  # strutting: tail fanned upright behind, buff-tipped
        ang = np.linspace(np.pi * 0.45, np.pi * 1.2, 14)
        for r_, col in ((0.5, bars), (0.45, (120, 80, 45)), (0.4, _shade(c, 0.9))):
            pen.poly([(-0.15, -0.05)] + [(-0.15 + r_ * np.cos(t), -0.05 - r_ * np.sin(t) * 0.95) for t in ang], col)
    else:
        pen.poly([(-0.25, -0.08), (-0.62, 0.1), (-0.6, 0.18), (-0.22, 0.08)], _shade(c, 0.9))
        pen.line([(-0.62, 0.1), (-0.6, 0.18)], bars, 0.025)
    pen.ellipse(0.0, 0.0, 0.32, 0.2, c)
    pen.ellipse(0.14, -0.06, 0.16, 0.18, _shade(c, 1.1))  # breast
    pen.ellipse(-0.05, -0.02, 0.22, 0.11, _shade(c, 0.8))  # wing, white-barred primaries
    for y in (-0.05, 0.0, 0.05):
        for x in np.linspace(-0.24, -0.08, 4):
            pen.line([(x, y), (x + 0.03, y + 0.01)], bars, 0.014)
    hy = -0.42 + (0.08 if look["fan"] else rng.uniform(-0.03, 0.06))
    pen.poly([(0.12, -0.2), (0.27, -0.2), (0.36, hy + 0.03), (0.31, hy + 0.03)], _shade(c, 1.1))  # neck feathers
    pen.line([(0.28, -0.22), (0.32, hy + 0.03)], look["head"] if look["tom"] else (120, 130, 150), 0.04)
    pen.ellipse(0.36, hy, 0.05, 0.042, look["head"])
    pen.poly([(0.4, hy - 0.015), (0.46, hy + 0.01), (0.4, hy + 0.02)], (200, 180, 130))  # beak
    pen.ellipse(0.37, hy - 0.01, 0.01, 0.01, (10, 10, 10))
    if look["tom"]:
        pen.ellipse(0.33, hy + 0.07, 0.025, 0.045, (200, 40, 40))  # wattle
        pen.line([(0.41, hy - 0.02), (0.44, hy + 0.07)], (200, 40, 40), 0.015)  # snood
        pen.line([(0.22, -0.05), (0.25, 0.1)], (25, 22, 20), 0.025)  # beard


def _person(pen, look, rng):
    coat, pants, skin = look["coat"], look["pants"], look["skin"]
    st, sw = rng.uniform(0.0, 0.12), rng.uniform(-0.08, 0.08)
    for foot, k in ((-st, 0.8), (st, 1.0)):  # legs and boots, far one darker
        pen.poly([(-0.045, 0.0), (0.045, 0.0), (foot + 0.028, 0.45), (foot - 0.028, 0.45)], _shade(pants, k))
        pen.poly([(foot - 0.035, 0.43), (foot + 0.03, 0.43), (foot + 0.075, 0.47), (foot + 0.075, 0.5),
                  (foot - 0.035, 0.5)], _shade((60, 45, 35), k))
    pen.poly([(-0.05, -0.31), (sw - 0.02, -0.02), (sw + 0.02, -0.01), (0.03, -0.3)], _shade(coat, 0.75))  # far arm
    if look["pack"]:
        pen.poly([(-0.06, -0.32), (-0.13, -0.3), (-0.14, -0.1), (-0.06, -0.1)], (70, 66, 50))
    pen.poly([(-0.065, -0.34), (0.05, -0.34), (0.075, -0.2), (0.06, 0.05), (-0.065, 0.05)], coat)  # torso
    if look["camo"]:
        for x, y in ((-0.02, -0.25), (0.03, -0.12), (-0.03, -0.02), (0.01, -0.3)):
            pen.ellipse(x, y, 0.025, 0.018, _shade(coat, 0.6))
    pen.poly([(-0.02, -0.32), (-sw - 0.025, -0.03), (-sw + 0.015, -0.02), (0.04, -0.31)], _shade(coat, 0.92))  # arm
    pen.ellipse(-sw - 0.005, -0.015, 0.02, 0.022, skin)  # hand
    if look["rifle"]:
        pen.line([(-0.1, -0.08), (0.02, -0.32), (0.05, -0.4)], (45, 35, 28), 0.018)
    pen.poly([(-0.02, -0.36), (0.025, -0.36), (0.025, -0.33), (-0.02, -0.33)], skin)  # neck
    pen.ellipse(0.0, -0.42, 0.05, 0.06, skin)
    pen.poly([(0.04, -0.43), (0.065, -0.405), (0.045, -0.4)], _shade(skin, 0.9))  # nose
    pen.poly([(-0.053, -0.44), (-0.045, -0.48), (0.0, -0.495), (0.045, -0.475), (0.05, -0.45), (0.095, -0.445),
              (0.095, -0.435), (-0.053, -0.43)], look["hat"])  # cap with a brim


def _vehicle(pen, look, rng):
    body, cage, tyre = look["body"], look["cage"], (24, 24, 24)
    if look["roof"]:
        pen.poly([(-0.16, -0.4), (0.2, -0.4), (0.2, -0.36), (-0.16, -0.36)], _shade(body, 0.8))
    pen.line([(-0.14, -0.05), (-0.13, -0.38), (0.18, -0.38), (0.3, -0.06)], cage, 0.025)  # roll cage
    pen.line([(0.03, -0.38), (0.06, -0.05)], cage, 0.02)
    pen.poly([(-0.1, -0.22), (-0.05, -0.22), (-0.02, 0.0), (-0.09, 0.0)], (35, 35, 35))  # seat back
    pen.line([(0.2, -0.18), (0.25, -0.08)], (30, 30, 30), 0.02)  # steering wheel
    pen.poly([(-0.5, -0.1), (-0.13, -0.1), (-0.13, 0.02), (0.25, 0.02), (0.3, -0.07), (0.48, -0.03), (0.5, 0.1),
              (0.45, 0.15), (-0.48, 0.15)], body)  # cargo bed, cab floor, hood
    pen.poly([(-0.5, -0.12), (-0.12, -0.12), (-0.12, -0.09), (-0.5, -0.09)], _shade(body, 0.7))  # bed rail
    pen.poly([(0.46, 0.02), (0.51, 0.03), (0.51, 0.12), (0.46, 0.12)], (30, 30, 30))  # bumper
    pen.ellipse(0.45, -0.02, 0.025, 0.018, (235, 230, 200))  # headlight
    for wx in (-0.32, 0.32):
        pen.ellipse(wx, 0.22, 0.13, 0.13, tyre)
        pen.ellipse(wx, 0.22, 0.065, 0.065, look["rim"])
        pen.ellipse(wx, 0.22, 0.02, 0.02, (20, 20, 20))
    del rng


_DRAW_OTHER = {"cow": _cow, "hog": _hog, "raccoon": _raccoon, "turkey": _turkey, "person": _person,
               "vehicle": _vehicle}
# (front, back, top, bottom) reach in drawing units around the anchor, for placement; measured with a margin
_EXTENT = {"cow": (0.8, 0.56, 0.31, 0.51), "hog": (0.77, 0.56, 0.31, 0.39), "raccoon": (0.72, 1.07, 0.28, 0.33),
           "turkey": (0.47, 0.66, 0.54, 0.63), "person": (0.2, 0.16, 0.5, 0.51), "vehicle": (0.52, 0.51, 0.41, 0.36)}


def draw_subject(draw: ImageDraw.ImageDraw, spec, cx: float, cy: float, scale: float, facing: int,
                 rng: np.random.Generator) -> tuple[float, float, float, float]:
    """Draw a deer or another subject (pose from `rng`); returns its tight box in pixels."""
    if spec.kind in KINDS:
        return _draw_deer(draw, spec, cx, cy, scale, facing, random_pose(rng))
    pen = _Pen(draw, cx, cy, scale * spec.size, facing)
    _DRAW_OTHER[spec.kind](pen, other_appearance(spec.individual, spec.kind), rng)
    return pen.box()


def random_subject(rng: np.random.Generator, prefix: str, others: float = 0.3):
    """A never-seen individual for training data: a deer (doe/fawn/buck 0.4/0.2/0.4, buck ages uniform) or, with
    chance `others`, a non-deer of a kind drawn uniformly from OTHER_KINDS."""
    if rng.random() >= others:
        kind = str(rng.choice(["doe", "fawn", "buck"], p=[0.4, 0.2, 0.4]))
        age = "fawn" if kind == "fawn" else (str(rng.choice(AGE_CLASSES[1:])) if kind == "buck" else None)
        return DeerSpec(kind, age, f"{prefix}-{int(rng.integers(1 << 30))}")
    kind = str(rng.choice(OTHER_KINDS))
    return OtherSpec(kind, f"{prefix}-{kind}-{int(rng.integers(1 << 30))}")


def place_deer(rng: np.random.Generator, size: tuple[int, int], spec: DeerSpec | OtherSpec,
               scale_range: tuple[float, float] = (0.14, 0.36)) -> tuple[float, float, float, int]:
    """A random (cx, cy, scale, facing) that keeps the whole subject inside the image; scale (an adult doe's body
    length in pixels) is drawn as a fraction of width. Works for deer and OtherSpec alike."""
    w, h = size
    if spec.kind not in KINDS:
        half, top, bottom = _reach(spec)
        scale = rng.uniform(*scale_range) * w
        scale = min(scale, h / (top + bottom) / spec.size * 0.95, w / (2 * half) / spec.size * 0.95)
        s = scale * spec.size
        cx, cy = rng.uniform(half * s, w - half * s), rng.uniform(top * s, h - bottom * s)
        return cx, cy, scale, 1 if rng.random() < 0.5 else -1
    top, bottom = (1.0 if spec.kind == "buck" else 0.72), 0.66  # antler tips / ear tips above, hooves below
    scale = rng.uniform(*scale_range) * w
    scale = min(scale, h / (top + bottom) / spec.size * 0.95)
    s = scale * spec.size
    cx = rng.uniform(0.7 * s, w - 0.7 * s)
    cy = rng.uniform(top * s, h - bottom * s)
    return cx, cy, scale, 1 if rng.random() < 0.5 else -1


place_subject = place_deer


def _reach(spec) -> tuple[float, float, float]:
    """(half width, top, bottom) around the anchor in drawing units, either way the subject faces."""
    if spec.kind in KINDS:
        return 0.7, 0.8, 0.66
    front, back, top, bottom = _EXTENT[spec.kind]
    return max(front, back), top, bottom


def _rough_box(spec, placement) -> tuple[float, float, float, float]:
    cx, cy, scale, _f = placement
    half, top, bottom = _reach(spec)
    s = scale * spec.size
    return cx - half * s, cy - top * s, cx + half * s, cy + bottom * s


def place_group(rng: np.random.Generator, size: tuple[int, int], specs: list, max_overlap: float = 0.25,
                avoid: list = (), **kw) -> list[tuple[float, float, float, int]]:
    """Placements for several subjects (deer or OtherSpec) that overlap little (a detector cannot be asked to split
    a heap), nor overlap the already placed (spec, placement) pairs in `avoid`."""
    placed, boxes = [], [_rough_box(sp, p) for sp, p in avoid]
    for spec in specs:
        for _ in range(30):
            p = place_deer(rng, size, spec, **kw)
            box = _rough_box(spec, p)
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
                 subjects: list[tuple[DeerSpec | OtherSpec, tuple[float, float, float, int]]] = (),
                 background_seed: int = 0, night: bool = False, *, deer=None) -> tuple[Image.Image, list[dict]]:
    """One photo: the camera's background, the subjects (deer and others, far ones first), lighting; returns
    (image, ground truth). `deer=` is the old name of `subjects`."""
    subjects = subjects if deer is None else deer
    w, h = size
    img = _background(background_seed, (w, h)).copy()
    draw = ImageDraw.Draw(img)
    truth = []

    def depth(item):  # deer: cy; others: the cy of a doe whose hooves stand where their feet are
        spec, (cx, cy, scale, _f) = item
        return cy if spec.kind in KINDS else cy + _EXTENT[spec.kind][3] * scale * spec.size - 0.64 * scale

    for spec, (cx, cy, scale, facing) in sorted(subjects, key=depth):
        x1, y1, x2, y2 = draw_subject(draw, spec, cx, cy, scale, facing, rng)
        box = (max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2))
        truth.append({"individual": spec.individual, "kind": spec.kind, "age_class": spec.age_class,
                      "box": tuple(round(v, 1) for v in box), "species": spec.species})
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

def draw_stamp_bar(image: Image.Image, taken_at: datetime, fmt: str = "us", label: str = "",
                   edge: str = "bottom") -> Image.Image:
    """The info bar a trail camera burns into every photo: a black band along one edge with the
    camera's name and the temperature on the left and the date and time (`fmt`, a STAMP_FORMATS
    key or a strftime format) on the right, in light text. Deterministic: Pillow's own scalable
    font (no system fonts), the temperature from the time."""
    img = image.copy()
    w, h = img.size
    bar = max(16, round(h * 0.05))
    draw = ImageDraw.Draw(img)
    top = h - bar if edge == "bottom" else 0
    draw.rectangle([0, top, w, top + bar], fill=(12, 12, 12))
    font = ImageFont.load_default(size=max(10, round(bar * 0.68)))
    stamp = taken_at.strftime(STAMP_FORMATS.get(fmt, fmt))
    degrees = 40 + (taken_at.timetuple().tm_yday * 7 + taken_at.hour * 3) % 45
    left = f"{label.upper()}  {degrees}\u00b0F".strip()
    x0, y0, x1, y1 = draw.textbbox((0, 0), stamp, font=font)
    y = top + (bar - (y1 - y0)) / 2 - y0
    draw.text((w - (x1 - x0) - bar * 0.5, y), stamp, fill=(235, 235, 235), font=font)
    draw.text((bar * 0.5, y), left, fill=(235, 235, 235), font=font)
    return img


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


# a folder's cast of non-deer regulars (so the same cow recurs) and how often each kind walks by
OTHER_CAST = {"cow": 2, "raccoon": 2, "turkey": 2, "hog": 1, "person": 2, "vehicle": 1}
OTHER_WEIGHTS = {"cow": 0.24, "raccoon": 0.2, "turkey": 0.2, "hog": 0.14, "person": 0.14, "vehicle": 0.08}


def make_photo_folder(root: str | Path, locations=("270_Jason", "Hayfield", "Sanctuary"), photos_per_location: int = 12,
                      seed: int = 0, size: tuple[int, int] = (960, 540), herd: list[DeerSpec] | None = None,
                      others: float = 0.0, stamp: str | None = None, no_exif_time: float = 0.0) -> list[dict]:
    """Write root/<location>/IMG_xxxx.JPG for a herd wandering between cameras; returns ground-truth rows.

    `stamp` burns an info bar with the date and time into every photo, as real cameras do (a
    STAMP_FORMATS key, or "mixed": each camera its own format); with chance `no_exif_time` a photo
    has no EXIF time (make and model stay), as with many cheap cameras. Rows say `exif_time` and
    `stamp` (the bar's text, or None). Both have their own randomness: the scene is unchanged.

    Photos come in bursts of 3 shots 2 s apart at one camera (same deer, moving a little); bursts are hours to days
    apart between September and January. One row per subject per photo; an empty photo has one row with individual
    None. With chance `others` a burst also (or, half the time, instead) shows one non-deer from a small cast
    ("cow-1", "turkey-2", ... see OTHER_CAST); its row has that kind, age_class None and species = kind, deer rows
    have species "deer". That extra randomness has its own generator: others=0 gives exactly the deer-only folder.
    """
    root = Path(root)
    herd = herd or default_herd()
    rng = np.random.default_rng(seed)
    orng = np.random.default_rng(_seed("others", seed))
    trng = np.random.default_rng(_seed("no-exif-time", seed))
    kinds = list(OTHER_WEIGHTS)
    weights = np.array([OTHER_WEIGHTS[k] for k in kinds]) / sum(OTHER_WEIGHTS.values())
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
            if others > 0 and orng.random() < others:
                kind = str(orng.choice(kinds, p=weights))
                other = OtherSpec(kind, f"{kind}-{int(orng.integers(OTHER_CAST[kind])) + 1}")
                if orng.random() < 0.5:  # instead of the deer
                    members, placements = [], []
                placements = placements + place_group(orng, size, [other], avoid=list(zip(members, placements)))
                members = members + [other]
            night = not 7 <= start.hour < 18
            for shot in range(min(3, shots_left)):
                taken_at = start + timedelta(seconds=2 * shot)
                index = photos_per_location - shots_left + 1
                shots_left -= 1
                rel = f"{location}/IMG_{index:04d}.JPG"
                deer = []
                for spec, (cx, cy, scale, facing) in zip(members, placements):
                    step = 0.03 * scale * shot * facing  # walking the way it faces, a little per shot
                    s = scale * spec.size * _reach(spec)[0]
                    deer.append((spec, (float(np.clip(cx + step, s, size[0] - s)), cy, scale, facing)))
                img, truth = render_scene(rng, size, deer, background, night=night)
                fmt = None
                if stamp:
                    fmt = list(STAMP_FORMATS)[li % len(STAMP_FORMATS)] if stamp == "mixed" else stamp
                    img = draw_stamp_bar(img, taken_at, fmt, location)
                exif_time = not (no_exif_time > 0 and trng.random() < no_exif_time)
                write_photo(root / rel, img, taken_at if exif_time else None)
                base = {"path": rel, "location": location, "taken_at": taken_at, "exif_time": exif_time,
                        "stamp": taken_at.strftime(STAMP_FORMATS.get(fmt, fmt)) if fmt else None}
                rows += [{**base, **t} for t in truth] or [
                    {**base, "individual": None, "kind": None, "age_class": None, "box": None, "species": None}]
    return rows
