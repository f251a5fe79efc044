"""Reads and writes of re-identification: bursts, detections for clustering, deer profiles,
assignments and correction facts. Bulk only: binary COPY in and out, one statement per set."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import psycopg

from store.columns import rows
from store.reid_io import copy_in, copy_out

REID_LOCK = 727_003  # advisory lock: one re-ID run (or correction) rewrites assignments at a time
SEX_CODES = np.array(["unknown", "female", "male"])
FACT_COLUMNS = ("kind", "deer_id", "other_deer_id", "image_id", "x1", "y1", "x2", "y2",
                "other_image_id", "ox1", "oy1", "ox2", "oy2", "name", "note", "action_id", "deer_class", "age_class")
# the newest class fact of each detection (a person's "this is a doe / fawn / buck")
CLASS_FACTS = """SELECT DISTINCT ON (f.detection_id) f.detection_id, c.deer_class, c.age_class
                 FROM correction_facts f JOIN corrections c ON c.id = f.id
                 WHERE f.kind = 'class' AND f.detection_id IS NOT NULL {scope}
                 ORDER BY f.detection_id, f.id DESC"""

# Per-deer aggregates recomputed from its detections (majority sex/class, mean embedding, best crop).
_PROFILE_SQL = """
WITH members AS (
    SELECT d.*, i.taken_at, l.name AS location FROM detections d
    JOIN images i ON i.id = d.image_id LEFT JOIN locations l ON l.id = i.location_id
    WHERE d.deer_id IS NOT NULL {scope}),
stats AS (
    SELECT deer_id, count(*) AS sightings, min(taken_at) AS first_seen, max(taken_at) AS last_seen,
           coalesce(array_agg(DISTINCT location ORDER BY location) FILTER (WHERE location IS NOT NULL),
                    '{{}}') AS locations,
           mode() WITHIN GROUP (ORDER BY sex) FILTER (WHERE sex <> 'unknown') AS sex,
           mode() WITHIN GROUP (ORDER BY deer_class) FILTER (WHERE deer_class <> 'deer') AS deer_class,
           mode() WITHIN GROUP (ORDER BY age_class) FILTER (WHERE age_class IS NOT NULL) AS age_class,
           avg(embedding) AS centroid
    FROM members GROUP BY deer_id),
best AS (
    SELECT DISTINCT ON (deer_id) deer_id, id FROM members
    ORDER BY deer_id, confidence DESC, (x2 - x1) * (y2 - y1) DESC, id)
UPDATE deer SET sightings = s.sightings, first_seen = s.first_seen, last_seen = s.last_seen,
       locations = s.locations, sex = coalesce(s.sex, 'unknown'), deer_class = coalesce(s.deer_class, 'deer'),
       age_class = s.age_class, centroid = s.centroid, representative_id = b.id,
       status = 'active', merged_into = NULL, updated_at = now(), run_id = coalesce(%(run)s, deer.run_id)
