"""Training recipe for the demo embedder: CosFace plus a supervised-contrastive term on crops of synthetic
individuals, cut from the encoded photo by the pipeline's own crop code (models.crops).

A few hundred CPU steps from scratch: crops of never-seen individuals come out clearly closer to each other than
to other deer (see `separation`), though night (grey) photos of similar coats still get confused.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from models.crops import cut_crops
from models.embedder import build_backbone
from models.files import atomic_write
from models.recipes.detector import random_deer
from models.synthetic import DeerSpec, place_deer, render_scene

ARCH, DIM, INPUT_SIZE = "mobilenet_v3_small", 128, 128  # mobilenet: ~20 MFLOPs a crop, fast on CPU
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def encode(img) -> bytes:
    """A rendered scene as the JPEG a camera would write (crops are cut from encoded photos)."""
    import io

    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88)
    return buf.getvalue()


def jitter_box(box, size: tuple[int, int], rng: np.random.Generator | None, jitter: float = 0.06):
    """A pixel box, jittered as a detector's box would be, normalised to the photo."""
    x1, y1, x2, y2 = box
    if rng is not None:
        w, h = x2 - x1, y2 - y1
        x1, x2 = x1 + rng.normal(0, jitter) * w, x2 + rng.normal(0, jitter) * w
        y1, y2 = y1 + rng.normal(0, jitter) * h, y2 + rng.normal(0, jitter) * h
    W, H = size
    x1, y1 = min(max(x1, 0), W - 2), min(max(y1, 0), H - 2)
    x2, y2 = max(min(x2, W), x1 + 2), max(min(y2, H), y1 + 2)
    return x1 / W, y1 / H, x2 / W, y2 / H


def crop_views(rng: np.random.Generator, spec: DeerSpec, n: int, size=(480, 270), night: float = 0.25,
               crop_size: int = INPUT_SIZE) -> list[np.ndarray]:
    """n crops of one individual as the census makes them: each a new pose, camera, light and box jitter,
    cut from the encoded photo by models.crops."""
    views = []
    for _ in range(n):
        placement = place_deer(rng, size, spec, scale_range=(0.1, 0.38))
        img, truth = render_scene(rng, size, [(spec, placement)], background_seed=int(rng.integers(1 << 30)),
                                  night=bool(rng.random() < night))
        views += cut_crops(encode(img), [jitter_box(truth[0]["box"], size, rng)], crop_size)
    return views


def _tensor(crops: list[np.ndarray]) -> torch.Tensor:
    from PIL import Image

    x = np.stack([c if c.shape[:2] == (INPUT_SIZE, INPUT_SIZE) else
                  np.asarray(Image.fromarray(c).resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)) for c in crops])
    x = torch.from_numpy(x).permute(0, 3, 1, 2).float().div_(255)
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def _refresh_batchnorm(model: torch.nn.Module, pool: list[torch.Tensor]) -> None:
    """Recompute BatchNorm running statistics over the whole pool, then switch to eval mode.

    torchvision's mobilenet uses BN momentum 0.01, so after a few hundred steps the running stats still sit near
    their init and eval-mode outputs collapse to one vector; a cumulative average over real crops fixes that.
    """
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average
    model.train()
    with torch.no_grad():
        for chunk in torch.cat(pool).split(64):
            model(chunk)
    model.eval()


