"""The Serve app end to end: a real Serve application on the session's local Ray, the real store
and the demo models, over HTTP through Serve's proxy."""
from __future__ import annotations

import io
import struct
import time
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import running_app

KEY = "test-key-" + uuid.uuid4().hex
MAX_BYTES = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def api(ray_cluster, module_db_url, demo_weights):
    """Base URL of a running app (the key, small limits), torn down after the module."""
    w = demo_weights
    with running_app(database_url=module_db_url, detector=str(w.detector), classifier=str(w.classifier),
                     embedder=str(w.embedder), api_key=KEY,
                     max_upload_bytes=MAX_BYTES, max_pixels=10_000_000, max_files=4) as url:
        yield url


@pytest.fixture
def client(api):
    with httpx.Client(base_url=api, timeout=120, headers={"X-API-Key": KEY}) as c:
        yield c


@pytest.fixture(scope="module")
def deer_photos(photo_folder) -> list[Path]:
    """Photos with at least one deer in them, by the generator's ground truth."""
    root, truth = photo_folder
    paths = sorted({t["path"] for t in truth if t.get("individual")})
    return [root / p for p in paths]


@pytest.fixture(scope="module")
def uploaded(api, deer_photos) -> dict[str, list[Path]]:
    """Three deer photos from each location, uploaded once: the data the read and correction tests
    read, whatever ran before them (uploads are idempotent)."""
    by_location: dict[str, list[Path]] = {}
    for p in deer_photos:
        by_location.setdefault(p.parent.name, []).append(p)
    with httpx.Client(base_url=api, timeout=120, headers={"X-API-Key": KEY}) as c:
        for location, paths in by_location.items():
            for p in paths[:3]:
                r = _upload(c, (p.name, p.read_bytes()), location=location)
                assert r.status_code == 200, r.text
    return by_location


def _db(module_db_url):
    from store import connect

    return connect(module_db_url)


