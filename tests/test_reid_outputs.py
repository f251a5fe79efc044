"""Exports parse and carry deer ids, report numbers match the data, CLI sub-commands work."""
from __future__ import annotations

import argparse
import csv
import json
from datetime import datetime, timedelta

from pipelines import corrections
from pipelines.deer_report import build_report
from thumper.render import render_report
from pipelines.export import export
from pipelines.reid import run_reid

from reid_fixtures import T0, World, deer_of, detections_of

LEFT, RIGHT = (0.05, 0.4, 0.3, 0.7), (0.6, 0.4, 0.85, 0.7)


def _herd(store) -> World:
    """Two does (one seen twice), a mature buck in the rut (Nov) and in August, and an empty photo."""
    w = World(seed=4)
    w.burst("Hayfield", datetime(2024, 10, 3, 7), [("doe1", 0, "female", LEFT), ("buck", 2, "male", RIGHT)])
    w.burst("Hayfield", datetime(2024, 11, 20, 18), [("doe1", 0, "female", LEFT)])
    w.burst("Sanctuary", datetime(2024, 11, 21, 6), [("buck", 2, "male", LEFT)])
    w.burst("Sanctuary", datetime(2024, 8, 2, 6), [("doe2", 1, "female", LEFT)])
    w.burst("Sanctuary", datetime(2024, 8, 9, 6), [], shots=1)  # an empty photo
    w.write(store)
    store.conn.execute("UPDATE detections SET age_class = 'mature' WHERE sex = 'male'")  # fixture says 'mid'
    run_reid(store)
    return w


def test_exports_parse_and_carry_deer_ids(store, tmp_path):
    w = _herd(store)
    corrections.not_deer(store.reid, detections_of(store, w, "doe2")[0])  # left out of exports
    n_dets = store.detection_count() - 1

    rows = list(csv.DictReader(open(export(store, "csv", tmp_path / "d.csv"))))
    assert len(rows) == n_dets and {"detection_id", "path", "deer_id", "sex", "age_class"} <= set(rows[0])
    found = deer_of(store, w)
    assert {r["deer_id"] for r in rows if r["sex"] == "male"} == {str(d) for d in found["buck"]}

    md = json.loads(export(store, "megadetector", tmp_path / "md.json").read_text())
    assert md["info"]["format_version"] == "1.4" and md["detection_categories"]["1"] == "animal"
    assert len(md["images"]) == len(w.photos) and sum(len(i["detections"]) for i in md["images"]) == n_dets
    box = md["images"][0]["detections"][0]["bbox"]
    assert len(box) == 4 and all(0 <= v <= 1 for v in box)
    assert all(not i["file"].startswith("/") for i in md["images"])

    out = export(store, "camtrap-dp", tmp_path / "dp", utc_offset="-05:00",
                 coordinates={"Hayfield": (44.1, -92.5), "Sanctuary": (44.2, -92.4)})
    package = json.loads((out / "datapackage.json").read_text())
    assert {r["name"] for r in package["resources"]} == {"deployments", "media", "observations"}
    for key in ("profile", "created", "contributors", "project", "spatial", "temporal", "taxonomic"):
        assert package[key]
    required = {"deployments": {"deploymentID", "latitude", "longitude", "deploymentStart", "deploymentEnd"},
                "media": {"mediaID", "deploymentID", "timestamp", "filePath", "filePublic", "fileMediatype"},
                "observations": {"observationID", "deploymentID", "eventStart", "eventEnd", "observationLevel",
                                 "observationType", "sex", "lifeStage", "individualID"}}
    tables = {name: list(csv.DictReader(open(out / f"{name}.csv"))) for name in required}
    for name, columns in required.items():
        assert columns <= set(tables[name][0]), name
    animals = [o for o in tables["observations"] if o["observationType"] == "animal"]
    assert len(animals) == n_dets and len(tables["media"]) == len(w.photos)
    assert {o["sex"] for o in animals} == {"female", "male"} and {o["lifeStage"] for o in animals} == {"adult"}
    assert all(o["individualID"].startswith("deer-") for o in animals if o["sex"] == "male")
    assert tables["media"][0]["timestamp"].endswith("-05:00")
    media_ids = {m["mediaID"] for m in tables["media"]}
    assert {o["mediaID"] for o in tables["observations"]} == media_ids  # blanks included
    # doe2's first photo held only the detection marked not a deer: a person's 'unknown', not a blank
    unknown = [o for o in tables["observations"] if o["observationType"] == "unknown"]
    assert len(unknown) == 1 and unknown[0]["classificationMethod"] == "human"
    assert [o["observationType"] for o in tables["observations"] if o["observationType"] == "blank"] == ["blank"]


def test_report_numbers_match_the_data(store):
    w = _herd(store)
    r = build_report(store)
    assert (r["deer"], r["female"], r["male"]) == (3, 2, 1)
    assert r["bucks_by_age"] == {"mature": 1}
    assert r["sightings"] == sum(len(p.dets) for p in w.photos)
    month = {(row["location"], row["month"]): row for row in r["by_location_month"]}
    assert month[("Hayfield", "2024-10")]["visits"] == 2 and month[("Hayfield", "2024-10")]["detections"] == 6
    assert month[("Sanctuary", "2024-08")]["deer"] == 1
    rut = {row["month"]: row for row in r["rut"]}
    assert "2024-08" not in rut and rut["2024-11"]["buck_visits"] == 1 and rut["2024-11"]["doe_visits"] == 1
    assert rut["2024-11"]["mature_bucks"] == 1 and rut["2024-10"]["bucks"] == 1
    text = render_report(r)
    assert "Re-ID profiles: 3 active from 15 detections (not a census" in text and "Rut season" in text
    assert "Deer identified" not in text  # profiles are never presented as the census


def test_cli_subcommands(store, db_url, tmp_path, capsys):
    from thumper.cli import _add_db
    from thumper.cli_reid import register

    w = World(seed=5)
    w.burst("Hayfield", T0, [("doe", 0, "female", LEFT)])
    w.burst("Hayfield", T0 + timedelta(days=1), [("doe", 0, "female", LEFT)])
    w.write(store)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"), _add_db)

    def run(*argv) -> str:
        args = parser.parse_args(list(argv))
        assert args.handler(args) == 0
        return capsys.readouterr().out

    assert "-> 1 deer profiles" in run("reid", "--db", db_url, "--gap", "30", "--max-distance", "0.4")
    (deer_id,) = deer_of(store, w)["doe"]
    run("deer", "rename", str(deer_id), "Big Doe", "--db", db_url)
    assert "Big Doe" in run("deer", "--db", db_url)
    assert "Big Doe" in run("deer", "show", str(deer_id), "--db", db_url)
    run("export", str(tmp_path / "x.csv"), "--db", db_url)
    assert (tmp_path / "x.csv").read_text().count("\n") == 7
    report = run("report", "--db", db_url)
    assert "Census estimate: all locations" in report and "Re-ID profiles: 1 active" in report
    args = parser.parse_args(["deer", "merge", str(deer_id), str(deer_id), "--db", db_url])
    assert args.handler(args) == 2 and "itself" in capsys.readouterr().err
