"""The next crop classifier, trained from what people corrected: the labelled crop set comes from
the store (store.models.crop_set: class corrections, "not a deer", detections of profiles a person
vouched for, and,
flagged as such, the model's own confident labels when asked), is split by burst (no burst on both
sides), fine-tunes the current classifier with Ray Train's TorchTrainer (CPU workers, or GPU
workers where the cluster has them), and both the old and the new model are scored on the same
held-out verified crops. The new version is registered with both scores, and made the active one
only when it scores better (unless asked otherwise).

A label may be a set: "not a deer" is right for any non-deer label, a buck profile of unknown age
for any buck label. The loss is the negative log of the probability the model puts on the set, and
a crop counts as right when the model's top label is in its set.
"""
from __future__ import annotations

import io
import json
import logging
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from models.files import atomic_write, cache_dir, file_sha256
from pipelines import model_versions
from store import Store

log = logging.getLogger(__name__)

ACTIVATE_CHOICES = ("if-better", "anyway", "never")
NOT_DEER = "not deer"


class TrainingRefused(ValueError):
    """Training cannot start or its result cannot be used; the message says why and what to do."""


@dataclass
class TrainOptions:
    base: str = "latest"  # the classifier to fine-tune: 'latest' (the active version), 'demo' or a path
    epochs: int = 6
    batch_size: int = 16
    lr: float = 2e-3  # the head's peak learning rate
    backbone_lr: float = 0.05  # the backbone's, as a share of the head's
    holdout: float = 0.25  # share of bursts held out for scoring
    min_per_class: int = 20  # verified crops a class needs (in all) to be trained on; fewer: only scored
    model_confidence: float | None = None  # also train on the model's own labels at least this confident
    activate: str = "if-better"  # 'if-better', 'anyway' or 'never'
    num_workers: int = 1
    use_gpu: bool | None = None  # None: GPU workers when the cluster has GPUs
    seed: int = 0


@dataclass
class TrainResult:
    version_id: int
    parent_id: int
    version: str
    path: str
    activated: bool
    before: dict  # the parent's scores on the held-out crops
    after: dict  # the new version's, on the same crops
    data: dict  # the training data summary, as registered
    seconds: float
    epochs: list[dict] = field(default_factory=list)


# ---- the labelled crop set -----------------------------------------------------------------

def label_sets(crop_rows: list[dict], labels: list[str]) -> tuple[list[dict], np.ndarray, list[str], Counter]:
    """Each row's allowed labels (a mask over `labels`) and its class key. Rows no label of this
    classifier fits are left out (counted by reason)."""
    from models.classes import ClassMap

    cmap = ClassMap.load()
    meaning = [cmap.meaning(lab) for lab in labels]
    non_deer = [not m.is_deer for m in meaning]
    kept, masks, keys, left_out = [], [], [], Counter()
    for r in crop_rows:
        if r["source"] == "not_deer":
            mask, key = non_deer, NOT_DEER
        elif r["source"] == "model":
            mask, key = [lab == r["class_label"] for lab in labels], r["class_label"]
        elif r["deer_class"] == "deer":  # a deer, sex unknown: any deer label
            mask, key = [m.is_deer for m in meaning], "deer"
        else:  # a deer class: doe / fawn / buck, a buck's age when known
            same = [m.deer_class == r["deer_class"] for m in meaning]
            aged = [s and m.age_class == r["age_class"] for s, m in zip(same, meaning)]
            if r["deer_class"] == "buck" and r["age_class"] and any(aged):
                mask, key = aged, f"buck_{r['age_class']}"
            else:
                mask, key = same, r["deer_class"]
        if not any(mask):
            left_out[f"no {key!r} label in this classifier"] += 1
            continue
        kept.append(r)
        masks.append(mask)
        keys.append(key)
    return kept, np.array(masks, bool).reshape(len(kept), len(labels)), keys, left_out


