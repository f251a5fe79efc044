"""Exports: CSV of detections with their deer, MegaDetector batch output (v1.4, what Timelapse
reads), a Camtrap DP 1.0 package, and the census estimate (JSON, or CSV one row per figure). Every detection is exported as what it is (deer, other
animals with their species, people, vehicles); detections marked "not a deer" are left out."""
from __future__ import annotations

import csv
import json
import os
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path

from models.classes import ClassMap
from store import Store
from store.report_queries import ReportQueries

FORMATS = ("csv", "megadetector", "camtrap-dp", "estimate-json", "estimate-csv")
ESTIMATE_COLUMNS = ["figure", "point", "low", "high", "refused", "method", "location", "window_start", "window_end",
                    "window_name", "events", "seed", "n_boot"]
CAMTRAP = "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0"
CSV_COLUMNS = ["detection_id", "image_id", "path", "location", "taken_at", "burst_id", "x1", "y1", "x2", "y2",
               "confidence", "label", "observation_type", "species", "species_confidence", "class_label",
               "class_confidence", "deer_class", "sex", "age_class", "deer_id", "deer_name", "detector_version",
               "classifier_version"]
MD_DETECTION = {"animal": "1", "human": "2", "vehicle": "3"}  # MegaDetector's detection categories
DEPLOYMENT_COLUMNS = ["deploymentID", "locationID", "locationName", "latitude", "longitude",
                      "deploymentStart", "deploymentEnd", "cameraModel", "timestampIssues", "deploymentComments"]
MEDIA_COLUMNS = ["mediaID", "deploymentID", "captureMethod", "timestamp", "filePath", "filePublic", "fileName",
                 "fileMediatype", "favorite", "mediaComments"]
OBSERVATION_COLUMNS = ["observationID", "deploymentID", "mediaID", "eventID", "eventStart", "eventEnd",
                       "observationLevel", "observationType", "scientificName", "count", "lifeStage", "sex",
                       "individualID", "bboxX", "bboxY", "bboxWidth", "bboxHeight", "classificationMethod",
                       "classifiedBy", "classificationProbability", "observationComments"]


def export(store: Store, fmt: str, out: Path, *, root: str | None = None, **options) -> Path:
    q = store.reports
    if fmt == "csv":
        return export_csv(q, Path(out))
    if fmt == "megadetector":
        return export_megadetector(q, Path(out), root)
    if fmt == "camtrap-dp":
        return export_camtrap_dp(q, Path(out), root, **options)
    if fmt in ("estimate-json", "estimate-csv"):
        return export_estimate(store, Path(out), fmt, **options)
    raise ValueError(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")


def _relative(paths: list[str], root: str | None) -> tuple[str, dict[str, str]]:
    """Image paths relative to `root` (default: the folder all photos share), with '/' separators."""
    if root is None:
        root = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else ""
    return root, {p: Path(os.path.relpath(p, root)).as_posix() if root else p for p in paths}


def export_csv(q: ReportQueries, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, CSV_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(q.detections())
    return out


def export_estimate(store: Store, out: Path, fmt: str = "estimate-json", *, window=None, location: str | None = None,
                    **options) -> Path:
    """The census estimate (pipelines.census_estimate) of `location` over `window`: the whole of it as
    JSON (figures with 95% intervals or refusals, the buck roster, assumptions, settings), or as CSV
    one row per figure with the window, location and seed on every row."""
    from pipelines.census_estimate import census_estimate, figure_order

    est = census_estimate(store, window, location, **options)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = est.to_dict()
    if fmt == "estimate-json":
        out.write_text(json.dumps(doc, indent=1, default=str))
        return out
    context = {"location": est.location or "", "window_start": doc["window"]["start"],
               "window_end": doc["window"]["end"], "window_name": doc["window"]["name"], "events": est.events,
               "seed": est.settings["seed"], "n_boot": est.settings["n_boot"]}
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, ESTIMATE_COLUMNS)
        w.writeheader()
        for k in figure_order(doc["figures"]):
            w.writerow({"figure": k, **doc["figures"][k], **context})
    return out


def _xywh(d: dict) -> list[float]:
    return [round(d["x1"], 4), round(d["y1"], 4), round(d["x2"] - d["x1"], 4), round(d["y2"] - d["y1"], 4)]


def export_megadetector(q: ReportQueries, out: Path, root: str | None = None) -> Path:
    """MegaDetector batch output format 1.4: bbox = normalised [x, y, width, height]; the detector's
    animal / person / vehicle is the category, and what the classifier said (the deer class for a
    deer, else the species) goes in `classifications` (Timelapse shows both)."""
    images = [i for i in q.images() if i["status"] in ("completed", "failed")]
    root, rel = _relative([i["path"] for i in images], root)
    by_image: dict[int, list] = {}
    categories: dict[str, str] = {}
    for d in q.detections():
        entry = {"category": MD_DETECTION.get(d["observation_type"], "1"), "conf": round(float(d["confidence"]), 4),
                 "bbox": _xywh(d)}
        said = d["deer_class"] or d["species"]
        if d["observation_type"] == "animal" and said != "animal":
            k = categories.setdefault(said, str(len(categories) + 1))
            conf = d["class_confidence"] if d["class_confidence"] is not None else d["confidence"]
            entry["classifications"] = [[k, round(float(conf), 4)]]
        by_image.setdefault(d["image_id"], []).append(entry)
    entries = []
    for i in images:
        entry = {"file": rel[i["path"]]}
        if i["status"] == "failed":  # the format: a failure carries "detections": null beside it
            entry["failure"] = i["error"] or "failed"
            entry["detections"] = None
        else:
            dets = by_image.get(i["id"], [])
            entry["max_detection_conf"] = max((d["conf"] for d in dets), default=0.0)
            entry["detections"] = dets
        entries.append(entry)
    models = q.run_models()
    doc = {
        "info": {"format_version": "1.4", "detector": models.get("detector") or "unknown",
                 "detection_completion_time": _iso(models.get("finished_at")),
                 "classifier": models.get("classifier") or "detector labels", "image_root": root},
        "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
        "classification_categories": {k: name for name, k in categories.items()},
        "images": entries,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1))
    return out


