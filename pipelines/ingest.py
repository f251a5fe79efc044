"""Find photos under a folder, hash and read their EXIF, and register them in the store. A photo
without an EXIF time is timed by the stamp bar the camera burned into it (OCR, models/stamp.py),
and by its file's mtime only when that cannot be read.

Fails loudly on a folder that is missing, empty or unreadable: the predecessor "processed" a
volume mount that hid every file for days; here zero readable photos is an error, never success.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import exifread
from tqdm import tqdm

from models.images import PhotoRefused, identify
from models.stamp import read_stamp_time
from pipelines.photo_uris import RemotePhoto, is_uri, list_photos, read_uri
from store import ImageRecord, Store

log = logging.getLogger(__name__)

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}
HASH_CHUNK = 1 << 20
# From this many photos on, Ray tasks read them when Ray is up (below it, starting the tasks costs
# more than it saves): processes on every node instead of driver threads, which the GIL holds back
# (EXIF and header parsing are Python), and object-store photos are fetched by the workers, not
# all through the head.
SPREAD_FROM = 1000


class PhotoFolderError(Exception):
    """The folder cannot give us any photos; the message says why and what to check."""


@dataclass
class IngestResult:
    root: Path | str  # a str for a URI (s3://, gs://...)
    found: int
    new: int
    duplicates: int
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, why): not stored
    image_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0
    reader: str = ""  # "threads" or "ray tasks": what read the photos


@dataclass
class Scan:
    records: list[ImageRecord]
    unreadable: list[tuple[str, str]]  # (path, why)
    reader: str


def find_photos(root: Path | str) -> list[Path] | list[RemotePhoto]:
    """Every jpg/jpeg/png (any case) under root, sorted; hidden folders are skipped. A URI root
    (s3://, gs://, file://...) is listed through pyarrow and gives RemotePhoto entries."""
    if is_uri(root):
        return _find_remote_photos(str(root))
    root = Path(root)
    if not root.exists():
        raise PhotoFolderError(f"photo folder {root} does not exist")
    if not root.is_dir():
        raise PhotoFolderError(f"{root} is not a folder")
    if not os.access(root, os.R_OK | os.X_OK):
        raise PhotoFolderError(f"photo folder {root} cannot be read (permission denied)")
    errors: list[OSError] = []
    photos = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=errors.append):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        photos += [Path(dirpath, f) for f in filenames
                   if Path(f).suffix.lower() in PHOTO_SUFFIXES and not f.startswith(".")]
    for err in errors:
        log.warning("cannot read folder %s: %s", err.filename, err.strerror)
    if not photos:
        hint = f" ({len(errors)} sub-folders could not be read)" if errors else ""
        raise PhotoFolderError(
            f"no photos (.jpg, .jpeg, .png) found under {root}{hint}; "
            "if this is a mounted volume, check that the mount is visible inside this machine"
        )
    return sorted(photos)


def _find_remote_photos(root: str) -> list[RemotePhoto]:
    try:
        photos = list_photos(root, PHOTO_SUFFIXES)
    except FileNotFoundError:
        raise PhotoFolderError(f"photo folder {root} does not exist") from None
    except NotADirectoryError:
        raise PhotoFolderError(f"{root} is not a folder") from None
    except OSError as e:  # credentials, permissions, unknown bucket: pyarrow's message says which
        raise PhotoFolderError(f"photo folder {root} cannot be read: {e}") from None
    if not photos:
        raise PhotoFolderError(f"no photos (.jpg, .jpeg, .png) found under {root}; "
                               "check the bucket, the prefix and the credentials' list permission")
    return photos


def location_of(path: Path, root: Path) -> str:
    """The first folder level under root names the camera location (e.g. 270_Jason/)."""
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else root.name


