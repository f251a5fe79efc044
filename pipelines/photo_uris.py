"""Photos behind a URI (s3://, gs://, hdfs://, file://...) through pyarrow filesystems, the same
layer Ray Data reads with. Photos keep their full URI as their path, so the decode stage
(stages._read_bytes) and any other node read them without a shared mount."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_uri(path) -> bool:
    return bool(_SCHEME.match(str(path)))


@dataclass(frozen=True)
class RemotePhoto:
    uri: str
    relative: str  # below the root, '/'-separated: its first part is the camera location
    size: int
    mtime: datetime | None


def _split_query(uri: str) -> tuple[str, str]:
    """s3://b/p?region=x -> ('s3://b/p', '?region=x'): options must stay at the end of each file's URI."""
    base, sep, query = uri.partition("?")
    return base.rstrip("/"), sep + query


def list_photos(root: str, suffixes: set[str]) -> list[RemotePhoto]:
    """Every photo under the root URI, sorted; hidden files and folders skipped. Raises
    FileNotFoundError / NotADirectoryError like a local walk would."""
    import pyarrow.fs as pafs

    base_uri, query = _split_query(root)
    fs, base = pafs.FileSystem.from_uri(root)
    base = base.rstrip("/") or "/"
    info = fs.get_file_info(base)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(root)
    if info.type == pafs.FileType.File:
        raise NotADirectoryError(root)
    photos = []
    for f in fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True)):
        if f.type != pafs.FileType.File:
            continue
        relative = f.path[len(base):].lstrip("/")
        parts = relative.split("/")
        if any(p.startswith(".") for p in parts) or "." + parts[-1].rsplit(".", 1)[-1].lower() not in suffixes:
            continue
        photos.append(RemotePhoto(f"{base_uri}/{relative}{query}", relative, f.size or 0, f.mtime))
    return sorted(photos, key=lambda p: p.relative)


def read_uri(uri: str) -> bytes:
    """The whole object in one sequential read: one GET, not a seek per EXIF tag."""
    import pyarrow.fs as pafs

    fs, inner = pafs.FileSystem.from_uri(uri)
    with fs.open_input_stream(inner) as f:
        return f.read()
