"""Exports of a real census (synthetic photos through the demo models, one broken photo) checked by
the formats' own checkers: MegaDetector's `validate_batch_results` (0 errors, 0 warnings) and the
Camtrap DP 1.0.2 validator in ../shared/camtrap-dp/ (offline: the profile and every table with
frictionless), plus values landing in the fields they belong to."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO, missing_tool

from pipelines.census import PipelineOptions, run_census
from pipelines.export import ExportError, export
from pipelines.reid import run_reid

BROKEN = b"\xff\xd8\xff\xe0 a JPEG that ends here"
SHARED = REPO.parent / "shared"
CAMTRAP = SHARED / "camtrap-dp"
EXAMPLE = CAMTRAP / "1.0.2" / "example"
REAL_BURST = SHARED / "photos" / "real-burst"
# the synthetic cameras have neither coordinates nor zone in the deployments table: the export's
# fallbacks give them; the real Reconyx burst's deployment has its own (the standard's example's)
FALLBACK = {"270_Jason": (44.1, -92.5), "Hayfield": (44.2, -92.4), "Sanctuary": (44.15, -92.45)}


@pytest.fixture(scope="module")
def census(module_db_url, ray_cluster, demo_weights, tmp_path_factory):
    """One census for the module: 3 cameras x 6 photos (deer and others) and one photo that fails."""
    from models.synthetic import make_photo_folder
    from store import Store

    root = tmp_path_factory.mktemp("export-photos")
    # stamp bars on every photo, and a third without an EXIF time: those are timed by OCR
    truth = make_photo_folder(root, photos_per_location=6, seed=3, others=0.3, stamp="mixed", no_exif_time=0.3)
    (root / "Creek").mkdir()
    (root / "Creek" / "BROKEN.JPG").write_bytes(BROKEN)
    real = REAL_BURST.is_dir()
    if real:  # ten real photos of one Reconyx camera: EXIF 2021-04-11 20:43, file names another moment
        shutil.copytree(REAL_BURST, root / "Mica", ignore=shutil.ignore_patterns("*.md"))
    w = demo_weights
    store = Store.open(module_db_url)
    report = run_census(store, root, PipelineOptions(detector=str(w.detector), classifier=str(w.classifier),
                                                    embedder=str(w.embedder)))
    assert report.run.completed == 18 + 10 * real, report.run
    run_reid(store)
    if real:  # what `thumper cameras set ID --lat 50.699 --lon 4.013 --time-zone +01:00` stores
        store.conn.execute("UPDATE deployments SET latitude = 50.699, longitude = 4.013, time_zone = '+01:00',"
                           " coordinate_uncertainty_m = 187 WHERE location_id = (SELECT id FROM locations"
                           " WHERE name = 'Mica')")
    yield SimpleNamespace(store=store, root=root, truth=truth, real=real)
    store.close()


# MegaDetector's package sets PIL's LOAD_TRUNCATED_IMAGES on import (visualization_utils): in this
# process that would make every later test's truncated photo decode. So it runs in a child process.
_MD_CHECK = """
import json, sys
from megadetector.postprocessing.validate_batch_results import validate_batch_results
print(json.dumps(validate_batch_results(sys.argv[1])["validation_results"], default=str))
"""


def _md_check(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", _MD_CHECK, str(path)], capture_output=True, text=True, timeout=300)
    if done.returncode and "No module named 'megadetector" in done.stderr:
        missing_tool("MegaDetector's checker cannot be imported: bash .ci/install adds it "
                     "(pip install --no-deps megadetector, with the test extra)")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_megadetector_json_passes_megadetectors_own_checker(census, tmp_path):
    out = export(census.store, "megadetector", tmp_path / "md.json")
    results = _md_check(out)
    assert results["errors"] == [] and results["warnings"] == [], results
    doc = json.loads(out.read_text())
    failed = [i for i in doc["images"] if "failure" in i]
    assert [i["file"] for i in failed] == ["Creek/BROKEN.JPG"] and failed[0]["detections"] is None
    assert all(isinstance(i["detections"], list) for i in doc["images"] if "failure" not in i)
    assert len(doc["images"]) == 19 + 10 * census.real


def _validate(package: Path) -> subprocess.CompletedProcess:
    if not (CAMTRAP / "validate.py").exists():
        missing_tool(f"no Camtrap DP validator at {CAMTRAP}")
    try:
        import frictionless  # noqa: F401
    except ImportError:
        missing_tool("frictionless is not installed: pip install -e '.[test]'")
    return subprocess.run([sys.executable, str(CAMTRAP / "validate.py"), str(package)], capture_output=True,
                          text=True, timeout=300)


def _tables(out: Path) -> dict[str, list[dict]]:
    return {name: list(csv.DictReader(open(out / f"{name}.csv", newline="")))
            for name in ("deployments", "media", "observations")}


def test_camtrap_dp_passes_the_standards_validator(census, tmp_path):
    out = export(census.store, "camtrap-dp", tmp_path / "dp", utc_offset="-05:00", coordinates=FALLBACK)
    checked = _validate(out / "datapackage.json")
    assert checked.returncode == 0 and checked.stdout.strip().splitlines() == ["VALID"], checked.stdout[-4000:]
    package = json.loads((out / "datapackage.json").read_text())
    assert package["spatial"]["type"] == "Polygon" and package["temporal"]["start"] <= package["temporal"]["end"]
    assert "Odocoileus" in {t["scientificName"] for t in package["taxonomic"]}
    tables = _tables(out)
    assert len(tables["media"]) == 18 + 10 * census.real  # the broken photo is not media
    assert {m["filePath"].split("/")[0] for m in tables["media"]} == set(FALLBACK) | ({"Mica"} if census.real else set())
    synthetic = [d for d in tables["deployments"] if d["locationName"] in FALLBACK]
    assert {d["latitude"] for d in synthetic} == {str(lat) for lat, _ in FALLBACK.values()}
    assert all(d["deploymentStart"].endswith("-05:00") and d["cameraModel"] == "Browning-BTC-8E" for d in synthetic)
    truth = {r["path"]: r for r in census.truth}
    ocr = [m for m in tables["media"] if "stamp bar" in m["mediaComments"]]
    assert len(ocr) == sum(not r["exif_time"] for r in truth.values()) > 0
    for m in ocr:  # the stamp's time, in the zone given
        row = truth[m["filePath"]]
        want = row["taken_at"] if row["stamp"].count(":") == 2 else row["taken_at"].replace(second=0)
        assert m["timestamp"] == want.isoformat() + "-05:00", (m, row)
    events = [o for o in tables["observations"] if o["eventID"]]
    assert events and all(o["eventStart"] <= o["eventEnd"] for o in events)
    assert any(o["eventStart"] != o["eventEnd"] for o in events)  # a burst of 3 shots spans 4 s


def test_the_real_burst_carries_its_cameras_zone_not_its_file_names(census, tmp_path):
    """EXIF 2021-04-11 20:43:09 in the camera's zone (+01:00, as the standard's example records it);
    the file names' 2021-05-31 08:25 is when they were copied, and nothing may read it."""
    if not census.real:
        missing_tool(f"no real photos at {REAL_BURST}")
    out = export(census.store, "camtrap-dp", tmp_path / "dp", utc_offset="-05:00", coordinates=FALLBACK)
    tables = _tables(out)
    example = {m["fileName"]: m["timestamp"] for m in csv.DictReader(open(EXAMPLE / "media.csv", newline=""))}
    ours = {m["fileName"]: m for m in tables["media"] if m["filePath"].startswith("Mica/")}
    assert len(ours) == 10 and {name: m["timestamp"] for name, m in ours.items()} == \
        {name: example[name] for name in ours}
    (mica,) = [d for d in tables["deployments"] if d["locationName"] == "Mica"]
    assert (mica["latitude"], mica["longitude"], mica["coordinateUncertainty"]) == ("50.699", "4.013", "187")
    assert mica["deploymentStart"] == "2021-04-11T20:43:09+01:00" and mica["deploymentEnd"] == "2021-04-11T20:43:15+01:00"
    assert mica["cameraModel"] == "RECONYX-HYPERFIRE 2 COVERT" and mica["timestampIssues"] == "false"
    assert not any("2021-05-31" in m["timestamp"] for m in ours.values())