def _count(module_db_url, table: str) -> int:
    with _db(module_db_url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _upload(client, *files: tuple[str, bytes], location="Hayfield", **kw):
    return client.post("/api/images", data={"location": location},
                       files=[("files", (n, b, "image/jpeg")) for n, b in files], **kw)


def _uploads_dir() -> Path:
    from store.embedded import data_dir

    return data_dir() / "uploads"


# ---- service and docs ---------------------------------------------------------------------
def test_health_and_docs(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["database"]
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/api/images", "/api/deer", "/api/processing/status", "/api/jobs/reprocess"} <= set(spec["paths"])
    assert "APIKeyHeader" in spec["components"]["securitySchemes"]


# ---- uploads ------------------------------------------------------------------------------
def _own_photo(tmp_path: Path, name: str, seed: int) -> bytes:
    """A deer photo with a trail camera's EXIF that no other test uploads (its own animal and scene)."""
    from datetime import datetime

    import numpy as np

    from models.synthetic import DeerSpec, place_group, render_scene, write_photo

    spec = DeerSpec("doe", None, name)
    rng = np.random.default_rng(seed)
    img, _ = render_scene(rng, (960, 540), [(spec, place_group(rng, (960, 540), [spec])[0])], background_seed=seed)
    write_photo(tmp_path / f"{name}.jpg", img, datetime(2025, 10, 4, 6, 30))
    return (tmp_path / f"{name}.jpg").read_bytes()


def test_upload_detects_stores_and_assigns_deer(client, module_db_url, tmp_path, demo_weights):
    data = _own_photo(tmp_path, "upload-doe-41", 41)
    r = _upload(client, ("IMG_0001.JPG", data))
    assert r.status_code == 200, r.text
    (image,) = r.json()["images"]
    assert image["status"] == "completed" and not image["duplicate"]
    assert image["time_source"] == "exif" and image["camera_make"] == "Browning"
    assert image["location"] == "Hayfield"
    deer = [d for d in image["detections"] if d["deer_class"]]
    assert deer, "the demo models find the deer in a generated photo"
    assert all(d["deer_id"] for d in deer) and all(d["species"] == "deer" for d in deer)
    assert all(d["classifier_version"] and d["class_label"] for d in deer), "the classifier named them"
    assert {d["deer_status"] for d in deer} <= {"provisional", "active"}
    # the file lies under the data dir, named by its content hash, never by the client's name
    assert (_uploads_dir() / f"{image['sha256']}.jpg").read_bytes() == data
    with _db(module_db_url) as conn:
        (n_det, n_emb) = conn.execute("SELECT count(*), count(embedding) FILTER (WHERE deer_class IS NOT NULL)"
                                      " FROM detections WHERE image_id = %s", (image["id"],)).fetchone()
        kinds = conn.execute("SELECT DISTINCT r.kind FROM runs r JOIN images i ON i.run_id = r.id"
                             " WHERE i.id = %s", (image["id"],)).fetchall()
    assert n_det == len(image["detections"]) and n_emb == len(deer) and kinds == [("serve",)]
    health = httpx.get(f"{client.base_url}/health").json()  # no credentials: the versions, never a server path
    assert health["models"]["crops"]["classifier"] == deer[0]["classifier_version"]
    assert str(demo_weights.classifier.parent) not in str(health)


REAL = Path(__file__).resolve().parents[2] / "shared" / "photos" / "real"


def _mpo(path: Path) -> bytes:
    """A multi-picture JPEG with an embedded preview, as Bushnell cameras write."""
    from PIL import Image

    with Image.open(path) as im:
        big = im.convert("RGB").resize((1920, 1080))
    buf = io.BytesIO()
    big.save(buf, "MPO", save_all=True, append_images=[big.resize((640, 360))])
    return buf.getvalue()


def test_upload_takes_every_jpeg_real_cameras_write(client, module_db_url):
    """MPO, CMYK, grayscale, EXIF-rotated: the same photos folder ingest takes."""
    photos = [("bushnell.jpg", _mpo(REAL / "domestic_cattle.jpg"))] + [
        (n, (REAL / n).read_bytes()) for n in ("african_elephants_cmyk.jpg", "african_elephants_bw.jpg",
                                               "african_elephants_with_exif_orientation.jpg")]
    r = _upload(client, *photos, location="Real")
    assert r.status_code == 200, r.text
    images = r.json()["images"]
    assert [i["status"] for i in images] == ["completed"] * 4
    assert (images[0]["width"], images[0]["height"]) == (1920, 1080)
    assert (images[3]["width"], images[3]["height"]) == (2048, 1536), "stored rotated, seen upright"
    assert (_uploads_dir() / f"{images[0]['sha256']}.jpg").exists()


def test_duplicate_upload_returns_the_existing_image(client, module_db_url, deer_photos):
    data = deer_photos[1].read_bytes()
    first = _upload(client, ("a.jpg", data)).json()["images"][0]
    counts = [_count(module_db_url, t) for t in ("images", "detections", "deer")]
    again = _upload(client, ("renamed-copy.jpg", data), location="Sanctuary").json()["images"][0]
    assert again["duplicate"] and again["id"] == first["id"]
    assert again["location"] == first["location"]  # the existing image, unchanged
    assert [d["id"] for d in again["detections"]] == [d["id"] for d in first["detections"]]
    assert [_count(module_db_url, t) for t in ("images", "detections", "deer")] == counts


def test_several_files_in_one_request(client, deer_photos):
    r = _upload(client, ("x.jpg", deer_photos[2].read_bytes()), ("y.jpg", deer_photos[3].read_bytes()),
                location="270_Jason")
    assert r.status_code == 200, r.text
    assert [i["location"] for i in r.json()["images"]] == ["270_Jason", "270_Jason"]


def test_same_deer_photo_joins_its_profile(client):
    """A burst (same deer, seconds apart) lands on one profile. Its own never-uploaded deer, so what
    other tests uploaded before cannot decide it."""
    import numpy as np

    from models.recipes.embedder import encode
    from models.synthetic import DeerSpec, place_group, render_scene

    spec = DeerSpec("buck", "mature", "burst-buck-31")  # a fixed name: the same animal every run
    rng = np.random.default_rng(31)
    cx, cy, scale, facing = place_group(rng, (960, 540), [spec])[0]
    shots = [encode(render_scene(rng, (960, 540), [(spec, (cx + 12 * k, cy, scale, facing))], background_seed=77)[0])
             for k in range(2)]
    first, second = (_upload(client, (f"burst{k}.jpg", data), location="Burst").json()["images"][0]
                     for k, data in enumerate(shots))
    ids = [{d["deer_id"] for d in i["detections"] if d["deer_class"]} for i in (first, second)]
    assert ids[0] and ids[0] & ids[1], [(d["class_label"], d["deer_id"]) for i in (first, second) for d in i["detections"]]


def _gif() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 60)).save(buf, "GIF")
    return buf.getvalue()


