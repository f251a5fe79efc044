"""The app's edge checks in this process, no Serve and no database: the server key and local-only
rules (serve_apps/security.py; users and sessions are in test_auth.py), the body cap, what an uploaded file must be (serve_apps/photos.py)
and which static files the web UI serves (serve_apps/web/pages.py). Fast enough to run under a
mutation tester (pyproject [tool.mutmut]); the same checks run end to end in test_serve.py."""
from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from serve_apps.context import ApiContext, install
from serve_apps.photos import PhotoRejected, check_photo
from serve_apps.security import BodyLimit, require_read, require_write
from serve_apps.settings import ServeSettings
from serve_apps.web import pages

LOOPBACK, REMOTE = ("127.0.0.1", 5000), ("203.0.113.9", 5000)


def _app(**settings) -> FastAPI:
    install(ApiContext(ServeSettings(**settings), pool=None, uploads=None))
    app = FastAPI()
    app.add_middleware(BodyLimit)

    @app.post("/write", dependencies=[Depends(require_write)])
    def write():
        return {"ok": True}

    @app.get("/read", dependencies=[Depends(require_read)])
    def read():
        return {"ok": True}

    @app.post("/echo")
    async def echo(body: dict):
        return {"n": len(body.get("x", ""))}

    app.include_router(pages.router)
    return app