FROM stats s JOIN best b USING (deer_id) WHERE deer.id = s.deer_id
"""


class ReidStore:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def lock(self, wait: bool = True) -> bool:
        """Session lock against a concurrent run or correction; released by unlock or disconnect."""
        fn = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
        row = self.conn.execute(f"SELECT {fn}(%s)::text", (REID_LOCK,)).fetchone()
        return row[0] != "false"

    def unlock(self) -> None:
        self.conn.execute("SELECT pg_advisory_unlock(%s)", (REID_LOCK,))

    def transaction(self):
        return self.conn.transaction()

    # ---- bursts -------------------------------------------------------------------------
    def burst_inputs(self) -> list[tuple]:
        """(image id, location id, camera key, taken_at) of every photo with a time."""
        return self.conn.execute(
            "SELECT id, location_id, coalesce(camera_make, '') || ' ' || coalesce(camera_model, ''), taken_at"
            " FROM images WHERE taken_at IS NOT NULL ORDER BY id").fetchall()

    def save_bursts(self, bursts: Sequence[tuple], image_bursts: Sequence[tuple[int, int]]) -> int:
        """bursts: (k, location_id, camera, started_at, ended_at, n_images); image_bursts: (image id, k).
        A burst keeps its id while its camera and start stay the same; images are updated only where
        their burst changed. Returns the number of bursts."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE stage_bursts (k int, location_id int, camera text, started_at timestamp,"
                        " ended_at timestamp, n_images int, id bigint) ON COMMIT DROP")
            cur.execute("CREATE TEMP TABLE stage_image_bursts (image_id bigint, k int) ON COMMIT DROP")
            copy_in(cur, "stage_bursts", ["k", "location_id", "camera", "started_at", "ended_at", "n_images"],
                    ["int4", "int4", "text", "timestamp", "timestamp", "int4"], bursts)
            copy_in(cur, "stage_image_bursts", ["image_id", "k"], ["int8", "int4"], image_bursts)
            cur.execute("UPDATE stage_bursts s SET id = b.id FROM bursts b WHERE b.camera = s.camera"
                        " AND b.location_id IS NOT DISTINCT FROM s.location_id AND b.started_at = s.started_at")
            cur.execute("UPDATE stage_bursts SET id = nextval('bursts_id_seq') WHERE id IS NULL")
            cur.execute("INSERT INTO bursts (id, location_id, camera, started_at, ended_at, n_images)"
                        " SELECT id, location_id, camera, started_at, ended_at, n_images FROM stage_bursts"
                        " ON CONFLICT (id) DO UPDATE SET ended_at = excluded.ended_at, n_images = excluded.n_images")
            cur.execute("UPDATE images i SET burst_id = s.id FROM stage_image_bursts m JOIN stage_bursts s USING (k)"
                        " WHERE i.id = m.image_id AND i.burst_id IS DISTINCT FROM s.id")
            cur.execute("DELETE FROM bursts b WHERE NOT EXISTS (SELECT 1 FROM stage_bursts s WHERE s.id = b.id)")
        return len(bursts)

    # ---- clustering input ---------------------------------------------------------------
    def reattach_members(self) -> int:
        """Give detections rewritten by a reprocess back the deer their (image, box) had."""
        return self.conn.execute(
            """UPDATE detections d SET deer_id = m.deer_id FROM (
                   SELECT DISTINCT ON (d.id) d.id, m.deer_id FROM detections d
                   JOIN deer_members m ON m.image_id = d.image_id
                   WHERE d.deer_id IS NULL AND box_iou(d.x1, d.y1, d.x2, d.y2, m.x1, m.y1, m.x2, m.y2) >= 0.5
                   ORDER BY d.id, box_iou(d.x1, d.y1, d.x2, d.y2, m.x1, m.y1, m.x2, m.y2) DESC) m
               WHERE d.id = m.id""").rowcount

    def embedding_dims(self) -> list[tuple[int, int]]:
        """(dimension, detections) most common first: one model's embeddings are clustered at a time."""
        return self.conn.execute(
            "SELECT vector_dims(embedding), count(*) FROM detections WHERE embedding IS NOT NULL"
            " GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()

    def read_detections(self, dim: int) -> dict[str, np.ndarray]:
        """id, image_id, x1..y2, sex (code into SEX_CODES), deer_id (-1 none), embedding (n, dim) of
        every embedded deer detection not marked "not a deer" (other species never reach re-ID)."""
        return copy_out(self.conn, """
            SELECT d.id, d.image_id, d.x1, d.y1, d.x2, d.y2,
                   (CASE d.sex WHEN 'female' THEN 1 WHEN 'male' THEN 2 ELSE 0 END)::int2,
                   coalesce(d.deer_id, -1), d.embedding
            FROM detections d
            WHERE d.embedding IS NOT NULL AND vector_dims(d.embedding) = %s AND d.deer_class IS NOT NULL
              AND d.id NOT IN (SELECT detection_id FROM correction_facts
                               WHERE kind = 'not_deer' AND detection_id IS NOT NULL)
            ORDER BY d.id""", (dim,),
            [("id", "int8"), ("image_id", "int8"), ("x1", "float4"), ("y1", "float4"), ("x2", "float4"),
             ("y2", "float4"), ("sex", "int2"), ("deer_id", "int8")], vector_dim=dim)

    def resolved_facts(self) -> list[tuple[str, int, int | None, int | None]]:
        """(kind, detection id, other detection id, deer id) of every fact whose detection resolves."""
        return self.conn.execute(
            "SELECT kind, detection_id, other_detection_id, deer_id FROM correction_facts"
            " WHERE detection_id IS NOT NULL AND kind IN ('same_deer', 'not_this_deer', 'not_deer')"
            " ORDER BY id").fetchall()

    def deer_index(self) -> dict[int, tuple[str, str | None]]:
        """id -> (status, name) of every deer."""
        return {i: (s, n) for i, s, n in self.conn.execute("SELECT id, status, name FROM deer")}

    def corrected_deer(self) -> set[int]:
        """Deer a person has named or corrected: kept even below min_sightings."""
        return {i for (i,) in self.conn.execute(
            "SELECT id FROM deer WHERE name IS NOT NULL UNION SELECT deer_id FROM corrections WHERE deer_id IS NOT NULL"
            " UNION SELECT other_deer_id FROM corrections WHERE other_deer_id IS NOT NULL")}

    # ---- clustering output --------------------------------------------------------------
    def create_deer(self, n: int, run_id: int | None = None) -> list[int]:
        if n <= 0:
            return []
        rows = self.conn.execute("INSERT INTO deer (run_id) SELECT %s FROM generate_series(1, %s) RETURNING id",
                                 (run_id, n)).fetchall()
        return sorted(i for (i,) in rows)

    def write_assignments(self, detection_ids: np.ndarray, deer_ids: np.ndarray, run_id: int | None) -> dict:
        """Set detections.deer_id (-1: none) for the clustered detections, clear it everywhere else,
        recompute every profile, retire deer left without detections, and snapshot memberships."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE stage_assign (id bigint PRIMARY KEY, deer_id bigint) ON COMMIT DROP")
            pairs = zip(np.asarray(detection_ids).tolist(), np.asarray(deer_ids).tolist())
            copy_in(cur, "stage_assign", ["id", "deer_id"], ["int8", "int8"],
                    ((i, d if d >= 0 else None) for i, d in pairs))
            cur.execute("ANALYZE stage_assign")
            changed = cur.execute("UPDATE detections d SET deer_id = s.deer_id FROM stage_assign s"
                                  " WHERE d.id = s.id AND d.deer_id IS DISTINCT FROM s.deer_id").rowcount
            changed += cur.execute("UPDATE detections d SET deer_id = NULL WHERE d.deer_id IS NOT NULL"
                                   " AND NOT EXISTS (SELECT 1 FROM stage_assign s WHERE s.id = d.id)").rowcount
            retired = self.refresh_profiles(run_id=run_id)
            self.sync_members()
        return {"changed": changed, "retired": retired}

    def refresh_profiles(self, deer_ids: Iterable[int] | None = None, run_id: int | None = None) -> int:
        """Recompute profiles (all deer, or these) from their detections; a deer left without any
        is retired (its row, id and name stay). Returns the number retired."""
        ids = None if deer_ids is None else list(deer_ids)
        scope = "" if ids is None else "AND d.deer_id = ANY(%(ids)s)"
        self.conn.execute(_PROFILE_SQL.format(scope=scope), {"ids": ids or [], "run": run_id})
        return self.conn.execute(
            "UPDATE deer SET status = 'retired', sightings = 0, representative_id = NULL, updated_at = now()"
            " WHERE status IN ('active', 'provisional') AND (%(all)s OR id = ANY(%(ids)s))"
            " AND NOT EXISTS (SELECT 1 FROM detections d WHERE d.deer_id = deer.id)",
            {"all": ids is None, "ids": ids or []}).rowcount

    def sync_members(self, image_ids: Sequence[int] | None = None) -> None:
        """Snapshot (image, box) -> deer of current assignments (all, or of these images)."""
        scope, params = ("WHERE image_id = ANY(%s)", (list(image_ids),)) if image_ids is not None else ("", ())
        with self.conn.transaction():
            self.conn.execute(f"DELETE FROM deer_members {scope}", params)
            self.conn.execute("INSERT INTO deer_members (image_id, x1, y1, x2, y2, deer_id)"
                              " SELECT image_id, x1, y1, x2, y2, deer_id FROM detections"
                              f" WHERE deer_id IS NOT NULL {scope.replace('WHERE', 'AND')}", params)

    # ---- corrections --------------------------------------------------------------------
    def detections(self, ids: Sequence[int]) -> list[dict]:
        """id, image_id, box, deer_id, sex of these detections (missing ids are left out)."""
        cur = self.conn.execute("SELECT id, image_id, x1, y1, x2, y2, deer_id, sex, confidence, observation_type"
                                " FROM detections WHERE id = ANY(%s) ORDER BY id", (list(ids),))
        return rows(cur)

    def members(self, deer_id: int) -> list[dict]:
        ids = [i for (i,) in self.conn.execute("SELECT id FROM detections WHERE deer_id = %s", (deer_id,))]
        return self.detections(ids)

    def sightings(self, deer_id: int) -> list[dict]:
        """The deer's detections with their photo, oldest first."""
        return rows(self.conn.execute(
            "SELECT d.id, i.path, i.taken_at, d.x1, d.y1, d.x2, d.y2, d.confidence FROM detections d"
            " JOIN images i ON i.id = d.image_id WHERE d.deer_id = %s ORDER BY i.taken_at, d.id", (deer_id,)))

    def deer(self, deer_id: int) -> dict | None:
        cur = self.conn.execute("SELECT * FROM deer WHERE id = %s", (deer_id,))
        row = cur.fetchone()
        return dict(zip([c.name for c in cur.description], row)) if row else None

    def list_deer(self, include_inactive: bool = False) -> list[dict]:
        scope = "" if include_inactive else "WHERE status IN ('active', 'provisional')"
        cur = self.conn.execute(f"SELECT id, name, sex, deer_class, age_class, status, merged_into, sightings,"
                                f" first_seen, last_seen, locations, representative_id FROM deer {scope} ORDER BY id")
        return rows(cur)

    def add_corrections(self, rows: Sequence[dict]) -> list[int]:
        """Insert correction rows (keys from FACT_COLUMNS) in one statement; returns their ids."""
        if not rows:
            return []
        cols = [[r.get(c) for r in rows] for c in FACT_COLUMNS]
        types = ["text", "int8", "int8", "int8", "float4", "float4", "float4", "float4",
                 "int8", "float4", "float4", "float4", "float4", "text", "text", "int8", "text", "text"]
        unnest = ", ".join(f"%s::{t.replace('int8', 'bigint').replace('float4', 'real')}[]" for t in types)
        ids = self.conn.execute(f"INSERT INTO corrections ({', '.join(FACT_COLUMNS)})"
                                f" SELECT * FROM unnest({unnest}) RETURNING id", cols).fetchall()
        return [i for (i,) in ids]

    def apply_class_facts(self, image_ids: Sequence[int] | None = None) -> int:
        """Puts people's class facts back on the detection rows (after a reprocess rewrote them, or
        when one is made): class, sex and buck age as the person said; a detection the model had
        as another species becomes a deer. Returns the rows changed."""
        scope = "AND f.detection_id IN (SELECT id FROM detections WHERE image_id = ANY(%(ids)s))" if image_ids else ""
        return self.conn.execute(
            f"""UPDATE detections d SET deer_class = c.deer_class,
                       sex = CASE c.deer_class WHEN 'doe' THEN 'female' WHEN 'buck' THEN 'male' ELSE 'unknown' END,
                       age_class = CASE c.deer_class WHEN 'buck' THEN c.age_class WHEN 'fawn' THEN 'fawn' END,
                       species = CASE WHEN d.deer_class IS NULL THEN 'deer' ELSE d.species END,
                       observation_type = 'animal'
                FROM ({CLASS_FACTS.format(scope=scope)}) c
                WHERE d.id = c.detection_id AND (d.deer_class, d.sex, d.age_class)
                      IS DISTINCT FROM (c.deer_class,
                                        CASE c.deer_class WHEN 'doe' THEN 'female' WHEN 'buck' THEN 'male'
                                             ELSE 'unknown' END,
                                        CASE c.deer_class WHEN 'buck' THEN c.age_class WHEN 'fawn' THEN 'fawn' END)""",
            {"ids": list(image_ids or [])}).rowcount

    def corrections(self) -> list[dict]:
        cur = self.conn.execute("SELECT c.id, c.kind, c.deer_id, c.other_deer_id, c.name, c.note, c.action_id,"
                                " f.detection_id, f.other_detection_id, c.created_at FROM corrections c"
                                " LEFT JOIN correction_facts f USING (id) ORDER BY c.id")
        return rows(cur)

    def assign(self, detection_ids: Sequence[int], deer_id: int | None) -> list[int]:
        """Move detections to a deer (None: unassigned) now; returns the deer ids they left."""
        rows = self.conn.execute(
            "UPDATE detections d SET deer_id = %s FROM detections old WHERE d.id = old.id AND d.id = ANY(%s)"
            " RETURNING old.deer_id, d.image_id", (deer_id, list(detection_ids))).fetchall()
        self.sync_members(sorted({img for _, img in rows}))
        return sorted({old for old, _ in rows if old is not None})

    def mark_merged(self, deer_id: int, into: int) -> None:
        self.conn.execute("UPDATE deer SET status = 'merged', merged_into = %s, sightings = 0,"
                          " representative_id = NULL, updated_at = now() WHERE id = %s OR merged_into = %s",
                          (into, deer_id, deer_id))

    def rename(self, deer_id: int, name: str | None) -> None:
        self.conn.execute("UPDATE deer SET name = %s, updated_at = now() WHERE id = %s", (name, deer_id))