def test_values_land_in_their_fields_and_a_correction_is_a_human_classification(census, tmp_path):
    from models.classes import ClassMap
    from pipelines import corrections

    store = census.store
    det_id, deer_id = store.conn.execute(
        "SELECT d.id, d.deer_id FROM detections d WHERE d.deer_id IS NOT NULL AND d.deer_id IN"
        " (SELECT deer_id FROM detections GROUP BY deer_id HAVING count(*) >= 2) ORDER BY d.id LIMIT 1").fetchone()
    corrections.confirm_match(store.reid, det_id)  # "yes, same deer": a person decided this one
    out = export(store, "camtrap-dp", tmp_path / "dp", utc_offset="-05:00", coordinates=FALLBACK)
    assert _validate(out / "datapackage.json").returncode == 0
    observations = {o["observationID"]: o for o in _tables(out)["observations"]}
    media = {m["mediaID"]: m for m in _tables(out)["media"]}

    human = observations[f"det-{det_id}"]
    assert (human["classificationMethod"], human["individualID"]) == ("human", f"deer-{deer_id}")
    assert human["classifiedBy"].startswith("thumper deer correction ") and human["classificationProbability"] == ""

    row = store.conn.execute(
        "SELECT d.id, d.image_id, d.x1, d.y1, d.x2, d.y2, d.species, d.species_confidence, d.confidence, d.sex,"
        " d.classifier_version, d.detector_version FROM detections d WHERE d.observation_type = 'animal'"
        " AND d.id <> %s AND d.id NOT IN (SELECT detection_id FROM correction_facts WHERE detection_id IS NOT NULL)"
        " ORDER BY d.id LIMIT 1", (det_id,)).fetchone()
    did, image_id, x1, y1, x2, y2, species, species_conf, conf, sex, classifier, detector = row
    o = observations[f"det-{did}"]
    assert o["observationType"] == "animal" and o["scientificName"] == ClassMap.load().scientific_name(species)
    assert o["mediaID"] == str(image_id) and o["deploymentID"] == media[str(image_id)]["deploymentID"]
    for field, want in (("bboxX", x1), ("bboxY", y1), ("bboxWidth", x2 - x1), ("bboxHeight", y2 - y1)):
        assert abs(float(o[field]) - want) <= 1e-4, (field, o[field], want)
    assert abs(float(o["classificationProbability"]) - (species_conf if species_conf is not None else conf)) <= 1e-4
    assert o["classificationMethod"] == "machine" and o["classifiedBy"] == (classifier or detector)
    assert o["sex"] == (sex if sex in ("female", "male") else "") and o["count"] == "1"
    assert o["eventStart"] == media[str(image_id)]["timestamp"] or o["eventID"]


