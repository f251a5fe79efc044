"""Ingest against the real store: EXIF, dedupe by content, bad files, bad folders."""
from __future__ import annotations

import os
import shutil
from datetime import datetime

import pytest
from PIL import Image

from models.synthetic import write_photo
from pipelines.ingest import PhotoFolderError, find_photos, ingest_folder, read_photo, scan_folder


def _photo(path, taken=datetime(2025, 11, 3, 6, 41, 7), color=(90, 120, 60), **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_photo(path, Image.new("RGB", (64, 48), color), taken, **kw)
    return path


def test_reads_exif_time_camera_and_size(tmp_path):
    p = _photo(tmp_path / "Hayfield" / "IMG_0001.JPG", make="Browning", model="BTC-8E")
    rec = read_photo(p, tmp_path)
    assert rec.taken_at == datetime(2025, 11, 3, 6, 41, 7)
    assert rec.time_source == "exif"
    assert (rec.camera_make, rec.camera_model) == ("Browning", "BTC-8E")
    assert (rec.width, rec.height) == (64, 48)
    assert rec.location == "Hayfield"
    assert len(rec.sha256) == 64 and rec.error is None


def test_photo_without_exif_falls_back_to_mtime(tmp_path):
    p = tmp_path / "Sanctuary" / "plain.png"
    p.parent.mkdir()
    Image.new("RGB", (32, 32)).save(p)
    os.utime(p, (1_700_000_000, 1_700_000_000))
    rec = read_photo(p, tmp_path)
    assert rec.time_source == "mtime"
    assert rec.taken_at == datetime.fromtimestamp(1_700_000_000)


def test_finds_photos_case_insensitively_and_skips_other_files(tmp_path):
    for name in ("a.JPG", "b.jpeg", "c.Png", "notes.txt", "d.gif", ".hidden.jpg"):
        (tmp_path / "cam" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "cam" / name).write_bytes(b"x")
    assert [p.name for p in find_photos(tmp_path)] == ["a.JPG", "b.jpeg", "c.Png"]


def test_rerun_adds_nothing_and_a_renamed_copy_is_a_duplicate(store, tmp_path):
    _photo(tmp_path / "270_Jason" / "IMG_0001.JPG")
    _photo(tmp_path / "270_Jason" / "IMG_0002.JPG", color=(10, 20, 30))
    first = ingest_folder(store, tmp_path)
    assert (first.found, first.new, first.duplicates) == (2, 2, 0)

    again = ingest_folder(store, tmp_path)
    assert (again.new, again.duplicates) == (0, 2)
    assert again.image_ids == first.image_ids

    shutil.copy(tmp_path / "270_Jason" / "IMG_0001.JPG", tmp_path / "270_Jason" / "copy of it.jpg")
    third = ingest_folder(store, tmp_path)
    assert (third.found, third.new, third.duplicates) == (3, 0, 3)
    assert store.status_counts()["pending"] == 2


def test_corrupt_file_is_stored_as_failed_with_its_error(store, tmp_path):
    _photo(tmp_path / "cam" / "good.jpg")
    (tmp_path / "cam" / "junk.jpg").write_bytes(b"this is not a jpeg at all")
    result = ingest_folder(store, tmp_path)
    assert result.new == 2
    counts = store.status_counts()
    assert (counts["pending"], counts["failed"]) == (1, 1)
    [(path, error)] = store.failures(result.image_ids)
    assert path.endswith("junk.jpg") and error == "not a readable image: not a JPEG or PNG image (the content was checked, not the file name)"


@pytest.mark.parametrize("make", ["missing", "file", "empty", "only_other_files"])
def test_bad_folders_fail_loudly(tmp_path, make, store):
    target = tmp_path / "photos"
    if make == "file":
        target.write_text("x")
    elif make == "empty":
        target.mkdir()
    elif make == "only_other_files":
        target.mkdir()
        (target / "readme.txt").write_text("x")
    with pytest.raises(PhotoFolderError) as err:
        ingest_folder(store, target)
    assert str(target) in str(err.value)
    assert store.status_counts() == {"pending": 0, "processing": 0, "completed": 0, "failed": 0}


def test_unreadable_files_fail_loudly(tmp_path, store):
    """Files that are listed but cannot be opened (a dangling link here; permissions elsewhere)."""
    (tmp_path / "cam").mkdir()
    (tmp_path / "cam" / "a.jpg").symlink_to(tmp_path / "gone.jpg")
    with pytest.raises(PhotoFolderError, match="none could be read"):
        ingest_folder(store, tmp_path)


def test_unreadable_on_ray_workers_says_every_node_must_see_the_folder(tmp_path, ray_cluster):
    (tmp_path / "cam").mkdir()
    for k in range(3):  # listed here, unreadable where the tasks run (as on a node without the mount)
        (tmp_path / "cam" / f"{k}.jpg").symlink_to(tmp_path / f"gone{k}.jpg")
    with pytest.raises(PhotoFolderError, match="none could be read.*every node sees the folder"):
        scan_folder(tmp_path, spread_from=1)


def test_some_unreadable_files_are_reported_and_the_rest_ingested(tmp_path, store):
    _photo(tmp_path / "cam" / "ok.jpg")
    (tmp_path / "cam" / "b.jpg").symlink_to(tmp_path / "gone.jpg")
    result = ingest_folder(store, tmp_path)
    assert (result.found, result.new) == (2, 1)
    assert [p for p, _ in result.unreadable] == [str(tmp_path.resolve() / "cam" / "b.jpg")]


def test_unreadable_folder_fails_loudly_even_as_root(tmp_path, store):
    """A mount that hides its files looks like an empty folder: that must be an error."""
    hidden = tmp_path / "mnt"
    hidden.mkdir()
    with pytest.raises(PhotoFolderError, match="mount"):
        ingest_folder(store, hidden)


def test_ray_tasks_read_what_driver_threads_read(tmp_path, ray_cluster):
    """A big folder is read by Ray tasks (processes, any node); a small one by driver threads. Both
    give the same records, the same unreadable files, in the same order."""
    for k in range(40):
        _photo(tmp_path / ("Hayfield" if k % 3 else "Sanctuary") / f"IMG_{k:04d}.JPG",
               taken=datetime(2025, 11, 3, 6, k % 60), color=(k * 6, 120, 60), make="Browning")
    (tmp_path / "Hayfield" / "junk.jpg").write_bytes(b"this is not a jpeg at all")
    (tmp_path / "Hayfield" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")

    by_threads = scan_folder(tmp_path, spread_from=10**9)
    by_ray = scan_folder(tmp_path, spread_from=10)
    assert (by_threads.reader, by_ray.reader) == ("threads", "ray tasks")
    assert by_ray.records == by_threads.records and by_ray.unreadable == by_threads.unreadable
    assert len(by_ray.records) == 41 and [p for p, _ in by_ray.unreadable] == [str(tmp_path / "Hayfield" / "gone.jpg")]
    assert sum(r.error is not None for r in by_ray.records) == 1  # junk.jpg: stored as failed
    assert {r.location for r in by_ray.records} == {"Hayfield", "Sanctuary"}

    uri = f"file://{tmp_path}"  # photos behind a URI (s3://, gs://) go to the tasks as RemotePhoto
    remote = scan_folder(uri, spread_from=10)
    assert remote.reader == "ray tasks" and remote.records == scan_folder(uri, spread_from=10**9).records
    assert [r.sha256 for r in remote.records] == [r.sha256 for r in by_ray.records]


def test_every_jpeg_a_camera_writes_is_a_photo_and_a_gif_is_not(tmp_path):
    """MPO (Bushnell's JPEG with a preview), EXIF-rotated: read as the upload API reads them."""
    from pathlib import Path

    real = Path(__file__).resolve().parents[2] / "shared" / "photos" / "real"
    with Image.open(real / "domestic_cattle.jpg") as im:
        big = im.convert("RGB").resize((1920, 1080))
    (tmp_path / "Bushnell").mkdir()
    big.save(tmp_path / "Bushnell" / "IMG_0001.JPG", "MPO", save_all=True, append_images=[big.resize((640, 360))])
    shutil.copy(real / "african_elephants_with_exif_orientation.jpg", tmp_path / "Bushnell" / "rotated.jpg")
    big.save(tmp_path / "Bushnell" / "renamed.jpg", "GIF")
    mpo, rotated, gif = (read_photo(tmp_path / "Bushnell" / n, tmp_path)
                         for n in ("IMG_0001.JPG", "rotated.jpg", "renamed.jpg"))
    assert mpo.error is None and (mpo.width, mpo.height) == (1920, 1080)
    assert rotated.error is None and (rotated.width, rotated.height) == (2048, 1536)  # as viewed
    assert gif.error == "not a readable image: unsupported image type GIF: only JPEG and PNG are accepted"


def test_exif_text_is_bounded_and_cleaned(tmp_path):
    """A Make of 60,000 characters with terminal escapes is stored short and printable; the photo
    itself is kept, with its time."""
    path = tmp_path / "Ridge" / "IMG_0001.JPG"
    path.parent.mkdir()
    _photo(path, make="Browning\x1b[31m\x07" + "X" * 60_000, model="BTC-8E\tHP5 \r\n")
    record = read_photo(path, tmp_path)
    assert record.camera_make == ("Browning [31m " + "X" * 60_000)[:64]  # escapes gone, 64 characters
    assert all(c.isprintable() for c in record.camera_make), repr(record.camera_make)
    assert record.camera_model == "BTC-8E HP5"
    assert record.time_source == "exif" and record.error is None
