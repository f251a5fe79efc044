"""`thumper models` (the registry: list, activate) and `thumper train classifier|embedder` (fine-tune
the current classifier on the corrections in the store, or the re-ID embedder on the identities
people confirmed, on Ray Train; also a Ray job)."""
from __future__ import annotations

import argparse
import json
import sys

EXIT_BAD_INPUT = 2


def register(sub, add_db) -> None:
    from pipelines.training import TrainOptions
    from pipelines.training_embedder import EmbedderOptions

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
                       description="Fine-tune the current crop classifier (on what people corrected) or re-ID "
                                   "embedder (on the identities people confirmed) on Ray Train (TorchTrainer: "
                                   "CPU workers, GPU workers where the cluster has them). The old and the new "
                                   "version are scored on the same held-out data, and the new one is registered "
                                   "with both scores; it becomes the active one only when it scores better "
                                   "(--activate anyway to use it regardless). See `thumper train MODEL --help`.",
                       epilog="As a Ray job: ray job submit --working-dir . -- python -m thumper train classifier",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    what = t.add_subparsers(dest="what", required=True, metavar="MODEL")
    c = what.add_parser("classifier", help="fine-tune the crop classifier (timm checkpoints)",
                        description="Fine-tune the current crop classifier on what people corrected: detections "
                                    "marked 'not a deer', class corrections, and those of deer profiles a person "
                                    "vouched for (named, merged, moved into, split, confirmed), split by burst so "
                                    "no burst is on both sides; old and new are scored on the same held-out "
                                    "verified crops (accuracy, overall and per class). "
                                    "Then: thumper process --reprocess --classifier latest")
    _train_options(c, add_db, d, "classifier", "'demo' or a timm checkpoint path")
    c.add_argument("--batch-size", type=int, default=d.batch_size, help=f"crops per step (default {d.batch_size})")
    c.add_argument("--holdout", type=float, default=d.holdout,
                   help=f"share of each class's verified crops held out (whole bursts; default {d.holdout:g})")
    c.add_argument("--min-per-class", type=int, default=d.min_per_class,
                   help=f"verified crops a class needs; under it a class is left out, and with fewer than two "
                        f"classes left training is refused (default {d.min_per_class})")
    c.add_argument("--model-labels", type=float, metavar="CONF", dest="model_confidence",
                   help="also train on the model's own labels at least this confident (flagged 'model' in the "
                        "data summary; never held out)")
    c.set_defaults(handler=cmd_train)

    e = what.add_parser("embedder", help="fine-tune the re-ID embedder on confirmed identities (metric learning)",
                        description="Fine-tune the current re-ID embedder on the identities people confirmed: the "
                                    "detections of every deer profile a person vouched for (named, merged into, "
                                    "moved into, split, 'yes, same deer'), the profile being the individual. "
                                    "Individuals, not crops, are split: some are held out whole (no profile on "
                                    "both sides), and old and new are scored on them by re-ID pairwise "
                                    "precision / recall: a pair of crops is 'same deer' when its cosine "
                                    "similarity reaches re-ID's threshold (1 - --max-distance). Supervised-"
                                    "contrastive loss on batches of P individuals x K crops, from the parent's "
                                    "weights; the embedding dimension stays the parent's. Refused when too few "
                                    "individuals are confirmed. Then: thumper process --reprocess --embedder "
                                    "latest, and thumper reid")
    de = EmbedderOptions()
    _train_options(e, add_db, de, "embedder", "'demo' or a checkpoint path ({'arch', 'dim', 'state_dict'})")
    e.add_argument("--individuals-per-batch", type=int, default=de.individuals_per_batch, metavar="P",
                   help=f"individuals in a batch (default {de.individuals_per_batch})")
    e.add_argument("--crops-per-individual", type=int, default=de.crops_per_individual, metavar="K",
                   help=f"crops of each in a batch (default {de.crops_per_individual})")
    e.add_argument("--temperature", type=float, default=de.temperature,
                   help=f"of the supervised-contrastive loss (default {de.temperature:g})")
    e.add_argument("--holdout", type=float, default=de.holdout,
                   help=f"share of the eligible individuals held out for scoring (at least 2; default {de.holdout:g})")
    e.add_argument("--min-individuals", type=int, default=de.min_individuals,
                   help=f"eligible individuals needed, or training is refused (default {de.min_individuals})")
    e.add_argument("--min-detections", type=int, default=de.min_detections,
                   help=f"confirmed detections an individual needs to be eligible (default {de.min_detections})")
    e.add_argument("--min-bursts", type=int, default=de.min_bursts,
                   help=f"bursts those must come from (default {de.min_bursts}: one burst's shots are near-copies)")
    e.add_argument("--max-distance", type=float, default=None,
                   help="re-ID's clustering threshold; pairs are 'same deer' at cosine >= 1 - it (default: "
                        "re-ID's own, THUMPER_MAX_DISTANCE)")
    e.set_defaults(handler=cmd_train)