def _truncated_jpeg(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _png_bomb(width=4_000, height=2_600) -> bytes:
    """A tiny PNG whose header claims 10.4 M pixels: over the app's 10 M limit (max_pixels above),
    under Pillow's own guard (89 M), so the project's check is the one that refuses it."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("name,make,status,words", [
    ("notes.jpg", lambda good: b"this is not an image at all", 415, "not a JPEG or PNG"),
    ("photo.jpg", lambda good: b"GIF89a" + b"\0" * 100, 415, "not a JPEG or PNG"),
    ("anim.jpg", lambda good: _gif(), 415, "unsupported image type GIF: only JPEG and PNG are accepted"),
    ("cut.jpg", _truncated_jpeg, 422, "truncated or corrupt"),
    ("bomb.png", lambda good: _png_bomb(), 413, "4000x2600 pixels is over the 10000000 pixel limit"),
    ("big.jpg", lambda good: good + b"\0" * MAX_BYTES, 413, f"over the {MAX_BYTES} byte limit"),
    ("empty.jpg", lambda good: b"", 422, "empty"),
])
def test_bad_files_are_refused_and_nothing_is_written(client, module_db_url, deer_photos, name, make, status, words):
    good = deer_photos[4].read_bytes()
    before = (_count(module_db_url, "images"), sorted(_uploads_dir().glob("*")))
    # a good photo in the same request is not stored either: the request is checked as a whole
    r = _upload(client, ("fine.jpg", good), (name, make(good)))
    assert r.status_code == status, r.text
    assert words in r.json()["detail"] and "nothing was stored" in r.json()["detail"], r.json()
    assert (_count(module_db_url, "images"), sorted(_uploads_dir().glob("*"))) == before


def _multipart(size: int, boundary: str = "thumper-test"):
    """A one-file multipart body of `size` file bytes, yielded in chunks (no Content-Length)."""
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"location\"\r\n\r\nHayfield\r\n"
           f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.jpg\"\r\n"
           "Content-Type: image/jpeg\r\n\r\n").encode()
    for _ in range(size // (1 << 20)):
        yield b"\xff" * (1 << 20)
    yield f"\r\n--{boundary}--\r\n".encode()


def test_oversized_body_is_refused_while_reading(client, module_db_url):
    """The body cap (max_files x max_upload_bytes + 1 MB = 9 MB here) holds for a body that says its
    length and for a chunked one that does not: the stream is counted as it is read."""
    before = _count(module_db_url, "images")
    headers = {"Content-Type": "multipart/form-data; boundary=thumper-test"}
    body = b"".join(_multipart(12 << 20))
    told = client.post("/api/images", content=body, headers=headers)
    chunked = client.post("/api/images", content=_multipart(12 << 20), headers=headers)
    for r in (told, chunked):
        assert r.status_code == 413 and "request body over" in r.json()["detail"], r.text
    assert _count(module_db_url, "images") == before


def test_bad_location_and_too_many_files(client, deer_photos):
    good = deer_photos[4].read_bytes()
    assert _upload(client, ("a.jpg", good), location="../../etc").status_code == 422
    assert _upload(client, *[(f"{i}.jpg", good) for i in range(5)]).status_code == 413


def test_every_request_but_health_needs_credentials(api, deer_photos):
    """Through Serve's proxy (every route is checked in-process in test_auth.py)."""
    good = deer_photos[4].read_bytes()
    with httpx.Client(base_url=api, timeout=60) as anon:
        assert _upload(anon, ("a.jpg", good)).status_code == 401
        assert _upload(anon, ("a.jpg", good), headers={"X-API-Key": "wrong"}).status_code == 401
        assert anon.post("/api/deer/1/rename", json={"name": "x"}).status_code == 401
        assert anon.post("/api/jobs/reprocess", json={}).status_code == 401
        assert anon.get("/api/images").status_code == 401
        assert anon.get("/api/images/1/thumbnail").status_code == 401
        assert anon.get("/health").status_code == 200
        assert anon.get("/api/images", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_concurrent_identical_uploads_make_one_image(api, module_db_url, photo_folder):
    import numpy as np

    from models.synthetic import DeerSpec, place_group, render_scene

    rng = np.random.default_rng(99)
    spec = DeerSpec("doe", None, "doe-concurrent")
    img, _ = render_scene(rng, deer=[(spec, place_group(rng, (960, 540), [spec])[0])], background_seed=5)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    data = buf.getvalue()
    before = _count(module_db_url, "images")

    def send(i):
        with httpx.Client(base_url=api, timeout=120, headers={"X-API-Key": KEY}) as c:
            return _upload(c, (f"copy{i}.jpg", data))

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(send, range(8)))
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    images = [r.json()["images"][0] for r in responses]
    assert len({i["id"] for i in images}) == 1 and sum(not i["duplicate"] for i in images) == 1
    assert {i["status"] for i in images} == {"completed"}
    assert _count(module_db_url, "images") == before + 1
    with _db(module_db_url) as conn:
        n = conn.execute("SELECT count(*) FROM detections WHERE image_id = %s", (images[0]["id"],)).fetchone()[0]
    assert n == len(images[0]["detections"])
    assert len({tuple(d["id"] for d in i["detections"]) for i in images}) == 1


def test_concurrent_distinct_uploads(api, module_db_url, photo_folder):
    root, _ = photo_folder
    photos = sorted(root.rglob("*.JPG"))[-8:]
    before = _count(module_db_url, "images")

    def send(p):
        with httpx.Client(base_url=api, timeout=120, headers={"X-API-Key": KEY}) as c:
            return _upload(c, (p.name, p.read_bytes()), location=p.parent.name)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(send, photos))
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    new = sum(not r.json()["images"][0]["duplicate"] for r in responses)
    assert _count(module_db_url, "images") == before + new
    with _db(module_db_url) as conn:  # one photo never shows the same deer twice
        assert conn.execute("SELECT count(*) FROM (SELECT image_id, deer_id FROM detections WHERE deer_id IS NOT NULL"
                            " GROUP BY 1, 2 HAVING count(*) > 1) x").fetchone()[0] == 0


