"""The next re-ID embedder, trained from the identities people confirmed: the identity set comes
from the store (store.models.identity_set: the detections of every deer profile a person vouched
for, by naming, merging, moving into, splitting or "yes, same deer"; the profile is the
individual), is split by individual (no deer profile on both sides), fine-tunes the current
embedder with a supervised-contrastive loss on Ray Train's TorchTrainer (CPU workers, or GPU
workers where the cluster has them; batches of P individuals x K crops), and both the old and the
new embedder are scored on the same held-out individuals by re-ID pairwise precision / recall: a
pair of crops is called "same deer" when its cosine similarity reaches re-ID's threshold
(1 - the clustering's max_distance). The new version is registered with both scores, and made the
active one only when it scores better (unless asked otherwise).

Its embeddings keep the parent's dimension (same architecture, same projection), so re-ID reads
them as it read the parent's once `thumper process --reprocess --embedder latest` has rewritten
them.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.training import (TrainingRefused, TrainResult, _augment, _optimizer, _report, _save, _train_mode,
                                _worker_setup, cut_training_crops, parent_version, register_trained, run_trainer)
from store import Store

PRECISION_TOLERANCE = 0.05  # a new version may lose this much pairwise precision at re-ID's threshold


@dataclass
class EmbedderOptions:
    base: str = "latest"  # the embedder to fine-tune: 'latest' (the active version), 'demo' or a path
    epochs: int = 20  # an epoch: as many P x K batches as there are training crops / (P x K)
    individuals_per_batch: int = 8  # P
    crops_per_individual: int = 4  # K
    lr: float = 3e-3  # the projection's peak learning rate
    backbone_lr: float = 0.2  # the backbone's, as a share of the projection's
    temperature: float = 0.2  # of the supervised-contrastive loss
    holdout: float = 0.3  # share of the eligible individuals held out for scoring
    min_individuals: int = 6  # eligible individuals needed (some to train on, at least two held out)
    min_detections: int = 2  # confirmed detections an individual needs
    min_bursts: int = 2  # bursts those must come from (one burst: near-copies of one visit)
    max_distance: float | None = None  # re-ID's clustering threshold; None: its default (ClusterSettings)
    activate: str = "if-better"  # 'if-better', 'anyway' or 'never'
    num_workers: int = 1
    use_gpu: bool | None = None  # None: GPU workers when the cluster has GPUs
    seed: int = 0


# ---- the identity set and its split by individual ------------------------------------------

def split_by_individual(rows: list[dict], options: EmbedderOptions) -> dict:
    """(train, held-out) row indices, whole individuals (deer profiles) on one side, or
    TrainingRefused when too few individuals qualify. An individual qualifies with
    `min_detections` confirmed detections on `min_bursts` bursts; held-out individuals are drawn
    (seeded) from those; every other individual with two detections or more is trained on."""
    crops: dict[int, list[int]] = defaultdict(list)
    bursts: dict[int, set] = defaultdict(set)
    for i, r in enumerate(rows):
        crops[r["deer_id"]].append(i)
        bursts[r["deer_id"]].add(r["burst"])
    need = max(2, options.min_detections)
    usable = sorted(d for d, idx in crops.items() if len(idx) >= 2)
    eligible = [d for d in usable if len(crops[d]) >= need and len(bursts[d]) >= options.min_bursts]
    few = sum(1 for d in crops if len(crops[d]) < need)
    one_burst = sum(1 for d in crops if len(crops[d]) >= need and len(bursts[d]) < options.min_bursts)
    if len(eligible) < max(3, options.min_individuals):
        raise TrainingRefused(
            f"too little confirmed identity data: training the embedder needs {max(3, options.min_individuals)} "
            f"individuals (--min-individuals) with {need} confirmed detections or more (--min-detections) on "
            f"{options.min_bursts} bursts or more (--min-bursts); the store has {len(eligible)} "
            f"(of {len(crops)} confirmed deer profiles: {few} with fewer detections, {one_burst} seen on fewer "
            "bursts). Confirm more deer profiles (name them, merge the profiles of one deer, move strays in, "
            "'yes, same deer' in the review queue) and try again")
    order = list(eligible)
    np.random.default_rng(options.seed).shuffle(order)
    n_held = min(max(2, int(round(options.holdout * len(eligible)))), len(eligible) - 1)
    held = set(order[:n_held])
    train_ids = [d for d in usable if d not in held]
    if len(train_ids) < 2:
        raise TrainingRefused(f"holding out {n_held} individuals for scoring leaves {len(train_ids)} to train on: "
                              "confirm more deer profiles, or lower --holdout")
    train = np.array(sorted(i for d in train_ids for i in crops[d]), int)
    test = np.array(sorted(i for d in held for i in crops[d]), int)
    data = {"crops": len(train) + len(test), "train": int(len(train)), "held_out": int(len(test)),
            "individuals": {"confirmed": len(crops), "eligible": len(eligible), "train": len(train_ids),
                            "held_out": len(held)},
            "train_deer": sorted(int(d) for d in train_ids), "held_out_deer": sorted(int(d) for d in held),
            "left_out": {"fewer than 2 detections": sum(1 for d in crops if len(crops[d]) < 2)},
            "bursts": {"train": len({rows[i]["burst"] for i in train}),
                       "held_out": len({rows[i]["burst"] for i in test})},
            "split": f"by individual: {len(held)} of {len(eligible)} eligible individuals ({need}+ detections on "
                     f"{options.min_bursts}+ bursts) held out, seed {options.seed}"}
    return {"train": train, "test": test, "data": data}


# ---- scoring: re-ID pairwise precision / recall ------------------------------------------

def pair_scores(emb: np.ndarray, ids: np.ndarray, threshold: float) -> dict:
    """Every pair of crops called "same deer" when its cosine similarity >= threshold: pairwise
    precision, recall and F1 against the individuals; and the same at the threshold that gives
    the best F1 (the embedder's own best, for reference)."""
    ids = np.asarray(ids)
    a, b = np.triu_indices(len(ids), 1)
    sim = np.einsum("ij,ij->i", emb[a], emb[b]) if len(a) else np.zeros(0, np.float32)
    same = ids[a] == ids[b]

    def prf(tp: float, said: float) -> tuple[float, float, float]:
        p = tp / said if said else 1.0
        r = tp / same.sum() if same.sum() else 1.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    pred = sim >= threshold
    p, r, f1 = prf(float((pred & same).sum()), float(pred.sum()))
    order = np.argsort(-sim, kind="stable")
    tp = np.cumsum(same[order])
    k = np.arange(1, len(order) + 1)
    curve = 2 * tp / (k + same.sum()) if len(order) else np.zeros(0)  # F1 when the top k pairs are "same"
    best = int(curve.argmax()) if len(curve) else 0
    bp, br, bf = prf(float(tp[best]), float(best + 1)) if len(curve) else (1.0, 1.0, 0.0)
    r4 = lambda v: round(float(v), 4)  # noqa: E731
    return {"threshold": r4(threshold), "precision": r4(p), "recall": r4(r), "f1": r4(f1),
            "pairs": int(len(sim)), "same_pairs": int(same.sum()),
            "same_sim": r4(sim[same].mean()) if same.any() else None,
            "diff_sim": r4(sim[~same].mean()) if (~same).any() else None,
            "best_f1": {"threshold": r4(sim[order][best]) if len(sim) else None, "precision": r4(bp),
                        "recall": r4(br), "f1": r4(bf)}}


def score(weights: str | Path, crops: np.ndarray, rows: list[dict], max_distance: float) -> dict:
    """Pairwise scores of this embedder on these crops (pair_scores at re-ID's threshold), and what
    re-ID's clustering makes of them (photo and sex constraints, no burst links, every profile
    kept): its pairwise precision / recall and how many profiles for how many individuals."""
    from models.embedder import Embedder
    from pipelines.clustering import ClusterSettings, cluster_detections, pairwise_precision_recall

    emb = Embedder(weights).embed(list(crops))
    ids = np.array([r["deer_id"] for r in rows])
    out = pair_scores(emb, ids, 1.0 - max_distance)
    labels = cluster_detections(emb, np.array([r["image_id"] for r in rows]), np.array([r["sex"] for r in rows]),
                                settings=ClusterSettings(max_distance=max_distance, min_sightings=1))
    cp, cr = pairwise_precision_recall(ids, labels)
    out.update(crops=int(len(rows)), individuals=int(len(set(ids.tolist()))), dim=int(emb.shape[1]),
               clustered={"precision": round(cp, 4), "recall": round(cr, 4),
                          "profiles": int(len(set(labels.tolist())))})
    return out


def is_better(before: dict, after: dict) -> bool:
    """Better on the same held-out individuals: a higher pairwise F1 at re-ID's threshold, losing
    no more than PRECISION_TOLERANCE of precision (a merged pair of deer corrupts a census; a split
    one is a merge away)."""
    return after["f1"] > before["f1"] and after["precision"] >= before["precision"] - PRECISION_TOLERANCE


def _why_not(before: dict, after: dict) -> str:
    if after["f1"] <= before["f1"]:
        return f"its pairwise F1 is not higher ({after['f1']:.3f}, was {before['f1']:.3f})"
    return (f"its pairwise precision dropped {before['precision']:.3f} -> {after['precision']:.3f} (more than "
            f"{PRECISION_TOLERANCE:g})")


# ---- the Ray Train loop ------------------------------------------------------------------

def supcon_loss(emb, labels, temperature: float):
    """Supervised-contrastive loss on L2-normalised embeddings: each crop's other crops of the same
    individual against every other crop of the batch."""
    import torch

    sim = emb @ emb.T / temperature
    eye = torch.eye(len(emb), dtype=torch.bool, device=emb.device)
    pos = (labels[:, None] == labels[None, :]) & ~eye
    logp = sim.masked_fill(eye, -1e9).log_softmax(1)
    return -(logp * pos).sum(1).div(pos.sum(1).clamp(min=1)).mean()


def _embed_loop(config: dict) -> None:
    """One Ray Train worker: batches of P individuals x K crops (its own seeded draw; DDP averages
    the gradients), the supervised-contrastive loss, each epoch reported, and (rank 0) the weights
    with the last report."""
    import ray
    import ray.train.torch
    import torch

    from models.embedder import build_backbone

    rank, world, ckpt, device, mean, std = _worker_setup(config)
    pixels, ids = ray.get(config["pixels"]), ray.get(config["ids"])
    model = build_backbone(ckpt["arch"], int(ckpt["dim"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    model = ray.train.torch.prepare_model(model)
    inner = model.module if hasattr(model, "module") else model
    projection = [m for m in inner.modules() if isinstance(m, torch.nn.Linear)][-1]  # build_backbone's head
    groups = [np.flatnonzero(ids == d) for d in np.unique(ids)]
    p, k = min(config["p"], len(groups)), config["k"]
    per_epoch = max(1, int(np.ceil(len(pixels) / (p * k) / world)))
    opt, sched = _optimizer(inner, projection.parameters(), config, config["epochs"] * per_epoch)
    rng = np.random.default_rng(config["seed"] + rank)
    labels = torch.arange(p, device=device).repeat_interleave(k)
    eye = torch.eye(p * k, dtype=torch.bool, device=device)
    same = (labels[:, None] == labels[None, :]) & ~eye
    started = time.time()
    history: list[dict] = []
    for epoch in range(config["epochs"]):
        _train_mode(model)
        loss_sum = same_sum = diff_sum = 0.0
        for _ in range(per_epoch):
            who = rng.choice(len(groups), p, replace=False)
            idx = np.concatenate([rng.choice(groups[g], k, replace=len(groups[g]) < k) for g in who])
            emb = torch.nn.functional.normalize(model(_augment(pixels[idx], device, mean, std)), dim=1)
            loss = supcon_loss(emb, labels, config["temperature"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            with torch.no_grad():
                sim = emb @ emb.T
                loss_sum += float(loss)
                same_sum += float(sim[same].mean())
                diff_sum += float(sim[~same & ~eye].mean())
        metrics = {"epoch": epoch + 1, "epochs": config["epochs"], "loss": round(loss_sum / per_epoch, 4),
                   "same_sim": round(same_sum / per_epoch, 4), "diff_sim": round(diff_sum / per_epoch, 4),
                   "seconds": round(time.time() - started, 1)}
        if rank == 0:
            print(f"epoch {epoch + 1}/{config['epochs']}: loss {metrics['loss']:.4f}, cosine same "
                  f"{metrics['same_sim']:.3f} / different {metrics['diff_sim']:.3f} ({metrics['seconds']:.0f} s)",
                  flush=True)
        _report(model, ckpt, metrics, history, epoch == config["epochs"] - 1, rank, "embedder.pt",
                half=config["half"])


def _embedder_checkpoint(path: Path) -> dict:
    import torch

    from models.files import is_torchscript

    ckpt = None
    if not is_torchscript(path):
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            ckpt = None
    if not (isinstance(ckpt, dict) and {"arch", "dim", "state_dict"} <= set(ckpt)):
        raise TrainingRefused(
            f"{path} is not an embedder checkpoint that can be fine-tuned ({{'arch', 'dim', 'state_dict'}}, "
            "what the demo embedder is): fine-tuning TorchScript embedders (e.g. an exported MegaDescriptor) is "
            "not supported yet")
    return ckpt


# ---- the job -----------------------------------------------------------------------------

def train_embedder(store: Store, options: EmbedderOptions | None = None, progress=print) -> TrainResult:
    """Fine-tune the current embedder on the identities people confirmed, score old and new on the
    same held-out individuals, register the new version (activated when better, or as asked)."""
    import torch

    from models.weights import resolve_embedder
    from pipelines.clustering import ClusterSettings

    options = options or EmbedderOptions()
    started = time.time()
    parent_path, parent_id = parent_version(store, "embedder", options, resolve_embedder)
    ckpt = _embedder_checkpoint(parent_path)
    max_distance = options.max_distance if options.max_distance is not None else ClusterSettings().max_distance
    rows = store.models.identity_set()
    split = split_by_individual(rows, options)
    train, test = split["train"], split["test"]
    data = {**split["data"], "parent": parent_id, "dim": int(ckpt["dim"])}
    n = data["individuals"]
    progress(f"identity data: {data['train']} crops of {n['train']} individuals to train on, {data['held_out']} crops "
             f"of {n['held_out']} individuals held out ({n['eligible']} eligible of {n['confirmed']} confirmed "
             "deer profiles)")
    pixels = cut_training_crops(rows, int(ckpt.get("input_size", 128)))
    held_rows = [rows[i] for i in test]
    before = score(parent_path, pixels[test], held_rows, max_distance)
    progress(f"version {parent_id} ({parent_path.name}) on the held-out individuals, cosine >= "
             f"{before['threshold']:.2f}: pairwise precision {before['precision']:.3f}, recall {before['recall']:.3f}")
    progress(f"fine-tuning on Ray Train ({options.num_workers} worker(s), {options.epochs} epochs) ...")
    half = any(v.dtype == torch.float16 for v in ckpt["state_dict"].values())
    trained, history = run_trainer(
        _embed_loop, {"checkpoint": ckpt, "pixels": pixels[train],
                      "ids": np.array([rows[i]["deer_id"] for i in train])},
        {"epochs": options.epochs, "p": options.individuals_per_batch, "k": options.crops_per_individual,
         "lr": options.lr, "backbone_lr": options.backbone_lr, "temperature": options.temperature,
         "seed": options.seed, "half": half},
        options.num_workers, options.use_gpu, f"thumper-embedder-{int(time.time())}", "embedder.pt")
    for h in history:
        progress(f"epoch {h['epoch']}/{options.epochs}: loss {h['loss']:.4f}, cosine same {h['same_sim']:.3f} / "
                 f"different {h['diff_sim']:.3f}")
    path = _save(trained, parent_path)
    after = score(path, pixels[test], held_rows, max_distance)
    if after["dim"] != before["dim"]:  # re-ID reads one dimension at a time
        raise TrainingRefused(f"the trained embedder gives {after['dim']}-d embeddings, its parent {before['dim']}-d")
    metrics = {"held_out": after, "parent_held_out": before, "better": is_better(before, after),
               "threshold": after["threshold"], "max_distance": max_distance,
               "epochs": options.epochs, "lr": options.lr, "backbone_lr": options.backbone_lr,
               "individuals_per_batch": options.individuals_per_batch,
               "crops_per_individual": options.crops_per_individual, "temperature": options.temperature,
               "workers": options.num_workers, "train_seconds": round(time.time() - started, 1)}
    version_id, version, activated = register_trained(store, "embedder", path, parent_path, parent_id, data,
                                                      metrics, options.activate)
    progress(f"version {version_id} ({path.name}) on the same individuals: pairwise precision "
             f"{after['precision']:.3f}, recall {after['recall']:.3f}, F1 {after['f1']:.3f} (was {before['f1']:.3f}); "
             + ("now the active embedder" if activated else
                "not activated: " + _why_not(before, after) + "; --activate anyway to use it"
                if options.activate == "if-better" else "not activated (--activate never)"))
    return TrainResult(version_id, parent_id, version, str(path), activated, before, after, data,
                       round(time.time() - started, 1),
                       [{k: h[k] for k in ("epoch", "loss", "same_sim", "diff_sim")} for h in history])