def split_by_burst(keys: list[str], bursts: list[int], verified: list[bool], holdout: float,
                   seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) row indices: whole bursts go to one side. Bursts are taken in a seeded
    random order and held out while their main class still has less than `holdout` of its verified
    crops there, so every class is scored. Model-labelled crops are never held out (nor kept when
    their burst is)."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i, b in enumerate(bursts):
        groups[b].append(i)
    order = sorted(groups)
    np.random.default_rng(seed).shuffle(order)
    total = Counter(k for k, v in zip(keys, verified) if v)
    held: Counter = Counter()
    test: list[int] = []
    train: list[int] = []
    for b in order:
        members = groups[b]
        ver = [keys[i] for i in members if verified[i]]
        main = Counter(ver).most_common(1)[0][0] if ver else None
        if main is not None and held[main] + len(ver) <= holdout * total[main] + 0.5:
            held.update(ver)
            test += [i for i in members if verified[i]]
        else:
            train += members
    return np.array(sorted(train), int), np.array(sorted(test), int)


def cut_training_crops(crop_rows: list[dict], size: int) -> np.ndarray:
    """(n, size, size, 3) uint8 crops, cut from the photos as the census cuts them (models.crops)."""
    from models.crops import cut_crops
    from pipelines.stages import _read_bytes

    out = np.zeros((len(crop_rows), size, size, 3), np.uint8)
    by_image: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(crop_rows):
        by_image[r["path"]].append(i)
    for path, idx in by_image.items():
        data = _read_bytes(path)
        boxes = [(crop_rows[i]["x1"], crop_rows[i]["y1"], crop_rows[i]["x2"], crop_rows[i]["y2"]) for i in idx]
        for i, crop in zip(idx, cut_crops(data, boxes, size)):
            out[i] = crop
    return out


def score(weights: str | Path, crops: np.ndarray, masks: np.ndarray, keys: list[str]) -> dict:
    """Accuracy (top label in the allowed set) overall and per class, on these crops."""
    from models.classifier import Classifier

    clf = Classifier(weights)
    top = clf.classify(list(crops)).argmax(1) if len(crops) else np.zeros(0, int)
    right = masks[np.arange(len(top)), top] if len(top) else np.zeros(0, bool)
    per = defaultdict(list)
    for k, ok in zip(keys, right):
        per[k].append(bool(ok))
    per_class = {k: round(float(np.mean(v)), 4) for k, v in sorted(per.items())}
    # the mean over classes: a version that forgets a rare class (never says fawn) loses here even
    # when the crops of common classes carry its overall accuracy up
    balanced = round(float(np.mean(list(per_class.values()))), 4) if per_class else 0.0
    return {"accuracy": round(float(right.mean()) if len(right) else 0.0, 4), "balanced_accuracy": balanced,
            "crops": int(len(right)), "per_class": per_class}


# ---- the Ray Train loop ------------------------------------------------------------------
# (shared with pipelines.training_embedder: the worker set-up, augmentation, learning rates and the
# last epoch's checkpoint are the same for every crop model)

def _worker_setup(config: dict):
    """(rank, world size, the parent checkpoint, the torch device, mean, std) of this worker."""
    import ray
    import ray.train
    import ray.train.torch
    import torch

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.manual_seed(config["seed"] + rank)
    torch.set_num_threads(max(1, int(config.get("threads", 1))))
    ckpt = ray.get(config["checkpoint"])
    device = ray.train.torch.get_device()
    mean = torch.tensor(ckpt.get("mean", [0.485, 0.456, 0.406])).view(1, 3, 1, 1).to(device)
    std = torch.tensor(ckpt.get("std", [0.229, 0.224, 0.225])).view(1, 3, 1, 1).to(device)
    return rank, world, ckpt, device, mean, std


def _optimizer(model, head_params, config: dict, steps: int):
    """AdamW with a one-cycle schedule: the head at the full rate, the backbone at `backbone_lr` of
    it (a few hundred crops: it would overfit them and forget what it knew)."""
    import torch

    head = {id(p) for p in head_params}
    groups = [{"params": [p for p in model.parameters() if id(p) in head], "lr": config["lr"]},
              {"params": [p for p in model.parameters() if id(p) not in head],
               "lr": config["lr"] * config["backbone_lr"]}]
    opt = torch.optim.AdamW(groups, lr=config["lr"], weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups], total_steps=max(1, steps),
                                                pct_start=0.2)
    return opt, sched