def train_embedder(out: Path, n_ids: int = 200, views: int = 6, max_steps: int = 240, seconds: float = 900,
                   seed: int = 0, ids_per_batch: int = 16, views_per_id: int = 4, lr: float = 5e-3,
                   supcon: float = 1.0, cosface: float = 1.0, margin: float = 0.1, scale: float = 16.0) -> dict:
    """Identity loss on a cosine classifier (CosFace) plus a supervised-contrastive term within each batch.

    16 individuals x 4 views a batch, a high one-cycle learning rate and BatchNorm statistics that keep up (momentum
    0.1 while training, recomputed over the pool at the end): 240 steps, about 75 s on 2 CPU cores.
    """
    start = time.time()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    specs = [random_deer(rng, "embed-train") for _ in range(n_ids)]
    pool = [_tensor(crop_views(rng, s, views, night=0.15)) for s in specs]  # (views, 3, S, S) per individual
    model = build_backbone(ARCH, DIM)
    for m in model.modules():  # torchvision's 0.01 suits long schedules; a few hundred steps need faster stats
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = 0.1
    proxies = torch.nn.Parameter(torch.randn(n_ids, DIM) * 0.1)  # one learned centre per training individual
    opt = torch.optim.AdamW([*model.parameters(), proxies], lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max_steps, pct_start=0.1)
    model.train()
    grey = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    # a step budget, not a time budget: on a busy machine it takes longer but comes out the same
    steps, p, k = 0, ids_per_batch, views_per_id
    while steps < max_steps and time.time() - start < seconds:
        who = torch.from_numpy(rng.choice(n_ids, p, replace=False))
        x = torch.cat([pool[i][rng.choice(views, k, replace=False)] for i in who.tolist()])
        flip = torch.rand(len(x)) < 0.5  # facing the other way is the same deer mirrored (as the renderer draws it)
        x[flip] = x[flip].flip(-1)
        x = x * std + mean  # augment in pixel space: exposure, and an occasional grey (infrared-like) view
        x = x * (1 + 0.15 * torch.randn(len(x), 1, 1, 1)).clamp(0.7, 1.3)
        g = torch.rand(len(x)) < 0.1
        x[g] = (x[g] * grey).sum(1, keepdim=True).expand(-1, 3, -1, -1)
        x = (x.clamp(0, 1) - mean) / std
        ids = who.repeat_interleave(k)
        emb = torch.nn.functional.normalize(model(x), dim=1)
        cos = emb @ torch.nn.functional.normalize(proxies, dim=1).T
        cos = cos - margin * torch.nn.functional.one_hot(ids, n_ids)  # CosFace margin: tighter clusters
        loss = cosface * torch.nn.functional.cross_entropy(scale * cos, ids)
        if supcon:
            sim = emb @ emb.T / 0.1
            eye = torch.eye(len(x), dtype=torch.bool)
            pos = (ids[:, None] == ids[None, :]) & ~eye
            logp = sim.masked_fill(eye, -1e9).log_softmax(1)
            loss = loss + supcon * -(logp * pos).sum(1).div(pos.sum(1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        steps += 1
    _refresh_batchnorm(model, pool)
    ckpt = {"arch": ARCH, "dim": DIM, "input_size": INPUT_SIZE, "mean": MEAN, "std": STD,
            "state_dict": model.state_dict()}
    with atomic_write(out) as tmp:
        torch.save(ckpt, tmp)
    info = {"arch": ARCH, "dim": DIM, "steps": steps, "final_loss": round(float(loss.detach()), 4),
            "train_seconds": round(time.time() - start, 1)}
    info.update(separation(out))
    return info


def separation(weights: Path, n_ids: int = 24, views: int = 4, seed: int = 99) -> dict:
    """Mean cosine similarity of same vs different individuals, on never-seen ones."""
    from models.embedder import Embedder

    rng = np.random.default_rng(seed)
    emb = Embedder(weights)
    specs = [random_deer(rng, "embed-eval") for _ in range(n_ids)]
    e = emb.embed([c for s in specs for c in crop_views(rng, s, views)])
    ids = np.repeat(np.arange(n_ids), views)
    sim = e @ e.T
    same = (ids[:, None] == ids[None, :]) & ~np.eye(len(ids), dtype=bool)
    diff = ids[:, None] != ids[None, :]
    nearest = np.where(np.eye(len(ids), dtype=bool), -2, sim).argmax(1)
    return {"same_sim": round(float(sim[same].mean()), 3), "diff_sim": round(float(sim[diff].mean()), 3),
            "top1": round(float((ids[nearest] == ids).mean()), 3)}
