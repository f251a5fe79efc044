"""The project's own offline weights, trained on synthetic scenes: a MegaDetector-shaped detector
(animal, person, vehicle), a crop classifier (species, doe / fawn / buck, buck age) and a re-ID
embedder. They ship in models/demo_weights/ (a few MB, so a fresh machine trains nothing); when a
recipe changes (DEMO_VERSION), they are rebuilt once into the cache.

`python -m models.recipes.demo` builds any that are missing and prints their paths and measured
quality; `python -m models.recipes.demo --cache /tmp/fresh --into models/demo_weights` rebuilds the
shipped files. models.weights resolves the spec 'demo' through ensure_demo_*: the one way from
finding weights to training them.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from models.files import atomic_write, cache_dir

DEMO_VERSION = "3"  # bump when a recipe changes: the file names change, so the cache rebuilds
SHIPPED = Path(__file__).resolve().parent.parent / "demo_weights"  # models/demo_weights
# The demo embedder packs all deer closer together than a real re-ID model would: the quality
# harness (benchmarks/reid_quality.py --synthetic 24) gives P/R 0.28/0.60 at the general default
# of 0.5 (3 profiles for 6 deer) and 0.46/0.60 at 0.3, so the demo clusters at 0.3.
DEMO_REID_MAX_DISTANCE = 0.3


def _weights_dir(cache: str | Path | None) -> Path:
    d = Path(cache) / "weights" if cache else cache_dir() / "weights"
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextlib.contextmanager
def _locked(path: Path):
    """Exclusive lock across processes (Ray workers, parallel tests): one builds, the others wait and reuse."""
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _report(path: Path) -> dict:
    info = path.with_suffix(".json")
    return json.loads(info.read_text()) if info.exists() else {}


def _build_once(target: Path, message: str, build, shipped: bool = True) -> Path:
    """The shipped file of that name (unless `shipped` is false: an explicit cache asks for a
    build there), else `target`, built by `build(target)` the first time; other processes wait on
    the lock and reuse it."""
    if shipped and (SHIPPED / target.name).exists():
        return SHIPPED / target.name
    if target.exists():
        return target
    with _locked(target.with_suffix(".lock")):
        if not target.exists():
            print(f"building {message}", file=sys.stderr)
            build(target)
    return target


def ensure_demo_detector(cache: str | Path | None = None) -> Path:
    """Path of the demo detector (yolov8n at 160 px, MegaDetector's classes animal/person/vehicle)."""
    target = _weights_dir(cache) / f"thumper-demo-detector-v{DEMO_VERSION}.pt"
    return _build_once(target, f"demo detector {target} (trains on CPU, a few minutes, once)",
                       _build_detector_in_child, shipped=cache is None)


def _build_detector_in_child(target: Path) -> None:
    """Ultralytics keeps global settings and callbacks; a child process with a private config dir keeps training
    off the network and out of the caller's cwd, settings file and Ray session."""
    with tempfile.TemporaryDirectory(prefix="thumper-demo-") as work:
        root = str(Path(__file__).resolve().parents[2])  # the project root, where `models` is
        env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_CONFIG_DIR": str(Path(work) / "config"),
               "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        cmd = [sys.executable, "-m", "models.recipes.demo", "--build-detector", str(target), "--workdir", work]
        proc = subprocess.run(cmd, env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0 or not target.exists():
            raise RuntimeError(f"training the demo detector failed:\n{proc.stdout[-4000:]}")


def ensure_demo_embedder(cache: str | Path | None = None) -> Path:
    """Path of the demo embedder checkpoint (mobilenet_v3_small, 128-d, 128x128 input); trains it once."""
    target = _weights_dir(cache) / f"thumper-demo-embedder-v{DEMO_VERSION}.pt"
    return _build_once(target, f"demo embedder {target} (a couple of minutes, once)", _build_embedder,
                       shipped=cache is None)


def _build_embedder(target: Path) -> None:
    from models.recipes.embedder import train_embedder

    info = train_embedder(target)
    target.with_suffix(".json").write_text(json.dumps(info, indent=1))


def ensure_demo_classifier(cache: str | Path | None = None) -> Path:
    """Path of the demo crop classifier (timm mobilenetv3_small_100, 96 px, 11 labels)."""
    target = _weights_dir(cache) / f"thumper-demo-classifier-v{DEMO_VERSION}.pt"
    return _build_once(target, f"demo classifier {target} (about ten minutes, once)", _build_classifier,
                       shipped=cache is None)


def _build_classifier(target: Path) -> None:
    from models.recipes.classifier import train_classifier

    info = train_classifier(target)
    target.with_suffix(".json").write_text(json.dumps(info, indent=1))


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m models.recipes.demo", description=__doc__)
    ap.add_argument("--cache", help="cache root (default: $THUMPER_CACHE_DIR or ~/.cache/thumper)")
    ap.add_argument("--build-detector", metavar="OUT", help=argparse.SUPPRESS)  # the child process's entry point
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--into", metavar="DIR", help="copy the weights and their reports into DIR (models/demo_weights)")
    args = ap.parse_args(argv)
    if args.build_detector:
        from models.recipes.detector import measure_recall, train_detector

        out = Path(args.build_detector)
        with atomic_write(out, suffix=".staged.pt") as staged:  # Ultralytics loads weights by their .pt suffix
            info = train_detector(staged, Path(args.workdir))
            info.update(measure_recall(staged))
            out.with_suffix(".json").write_text(json.dumps(info, indent=1))
        return  # the weights appear last, with their report already beside them
    start = time.time()
    paths = {"detector": ensure_demo_detector(args.cache), "classifier": ensure_demo_classifier(args.cache),
             "embedder": ensure_demo_embedder(args.cache)}
    for kind, path in paths.items():
        print(f"{kind}: {path}\n  {_report(path)}")
        if args.into:
            import shutil

            Path(args.into).mkdir(parents=True, exist_ok=True)
            for f in (path, path.with_suffix(".json")):
                if f.exists() and f.parent.resolve() != Path(args.into).resolve():
                    shutil.copyfile(f, Path(args.into) / f.name)
    print(f"({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
