"""Exports of a real census (synthetic photos through the demo models, one broken photo) checked by
the formats' own checkers: MegaDetector's `validate_batch_results` (0 errors, 0 warnings) and the
Camtrap DP 1.0.2 validator in ../shared/camtrap-dp/ (offline: the profile and every table with
frictionless), plus values landing in the fields they belong to."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from conftest import missing_tool

from pipelines.census import PipelineOptions, run_census
from pipelines.export import export
from pipelines.reid import run_reid

BROKEN = b"\xff\xd8\xff\xe0 a JPEG that ends here"


@pytest.fixture(scope="module")
def census(module_db_url, ray_cluster, demo_weights, tmp_path_factory):
    """One census for the module: 3 cameras x 6 photos (deer and others) and one photo that fails."""
    from models.synthetic import make_photo_folder
    from store import Store

    root = tmp_path_factory.mktemp("export-photos")
    truth = make_photo_folder(root, photos_per_location=6, seed=3, others=0.3)
    (root / "Creek").mkdir()
    (root / "Creek" / "BROKEN.JPG").write_bytes(BROKEN)
    w = demo_weights
    store = Store.open(module_db_url)
    report = run_census(store, root, PipelineOptions(detector=str(w.detector), classifier=str(w.classifier),
                                                    embedder=str(w.embedder)))
    assert report.run.completed == 18, report.run
    run_reid(store)
    yield SimpleNamespace(store=store, root=root, truth=truth)
    store.close()


def _md_checker():
    try:
        from megadetector.postprocessing.validate_batch_results import validate_batch_results
    except ImportError as e:
        missing_tool(f"MegaDetector's checker cannot be imported ({e}): bash .ci/install adds it "
                     "(pip install --no-deps megadetector, with the test extra)")
    return validate_batch_results


def test_megadetector_json_passes_megadetectors_own_checker(census, tmp_path):
    validate_batch_results = _md_checker()
    out = export(census.store, "megadetector", tmp_path / "md.json")
    results = validate_batch_results(str(out))["validation_results"]
    assert results["errors"] == [] and results["warnings"] == [], results
    doc = json.loads(out.read_text())
    failed = [i for i in doc["images"] if "failure" in i]
    assert [i["file"] for i in failed] == ["Creek/BROKEN.JPG"] and failed[0]["detections"] is None
    assert all(isinstance(i["detections"], list) for i in doc["images"] if "failure" not in i)
    assert len(doc["images"]) == 19
