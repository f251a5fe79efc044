"""Real model shapes through the whole pipeline and the Serve upload: a MegaDetector-v6-c-shaped
detector (an Ultralytics YOLOv9-c built from its YAML, classes animal / person / vehicle), an
Ultralytics classification model and a timm classifier, loaded by path as a user's own weights
would be. Untrained, so this checks loading, shapes and plumbing, never accuracy (the demo models'
quality is benchmarks/classify_quality.py's job)."""
from __future__ import annotations

import httpx
import pytest
from conftest import running_app

from models.recipes.shapes import build_detector, build_timm_classifier, build_ultralytics_classifier
from pipelines.census import PipelineOptions, run_census

CLASSIFIER_LABELS = ["doe", "fawn", "buck_young", "buck_mid", "buck_mature", "cow", "hog", "raccoon", "turkey",
                     "person", "vehicle", "blank"]
# an untrained head scores every box near sigmoid(bias) ~ 3e-4: this threshold lets boxes through,
# so crops, the classifier and the embedder all get work
CONF = 2e-4


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack")
    return {"detector": build_detector("yolov9c", root / "MDV6-shaped-yolov9c.pt", imgsz=320),
            "ultralytics": build_ultralytics_classifier(root / "seeds-cls.pt", CLASSIFIER_LABELS),
            "timm": build_timm_classifier(root / "timm-cls.pt", CLASSIFIER_LABELS)}


@pytest.fixture(scope="module")
def few_photos(tmp_path_factory):
    from models.synthetic import make_photo_folder

    root = tmp_path_factory.mktemp("few")
    make_photo_folder(root, locations=("Creek",), photos_per_location=3, seed=21, size=(640, 360), others=0.5)
    return root


@pytest.mark.parametrize("kind", ["ultralytics", "timm"])
def test_megadetector_shaped_detector_and_classifier_through_the_pipeline(store, ray_cluster, demo_weights, stack,
                                                                         few_photos, kind):
    opts = PipelineOptions(detector=str(stack["detector"]), classifier=str(stack[kind]),
                           embedder=str(demo_weights.embedder), conf=CONF)
    report = run_census(store, few_photos, opts)
    assert report.run.completed == 3 and report.run.failed == 0
    assert report.run.classifier_version.startswith(stack[kind].stem + "@")
    rows = store.conn.execute(
        "SELECT label, observation_type, class_label, classifier_version, crop_version, deer_class,"
        " embedding IS NOT NULL FROM detections").fetchall()
    assert rows, "at this threshold the untrained detector boxes something"
    assert {r[0] for r in rows} <= {"animal", "person", "vehicle"}
    animals = [r for r in rows if r[0] == "animal"]
    assert animals and all(r[2] in CLASSIFIER_LABELS and r[3] == report.run.classifier_version and r[4]
                           for r in animals), "every animal crop was classified, with its versions"
    assert all(r[6] == (r[5] is not None) for r in rows), "deer, and only deer, are embedded"
    run = store.run(report.run.run_id)
    assert run["classifier"] == str(stack[kind]) and run["classifier_version"] == report.run.classifier_version


def test_megadetector_shaped_stack_behind_the_upload_api(ray_cluster, make_db, demo_weights, stack, few_photos):
    photo = sorted(few_photos.rglob("*.JPG"))[0].read_bytes()
    with running_app(database_url=make_db(), detector=str(stack["detector"]), classifier=str(stack["timm"]),
                     embedder=str(demo_weights.embedder), local_only=True, conf=CONF) as url:
        with httpx.Client(base_url=url, timeout=180) as c:
            r = c.post("/api/images", data={"location": "Creek"}, files=[("files", ("a.jpg", photo, "image/jpeg"))])
    assert r.status_code == 200, r.text
    (image,) = r.json()["images"]
    assert image["status"] == "completed" and image["detections"]
    animals = [d for d in image["detections"] if d["label"] == "animal"]
    assert animals and all(d["class_label"] in CLASSIFIER_LABELS and d["classifier_version"] for d in animals)
    assert all(d["deer_id"] for d in image["detections"] if d["deer_class"])
