"""Exports: CSV of detections with their deer, MegaDetector batch output (v1.4, what Timelapse
reads), a Camtrap DP 1.0.2 package, and the census estimate (JSON, or CSV one row per figure).
Every detection is exported as what it is (deer, other animals with their species, people,
vehicles); detections marked "not a deer" are left out. An export that cannot be made right (a
deployment without coordinates or time zone, a photo outside --root) raises ExportError naming
what to fix, before anything is written."""
from __future__ import annotations

import csv
import json
import os
import re
import uuid
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models.classes import ClassMap, normalise
from models.files import atomic_write
from store import Store
from store.report_queries import ReportQueries

FORMATS = ("csv", "megadetector", "camtrap-dp", "estimate-json", "estimate-csv")
ESTIMATE_COLUMNS = ["figure", "point", "low", "high", "refused", "method", "location", "window_start", "window_end",
                    "window_name", "events", "seed", "n_boot"]
CAMTRAP = "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2"
CSV_COLUMNS = ["detection_id", "image_id", "path", "location", "taken_at", "burst_id", "x1", "y1", "x2", "y2",
               "confidence", "label", "observation_type", "species", "species_confidence", "class_label",
               "class_confidence", "deer_class", "sex", "age_class", "deer_id", "deer_name", "detector_version",
               "classifier_version"]
MD_DETECTION = {"animal": "1", "human": "2", "vehicle": "3"}  # MegaDetector's detection categories
# Camtrap DP 1.0.2's table schemas: every field, in the schema's order (frictionless checks both)
DEPLOYMENT_COLUMNS = ["deploymentID", "locationID", "locationName", "latitude", "longitude", "coordinateUncertainty",
                      "deploymentStart", "deploymentEnd", "setupBy", "cameraID", "cameraModel", "cameraDelay",
                      "cameraHeight", "cameraDepth", "cameraTilt", "cameraHeading", "detectionDistance",
                      "timestampIssues", "baitUse", "featureType", "habitat", "deploymentGroups", "deploymentTags",
                      "deploymentComments"]
MEDIA_COLUMNS = ["mediaID", "deploymentID", "captureMethod", "timestamp", "filePath", "filePublic", "fileName",
                 "fileMediatype", "exifData", "favorite", "mediaComments"]
OBSERVATION_COLUMNS = ["observationID", "deploymentID", "mediaID", "eventID", "eventStart", "eventEnd",
                       "observationLevel", "observationType", "cameraSetupType", "scientificName", "count",
                       "lifeStage", "sex", "behavior", "individualID", "individualPositionRadius",
                       "individualPositionAngle", "individualSpeed", "bboxX", "bboxY", "bboxWidth", "bboxHeight",
                       "classificationMethod", "classifiedBy", "classificationTimestamp",
                       "classificationProbability", "observationTags", "observationComments"]


class ExportError(ValueError):
    """This export cannot be written correctly; the message says what to set or pass. Nothing was written."""


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


_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{1,2}):?(\d{2})$")


def parse_zone(spec: str) -> tzinfo:
    """A time zone as the deployments table or --utc-offset give it: 'Z' / 'UTC', a UTC offset
    ('-05:00', '+0100'), or an IANA name ('America/Chicago', daylight saving included)."""
    text = (spec or "").strip()
    if text.upper() in ("Z", "UTC", "GMT"):
        return timezone.utc
    if m := _OFFSET.match(text):
        sign, hours, minutes = m.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta > timedelta(hours=14) or int(minutes) >= 60:
            raise ValueError(f"UTC offset {spec!r} out of range (-14:00 to +14:00)")
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {spec!r}: an IANA name (America/Chicago) or a UTC offset "
                         "(-05:00)") from None


def _stamp(t: datetime, zone: tzinfo) -> str:
    """Camera-local wall time `t` with its zone's offset at that moment: 2021-04-11T20:43:09+01:00."""
    return t.replace(microsecond=0, tzinfo=zone).isoformat().replace("+00:00", "Z" if zone is timezone.utc else "+00:00")


def _slug(name: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name or "unknown").strip("-") or "unknown"


