"""Model versions in use: 'latest' resolved to the active registered version's file, and every
file a run uses registered (first use adds it; the first of a kind becomes the active one), so a
run records which versions made its results (runs.*_model_id)."""
from __future__ import annotations

from pathlib import Path

from models.weights import WeightsNotFound
from store import Store

LATEST = "latest"


def version_of(path: Path, sha256: str) -> str:
    """stem@sha12: what detections record as their *_version."""
    return f"{path.stem}@{sha256[:12]}"


def resolve_latest(store: Store, kind: str) -> Path:
    """The file of the active version of this kind."""
    active = store.models.active(kind)
    if active is None:
        raise WeightsNotFound(f"no {kind} version is registered as active yet: run `thumper train {kind}`, or "
                              f"`thumper models activate ID` (see `thumper models`), or give --{kind} PATH")
    path = Path(active["path"] or "")
    if not active["path"] or not path.is_file():
        raise WeightsNotFound(f"the active {kind} (version {active['id']}, {active['version']}) should be at "
                              f"{active['path']}, which is not a file: copy it back, or activate another version")
    return path


def resolve(store: Store, kind: str, spec: str | None, resolver) -> Path | None:
    """`spec` ('latest', a name, 'demo' or a path) to a file: 'latest' through the registry, the rest
    through models.weights (`resolver`)."""
    if spec is None:
        return None
    return resolve_latest(store, kind) if spec == LATEST else resolver(spec)


def display_name(spec: str | None, path: Path) -> str:
    """How a version is listed: the name it was asked for ('demo', a known name), else the file's stem."""
    return spec if spec and spec != LATEST and not Path(spec).expanduser().is_file() else path.stem


def register_used(store: Store, kind: str, spec: str | None, path: Path, sha256: str) -> int:
    existing = store.models.by_sha256(kind, sha256)
    if existing is not None:
        return existing["id"]
    return store.models.register(kind, name=display_name(spec, path), version=version_of(path, sha256),
                                 sha256=sha256, path=str(path.resolve()))
