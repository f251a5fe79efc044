"""The model registry over the API, on a real Serve app whose classifier is 'latest': the list,
activation (the describer loads the new active version, so the next upload records it), the
describer's own look at the registry, and training submitted as a real Ray job on the session's
local Ray (against a database with too few corrections, so the trainer itself refuses, quickly)."""
from __future__ import annotations

import time
import uuid
from datetime import datetime

import httpx
import pytest
from conftest import another_classifier_version, running_app

KEY = "models-key-" + uuid.uuid4().hex
HELD_OUT = {"accuracy": 0.848, "balanced_accuracy": 0.81, "crops": 92, "per_class": {"doe": 0.9}}
PARENT = {"accuracy": 0.38, "balanced_accuracy": 0.4, "crops": 92, "per_class": {"doe": 0.52}}


@pytest.fixture(scope="module")
def versions(module_db_url, demo_weights, tmp_path_factory):
    """Two classifier versions in the registry: the demo (first, so active) and a 'trained' child."""
    from pipelines.model_versions import register_used, version_of
    from models.files import file_sha256
    from store import Store

    w = demo_weights
    child = another_classifier_version(w.classifier, tmp_path_factory.mktemp("versions"), "thumper-test-classifier-ft")
    with Store.open(module_db_url) as store:
        parent_id = register_used(store, "classifier", None, w.classifier, file_sha256(w.classifier))
        sha = file_sha256(child)
        child_id = store.models.register("classifier", name="thumper-test-classifier-ft",
                                         version=version_of(child, sha), sha256=sha, path=str(child), parent_id=parent_id,
                                         data={"train": 120, "held_out": 92, "sources": {"class": 150, "not_deer": 60}},
                                         metrics={"held_out": HELD_OUT, "parent_held_out": PARENT, "better": True})
        rows = {v["id"]: v for v in store.models.list("classifier")}
        store.accounts.add_user("cam", "viewer", "battery staple")
    assert rows[parent_id]["active"] and not rows[child_id]["active"]
    return {"parent": rows[parent_id], "child": rows[child_id]}


@pytest.fixture(scope="module")
def api(ray_cluster, module_db_url, demo_weights, versions):
    w = demo_weights
    with running_app(database_url=module_db_url, detector=str(w.detector), classifier="latest",
                     embedder=str(w.embedder), api_key=KEY) as url:
        yield url


@pytest.fixture
def client(api):
    with httpx.Client(base_url=api, timeout=120, headers={"X-API-Key": KEY}) as c:
        yield c


def _photo(tmp_path, seed: int) -> bytes:
    """A deer photo no other upload has (its own animal and scene)."""
    import numpy as np

    from models.synthetic import DeerSpec, place_group, render_scene, write_photo

    spec = DeerSpec("doe", None, f"models-doe-{seed}")
    rng = np.random.default_rng(seed)
    img, _ = render_scene(rng, (960, 540), [(spec, place_group(rng, (960, 540), [spec])[0])], background_seed=seed)
    write_photo(tmp_path / f"{seed}.jpg", img, datetime(2025, 10, 4, 6, 30))
    return (tmp_path / f"{seed}.jpg").read_bytes()


def _classified_by(client, module_db_url, tmp_path, seed: int) -> set[str]:
    """Upload a new photo; the classifier versions its detections record (in the answer and the table)."""
    r = client.post("/api/images", data={"location": "Hayfield"},
                    files=[("files", (f"{seed}.jpg", _photo(tmp_path, seed), "image/jpeg"))])
    assert r.status_code == 200, r.text
    (image,) = r.json()["images"]
    assert not image["duplicate"]
    said = {d["classifier_version"] for d in image["detections"] if d["observation_type"] == "animal"}
    assert said, "the demo detector finds the generated deer"
    from store import connect

    with connect(module_db_url) as conn:
        stored = {v for (v,) in conn.execute("SELECT DISTINCT classifier_version FROM detections WHERE image_id = %s"
                                             " AND observation_type = 'animal'", (image["id"],))}
    assert stored == said
    return said


def _active(client) -> dict[int, bool]:
    return {v["id"]: v["active"] for v in client.get("/api/models").json()["versions"] if v["kind"] == "classifier"}