LIFE_STAGE = {"fawn": "juvenile", "young": "subadult", "mid": "adult", "mature": "adult"}
CLASSES = {"Mammalia", "Aves", "Reptilia", "Amphibia", "Actinopterygii", "Insecta"}


def _life_stage(d: dict) -> str:
    if d["deer_class"] is None:
        return ""
    if d["deer_class"] == "fawn":
        return "juvenile"
    if d["deer_class"] == "buck":
        return LIFE_STAGE.get(d["age_class"] or "", "adult")
    return "adult" if d["deer_class"] == "doe" else ""


def _rank(scientific: str) -> str:
    words = scientific.split()
    if len(words) > 1:
        return "species" if len(words) == 2 else "subspecies"
    if scientific in CLASSES:
        return "class"
    return "family" if scientific.endswith("idae") else "order" if scientific.endswith("formes") else "genus"


def _bbox(d: dict) -> dict:
    """Camtrap DP's box: top-left corner and size, relative to the photo, inside it, never empty."""
    x1, y1 = min(max(float(d["x1"]), 0.0), 1.0), min(max(float(d["y1"]), 0.0), 1.0)
    x2, y2 = min(max(float(d["x2"]), x1), 1.0), min(max(float(d["y2"]), y1), 1.0)
    return {"bboxX": round(x1, 4), "bboxY": round(y1, 4),
            "bboxWidth": max(round(x2 - x1, 4), 0.0001), "bboxHeight": max(round(y2 - y1, 4), 0.0001)}


def _deployment_id(dep: dict) -> str:
    return f"{_slug(dep['location'])}-{dep['id']}"


def _camera(dep: dict) -> str:
    return "-".join(p for p in (dep["camera_make"], dep["camera_model"]) if p)


def _resolve_deployments(deployments: list[dict], utc_offset: str | None,
                         coordinates: dict[str, tuple[float, float]]) -> dict[int, dict]:
    """Each deployment's coordinates (its own, else `coordinates` by location) and zone (its own,
    else `utc_offset`); ExportError listing every deployment that lacks one, with the fix."""
    try:
        fallback_zone = parse_zone(utc_offset) if utc_offset else None
    except ValueError as e:
        raise ExportError(f"--utc-offset: {e}") from None
    no_place, no_zone, bad_zone, out = [], [], [], {}
    for dep in deployments:
        camera = " ".join(p for p in (dep["camera_make"], dep["camera_model"]) if p)
        name = f"{dep['id']} ({dep['location']}{', ' + camera if camera else ''})"
        lat, lon = dep["latitude"], dep["longitude"]
        if lat is None or lon is None:
            lat, lon = coordinates.get(dep["location"], (None, None))
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            no_place.append((dep["id"], name))
        zone = fallback_zone
        if dep["time_zone"]:
            try:
                zone = parse_zone(dep["time_zone"])
            except ValueError as e:
                bad_zone.append(f"deployment {name}: {e}")
        elif zone is None:
            no_zone.append((dep["id"], name))
        out[dep["id"]] = {**dep, "lat": lat, "lon": lon, "zone": zone, "key": _deployment_id(dep)}
    problems = []
    if no_place:
        problems.append(
            "Camtrap DP needs every deployment's latitude and longitude; these have none: "
            + ", ".join(n for _, n in no_place)
            + f". Set them with `thumper cameras set {no_place[0][0]} --lat LAT --lon LON` (one per deployment), "
              "or pass --coordinates CSV (columns location,latitude,longitude) for every location")
    if no_zone:
        problems.append(
            "Camtrap DP times need a time zone; these deployments have none: " + ", ".join(n for _, n in no_zone)
            + f". Set it with `thumper cameras set {no_zone[0][0]} --time-zone America/Chicago` (or -05:00), "
              "or pass --utc-offset for all of them")
    problems += bad_zone
    if problems:
        raise ExportError("; ".join(problems) + ". Nothing was written.")
    return out