def test_camtrap_dp_without_coordinates_or_zone_is_refused_and_writes_nothing(census, tmp_path):
    out = tmp_path / "dp"
    with pytest.raises(ExportError) as refused:
        export(census.store, "camtrap-dp", out)
    msg = str(refused.value)
    assert "latitude and longitude" in msg and "thumper cameras set" in msg and "--coordinates" in msg
    assert "270_Jason" in msg and "time zone" in msg and "--utc-offset" in msg and "Mica" not in msg
    assert not out.exists()
    with pytest.raises(ExportError, match="unknown time zone 'Mars/Olympus'"):
        export(census.store, "camtrap-dp", out, utc_offset="Mars/Olympus", coordinates=FALLBACK)
    with pytest.raises(ExportError, match="not under --root"):
        export(census.store, "camtrap-dp", out, utc_offset="-05:00", coordinates=FALLBACK,
               root=str(census.root / "Hayfield"))
    assert not out.exists()


def test_zones_as_the_deployments_table_and_utc_offset_give_them():
    from datetime import datetime

    from pipelines.export import _stamp, parse_zone

    chicago = parse_zone("America/Chicago")  # daylight saving per photo
    assert _stamp(datetime(2024, 7, 1, 6, 0), chicago) == "2024-07-01T06:00:00-05:00"
    assert _stamp(datetime(2024, 12, 1, 6, 0), chicago) == "2024-12-01T06:00:00-06:00"
    assert _stamp(datetime(2021, 4, 11, 20, 43, 9), parse_zone("+01:00")) == "2021-04-11T20:43:09+01:00"
    assert _stamp(datetime(2021, 4, 11, 20, 43, 9), parse_zone("+0100")) == "2021-04-11T20:43:09+01:00"
    assert _stamp(datetime(2024, 1, 2, 3, 4, 5), parse_zone("Z")) == "2024-01-02T03:04:05Z"
    for bad in ("Mars/Olympus", "+25:00", "-05:75", "5", ""):
        with pytest.raises(ValueError):
            parse_zone(bad)