def test_the_registry_is_listed_without_server_paths(client, versions):
    body = client.get("/api/models").json()
    listed = {v["id"]: v for v in body["versions"]}
    parent, child = versions["parent"], versions["child"]
    assert set(listed) == {parent["id"], child["id"]}
    c = listed[child["id"]]
    assert (c["kind"], c["parent_id"], c["parent_version"], c["sha256"]) == (
        "classifier", parent["id"], parent["version"], child["sha256"])
    assert c["metrics"]["held_out"]["accuracy"] == 0.848 and c["metrics"]["parent_held_out"]["accuracy"] == 0.38
    assert c["data"]["sources"] == {"class": 150, "not_deer": 60} and c["created_at"]
    assert "path" not in c and str(versions["child"]["path"]) not in client.get("/api/models").text
    assert (listed[parent["id"]]["active"], c["active"]) == (True, False)
    # the app's describer resolved 'latest' to the active version
    assert body["serving"] == {"classifier_spec": "latest", "classifier": parent["version"],
                               "embedder": body["serving"]["embedder"]}


def test_activation_switches_what_new_uploads_are_classified_by(client, versions, module_db_url, tmp_path):
    parent, child = versions["parent"], versions["child"]
    assert _classified_by(client, module_db_url, tmp_path, 301) == {parent["version"]}

    r = client.post(f"/api/models/{child['id']}/activate")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["version"]["id"] == child["id"] and done["version"]["active"]
    assert done["serving"]["classifier"] == child["version"] and "from now on" in done["note"]
    assert _active(client) == {parent["id"]: False, child["id"]: True}
    assert _classified_by(client, module_db_url, tmp_path, 302) == {child["version"]}
    health = httpx.get(f"{client.base_url}/health").json()  # no credentials: nothing private in it
    assert health["models"]["crops"]["classifier"] == child["version"]
    assert health["models"]["crops"]["classifier_follows_registry"] is True

    assert client.post(f"/api/models/{parent['id']}/activate").json()["serving"]["classifier"] == parent["version"]
    assert _classified_by(client, module_db_url, tmp_path, 303) == {parent["version"]}
    missing = client.post("/api/models/999999/activate")
    assert missing.status_code == 404 and "no model version 999999" in missing.json()["detail"]
    assert _active(client) == {parent["id"]: True, child["id"]: False}


def test_the_describer_finds_an_activation_made_elsewhere(client, versions, module_db_url, tmp_path):
    """`thumper models activate` (or another replica's API call) reaches every describer replica
    within RECHECK_S, without a call to it."""
    from serve_apps.describer import RECHECK_S
    from store import Store

    child = versions["child"]
    with Store.open(module_db_url) as store:
        store.models.activate(child["id"])
    try:
        time.sleep(RECHECK_S + 1)
        assert _classified_by(client, module_db_url, tmp_path, 304) == {child["version"]}
    finally:
        with Store.open(module_db_url) as store:
            store.models.activate(versions["parent"]["id"])


def test_a_viewer_may_look_but_not_activate_or_train(api, versions):
    with httpx.Client(base_url=api, timeout=60) as c:
        assert c.get("/api/models").status_code == 401
        me = c.post("/api/auth/login", json={"name": "cam", "password": "battery staple"}).json()
        assert c.get("/api/models").status_code == 200
        headers = {"X-CSRF-Token": me["csrf"]}
        for path in (f"/api/models/{versions['child']['id']}/activate", "/api/models/train"):
            r = c.post(path, json={"kind": "classifier"}, headers=headers)
            assert r.status_code == 403 and "cam is a viewer" in r.json()["detail"], (path, r.text)
        active = {v["id"]: v["active"] for v in c.get("/api/models").json()["versions"]}
    assert active[versions["parent"]["id"]] and not active[versions["child"]["id"]]


def test_training_is_submitted_as_a_ray_job(client, module_db_url):
    assert client.post("/api/models/train", json={"kind": "detector"}).status_code == 422
    assert client.post("/api/models/train", json={"epochs": 0}).status_code == 422
    deadline = time.monotonic() + 120
    while True:  # the app waits 20 s for a job agent; on a loaded box the session's may start later
        r = client.post("/api/models/train", json={"kind": "classifier", "epochs": 1})
        if r.status_code != 503 or "No available agent" not in r.text or time.monotonic() > deadline:
            break
    assert r.status_code == 202, r.text  # the session's local Ray has a job service: a 503 is a failure
    job = r.json()
    assert " -m thumper train classifier --epochs 1" in job["entrypoint"]
    assert "postgresql://" not in job["entrypoint"]  # the database URL travels in the job's environment
    deadline = time.monotonic() + 300
    while (followed := client.get(f"/api/jobs/{job['job_id']}").json())["status"] in ("PENDING", "RUNNING"):
        if time.monotonic() > deadline:
            client.post(f"/api/jobs/{job['job_id']}/stop")
            pytest.fail(f"the training job still runs: {followed}")
        time.sleep(2)
    # it ran the trainer on the app's database, which holds no corrections yet: refused, saying why
    assert followed["status"] == "FAILED", followed
    assert "too little verified data" in followed["logs_tail"], followed["logs_tail"]
    assert followed["dashboard_url"]