# ---- reads --------------------------------------------------------------------------------
def test_read_endpoints_filter_and_paginate(client, uploaded):
    everything = client.get("/api/images").json()
    assert everything["total"] >= 3
    page = client.get("/api/images", params={"limit": 1, "offset": 1}).json()
    assert len(page["items"]) == 1 and page["items"][0]["id"] == everything["items"][1]["id"]
    hay = client.get("/api/images", params={"location": "Hayfield"}).json()
    assert hay["total"] >= 1 and {i["location"] for i in hay["items"]} == {"Hayfield"}
    assert "path" not in hay["items"][0]
    assert client.get("/api/images", params={"date_from": "2030-01-01"}).json()["total"] == 0
    for loc in ("Hayfield", "Sanctuary", "270_Jason"):  # the generator's photos run September to January
        fall = client.get("/api/images", params={"season": "fall", "location": loc}).json()["total"]
        winter = client.get("/api/images", params={"season": "winter", "location": loc}).json()["total"]
        assert fall + winter == client.get("/api/images", params={"location": loc}).json()["total"]
    assert client.get("/api/images", params={"season": "monsoon"}).status_code == 422
    assert client.get("/api/images", params={"limit": 10_000}).status_code == 422

    image = client.get(f"/api/images/{everything['items'][0]['id']}").json()
    assert "detections" in image and isinstance(image["detections"], list)
    assert client.get("/api/images/999999999").status_code == 404

    deer = client.get("/api/deer").json()
    assert deer["total"] >= 1
    one = deer["items"][0]
    detail = client.get(f"/api/deer/{one['id']}", params={"limit": 2}).json()
    assert detail["sightings_page"]["total"] == one["sightings"]
    assert all(d["deer_id"] == one["id"] for d in detail["sightings_page"]["items"])
    dets = client.get("/api/detections", params={"deer_id": one["id"]}).json()
    assert dets["total"] == one["sightings"]
    assert client.get("/api/deer", params={"status": "provisional"}).json()["total"] >= 1
    by_class = client.get("/api/detections", params={"deer_class": "doe"}).json()
    assert {d["deer_class"] for d in by_class["items"]} <= {"doe"}

    status = client.get("/api/processing/status").json()
    assert status["images"]["completed"] >= 3 and status["deer"] >= 1
    assert any(r["kind"] == "serve" for r in status["running"])


