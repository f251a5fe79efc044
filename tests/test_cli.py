"""Every `thumper` sub-command through its real entry point (`python -m thumper` in a subprocess,
on the session's Ray and a database of this module), checking what it prints, what it stores and
how it refuses: `census --demo` (the README's first command), status, process (--retry-failed,
--reprocess), reid, report, deer and each correction, export in every format."""
from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg
import pytest
from conftest import REPO

EXIT_BAD_INPUT = 2


def thumper(*args, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "thumper", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cli(module_db_url, ray_cluster, demo_weights):
    """`thumper census --demo` once for the module: the data every other command reads."""
    done = thumper("census", "--demo", "--db", module_db_url, "--address", ray_cluster)
    assert done.returncode == 0, done.stderr[-4000:]

    def run(*args, expect: int = 0) -> str:
        out = thumper(*args, "--db", module_db_url)
        assert out.returncode == expect, f"thumper {' '.join(map(str, args))}: rc {out.returncode}\n" \
                                         f"{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
        return out.stdout + out.stderr

    run.census_output = done.stdout
    run.db = module_db_url
    run.ray = ray_cluster
    return run


def _one(db: str, sql: str, *params):
    with psycopg.connect(db) as conn:
        return conn.execute(sql, params).fetchone()


def test_census_demo_prints_the_census_and_the_deer(cli):
    out = cli.census_output
    photos = _one(cli.db, "SELECT count(*) FROM images WHERE status = 'completed'")[0]
    assert photos > 0 and f"{photos} completed, 0 failed, 0 pending" in out, out
    assert "Census of" in out and "TOTAL" in out and "not deer:" in out
    assert "the demo models learned from synthetic drawings only" in out  # said on every demo census
    deer = _one(cli.db, "SELECT count(*) FROM deer WHERE status = 'active'")[0]
    assert deer > 0 and f"-> {deer} deer profiles" in out and "census estimate" in out, out


def test_status_shows_counts_and_runs(cli):
    out = cli("status")
    completed = _one(cli.db, "SELECT count(*) FROM images WHERE status = 'completed'")[0]
    assert f"completed {completed}" in out and "Recent runs:" in out and "census" in out and "reid" in out, out


def test_process_retries_failed_photos_and_reprocesses(cli, tmp_path):
    broken = tmp_path / "Creek" / "BROKEN.JPG"
    broken.parent.mkdir()
    broken.write_bytes(b"\xff\xd8\xff\xe0 a JPEG that ends here")
    out = cli("census", tmp_path, "--address", cli.ray, "--detector", "demo", "--no-reid")
    failed = _one(cli.db, "SELECT count(*) FROM images WHERE status = 'failed'")[0]
    assert failed == 1 and "BROKEN.JPG" in out, out
    nothing = cli("process", "--address", cli.ray, "--detector", "demo")
    assert "0 photos claimed" in nothing, nothing  # failures are not retried unasked
    retried = cli("process", "--retry-failed", "--address", cli.ray, "--detector", "demo")
    assert "1 photos claimed, 0 completed, 1 failed" in retried, retried
    before = _one(cli.db, "SELECT count(*) FROM images WHERE status = 'completed'")[0]
    again = cli("process", "--reprocess", "--address", cli.ray, "--detector", "demo")
    assert f"{before} completed" in again, again
    kind = _one(cli.db, "SELECT kind, status FROM runs ORDER BY id DESC LIMIT 1")
    assert kind == ("reprocess", "completed")


def test_reid_and_report(cli):
    assert "reid run" in cli("reid", "--max-distance", "0.3")
    out = cli("report")
    active = _one(cli.db, "SELECT count(*) FROM deer WHERE status = 'active'")[0]
    assert f"Re-ID profiles: {active} active" in out and "Rut season" in out, out
    assert "Census estimate: all locations" in out and "TOTAL DEER" in out and "Assumptions" in out, out
    assert "Effort: trap-nights per site" in out and re.search(r"all sites\s+\d+(\.\d+)?\s+\d", out), out


def _two_members(db: str) -> tuple[int, list[int]]:
    """An active deer with at least three detections, and their ids."""
    deer = _one(db, "SELECT deer_id FROM detections WHERE deer_id IS NOT NULL GROUP BY deer_id"
                    " HAVING count(*) >= 3 ORDER BY count(*) DESC, deer_id LIMIT 1")
    assert deer, "the demo census left no deer with three sightings"
    with psycopg.connect(db) as conn:
        dets = [i for (i,) in conn.execute("SELECT id FROM detections WHERE deer_id = %s ORDER BY id", deer)]
    return deer[0], dets


def test_deer_list_show_and_every_correction(cli):
    cli("reid", "--max-distance", "0.3")  # profiles for what is there now (another test may reprocess)
    deer_id, dets = _two_members(cli.db)
    listed = cli("deer")
    assert str(deer_id) in listed and "sightings" in listed
    assert "is now 'Big Ten'" in cli("deer", "rename", deer_id, "Big Ten")
    assert _one(cli.db, "SELECT name FROM deer WHERE id = %s", deer_id) == ("Big Ten",)
    shown = cli("deer", "show", deer_id)
    assert "name: Big Ten" in shown and all(str(d) in shown for d in dets), shown

    out = cli("deer", "split", deer_id, dets[0])
    new = int(out.split("split off as deer ")[1].split()[0])
    assert _one(cli.db, "SELECT deer_id FROM detections WHERE id = %s", dets[0]) == (new,)
    assert "moved to deer" in cli("deer", "move", dets[0], deer_id)
    assert _one(cli.db, "SELECT deer_id FROM detections WHERE id = %s", dets[0]) == (deer_id,)
    assert "taken out of its deer" in cli("deer", "not-this", dets[1])
    assert _one(cli.db, "SELECT deer_id FROM detections WHERE id = %s", dets[1]) == (None,)
    assert "marked not a deer" in cli("deer", "not-deer", dets[2])
    assert _one(cli.db, "SELECT count(*) FROM correction_facts WHERE kind = 'not_deer' AND detection_id = %s",
                dets[2]) == (1,)

    # refusals: one line on stderr, exit 2, nothing changed
    assert "no deer 999999" in cli("deer", "rename", 999999, "x", expect=EXIT_BAD_INPUT)
    assert "merged with itself" in cli("deer", "merge", deer_id, deer_id, expect=EXIT_BAD_INPUT)
    assert "not assigned to a deer" in cli("deer", "not-this", dets[1], expect=EXIT_BAD_INPUT)
    assert "no deer 999999" in cli("deer", "show", 999999, expect=EXIT_BAD_INPUT)


def test_export_in_every_format(cli, tmp_path):
    out = cli("export", tmp_path / "d.csv")
    rows = list(csv.DictReader(open(tmp_path / "d.csv")))
    detections = _one(cli.db, "SELECT count(*) FROM detections d WHERE d.id NOT IN (SELECT detection_id FROM"
                              " correction_facts WHERE kind = 'not_deer' AND detection_id IS NOT NULL)")[0]
    assert "wrote" in out and rows and len(rows) <= detections
    cli("export", tmp_path / "md.json", "--format", "megadetector")
    md = json.loads((tmp_path / "md.json").read_text())
    assert md["images"] and md["detection_categories"] and "info" in md
    refused = cli("export", tmp_path / "dp", "--format", "camtrap-dp", expect=EXIT_BAD_INPUT)
    assert "thumper cameras set" in refused and "--coordinates" in refused and "Traceback" not in refused
    assert not (tmp_path / "dp").exists()  # refused before anything was written
    (tmp_path / "where.csv").write_text("location,latitude,longitude\n270_Jason,44.1,-92.5\n"
                                        "Hayfield,44.2,-92.4\nSanctuary,44.15,-92.45\nCreek,44.0,-92.6\n")
    cli("export", tmp_path / "dp", "--format", "camtrap-dp", "--utc-offset", "-05:00",
        "--coordinates", tmp_path / "where.csv")
    package = json.loads((tmp_path / "dp" / "datapackage.json").read_text())
    assert {r["name"] for r in package["resources"]} >= {"deployments", "media", "observations"}
    for name in ("deployments", "media", "observations"):
        assert Path(tmp_path / "dp" / f"{name}.csv").stat().st_size > 0


def test_a_bad_folder_is_one_line_and_exit_2(cli, tmp_path):
    out = cli("census", tmp_path / "nowhere", "--address", cli.ray, expect=EXIT_BAD_INPUT)
    assert "nowhere" in out and "Traceback" not in out
    assert "give a PHOTOS_DIR" in cli("census", expect=EXIT_BAD_INPUT)


def test_a_live_run_holding_the_photos_is_named_and_waited_for(cli, tmp_path):
    """Two censuses of one folder at once: the second never processes a photo twice, and says which
    run has them (exit 3), or with --wait waits for that run and finishes what it left."""
    import time

    from models.synthetic import make_photo_folder
    from pipelines.ingest import ingest_folder
    from store import Store

    root = tmp_path / "held"
    make_photo_folder(root, locations=("Knoll",), photos_per_location=3, seed=8)
    holder = Store.open(cli.db)  # another process's run: its lock lives on this connection
    try:
        ids = ingest_folder(holder, root).image_ids
        run_id = holder.start_run("census", source=str(root))
        assert len(holder.claim_pending(run_id, ids)) == 3
        out = cli("census", root, "--address", cli.ray, "--detector", "demo", "--no-reid", expect=3)
        assert f"3 of these photos are being processed right now by run {run_id} (census of {root}" in out, out
        assert "--wait" in out
        status = cli("status")
        assert "Live runs" in status and str(root) in status, status

        waiting = subprocess.Popen([sys.executable, "-m", "thumper", "census", str(root), "--db", cli.db,
                                    "--address", cli.ray, "--detector", "demo", "--no-reid", "--wait"],
                                   cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(8)
        assert waiting.poll() is None, waiting.communicate()  # still waiting for the holder
        for image_id in ids:  # the holder ends without finishing: its photos go back to pending
            holder.release_claim(run_id, image_id)
        holder.finish_run(run_id, "aborted")
        stdout, stderr = waiting.communicate(timeout=300)
        assert waiting.returncode == 0, stderr[-3000:]
        assert "waiting for it to end" in stderr and "3 completed, 0 failed, 0 pending" in stdout, stdout
    finally:
        holder.close()


def test_report_and_export_show_the_census_estimate(db_url, store, tmp_path):
    """On a hand-made herd (tests/estimate_fixtures.py), no Ray: the report's estimate table is the
    stored estimate's, the profiles of does are not counted as deer, and the exports hold the same."""
    from estimate_fixtures import load_herd

    from pipelines.census_estimate import census_estimate
    from pipelines.estimate import SurveyWindow

    load_herd(store)
    window = ["--from", "2024-10-01", "--to", "2024-10-04", "--location", "Hayfield", "--boot", "300"]
    out = thumper("report", *window, "--db", db_url)
    assert out.returncode == 0, out.stderr[-3000:]
    est = census_estimate(store, SurveyWindow(date(2024, 10, 1), date(2024, 10, 4)), "Hayfield", n_boot=300)
    total = est.figures["total"]
    assert re.search(rf"TOTAL DEER\s+{total.point:.1f}\s+{total.low:.1f} - {total.high:.1f}\n", out.stdout), out.stdout
    assert "Census estimate: Hayfield, 2024-10-01 .. 2024-10-04" in out.stdout
    assert "Bucks seen (antlered, one per profile): 3 (1 confirmed by a person, 2 automatic re-ID only)" in out.stdout
    assert "12 buck, 21 doe, 8 fawn" in out.stdout and "Assumptions" in out.stdout
    assert "1 other profiles (1 of does, 0 of fawns or unknown sex): not individually identifiable" in out.stdout
    assert "Deer identified" not in out.stdout  # the profile count is no census

    # a buck season without enough buck photos at the Creek camera: refused, with the reason
    creek = thumper("report", "--season", "rut-2024", "--location", "Creek", "--boot", "50", "--db", db_url)
    assert creek.returncode == 0 and "refused [1]" in creek.stdout and "only 0 buck photos" in creek.stdout
    bad = thumper("report", "--location", "Nowhere", "--db", db_url)
    assert bad.returncode == EXIT_BAD_INPUT and "no location 'Nowhere' (locations: Creek, Hayfield)" in bad.stderr

    done = thumper("export", tmp_path / "e.json", "--format", "estimate-json", *window, "--db", db_url)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / "e.json").read_text()) == json.loads(json.dumps(est.to_dict(), default=str))
    thumper("export", tmp_path / "e.csv", "--format", "estimate-csv", *window, "--db", db_url)
    rows = {r["figure"]: r for r in csv.DictReader(open(tmp_path / "e.csv"))}
    assert list(rows)[:4] == ["bucks", "does", "fawns", "total"]
    assert float(rows["total"]["point"]) == pytest.approx(total.point)
    assert float(rows["total"]["low"]) == pytest.approx(total.low) and rows["total"]["window_end"] == "2024-10-04"