def export_camtrap_dp(q: ReportQueries, out: Path, root: str | None = None, *, utc_offset: str | None = None,
                      coordinates: dict[str, tuple[float, float]] | None = None) -> Path:
    """A Camtrap DP 1.0.2 folder (datapackage.json, deployments.csv, media.csv, observations.csv)
    that the standard's validator passes: one deployment per row of the deployments table with
    photos (a camera at a location), one media row per processed photo, one media-level
    observation per detection (or a 'blank' one per photo without any), in the burst's event.

    Times are camera-local wall times (images.taken_at, clock corrections applied) written with
    their deployment's time zone, else `utc_offset` ('-05:00', 'Europe/Brussels'). Coordinates come
    from the deployments table, else `coordinates` (location -> (lat, lon)). A deployment lacking
    either is an ExportError naming it and the command that sets it; nothing is written then."""
    class_map = ClassMap.load()
    deployments = _resolve_deployments(q.deployments(), utc_offset, coordinates or {})
    if not deployments:
        raise ExportError("no processed photos with a time to export. Nothing was written.")
    images = [i for i in q.images() if i["status"] == "completed" and i["taken_at"] is not None]
    orphans = [i["path"] for i in images if i["deployment_id"] not in deployments]
    if orphans:
        raise ExportError(f"{len(orphans)} photos belong to no deployment (first: {orphans[0]}); "
                          "ingest them again to file them under their camera. Nothing was written.")
    root, rel = _relative([i["path"] for i in images], root)
    outside = [p for p, r in rel.items() if r.startswith(("../", "./", "/", "~")) or r == ".." or "/../" in r]
    if outside:
        raise ExportError(f"{len(outside)} photos are not under --root {root} (first: {outside[0]}); "
                          "give a folder that holds them all. Nothing was written.")
    zone_of = {i["id"]: deployments[i["deployment_id"]]["zone"] for i in images}
    dep_rows = []
    for dep in deployments.values():
        start, end = dep["start_at"] or dep["first_photo"], dep["end_at"] or dep["last_photo"]
        dep["start"], dep["end"] = start, end
        issues = dep["timestamp_issues"] or dep["mtime_photos"] > 0
        comments = [dep["notes"] or ""]
        if dep["mtime_photos"]:
            comments.append(f"{dep['mtime_photos']} photos timed by their file's mtime (no EXIF or stamp bar time)")
        dep_rows.append({
            "deploymentID": dep["key"], "locationID": _slug(dep["location"]), "locationName": dep["location"],
            "latitude": dep["lat"], "longitude": dep["lon"], "coordinateUncertainty": dep["coordinate_uncertainty_m"],
            "deploymentStart": _stamp(start, dep["zone"]), "deploymentEnd": _stamp(end, dep["zone"]),
            "cameraID": dep["camera_serial"] or "", "cameraModel": _camera(dep),
            "timestampIssues": str(bool(issues)).lower(), "deploymentComments": "; ".join(c for c in comments if c)})
    time_note = {"ocr": "time read from the photo's stamp bar (OCR)", "mtime": "time from the file's mtime"}
    media_rows = [{
        "mediaID": str(i["id"]), "deploymentID": deployments[i["deployment_id"]]["key"],
        "captureMethod": "activityDetection", "timestamp": _stamp(i["taken_at"], zone_of[i["id"]]),
        "filePath": rel[i["path"]], "filePublic": "false", "fileName": Path(i["path"]).name,
        "fileMediatype": "image/png" if i["path"].lower().endswith(".png") else "image/jpeg",
        "mediaComments": time_note.get(i["time_source"], "")} for i in images]
    media = {i["id"]: i for i in images}
    seen: set[int] = set()
    observations = []
    taxa: dict[str, str] = {}
    for d in q.detections():
        i = media.get(d["image_id"])
        if i is None:
            continue
        seen.add(i["id"])
        animal = d["observation_type"] == "animal"
        scientific = class_map.scientific_name(d["species"]) if d["observation_type"] != "vehicle" else None
        if scientific:
            sp = class_map.species.get(normalise(d["species"]))
            taxa.setdefault(scientific, sp.name if sp else d["species"])
        human = d["corrected_by"] is not None
        prob = d["species_confidence"] if d["species_confidence"] is not None else d["confidence"]
        observations.append({
            **_event(i, deployments, zone_of[i["id"]]), "observationID": f"det-{d['detection_id']}",
            "observationType": ("unclassified" if animal and not scientific else d["observation_type"]),
            "scientificName": scientific or "", "count": 1, "lifeStage": _life_stage(d),
            "sex": d["sex"] if d["sex"] in ("female", "male") else "",
            "individualID": f"deer-{d['deer_id']}" if d["deer_id"] is not None else "",
            **_bbox(d),
            "classificationMethod": "human" if human else "machine",
            "classifiedBy": (f"thumper deer correction {d['corrected_by']}" if human
                             else d["classifier_version"] or d["detector_version"]),
            "classificationTimestamp": _iso(d["corrected_at"] if human else d["created_at"]),
            "classificationProbability": "" if human else round(min(max(float(prob), 0.0), 1.0), 4),
            "observationComments": d["deer_name"] or ""})
    models = q.run_models()
    for i in images:  # a photo without detections is blank; one whose detections were all marked
        if i["id"] in seen:  # "not a deer" by a person is not known to be blank: 'unknown'
            continue
        blank = not i["n_detections"]
        observations.append({
            **_event(i, deployments, zone_of[i["id"]]), "observationID": f"{'blank' if blank else 'unknown'}-{i['id']}",
            "observationType": "blank" if blank else "unknown", "classificationMethod": "machine" if blank else "human",
            "classifiedBy": (models.get("detector") or "") if blank else "thumper deer correction (not a deer)",
            "observationComments": "" if blank else "every detection in this photo was marked not a deer"})
    package = _package(list(deployments.values()), taxa)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "deployments.csv", DEPLOYMENT_COLUMNS, dep_rows)
    _write(out / "media.csv", MEDIA_COLUMNS, media_rows)
    _write(out / "observations.csv", OBSERVATION_COLUMNS, observations)
    with atomic_write(out / "datapackage.json") as tmp:
        tmp.write_text(json.dumps(package, indent=2))
    return out