def _sightings(client, deer_id: int) -> list[dict]:
    return client.get(f"/api/deer/{deer_id}", params={"limit": 500}).json()["sightings_page"]["items"]


def _deer_of(client, det: dict) -> int | None:
    return client.get(f"/api/images/{det['image_id']}").json()["detections"][det["det_index"]]["deer_id"]


def test_corrections_through_the_api(client, uploaded):
    """Every correction route once, with its refusals: 404 for what does not exist, 409 for what
    the re-ID rules forbid, 422 for a malformed request."""
    deer = client.get("/api/deer", params={"limit": 500}).json()["items"]
    a = deer[0]
    r = client.post(f"/api/deer/{a['id']}/rename", json={"name": "Lefty"})
    assert r.status_code == 200 and r.json()["deer"]["name"] == "Lefty"
    assert client.post("/api/deer/999999/rename", json={"name": "x"}).status_code == 404

    y = max(deer, key=lambda d: (d["sightings"], -d["id"]))
    members = _sightings(client, y["id"])
    assert len(members) >= 2, f"the uploads gave no deer two sightings: {deer}"
    first, second = members[0], members[1]
    assert client.post(f"/api/deer/{y['id']}/split", json={"detection_ids": []}).status_code == 422
    every = client.post(f"/api/deer/{y['id']}/split", json={"detection_ids": [m["id"] for m in members]})
    assert every.status_code == 409 and "nothing to split" in every.json()["detail"], every.text
    r = client.post(f"/api/deer/{y['id']}/split", json={"detection_ids": [first["id"]], "name": "Splitter"})
    assert r.status_code == 200, r.text
    new = r.json()["deer_id"]
    assert new != y["id"] and r.json()["deer"]["name"] == "Splitter"
    assert _deer_of(client, first) == new and [s["id"] for s in _sightings(client, new)] == [first["id"]]

    # the split-off part and the rest are a known mergeable pair (one sex, never in one photo)
    r = client.post(f"/api/deer/{new}/merge", json={"into": y["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["deer"]["sightings"] == len(members) and _deer_of(client, first) == y["id"]
    assert client.get(f"/api/deer/{new}").json()["status"] == "merged"
    again = client.post(f"/api/deer/{new}/merge", json={"into": y["id"]})
    assert again.status_code == 409 and "merged into" in again.json()["detail"], again.text
    assert client.post(f"/api/deer/{y['id']}/merge", json={"into": y["id"]}).status_code == 409
    assert client.post(f"/api/deer/{y['id']}/merge", json={"into": 999999}).status_code == 404

    apart = client.post(f"/api/deer/{y['id']}/split", json={"detection_ids": [first["id"]]}).json()["deer_id"]
    assert _deer_of(client, first) == apart != y["id"]
    r = client.post(f"/api/detections/{first['id']}/move", json={"deer_id": y["id"]})
    assert r.status_code == 200 and _deer_of(client, first) == y["id"], r.text
    assert client.post(f"/api/detections/{first['id']}/move", json={"deer_id": 999999}).status_code == 404
    assert client.post("/api/detections/999999999/move", json={"deer_id": y["id"]}).status_code == 404

    r = client.post(f"/api/detections/{second['id']}/not-this-deer")
    assert r.status_code == 200 and _deer_of(client, second) is None, r.text
    twice = client.post(f"/api/detections/{second['id']}/not-this-deer")
    assert twice.status_code == 409 and "not assigned" in twice.json()["detail"], twice.text

    r = client.post(f"/api/detections/{first['id']}/not-deer")
    assert r.status_code == 200 and _deer_of(client, first) is None, r.text
    assert client.post("/api/detections/999999999/not-deer").status_code == 404


def test_a_lost_database_connection_is_a_503_and_the_app_recovers(client, module_db_url, uploaded, deer_photos):
    """The server ends every connection of the app's database (as a Postgres restart does): a
    request on a dead connection answers 503 with the reason, and the next ones work again, with
    no restart of the app. The replica's serve run lost its lock with its connection: the next
    upload starts a new run (the old one is marked aborted), so no claim goes unprotected."""
    from PIL import Image

    with _db(module_db_url) as conn:
        serve_runs = conn.execute("SELECT id FROM runs WHERE kind = 'serve' AND status = 'running'").fetchall()
    assert len(serve_runs) == 1
    with _db(module_db_url) as conn:
        killed = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                              " WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
    assert killed >= 1
    answers = [client.get("/api/images", params={"limit": 1}) for _ in range(8)]
    codes = [r.status_code for r in answers]
    assert 503 in codes and codes[-1] == 200, codes
    away = next(r for r in answers if r.status_code == 503)
    assert "the database is unavailable" in away.json()["detail"] and away.headers["retry-after"] == "5"
    assert client.get("/health").json()["database"] is True
    fresh = io.BytesIO()  # bytes no test uploaded before: this one is processed, not a duplicate
    with Image.open(deer_photos[-1]) as im:
        im = im.convert("RGB")
        im.putpixel((0, 0), (1, 2, 3))
        im.save(fresh, "JPEG", quality=93)
    r = next(r for r in (_upload(client, ("after-the-loss.jpg", fresh.getvalue())) for _ in range(3))
             if r.status_code != 503)
    assert r.status_code == 200 and not r.json()["images"][0]["duplicate"], r.text
    with _db(module_db_url) as conn:
        runs = dict(conn.execute("SELECT id, status FROM runs WHERE kind = 'serve'").fetchall())
        new_run = conn.execute("SELECT run_id FROM images WHERE id = %s", (r.json()["images"][0]["id"],)).fetchone()[0]
    assert runs[serve_runs[0][0]] == "aborted" and new_run != serve_runs[0][0] and runs[new_run] == "running"


# ---- jobs ---------------------------------------------------------------------------------
def test_reprocess_job_can_be_started_and_followed(client):
    r = client.post("/api/jobs/reprocess", json={"detector": "/etc/passwd"})
    assert r.status_code == 422  # never a server path from a client
    assert client.post("/api/jobs/reprocess", json={"classifier": "/etc/passwd"}).status_code == 422
    r = client.post("/api/jobs/reprocess", json={"all": False})
    assert r.status_code == 202, r.text  # the session's local Ray has a job service: a 503 is a failure
    job = r.json()
    assert "-m thumper process" in job["entrypoint"] and "--classifier " in job["entrypoint"]
    followed = client.get(f"/api/jobs/{job['job_id']}").json()
    assert followed["status"] in ("PENDING", "RUNNING", "SUCCEEDED"), followed
    stopped = client.post(f"/api/jobs/{job['job_id']}/stop").json()
    assert stopped["job_id"] == job["job_id"]
    deadline = time.monotonic() + 120  # ended before the next test: nothing of it runs on into others
    while client.get(f"/api/jobs/{job['job_id']}").json()["status"] in ("PENDING", "RUNNING"):
        assert time.monotonic() < deadline, "the stopped job is still running"
        time.sleep(1)
    assert client.get("/api/jobs/no-such-job").status_code == 404