def _train_options(p, add_db, d, kind: str, base_help: str) -> None:
    """The options both `thumper train` models take."""
    from pipelines.training import ACTIVATE_CHOICES

    add_db(p)
    p.add_argument("--address", metavar="ADDR", help="Ray cluster to join (env RAY_ADDRESS); default: a local one")
    p.add_argument("--num-cpus", type=int, help="CPUs for the local Ray cluster (default: all)")
    p.add_argument("--base", default=d.base, help=f"the {kind} to fine-tune: 'latest' (the active version, "
                                                  f"default), {base_help}")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"default {d.epochs}")
    p.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate (default {d.lr:g}; the backbone's "
                                                          f"is {d.backbone_lr:g} of it)")
    p.add_argument("--activate", choices=ACTIVATE_CHOICES, default=d.activate,
                   help="make the new version active: if it scores better (default), anyway, or never")
    p.add_argument("--workers", type=int, default=d.num_workers, dest="num_workers",
                   help=f"Ray Train workers (default {d.num_workers})")
    p.add_argument("--gpu", action=argparse.BooleanOptionalAction, default=None, dest="use_gpu",
                   help="GPU workers (default: when the cluster has GPUs)")
    p.add_argument("--seed", type=int, default=d.seed)


def _metric(m: dict) -> str:
    h = (m or {}).get("held_out")
    if not h:
        return ""
    was = m.get("parent_held_out") or {}
    if "f1" in h:  # an embedder: re-ID pairwise precision / recall on held-out individuals
        pr = lambda x: f"P {x['precision']:.2f} R {x['recall']:.2f}"  # noqa: E731
        return (pr(h) + (f" (parent {pr(was)})" if "precision" in was else "")
                + f" on {h['individuals']} deer, cos>={h['threshold']:.2f}")
    return (f"{h['accuracy']:.3f}" + (f" (parent {was['accuracy']:.3f})" if "accuracy" in was else "")
            + f" on {h['crops']}")


def _data(d: dict) -> str:
    if not d:
        return ""
    if "individuals" in d:  # an embedder: crops of whole individuals on each side
        n = d["individuals"]
        return f"{d.get('train', 0)} crops of {n['train']} deer train / {d.get('held_out', 0)} of {n['held_out']} held out"
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
        print("no model versions yet: a census registers the models it uses; `thumper train classifier` / `embedder` add more")
        return 0
    for v in versions:
        v.update(sha=v["sha256"][:12], parent=v["parent_id"] or "", score=_metric(v["metrics"]),
                 trained_on=_data(v["data"]), created=f"{v['created_at']:%Y-%m-%d %H:%M}",
                 on="*" if v["active"] else "")
    print(table(versions, [("id", "id"), ("kind", "kind"), ("name", "name"), ("version", "version"),
                           ("sha", "sha256"), ("parent", "parent"), ("score", "held-out score"),
                           ("trained_on", "training data"), ("created", "created"), ("on", "active")]))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from cluster.runtime import connect as connect_ray
    from pipelines.training import TrainingRefused, TrainOptions, train_classifier
    from pipelines.training_embedder import EmbedderOptions, train_embedder
    from store import Store

    store = Store.open(args.db)
    common = dict(base=args.base, epochs=args.epochs, lr=args.lr, holdout=args.holdout, activate=args.activate,
                  num_workers=args.num_workers, use_gpu=args.use_gpu, seed=args.seed)
    if args.what == "embedder":
        options = EmbedderOptions(**common, individuals_per_batch=args.individuals_per_batch,
                                  crops_per_individual=args.crops_per_individual, temperature=args.temperature,
                                  min_individuals=args.min_individuals, min_detections=args.min_detections,
                                  min_bursts=args.min_bursts, max_distance=args.max_distance)
        train = train_embedder
    else:
        options = TrainOptions(**common, batch_size=args.batch_size, min_per_class=args.min_per_class,
                               model_confidence=args.model_confidence)
        train = train_classifier
    dashboard = connect_ray(args.address, args.num_cpus, warm_data=False)  # training runs no dataset
    if dashboard:
        print(f"Ray dashboard: http://{dashboard.removeprefix('http://')} (the training run is under Train)",
              flush=True)
    try:
        result = train(store, options, progress=lambda line: print(line, flush=True))
    except TrainingRefused as e:
        print(f"thumper train {args.what}: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    a, b = result.after, result.before
    if args.what == "embedder":
        score = (f"held-out pairwise precision {a['precision']:.3f} / recall {a['recall']:.3f} vs {b['precision']:.3f} / "
                 f"{b['recall']:.3f} on {a['individuals']} individuals ({a['crops']} crops)")
    else:
        score = f"held-out accuracy {a['accuracy']:.3f} vs {b['accuracy']:.3f} on {a['crops']} crops"
    print(f"registered version {result.version_id} ({result.version}), parent {result.parent_id}: {score}; "
          f"{'active' if result.activated else 'not active'} ({result.seconds:.0f} s)")
    if result.activated:
        print(f"reprocess with it: thumper process --reprocess --{args.what} latest"
              + (", then thumper reid" if args.what == "embedder" else ""))
    return 0