def test_writes_and_reads_need_the_right_key():
    c = TestClient(_app(api_key="secret-key"), client=REMOTE)
    for missing in (c.post("/write"), c.get("/read")):
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == 'Bearer realm="thumper"'
        assert missing.json()["detail"].startswith("log in (POST /api/auth/login")
    wrong = c.post("/write", headers={"X-API-Key": "secret-kez"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "unknown or revoked API key or token"
    assert c.post("/write", headers={"X-API-Key": "secret-key"}).json() == {"ok": True}
    assert c.post("/write", headers={"Authorization": "Bearer secret-key"}).json() == {"ok": True}
    assert c.post("/write", headers={"Authorization": "Basic secret-key"}).status_code == 401  # not a bearer
    assert c.post("/write", headers={"X-API-Key": "secret-key "}).status_code == 401  # exact, not a prefix
    assert c.post("/write", headers={"X-API-Key": "secret-ke"}).status_code == 401
    assert c.get("/read", headers={"X-API-Key": "secret-key"}).json() == {"ok": True}


def test_without_a_key_only_users_get_in():
    c = TestClient(_app(), client=REMOTE)  # no server key: an empty one must never match
    assert c.get("/read").status_code == 401
    assert c.get("/read", headers={"X-API-Key": ""}).status_code == 401
    assert c.get("/read", headers={"Authorization": "Bearer "}).status_code == 401


def test_local_only_answers_this_machine_and_nothing_else():
    app = _app(local_only=True)
    near, far = TestClient(app, client=LOOPBACK), TestClient(app, client=REMOTE)
    assert near.post("/write").json() == {"ok": True}  # no key needed from this machine
    assert near.get("/read").status_code == 200 and near.get("/").status_code == 200
    for r in (far.post("/write"), far.get("/read"), far.get("/"), far.get("/ui/js/app.js")):
        assert r.status_code == 403 and r.json()["detail"] == (
            "this server is in local-only mode and answers only requests from this machine")
    assert TestClient(app, client=("::1", 5000)).get("/read").status_code == 200
    assert TestClient(app, client=("localhost-ish", 1)).get("/read").status_code == 403  # not an address


def test_local_only_with_a_key_still_refuses_other_machines():
    far = TestClient(_app(local_only=True, api_key="k"), client=REMOTE)
    assert far.post("/write", headers={"X-API-Key": "k"}).status_code == 403


def _chunks(n: int, size: int = 1 << 16):
    for _ in range(n):
        yield b"x" * size


def test_the_body_cap_counts_what_is_read():
    # cap: max_files x max_upload_bytes + 1 MiB = 1 MiB + 2 x 1000 bytes
    c = TestClient(_app(max_upload_bytes=1000, max_files=2, local_only=True), client=LOOPBACK)
    limit = 2 * 1000 + (1 << 20)
    told = c.post("/echo", content=b"x" * (limit + 1), headers={"Content-Type": "application/json"})
    assert told.status_code == 413 and f"request body over {limit} bytes" in told.json()["detail"]
    assert "nothing was stored" in told.json()["detail"]
    streamed = c.post("/echo", content=_chunks(limit // (1 << 16) + 2), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413 and "request body over" in streamed.json()["detail"]
    body = b'{"x": "' + b"y" * (limit - 20) + b'"}'
    assert len(body) <= limit and c.post("/echo", content=body, headers={"Content-Type": "application/json"}).json() == {
        "n": limit - 20}
    assert c.get("/read").status_code == 200  # a GET is never counted


# ---- photos -------------------------------------------------------------------------------
def _jpeg(size=(320, 200), mode="RGB", **save) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 128 if mode == "L" else (90, 120, 60)).save(buf, "JPEG", **save)
    return buf.getvalue()


def _noisy_jpeg() -> bytes:
    import numpy as np

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 320, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def _png(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(buf, "PNG")
    return buf.getvalue()


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_a_good_photo_is_checked_and_letterboxed():
    data = _jpeg()
    photo = check_photo(data, 160, max_pixels=1_000_000)
    assert photo.data == data and photo.sha256 == hashlib.sha256(data).hexdigest() and photo.ext == "jpg"
    assert photo.square.shape[:2] == (160, 160) or max(photo.square.shape[:2]) == 160
    assert (photo.placement.width, photo.placement.height) == (320, 200)
    assert check_photo(_png(), 160, 1_000_000).ext == "png"
    assert check_photo(_jpeg(mode="L"), 160, 1_000_000).ext == "jpg"  # grayscale
    assert check_photo(_jpeg(mode="CMYK"), 160, 1_000_000).ext == "jpg"


def test_an_empty_file_is_named_empty():
    with pytest.raises(PhotoRejected) as e:
        check_photo(b"", 160, 1_000_000)
    assert (e.value.status, e.value.message, str(e.value)) == (422, "empty file", "empty file")


@pytest.mark.parametrize("data,status,words", [
    (b"", 422, "empty file"),
    (b"plain text, not a photo", 415, "not a JPEG or PNG"),
    (b"GIF89a" + b"\0" * 64, 415, "not a JPEG or PNG"),
    (_noisy_jpeg()[: len(_noisy_jpeg()) // 2], 422, "truncated or corrupt"),
    (_png_header(2000, 1001), 413, "2000x1001 pixels is over the 2000000 pixel limit"),
])
def test_bad_files_are_refused_with_a_reason(data, status, words):
    with pytest.raises(PhotoRejected) as e:
        check_photo(data, 160, max_pixels=2_000_000)
    assert e.value.status == status and words in e.value.message, (e.value.status, e.value.message)


def test_the_pixel_limit_is_inclusive():
    assert check_photo(_jpeg((100, 50)), 160, max_pixels=5000).placement.width == 100
    with pytest.raises(PhotoRejected):
        check_photo(_jpeg((100, 51)), 160, max_pixels=5000)


def test_an_unsupported_image_type_is_named():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "BMP")
    with pytest.raises(PhotoRejected) as e:
        check_photo(buf.getvalue(), 160, 1_000_000)
    assert e.value.status == 415 and "unsupported image type BMP" in e.value.message


# ---- the web UI's files -------------------------------------------------------------------
def test_pages_serve_only_the_ui_files():
    c = TestClient(_app(), client=LOOPBACK)
    index = c.get("/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert index.headers["cache-control"] == "no-cache" and "<html" in index.text.lower()
    js = c.get("/ui/js/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert c.get("/ui/style.css").headers["content-type"].startswith("text/css")
    missing = c.get("/ui/js/no-such.js")
    assert missing.status_code == 404 and missing.json() == {"detail": "no such page"}
    assert c.get("/ui/js").status_code == 404  # a folder is not a page


def test_pages_refuse_traversal_and_other_files(tmp_path):
    c = TestClient(_app(), client=LOOPBACK)
    outside = pages.STATIC.parent / "outside-static-edge.html"
    outside.write_text("<p>not a page of the app</p>")
    try:
        for raw in ("/ui/%2e%2e/outside-static-edge.html", "/ui/js/%2e%2e/%2e%2e/outside-static-edge.html",
                    "/ui/..%2foutside-static-edge.html"):
            r = c.get(raw)
            assert r.status_code == 404 and "not a page" not in r.text, raw
    finally:
        outside.unlink()
    (pages.STATIC / "notes-edge.txt").write_text("a file of a type the UI never serves")
    try:
        assert c.get("/ui/notes-edge.txt").status_code == 404
    finally:
        (pages.STATIC / "notes-edge.txt").unlink()