def _train_mode(model) -> None:
    """Training mode, but the parent's BatchNorm statistics kept (a few hundred crops)."""
    import torch

    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


def _augment(pixels_u8, device, mean, std):
    """(n, h, w, 3) uint8 -> the normalised batch, flipped (facing the other way is the same animal)
    and with exposure jitter."""
    import torch

    x = torch.from_numpy(pixels_u8).to(device).permute(0, 3, 1, 2).float().div_(255)
    flip = torch.rand(len(x), device=device) < 0.5
    x[flip] = x[flip].flip(-1)
    x = x * (1 + 0.1 * torch.randn(len(x), 1, 1, 1, device=device)).clamp(0.8, 1.2)
    return (x.clamp(0, 1) - mean) / std


def _report(model, ckpt: dict, metrics: dict, history: list, last: bool, rank: int, filename: str,
            half: bool) -> None:
    """ray.train.report this epoch; the last one (rank 0) carries the weights, in the parent's
    checkpoint format (fp16 when `half`), and the history."""
    import os

    import ray.train

    history.append(metrics)
    checkpoint = None
    if last and rank == 0:
        inner = model.module if hasattr(model, "module") else model
        state = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
                 for k, v in inner.state_dict().items()}
        out = tempfile.mkdtemp(prefix="thumper-train-")
        import torch

        torch.save({**{k: v for k, v in ckpt.items() if k != "state_dict"}, "state_dict": state},
                   os.path.join(out, filename))
        with open(os.path.join(out, "history.json"), "w") as f:
            json.dump(history, f)
        checkpoint = ray.train.Checkpoint.from_directory(out)
    ray.train.report(metrics, checkpoint=checkpoint)


