"""`thumper models` (the registry: list, activate) and `thumper train classifier` (fine-tune the
current classifier on the corrections in the store, on Ray Train; also a Ray job)."""
from __future__ import annotations

import argparse
import json
import sys

EXIT_BAD_INPUT = 2


def register(sub, add_db) -> None:
    from pipelines.training import ACTIVATE_CHOICES, TrainOptions

    d = TrainOptions()
    p = sub.add_parser("models", help="model versions: list them (kind, version, parent, scores, data); "
                                      "activate one",
                       description="The model registry: every detector, classifier and embedder a run used or "
                                   "training made, with its file's sha256, parent, training data summary and "
                                   "held-out scores. The active version of a kind is what '--classifier latest' "
                                   "(and the Serve app's 'latest') uses.")
    acts = p.add_subparsers(dest="action", metavar="ACTION")
    ls = acts.add_parser("list", help="list versions (the default)")
    ls.add_argument("--kind", choices=("detector", "classifier", "embedder"))
    ls.add_argument("--json", action="store_true", help="every field, as JSON")
    act = acts.add_parser("activate", help="make a version the active one of its kind")
    act.add_argument("id", type=int)
    for q in (p, ls, act):
        add_db(q)
    p.set_defaults(handler=cmd_models, action=None, kind=None, json=False)

    t = sub.add_parser("train", help="train the next model version from the corrections in the store (Ray Train)",
                       description="Fine-tune the current crop classifier on what people corrected: detections "
                                   "marked 'not a deer' and those of deer profiles a person vouched for (named, "
                                   "merged, moved into, split, confirmed), split by burst so no burst is on both "
                                   "sides. Runs on Ray Train (TorchTrainer: CPU workers, GPU workers where the "
                                   "cluster has them); the old and the new version are scored on the same "
                                   "held-out verified crops, and the new one is registered with both scores. It "
                                   "becomes the active classifier only when it scores better (--activate anyway "
                                   "to use it regardless). Then: thumper process --reprocess --classifier latest",
                       epilog="As a Ray job: ray job submit --working-dir . -- python -m thumper train classifier",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    what = t.add_subparsers(dest="what", required=True, metavar="MODEL")
    c = what.add_parser("classifier", help="fine-tune the crop classifier (timm checkpoints)")
    add_db(c)
    c.add_argument("--address", metavar="ADDR", help="Ray cluster to join (env RAY_ADDRESS); default: a local one")
    c.add_argument("--num-cpus", type=int, help="CPUs for the local Ray cluster (default: all)")
    c.add_argument("--base", default=d.base, help="the classifier to fine-tune: 'latest' (the active version, "
                                                  "default), 'demo' or a timm checkpoint path")
    c.add_argument("--epochs", type=int, default=d.epochs, help=f"default {d.epochs}")
    c.add_argument("--batch-size", type=int, default=d.batch_size, help=f"crops per step (default {d.batch_size})")
    c.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate (default {d.lr:g})")
    c.add_argument("--holdout", type=float, default=d.holdout,
                   help=f"share of each class's verified crops held out (whole bursts; default {d.holdout:g})")
    c.add_argument("--min-per-class", type=int, default=d.min_per_class,
                   help=f"verified crops a class needs; under it a class is left out, and with fewer than two "
                        f"classes left training is refused (default {d.min_per_class})")
    c.add_argument("--model-labels", type=float, metavar="CONF", dest="model_confidence",
                   help="also train on the model's own labels at least this confident (flagged 'model' in the "
                        "data summary; never held out)")
    c.add_argument("--activate", choices=ACTIVATE_CHOICES, default=d.activate,
                   help="make the new version active: if it scores better (default), anyway, or never")
    c.add_argument("--workers", type=int, default=d.num_workers, dest="num_workers",
                   help=f"Ray Train workers (default {d.num_workers})")
    c.add_argument("--gpu", action=argparse.BooleanOptionalAction, default=None, dest="use_gpu",
                   help="GPU workers (default: when the cluster has GPUs)")
    c.add_argument("--seed", type=int, default=d.seed)
    c.set_defaults(handler=cmd_train)


def _metric(m: dict) -> str:
    h = (m or {}).get("held_out")
    if not h:
        return ""
    was = (m.get("parent_held_out") or {}).get("accuracy")
    return f"{h['accuracy']:.3f}" + (f" (parent {was:.3f})" if was is not None else "") + f" on {h['crops']}"


def _data(d: dict) -> str:
    if not d:
        return ""
    return f"{d.get('train', 0)} train / {d.get('held_out', 0)} held out; " + ", ".join(
        f"{k} {n}" for k, n in (d.get("sources") or {}).items())


def cmd_models(args: argparse.Namespace) -> int:
    from store import Store
    from thumper.render import table

    store = Store.open(args.db)
    if args.action == "activate":
        found = store.models.activate(args.id)
        if found is None:
            print(f"thumper models: no model version {args.id} (see `thumper models`)", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"version {found['id']} ({found['kind']} {found['version']}) is now the active {found['kind']}")
        return 0
    versions = store.models.list(args.kind)
    if args.json:
        print(json.dumps(versions, default=str, indent=1))
        return 0
    if not versions:
        print("no model versions yet: a census registers the models it uses; `thumper train classifier` adds more")
        return 0
    for v in versions:
        v.update(sha=v["sha256"][:12], parent=v["parent_id"] or "", score=_metric(v["metrics"]),
                 trained_on=_data(v["data"]), created=f"{v['created_at']:%Y-%m-%d %H:%M}",
                 on="*" if v["active"] else "")
    print(table(versions, [("id", "id"), ("kind", "kind"), ("name", "name"), ("version", "version"),
                           ("sha", "sha256"), ("parent", "parent"), ("score", "held-out accuracy"),
                           ("trained_on", "training data"), ("created", "created"), ("on", "active")]))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from cluster.runtime import connect as connect_ray
    from pipelines.training import TrainingRefused, TrainOptions, train_classifier
    from store import Store

    store = Store.open(args.db)
    options = TrainOptions(base=args.base, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                           holdout=args.holdout, min_per_class=args.min_per_class,
                           model_confidence=args.model_confidence, activate=args.activate,
                           num_workers=args.num_workers, use_gpu=args.use_gpu, seed=args.seed)
    dashboard = connect_ray(args.address, args.num_cpus)
    if dashboard:
        print(f"Ray dashboard: http://{dashboard.removeprefix('http://')} (the training run is under Train)",
              flush=True)
    try:
        result = train_classifier(store, options, progress=lambda line: print(line, flush=True))
    except TrainingRefused as e:
        print(f"thumper train classifier: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"registered version {result.version_id} ({result.version}), parent {result.parent_id}: held-out "
          f"accuracy {result.after['accuracy']:.3f} vs {result.before['accuracy']:.3f} on {result.after['crops']} "
          f"crops; {'active' if result.activated else 'not active'} ({result.seconds:.0f} s)")
    if result.activated:
        print("reprocess with it: thumper process --reprocess --classifier latest")
    return 0