def _package(deployments: list[dict], taxa: dict[str, str]) -> dict:
    lats, lons = [d["lat"] for d in deployments], [d["lon"] for d in deployments]
    if min(lats) == max(lats) and min(lons) == max(lons):
        spatial = {"type": "Point", "coordinates": [lons[0], lats[0]]}
    else:
        w, s, e, n = min(lons), min(lats), max(lons), max(lats)
        spatial = {"type": "Polygon", "bbox": [w, s, e, n],
                   "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    dates = [(d["start"].date(), d["end"].date()) for d in deployments]
    package = {
        "resources": [{"name": name, "path": f"{name}.csv", "profile": "tabular-data-resource", "format": "csv",
                       "mediatype": "text/csv", "encoding": "utf-8", "schema": f"{CAMTRAP}/{name}-table-schema.json"}
                      for name in ("deployments", "media", "observations")],
        "profile": f"{CAMTRAP}/camtrap-dp-profile.json",
        "name": "thumper-counter-census", "id": str(uuid.uuid4()),
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "title": "Thumper Counter deer census",
        "contributors": [{"title": "Thumper Counter", "role": "contact"}],
        "sources": [{"title": "Thumper Counter"}],
        "project": {"title": "Thumper Counter deer census", "samplingDesign": "opportunistic",
                    "captureMethod": ["activityDetection"], "individualAnimals": True,
                    "observationLevel": ["media"]},
        "spatial": spatial,
        "temporal": {"start": min(s for s, _ in dates).isoformat(), "end": max(e for _, e in dates).isoformat()},
        "taxonomic": [{"scientificName": name, "taxonRank": _rank(name), "vernacularNames": {"eng": common}}
                      for name, common in sorted(taxa.items())],
    }
    return package


def _event(i: dict, deployments: dict[int, dict], zone: tzinfo) -> dict:
    """Media-level observation of photo i: its event is its burst (eventStart/End the burst's first
    and last photo), or the photo alone."""
    start, end = (i["burst_start"], i["burst_end"]) if i["burst_id"] and i["burst_start"] else (None, None)
    return {"deploymentID": deployments[i["deployment_id"]]["key"], "mediaID": str(i["id"]),
            "eventID": f"burst-{i['burst_id']}" if i["burst_id"] else "",
            "eventStart": _stamp(start or i["taken_at"], zone), "eventEnd": _stamp(end or i["taken_at"], zone),
            "observationLevel": "media"}


def _write(path: Path, columns: list[str], rows: list[dict]) -> None:
    with atomic_write(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