def _exif_time(tags: dict) -> datetime | None:
    for key in ("EXIF DateTimeOriginal", "EXIF DateTimeDigitized", "Image DateTime"):
        value = str(tags.get(key, "")).strip()
        try:
            return datetime.strptime(value[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue
    return None


EXIF_TEXT_MAX = 64  # a camera's make or model is a short name; longer is damage or mischief


def exif_text(value) -> str | None:
    """A camera's free-text EXIF field made safe to store and show: control characters (terminal
    escapes, NULs) dropped, white space folded, at most EXIF_TEXT_MAX characters; blank is None."""
    if value is None:
        return None
    text = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in str(value)[: 4 * EXIF_TEXT_MAX])
    text = " ".join(text.split())[:EXIF_TEXT_MAX].strip()
    return text or None


def read_photo(path: Path | RemotePhoto, root: Path | str) -> ImageRecord:
    """Hash, EXIF and size of one photo. Raises OSError if the file cannot be read at all; a file
    that reads but is not an image is returned with `error` set (stored as failed)."""
    if isinstance(path, RemotePhoto):
        data = read_uri(path.uri)
        parts = path.relative.split("/")
        location = parts[0] if len(parts) > 1 else str(root).split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        mtime = path.mtime or datetime.now()
        if mtime.tzinfo:  # object stores report UTC; local files are stored in local time
            mtime = mtime.astimezone().replace(tzinfo=None)
        return _describe(io.BytesIO(data), path.uri, location, len(data), mtime)
    stat = path.stat()
    with open(path, "rb") as f:
        return _describe(f, str(path), location_of(path, root), stat.st_size,
                         datetime.fromtimestamp(stat.st_mtime))


def _describe(f: BinaryIO, path: str, location: str, size: int, mtime: datetime) -> ImageRecord:
    digest = hashlib.sha256()
    while chunk := f.read(HASH_CHUNK):
        digest.update(chunk)
    f.seek(0)
    try:
        tags = exifread.process_file(f, details=False, stop_tag="DateTimeOriginal")
    except Exception:  # exifread raises assorted errors on damaged headers
        tags = {}
    taken, source = _exif_time(tags), "exif"
    if taken is None:  # no EXIF time: the date and time the camera burned into the info bar
        f.seek(0)
        started = time.perf_counter()
        taken, source = read_stamp_time(f), "ocr"
        log.debug("%s: stamp bar %s in %.0f ms", path, taken or "unreadable", 1000 * (time.perf_counter() - started))
    record = ImageRecord(
        sha256=digest.hexdigest(), path=path, location=location,
        taken_at=taken or mtime,
        time_source=source if taken else "mtime",
        camera_make=exif_text(tags.get("Image Make")),
        camera_model=exif_text(tags.get("Image Model")),
        file_size=size,
    )
    f.seek(0)
    try:  # header only: cheap; the same check uploads get
        _, record.width, record.height = identify(f)
    except PhotoRefused as e:
        record.error = f"not a readable image: {e}"
    return record


def _resolve(root: Path | str) -> Path | str:
    return str(root) if is_uri(root) else Path(root).resolve()


def _attempt(photo: Path | RemotePhoto, root: Path | str) -> ImageRecord | tuple[str, str]:
    try:
        return read_photo(photo, root)
    except OSError as e:  # pyarrow's IO errors are OSErrors too
        return (photo.uri if isinstance(photo, RemotePhoto) else str(photo), e.strerror or str(e))


def _read_chunk(photos: list, root: Path | str) -> list:
    return [_attempt(p, root) for p in photos]


def _ray_cpus() -> int:
    """CPUs of the Ray cluster this process is connected to; 0 without Ray (or with CPU-less
    nodes only, e.g. an autoscaling cluster whose workers are not up yet)."""
    import ray

    return int(ray.cluster_resources().get("CPU", 0)) if ray.is_initialized() else 0


def _read_on_ray(photos: list, root: Path | str, cpus: int, bar: tqdm) -> list:
    """Chunks of photos as Ray tasks across the cluster; outcomes in the photos' order."""
    import ray

    task = ray.remote(num_cpus=1)(_read_chunk)
    size = min(512, max(16, len(photos) // (4 * cpus) + 1))  # a few chunks per CPU: even finish
    refs = [task.remote(photos[i:i + size], root) for i in range(0, len(photos), size)]
    outcomes = []
    for ref in refs:  # all are running; taken in order, so the outcomes keep the photos' order
        chunk = ray.get(ref)
        outcomes += chunk
        bar.update(len(chunk))
    return outcomes


def _read_in_threads(photos: list, root: Path | str, threads: int, bar: tqdm) -> list:
    """Driver threads: hashing and file reads release the GIL, so they overlap."""
    with ThreadPoolExecutor(threads) as pool:
        outcomes = []
        for outcome in pool.map(_attempt, photos, [root] * len(photos)):
            outcomes.append(outcome)
            bar.update()
    return outcomes


def scan_folder(root: Path | str, threads: int = 8, spread_from: int | None = None) -> Scan:
    """Read every photo under root: hash, EXIF, header. Ray tasks read a folder of `spread_from`
    (default SPREAD_FROM) photos or more when this process is connected to a Ray cluster with
    CPUs; driver threads read smaller ones, or any without Ray."""
    root = _resolve(root)
    photos = find_photos(root)
    cpus = _ray_cpus() if len(photos) >= (SPREAD_FROM if spread_from is None else spread_from) else 0
    with tqdm(total=len(photos), desc="ingest (hash + EXIF)", unit="photo", disable=None) as bar:
        outcomes = (_read_on_ray(photos, root, cpus, bar) if cpus else
                    _read_in_threads(photos, root, threads, bar))
    records = [o for o in outcomes if isinstance(o, ImageRecord)]
    unreadable = [o for o in outcomes if not isinstance(o, ImageRecord)]
    for path, why in unreadable:
        log.warning("cannot read %s: %s", path, why)
    if not records:
        where = ("; and, as Ray workers read them, that every node sees the folder at this path"
                 if cpus and not is_uri(root) else "")
        raise PhotoFolderError(
            f"found {len(photos)} photos under {root} but none could be read "
            f"(first error: {unreadable[0][1]}); check file permissions{where}"
        )
    return Scan(records, unreadable, "ray tasks" if cpus else "threads")


def ingest_folder(store: Store, root: Path | str, batch_size: int = 2000) -> IngestResult:
    """Register every photo under root (a folder or a URI). Rerunning adds nothing; a renamed copy
    is a duplicate."""
    started = time.perf_counter()
    root = _resolve(root)
    scan = scan_folder(root)
    if ocr := sum(r.time_source == "ocr" for r in scan.records):
        log.info("ingest %s: %d photos without an EXIF time timed by their stamp bar (OCR)", root, ocr)
    result = IngestResult(root=root, found=len(scan.records) + len(scan.unreadable), new=0, duplicates=0,
                          unreadable=scan.unreadable, reader=scan.reader)
    for start in range(0, len(scan.records), batch_size):
        added = store.add_images(scan.records[start:start + batch_size])
        result.new += added.new
        result.duplicates += added.duplicates
        result.image_ids += added.image_ids
    result.image_ids = sorted(set(result.image_ids))
    if result.new:  # a new card from a camera whose clock was corrected gets the same corrections
        from pipelines.timefix import after_ingest

        if shifted := after_ingest(store, result.image_ids):
            log.info("ingest: %d new photos' times corrected by their deployment's clock corrections", shifted)
    result.seconds = time.perf_counter() - started
    log.info("ingest %s: %d photos, %d new, %d already known, %d unreadable; %.1f s (%.0f photos/s, %s)",
             root, result.found, result.new, result.duplicates, len(scan.unreadable), result.seconds,
             result.found / result.seconds if result.seconds else 0.0, scan.reader)
    return result
