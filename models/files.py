"""Files on disk: where the project's cache lives, what a weights file is, and writing a file so
that readers see no file or the whole file. A leaf: it imports only the settings."""
from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

from models.settings import settings


def cache_dir() -> Path:
    return settings().cache_dir.expanduser()


def weights_dir() -> Path:
    return cache_dir() / "weights"


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_torchscript(path: str | Path) -> bool:
    """A TorchScript archive (what torch.jit.save writes): a zip with a constants.pkl inside."""
    try:
        return any(n.endswith("/constants.pkl") for n in zipfile.ZipFile(path).namelist())
    except (zipfile.BadZipFile, OSError):
        return False


@contextlib.contextmanager
def atomic_write(path: str | Path, *, hidden: bool = False, suffix: str = ".part") -> Iterator[Path]:
    """Yields a temporary path beside `path` to write; when the block ends without an error it is
    renamed onto `path` (atomic on one filesystem: readers see no file or the whole file), else it
    is removed. The name is unique to this process and this call, so concurrent writers (processes,
    threads, Ray actors) never share one; `hidden` starts it with a dot, `suffix` ends it (a loader
    that goes by the extension, e.g. Ultralytics's .pt, may need one)."""
    path = Path(path)
    tmp = path.with_name(f"{'.' if hidden else ''}{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