def _train_loop(config: dict) -> None:
    """One Ray Train worker: fine-tune the timm classifier on its shard of the crops, report each
    epoch, and (rank 0) the weights with the last report."""
    import ray
    import ray.train.torch
    import timm
    import torch

    rank, world, ckpt, device, mean, std = _worker_setup(config)
    pixels, masks = ray.get(config["pixels"]), ray.get(config["masks"])
    model = timm.create_model(ckpt["arch"], pretrained=False, num_classes=len(ckpt["labels"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    model = ray.train.torch.prepare_model(model)
    inner = model.module if hasattr(model, "module") else model
    rng = np.random.default_rng(config["seed"] + rank)
    mine = np.arange(rank, len(pixels), world)  # this worker's shard
    steps = config["epochs"] * int(np.ceil(len(mine) / config["batch_size"]))
    opt, sched = _optimizer(inner, inner.get_classifier().parameters(), config, steps)
    started = time.time()
    history: list[dict] = []
    for epoch in range(config["epochs"]):
        _train_mode(model)
        order = rng.permutation(mine)
        total = right = 0
        loss_sum = 0.0
        for k in range(0, len(order), config["batch_size"]):
            idx = order[k:k + config["batch_size"]]
            x = _augment(pixels[idx], device, mean, std)
            allowed = torch.from_numpy(masks[idx]).to(device)
            logits = model(x)
            # -log P(label in the allowed set)
            loss = (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~allowed, -1e4), 1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(idx)
            total += len(idx)
            right += int(allowed[torch.arange(len(idx)), logits.argmax(1)].sum())
        metrics = {"epoch": epoch + 1, "epochs": config["epochs"], "loss": round(loss_sum / max(1, total), 4),
                   "train_accuracy": round(right / max(1, total), 4), "seconds": round(time.time() - started, 1)}
        if rank == 0:
            print(f"epoch {epoch + 1}/{config['epochs']}: loss {metrics['loss']:.4f}, train accuracy "
                  f"{metrics['train_accuracy']:.3f} ({metrics['seconds']:.0f} s)", flush=True)
        _report(model, ckpt, metrics, history, epoch == config["epochs"] - 1, rank, "classifier.pt", half=True)


def _timm_checkpoint(path: Path) -> dict:
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        ckpt = None
    if not (isinstance(ckpt, dict) and ckpt.get("framework") == "timm"):
        raise TrainingRefused(
            f"{path} is not a timm checkpoint ({{'framework': 'timm', 'arch', 'labels', 'state_dict'}}, what the demo "
            "classifier is): fine-tuning Ultralytics -cls.pt, manifests and TorchScript is not supported yet")
    return ckpt


def _fit(ckpt: dict, pixels: np.ndarray, masks: np.ndarray, options: TrainOptions, name: str) -> tuple[dict, list]:
    """Run the classifier's TorchTrainer; returns (the trained checkpoint dict, the per-epoch metrics)."""
    return run_trainer(_train_loop, {"checkpoint": ckpt, "pixels": pixels, "masks": masks},
                       {"epochs": options.epochs, "batch_size": options.batch_size, "lr": options.lr,
                        "seed": options.seed, "backbone_lr": options.backbone_lr},
                       options.num_workers, options.use_gpu, name, "classifier.pt")


def run_trainer(loop, shared: dict, config: dict, num_workers: int, use_gpu: bool | None, name: str,
                filename: str) -> tuple[dict, list]:
    """Run `loop` on a TorchTrainer (`shared` travels through the object store, `config` as is);
    returns (the checkpoint dict the last report carried as `filename`, the per-epoch metrics)."""
    import ray
    import torch
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    use_gpu = use_gpu if use_gpu is not None else ray.cluster_resources().get("GPU", 0) >= 1
    cpus = ray.available_resources().get("CPU", 1)
    config = {**{k: ray.put(v) for k, v in shared.items()}, **config,
              "threads": max(1, int(cpus // max(1, num_workers)))}
    storage = cache_dir() / "train"  # checkpoints stay on the machine / cluster
    storage.mkdir(parents=True, exist_ok=True)
    trainer = TorchTrainer(loop, train_loop_config=config,
                           scaling_config=ScalingConfig(num_workers=num_workers, use_gpu=use_gpu),
                           run_config=RunConfig(name=name, storage_path=str(storage)))
    result = trainer.fit()
    if result.error:
        raise result.error
    if result.checkpoint is None:
        raise RuntimeError("training ended without a checkpoint")
    with result.checkpoint.as_directory() as d:
        trained = torch.load(Path(d) / filename, map_location="cpu", weights_only=True)
        history = json.loads((Path(d) / "history.json").read_text())
    return trained, history


def _save(ckpt: dict, parent: Path) -> Path:
    """Into the cache's models/ folder, named by its hash (files are never overwritten)."""
    import torch

    buf = io.BytesIO()
    torch.save(ckpt, buf)
    data = buf.getvalue()
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    stem = parent.stem.split("-ft-")[0]
    target = cache_dir() / "models" / f"{stem}-ft-{sha[:12]}.pt"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        with atomic_write(target) as part:
            part.write_bytes(data)
    return target


def parent_version(store: Store, kind: str, options, resolver) -> tuple[Path, int]:
    """The file to fine-tune (`options.base`: 'latest', a name or a path) and its registered id;
    `options.activate` checked first."""
    if options.activate not in ACTIVATE_CHOICES:
        raise ValueError(f"activate must be one of {', '.join(ACTIVATE_CHOICES)}, not {options.activate!r}")
    path = model_versions.resolve(store, kind, options.base, resolver)
    return path, model_versions.register_used(store, kind, options.base, path, file_sha256(path))


def register_trained(store: Store, kind: str, path: Path, parent_path: Path, parent_id: int, data: dict,
                     metrics: dict, activate: str) -> tuple[int, str, bool]:
    """Register a trained file (named after its parent, '-ft'), activated when `metrics['better']`
    ('if-better'), always ('anyway') or not ('never'). Returns (id, version, active)."""
    sha = file_sha256(path)
    version = model_versions.version_of(path, sha)
    version_id = store.models.register(kind, name=f"{parent_path.stem.split('-ft-')[0]}-ft", version=version,
                                       sha256=sha, path=str(path), parent_id=parent_id, data=data,
                                       metrics=metrics)
    if activate == "anyway" or (activate == "if-better" and metrics["better"]):
        store.models.activate(version_id)
    return version_id, version, bool(store.models.get(version_id)["active"])


FORGET_TOLERANCE = 0.1  # a class this much worse is named in the metrics and the message


def _why_not(before: dict, after: dict, worse: dict, untrained) -> str:
    lost = [k for k in worse if k in untrained]
    if lost:
        return ("it forgot " + ", ".join(f"{k} ({worse[k][0]:.2f} -> {worse[k][1]:.2f})" for k in lost)
                + ", which had too few verified crops to train on: correct more of them")
    why = (f"it does not score better overall ({after['accuracy']:.3f}, was {before['accuracy']:.3f}) and over "
           f"classes ({after['balanced_accuracy']:.3f}, was {before['balanced_accuracy']:.3f})")
    return why + (" (worse on " + ", ".join(f"{k} {b:.2f} -> {a:.2f}" for k, (b, a) in worse.items()) + ")"
                  if worse else "")


def is_better(before: dict, after: dict, untrained=()) -> bool:
    """Better on the same held-out crops both overall and over classes (score's balanced accuracy),
    and no worse (beyond FORGET_TOLERANCE) on a class it was not trained on (too few crops): a
    version that gains on common classes by forgetting a rare one is not activated."""
    kept = all(after["per_class"].get(k, 0.0) >= before["per_class"].get(k, 0.0) - FORGET_TOLERANCE
               for k in untrained)
    return (after["accuracy"] > before["accuracy"] and after["balanced_accuracy"] > before["balanced_accuracy"]
            and kept)

# ---- the job -----------------------------------------------------------------------------

def prepare(store: Store, options: TrainOptions, labels: list[str]) -> dict:
    """The crop set and its split, or TrainingRefused when there is too little verified data."""
    crop_rows, masks, keys, left_out = label_sets(store.models.crop_set(options.model_confidence), labels)
    verified = [r["source"] != "model" for r in crop_rows]
    counts = Counter(k for k, v in zip(keys, verified) if v)
    small = {k: n for k, n in counts.items() if n < options.min_per_class}
    enough = sorted(k for k, n in counts.items() if n >= options.min_per_class)
    if len(enough) < 2:
        have = ", ".join(f"{k} {n}" for k, n in counts.most_common()) or "none"
        raise TrainingRefused(
            f"too little verified data: at least two classes need {options.min_per_class} verified crops each "
            f"(--min-per-class); verified crops by class: {have}. Correct more detections (mark false ones "
            "'not a deer', confirm or fix deer profiles) and try again")
    # a class with too few crops to train on is still scored, on all of them: a new version that
    # forgets it (never says fawn any more) must show it, and is then not "better"
    keep = [i for i, k in enumerate(keys) if k in enough or not verified[i]]
    scored_only = [i for i, k in enumerate(keys) if k in small and verified[i]]
    order = keep + scored_only
    crop_rows = [crop_rows[i] for i in order]
    masks, keys, verified = masks[order], [keys[i] for i in order], [verified[i] for i in order]
    n = len(keep)
    train, test = split_by_burst(keys[:n], [r["burst"] for r in crop_rows[:n]], verified[:n], options.holdout,
                                 options.seed)
    if len(test) == 0 or len(train) == 0:
        raise TrainingRefused("the verified crops come from too few bursts to hold some out for scoring")
    if scored_only:  # their bursts must not be trained on either
        held_bursts = {crop_rows[i]["burst"] for i in range(n, len(order))}
        train = np.array([i for i in train if crop_rows[i]["burst"] not in held_bursts], dtype=int)
        test = np.concatenate([np.asarray(test, dtype=int), np.arange(n, len(order))])
        if len(train) == 0:
            raise TrainingRefused("every burst holds a class with too few crops: nothing left to train on")
    sources = Counter(r["source"] for r in crop_rows)
    data = {"crops": len(crop_rows), "train": int(len(train)), "held_out": int(len(test)),
            "verified_by_class": dict(sorted(Counter(k for k, v in zip(keys, verified) if v).items())),
            "train_by_class": dict(sorted(Counter(keys[i] for i in train).items())),
            "held_out_by_class": dict(sorted(Counter(keys[i] for i in test).items())),
            "sources": dict(sorted(sources.items())), "model_confidence": options.model_confidence,
            "too_few_left_out": small, "no_matching_label": dict(left_out),
            "bursts": {"train": len({crop_rows[i]["burst"] for i in train}),
                       "held_out": len({crop_rows[i]["burst"] for i in test})},
            "split": f"by burst, {options.holdout:g} of each class's verified crops held out, seed {options.seed}"}
    return {"rows": crop_rows, "masks": masks, "keys": keys, "train": train, "test": test, "data": data}


def train_classifier(store: Store, options: TrainOptions | None = None, progress=print) -> TrainResult:
    """Fine-tune the current classifier on the store's corrections, score old and new on the same
    held-out verified crops, register the new version (activated when better, or as asked)."""
    from models.weights import resolve_classifier

    options = options or TrainOptions()
    started = time.time()
    parent_path, parent_id = parent_version(store, "classifier", options, resolve_classifier)
    ckpt = _timm_checkpoint(parent_path)
    size = int(ckpt.get("input_size", 224))
    prep = prepare(store, options, list(ckpt["labels"]))
    data = {**prep["data"], "parent": parent_id}
    progress(f"training data: {data['train']} crops to train on, {data['held_out']} held out "
             f"({data['bursts']['train']} / {data['bursts']['held_out']} bursts); verified by class: "
             + ", ".join(f"{k} {n}" for k, n in data["verified_by_class"].items())
             + (f"; too few to train on (under {options.min_per_class}), scored only: {data['too_few_left_out']}"
                if data["too_few_left_out"] else ""))
    pixels = cut_training_crops(prep["rows"], size)
    train, test = prep["train"], prep["test"]
    test_keys = [prep["keys"][i] for i in test]
    before = score(parent_path, pixels[test], prep["masks"][test], test_keys)
    progress(f"version {parent_id} ({parent_path.name}) on the held-out crops: accuracy {before['accuracy']:.3f}")
    progress(f"fine-tuning on Ray Train ({options.num_workers} worker(s), {options.epochs} epochs) ...")
    trained, history = _fit(ckpt, pixels[train], prep["masks"][train], options,
                            name=f"thumper-classifier-{int(time.time())}")
    for h in history:
        progress(f"epoch {h['epoch']}/{options.epochs}: loss {h['loss']:.4f}, train accuracy "
                 f"{h['train_accuracy']:.3f}")
    path = _save(trained, parent_path)
    after = score(path, pixels[test], prep["masks"][test], test_keys)
    forgotten = {k: (before["per_class"][k], v) for k, v in after["per_class"].items()
                 if v < before["per_class"].get(k, 0.0) - FORGET_TOLERANCE}
    metrics = {"held_out": after, "parent_held_out": before,
               "better": is_better(before, after, untrained=data["too_few_left_out"]),
               "worse_classes": {k: {"before": b, "after": a} for k, (b, a) in forgotten.items()},
               "epochs": options.epochs, "lr": options.lr, "batch_size": options.batch_size,
               "workers": options.num_workers, "train_seconds": round(time.time() - started, 1)}
    version_id, version, activated = register_trained(store, "classifier", path, parent_path, parent_id, data,
                                                      metrics, options.activate)
    progress(f"version {version_id} ({path.name}) on the same crops: accuracy {after['accuracy']:.3f} "
             f"(was {before['accuracy']:.3f}); " + (
                 "now the active classifier" if activated else
                 "not activated: " + _why_not(before, after, forgotten, data["too_few_left_out"])
                 + "; --activate anyway to use it"
                 if options.activate == "if-better" else "not activated (--activate never)"))
    return TrainResult(version_id, parent_id, version, str(path), activated, before,
                       after, data, round(time.time() - started, 1),
                       [{k: h[k] for k in ("epoch", "loss", "train_accuracy")} for h in history])


def result_dict(result: TrainResult) -> dict:
    return asdict(result)
