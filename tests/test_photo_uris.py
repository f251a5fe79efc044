"""Photos behind a URI go through pyarrow filesystems: a file:// URI exercises the same code as
s3:// or gs://; an S3 test runs against a local moto server when one is installed."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import free_port, missing_tool
from PIL import Image

from models.synthetic import write_photo
from pipelines.ingest import PhotoFolderError, ingest_folder
from pipelines.stages import decode_batch


def _photo(path, color=(90, 120, 60)):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_photo(path, Image.new("RGB", (64, 48), color), datetime(2025, 11, 3, 6, 41, 7), make="Browning")
    return path


def test_file_uri_ingests_like_a_folder(store, tmp_path):
    _photo(tmp_path / "Hayfield" / "IMG_0001.JPG")
    _photo(tmp_path / "Sanctuary" / "IMG_0002.jpg", color=(1, 2, 3))
    _photo(tmp_path / ".trash" / "IMG_0003.JPG", color=(4, 5, 6))
    (tmp_path / "Hayfield" / "notes.txt").write_text("x")
    (tmp_path / "Hayfield" / "junk.jpg").write_bytes(b"not a jpeg")
    uri = f"file://{tmp_path}"

    result = ingest_folder(store, uri)
    assert (result.found, result.new, result.duplicates) == (3, 3, 0)
    rows = store.conn.execute(
        "SELECT i.path, l.name, i.time_source, i.taken_at, i.camera_make, i.width, i.status"
        " FROM images i JOIN locations l ON l.id = i.location_id ORDER BY i.path").fetchall()
    assert [r[0] for r in rows] == [f"{uri}/Hayfield/IMG_0001.JPG", f"{uri}/Hayfield/junk.jpg",
                                    f"{uri}/Sanctuary/IMG_0002.jpg"]
    assert [r[1] for r in rows] == ["Hayfield", "Hayfield", "Sanctuary"]
    assert rows[0][2:7] == ("exif", datetime(2025, 11, 3, 6, 41, 7), "Browning", 64, "pending")
    assert rows[1][6] == "failed"

    # the stored URI is what the decode stage reads, on any node
    out = decode_batch({"image_id": [1], "path": [rows[0][0]]}, size=64)
    at = out["placement"][0]
    assert out["error"][0] == "" and (at.width, at.height) == (64, 48)

    assert ingest_folder(store, uri + "/").new == 0  # same photos, same hashes


@pytest.mark.parametrize("make", ["missing", "file", "empty"])
def test_bad_uris_fail_loudly(store, tmp_path, make):
    target = tmp_path / "photos"
    if make == "file":
        target.write_text("x")
    elif make == "empty":
        target.mkdir()
    uri = f"file://{target}"
    with pytest.raises(PhotoFolderError) as err:
        ingest_folder(store, uri)
    assert uri in str(err.value)
    assert store.status_counts()["pending"] == 0


@pytest.fixture
def moto_s3():
    """A local S3 (moto's server), if installed: credentials and endpoint via env and URI options."""
    # the test extra installs it beside this interpreter; PATH may not hold .venv/bin
    server = shutil.which("moto_server", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                                os.environ.get("PATH", "")]))
    if not server:
        missing_tool("moto_server not installed: pip install -e '.[test]' (moto[server])")
    port = free_port()
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)],
                            )
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("moto_server did not start")
        yield f"endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    finally:
        proc.terminate()
        proc.wait()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_s3_bucket_ingests_and_decodes(store, tmp_path, moto_s3):
    from urllib.request import ProxyHandler, Request, build_opener

    opener = build_opener(ProxyHandler({}))  # straight to localhost, whatever *_proxy says
    urlopen = lambda req: opener.open(req, timeout=10)  # noqa: E731
    # plain PUTs (moto accepts unsigned ones): pyarrow's multipart upload trips on moto's replies
    endpoint = "http://" + moto_s3.split("&")[0].split("=")[1]
    urlopen(Request(f"{endpoint}/cams", method="PUT")).close()
    for name, color in (("Hayfield/IMG_0001.JPG", (9, 9, 9)), ("Sanctuary/IMG_0002.JPG", (1, 1, 1))):
        data = _photo(tmp_path / name, color).read_bytes()
        urlopen(Request(f"{endpoint}/cams/trail/{name}", data=data, method="PUT",
                        headers={"Content-Type": "image/jpeg"})).close()

    result = ingest_folder(store, f"s3://cams/trail?{moto_s3}")
    assert (result.found, result.new) == (2, 2)
    rows = store.conn.execute("SELECT path, time_source FROM images ORDER BY path").fetchall()
    assert rows[0] == (f"s3://cams/trail/Hayfield/IMG_0001.JPG?{moto_s3}", "exif")
    out = decode_batch({"image_id": [1], "path": [rows[0][0]]}, size=64)
    assert out["error"][0] == ""

    with pytest.raises(PhotoFolderError, match="does not exist|no photos"):
        ingest_folder(store, f"s3://cams/nothing-here?{moto_s3}")