def _iso(t: datetime | None, offset: str = "Z") -> str:
    if t is None:
        return ""
    if t.tzinfo is not None:
        return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + offset


def _slug(name: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name or "unknown").strip("-") or "unknown"


LIFE_STAGE = {"fawn": "juvenile", "young": "subadult", "mid": "adult", "mature": "adult"}


def _life_stage(d: dict) -> str:
    if d["deer_class"] is None:
        return ""
    if d["deer_class"] == "fawn":
        return "juvenile"
    if d["deer_class"] == "buck":
        return LIFE_STAGE.get(d["age_class"] or "", "adult")
    return "adult" if d["deer_class"] == "doe" else ""


def export_camtrap_dp(q: ReportQueries, out: Path, root: str | None = None, *, utc_offset: str = "Z",
                      coordinates: dict[str, tuple[float, float]] | None = None) -> Path:
    """A Camtrap DP 1.0 folder: one deployment per camera location, one media row per processed
    photo, one media-level observation per detection (or a 'blank' one per empty photo).
    Photo times are camera wall time: `utc_offset` (e.g. '-05:00') says which zone they are in.
    Deployment latitude/longitude come from `coordinates` (location -> (lat, lon)); without them
    the columns are empty and must be filled in before publishing."""
    coordinates = coordinates or {}
    class_map = ClassMap.load()
    images = [i for i in q.images() if i["status"] == "completed" and i["taken_at"] is not None]
    root, rel = _relative([i["path"] for i in images], root)
    deployments: dict[str, dict] = {}
    for i in images:
        dep = deployments.setdefault(i["location"], {"start": i["taken_at"], "end": i["taken_at"], "mtime": False,
                                                     "camera": f"{i['camera_make'] or ''}-{i['camera_model'] or ''}"})
        dep["start"], dep["end"] = min(dep["start"], i["taken_at"]), max(dep["end"], i["taken_at"])
        dep["mtime"] |= i["time_source"] == "mtime"
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "deployments.csv", DEPLOYMENT_COLUMNS, [
        {"deploymentID": _slug(loc), "locationID": _slug(loc), "locationName": loc,
         "latitude": coordinates.get(loc, ("", ""))[0], "longitude": coordinates.get(loc, ("", ""))[1],
         "deploymentStart": _iso(d["start"], utc_offset), "deploymentEnd": _iso(d["end"], utc_offset),
         "cameraModel": d["camera"].strip("-"), "timestampIssues": str(d["mtime"]).lower(),
         "deploymentComments": "" if loc in coordinates else "coordinates unknown"}
        for loc, d in sorted(deployments.items())])
    _write(out / "media.csv", MEDIA_COLUMNS, [
        {"mediaID": i["id"], "deploymentID": _slug(i["location"]), "captureMethod": "activityDetection",
         "timestamp": _iso(i["taken_at"], utc_offset), "filePath": rel[i["path"]], "filePublic": "false",
         "fileName": Path(i["path"]).name, "fileMediatype": "image/jpeg"} for i in images])
    media = {i["id"]: i for i in images}
    seen: set[int] = set()
    observations = []
    taxa: set[str] = set()
    for d in q.detections():
        i = media.get(d["image_id"])
        if i is None:
            continue
        seen.add(i["id"])
        scientific = class_map.scientific_name(d["species"]) if d["observation_type"] == "animal" else None
        if scientific:
            taxa.add(scientific)
        prob = d["species_confidence"] if d["species_confidence"] is not None else d["confidence"]
        observations.append({
            **_event(i, utc_offset), "observationID": f"det-{d['detection_id']}",
            "observationType": d["observation_type"] if d["species"] != "animal" else "unclassified",
            "scientificName": scientific or "", "count": 1, "lifeStage": _life_stage(d),
            "sex": d["sex"] if d["sex"] in ("female", "male") else "",
            "individualID": f"deer-{d['deer_id']}" if d["deer_id"] is not None else "",
            **dict(zip(("bboxX", "bboxY", "bboxWidth", "bboxHeight"), _xywh(d))),
            "classificationMethod": "machine", "classifiedBy": d["classifier_version"] or d["detector_version"],
            "classificationProbability": round(float(prob), 4),
            "observationComments": d["deer_name"] or ""})
    observations += [{**_event(i, utc_offset), "observationID": f"blank-{i['id']}", "observationType": "blank",
                      "classificationMethod": "machine"} for i in images if i["id"] not in seen]
    _write(out / "observations.csv", OBSERVATION_COLUMNS, observations)
    starts = [d["start"] for d in deployments.values()]
    ends = [d["end"] for d in deployments.values()]
    package = {
        "profile": f"{CAMTRAP}/camtrap-dp-profile.json",
        "name": "thumper-counter-census", "id": str(uuid.uuid4()),
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "title": "Thumper Counter deer census", "image_root": root,
        "contributors": [{"title": "Thumper Counter", "role": "contact"}],
        "project": {"title": "Thumper Counter deer census", "samplingDesign": "opportunistic",
                    "captureMethod": ["activityDetection"], "individualAnimals": True,
                    "observationLevel": ["media"]},
        "temporal": {"start": min(starts).date().isoformat() if starts else "",
                     "end": max(ends).date().isoformat() if ends else ""},
        "taxonomic": [{"scientificName": name, "taxonRank": "species" if " " in name else "genus"}
                      for name in sorted(taxa)],
        "resources": [{"name": name, "path": f"{name}.csv", "profile": "tabular-data-resource", "format": "csv",
                       "mediatype": "text/csv", "encoding": "utf-8", "schema": f"{CAMTRAP}/{name}-table-schema.json"}
                      for name in ("deployments", "media", "observations")],
    }
    if coordinates:
        lats, lons = zip(*coordinates.values())
        package["spatial"] = {"type": "Polygon", "bbox": [min(lons), min(lats), max(lons), max(lats)],
                              "coordinates": [[[min(lons), min(lats)], [max(lons), min(lats)], [max(lons), max(lats)],
                                               [min(lons), max(lats)], [min(lons), min(lats)]]]}
    (out / "datapackage.json").write_text(json.dumps(package, indent=2))
    return out


def _event(i: dict, utc_offset: str) -> dict:
    """Media-level observation of photo i (event times = the photo's); its event is its burst."""
    return {"deploymentID": _slug(i["location"]), "mediaID": i["id"],
            "eventID": f"burst-{i['burst_id']}" if i["burst_id"] else "",
            "eventStart": _iso(i["taken_at"], utc_offset), "eventEnd": _iso(i["taken_at"], utc_offset),
            "observationLevel": "media"}


def _write(path: Path, columns: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
