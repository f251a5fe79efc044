"""The one door to the database: `Store` holds a connection and every read and write of the
project goes through it or through the query objects it carries (`store.reid`, `store.reports`,
`store.browse`, `store.web`). No SQL lives outside store/.

Writes are bulk: COPY into a staging table, then one INSERT ... SELECT per batch, in one
transaction, never a round trip per row."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Sequence

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from models.types import Detection, PhotoResult
from store.accounts import Accounts
from store.deployments import Deployments
from store.models_registry import ModelRegistry
from store.columns import rows
from store.db import connect
from store.profiles import Assignment, assign_image_detections
from store.queries import BrowseQueries
from store.reid import ReidStore
from store.report_queries import ReportQueries
from store.web_queries import WebQueries

RUN_LOCK = 727_002  # advisory lock namespace: a live run holds (RUN_LOCK, run_id) on its connection


@dataclass
class ImageRecord:
    """One photo found by ingest."""

    sha256: str
    path: str
    location: str
    taken_at: datetime | None
    time_source: str  # 'exif' | 'ocr' | 'mtime'
    camera_make: str | None = None
    camera_model: str | None = None
    width: int | None = None
    height: int | None = None
    file_size: int | None = None
    error: str | None = None  # unreadable at ingest: stored as failed, never silently dropped


@dataclass
class AddResult:
    image_ids: list[int]  # every image of the batch, new or already known
    new: int
    duplicates: int


DETECTION_COLUMNS = ("image_id", "det_index", "run_id", "x1", "y1", "x2", "y2", "confidence", "label",
                     "observation_type", "species", "species_confidence", "deer_class", "sex", "age_class",
                     "class_label", "class_confidence", "class_probs", "detector_version", "classifier_version",
                     "embedder_version", "crop_version", "embedding")
DETECTION_TYPES = ["int8", "int4", "int8", "float4", "float4", "float4", "float4", "float4", "text",
                   "text", "text", "float4", "text", "text", "text",
                   "text", "float4", "jsonb", "text", "text",
                   "text", "text", "vector"]


def _detection_row(image_id: int, k: int, run_id: int, d: Detection, detector_version: str | None,
                   embedder_version: str | None) -> tuple:
    emb = None if d.embedding is None else np.asarray(d.embedding, np.float32)
    opt = (lambda v: None if v is None else float(v))
    return (image_id, k, run_id, *map(float, d.box), float(d.confidence), d.label,
            d.observation_type, d.species, opt(d.species_confidence), d.deer_class, d.sex, d.age_class,
            d.class_label, opt(d.class_confidence), Jsonb(d.probs) if d.probs else None,
            d.detector_version or detector_version or "unknown", d.classifier_version,
            (d.embedder_version or embedder_version) if emb is not None else None, d.crop_version, emb)


class Store:
    """A connection and everything done with it. `Store.open()` connects (an explicit URL, else
    $THUMPER_DATABASE_URL, else the embedded Postgres) and brings the schema up to date."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.reid = ReidStore(conn)  # bursts, clustering inputs, deer profiles, corrections
        self.reports = ReportQueries(conn)  # exports and the deer report
        self.browse = BrowseQueries(conn)  # the REST API's lists
        self.web = WebQueries(conn)  # the web UI's pages
        self.accounts = Accounts(conn)  # users, sessions, API tokens, the login rate limit
        self.deployments = Deployments(conn)  # cameras at locations, their clock corrections, effort
        self.models = ModelRegistry(conn)  # model versions (registry), runs' versions, training crop sets

    @classmethod
    def open(cls, url: str | None = None, *, migrate: bool = True) -> "Store":
        return cls(connect(url, migrate=migrate))

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    @property
    def closed(self) -> bool:
        return bool(self.conn.closed)

    def transaction(self):
        """Everything inside commits together or not at all."""
        return self.conn.transaction()

    def ping(self) -> None:
        """Raises if the database cannot answer."""
        self.conn.execute("SELECT 1")

    # ---- ingest -------------------------------------------------------------------------
    def location_ids(self, names: Iterable[str]) -> dict[str, int]:
        names = sorted(set(names))
        with self.conn.transaction():
            self.conn.execute(
                "INSERT INTO locations (name) SELECT unnest(%s::text[]) ON CONFLICT (name) DO NOTHING",
                (names,),
            )
            rows = self.conn.execute(
                "SELECT name, id FROM locations WHERE name = ANY(%s)", (names,)
            ).fetchall()
        return dict(rows)

    def add_images(self, records: Sequence[ImageRecord]) -> AddResult:
        """Insert new photos; a content hash already stored is a duplicate and adds nothing."""
        if not records:
            return AddResult([], 0, 0)
        loc = self.location_ids(r.location for r in records)
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE stage_images (LIKE images INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            cols = ("sha256", "path", "location_id", "taken_at", "recorded_at", "time_source", "camera_make",
                    "camera_model", "width", "height", "file_size", "status", "error")
            with cur.copy(f"COPY stage_images ({', '.join(cols)}) FROM STDIN") as copy:
                for r in records:
                    copy.write_row((r.sha256, r.path, loc[r.location], r.taken_at, r.taken_at, r.time_source,
                                    r.camera_make, r.camera_model, r.width, r.height, r.file_size,
                                    "failed" if r.error else "pending", r.error))
            # each photo's deployment: its camera (make, model) at its location, made on first sight;
            # a serial a person set later (thumper cameras set --serial) keeps it the same deployment
            same_camera = ("d.location_id = s.location_id AND d.camera_make = coalesce(s.camera_make, '')"
                           " AND d.camera_model = coalesce(s.camera_model, '')")
            cur.execute("INSERT INTO deployments (location_id, camera_make, camera_model)"
                        " SELECT DISTINCT location_id, coalesce(camera_make, ''), coalesce(camera_model, '')"
                        f" FROM stage_images s WHERE NOT EXISTS (SELECT 1 FROM deployments d WHERE {same_camera})"
                        " ON CONFLICT DO NOTHING")
            cur.execute(f"UPDATE stage_images s SET deployment_id = (SELECT min(d.id) FROM deployments d"
                        f" WHERE {same_camera})")
            cols += ("deployment_id",)
            # DISTINCT ON: the same bytes twice in one batch count once
            cur.execute(
                f"INSERT INTO images ({', '.join(cols)}) "
                f"SELECT DISTINCT ON (sha256) {', '.join(cols)} FROM stage_images ORDER BY sha256, path "
                "ON CONFLICT (sha256) DO NOTHING"
            )
            new = cur.rowcount
            ids = cur.execute(
                "SELECT i.id FROM images i JOIN (SELECT DISTINCT sha256 FROM stage_images) s USING (sha256)"
            ).fetchall()
        return AddResult([i for (i,) in ids], new, len(records) - new)

    # ---- runs ---------------------------------------------------------------------------
    def start_run(self, kind: str, *, source: str | None = None, detector: str | None = None,
                  detector_version: str | None = None, classifier: str | None = None,
                  classifier_version: str | None = None, embedder: str | None = None,
                  embedder_version: str | None = None, embedding_dim: int | None = None,
                  settings: dict | None = None) -> int:
        """Record a run and hold its advisory lock on this connection for as long as it lives:
        if the process dies, Postgres drops the lock and the next run can reclaim its images."""
        (run_id,) = self.conn.execute(
            "INSERT INTO runs (kind, source, detector, detector_version, classifier, classifier_version,"
            " embedder, embedder_version, embedding_dim, settings)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (kind, source, detector, detector_version, classifier, classifier_version, embedder, embedder_version,
             embedding_dim, json.dumps(settings or {})),
        ).fetchone()
        self.conn.execute("SELECT pg_advisory_lock(%s, %s)", (RUN_LOCK, run_id))
        return run_id

    def finish_run(self, run_id: int, status: str = "completed", error: str | None = None) -> int:
        """Close the run; images it claimed but never finished go back to pending (returned)."""
        with self.conn.transaction():
            released = self.conn.execute(
                "UPDATE images SET status = 'pending' WHERE run_id = %s AND status = 'processing'",
                (run_id,),
            ).rowcount
            self.conn.execute(
                "UPDATE runs SET status = %s, error = %s, finished_at = now() WHERE id = %s",
                (status, error, run_id),
            )
        self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", (RUN_LOCK, run_id))
        return released

    def _take_run_lock(self, run_id: int) -> bool:
        """Take a run's lock if nobody else holds it (then the caller unlocks): False means the run
        is alive in another session."""
        return self.conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (RUN_LOCK, run_id)).fetchone()[0]

    def recover_abandoned_runs(self) -> int:
        """Runs marked running whose owner is gone (its lock is free): abort them and put their
        claimed-but-unfinished images back to pending. Returns the number of images recovered."""
        recovered = 0
        for (run_id,) in self.conn.execute("SELECT id FROM runs WHERE status = 'running'").fetchall():
            if not self._take_run_lock(run_id):
                continue  # alive, in this or another process
            try:
                with self.conn.transaction():
                    cur = self.conn.execute(
                        "UPDATE images SET status = 'pending' WHERE run_id = %s AND status = 'processing'",
                        (run_id,),
                    )
                    recovered += cur.rowcount
                    self.conn.execute(
                        "UPDATE runs SET status = 'aborted', finished_at = now(),"
                        " error = 'process ended before the run finished' WHERE id = %s",
                        (run_id,),
                    )
            finally:
                self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", (RUN_LOCK, run_id))
        return recovered

    def live_runs(self, image_ids: Sequence[int] | None = None) -> list[dict]:
        """Runs still alive in another process (their lock is held elsewhere), oldest first, with
        how many photos each holds now (of `image_ids`, if given) and how many it has finished."""
        out = []
        for run_id, kind, source, started in self.conn.execute(
                "SELECT id, kind, source, started_at FROM runs WHERE status = 'running' ORDER BY id").fetchall():
            if self._take_run_lock(run_id):  # its owner is gone (or it is this session's own): not another's
                self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", (RUN_LOCK, run_id))
                continue
            holding, done = self.conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'processing'), count(*) FILTER (WHERE status <> 'processing')"
                " FROM images WHERE run_id = %s AND (%s::bigint[] IS NULL OR id = ANY(%s))",
                (run_id, None if image_ids is None else list(image_ids),
                 None if image_ids is None else list(image_ids))).fetchone()
            out.append({"id": run_id, "kind": kind, "source": source, "started_at": started,
                        "holding": holding, "done": done})
        return out

    def claim_pending(self, run_id: int, image_ids: Sequence[int] | None = None,
                      states: Sequence[str] = ("pending",)) -> list[tuple[int, str]]:
        """Move images in `states` (default pending; add completed/failed to reprocess) to
        processing under this run. SKIP LOCKED lets two runs share a backlog without claiming
        the same image."""
        # the ids as a joined set, not `id = ANY(ids)`: beside the status index Postgres tests that
        # array element by element for every row, 10 s at 60,000 photos against 2 s for the join
        scope = "JOIN unnest(%(ids)s::bigint[]) AS wanted(id) USING (id)" if image_ids is not None else ""
        rows = self.conn.execute(
            f"""UPDATE images SET status = 'processing', run_id = %(run)s, error = NULL
                WHERE id IN (SELECT id FROM images {scope} WHERE status = ANY(%(states)s)
                             ORDER BY id FOR UPDATE OF images SKIP LOCKED)
                RETURNING id, path""",
            {"run": run_id, "states": list(states), "ids": list(image_ids or [])},
        ).fetchall()
        self.conn.execute("UPDATE runs SET images_claimed = images_claimed + %s WHERE id = %s",
                          (len(rows), run_id))
        return sorted(rows)

    # ---- results ------------------------------------------------------------------------
    def write_results(self, run_id: int, results: Sequence[PhotoResult], *,
                      detector_version: str | None = None, embedder_version: str | None = None) -> int:
        """Write one batch atomically: detections by binary COPY, images completed or failed.
        Only images still claimed by this run are touched, so a stale writer cannot double-write.
        Each detection carries the versions of the models that said what it is; the keyword
        versions fill in for detections made without them (fixtures). Returns the number written."""
        if not results:
            return 0
        ids = [r.image_id for r in results]
        with self.conn.transaction(), self.conn.cursor() as cur:
            owned = {i for (i,) in cur.execute(
                "SELECT id FROM images WHERE id = ANY(%s) AND run_id = %s AND status = 'processing'"
                " FOR UPDATE", (ids, run_id))}
            results = [r for r in results if r.image_id in owned]
            # a reprocess replaces the image's earlier detections
            cur.execute("DELETE FROM detections WHERE image_id = ANY(%s)", (list(owned),))
            cur.execute(
                "CREATE TEMP TABLE stage_detections (LIKE detections INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            n = 0
            with cur.copy(f"COPY stage_detections ({', '.join(DETECTION_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(DETECTION_TYPES)
                for r in results:
                    if r.error:
                        continue
                    for k, d in enumerate(r.detections):
                        copy.write_row(_detection_row(r.image_id, k, run_id, d, detector_version, embedder_version))
                        n += 1
            cols = ", ".join(DETECTION_COLUMNS)
            cur.execute(f"INSERT INTO detections ({cols}) SELECT {cols} FROM stage_detections "
                        "ON CONFLICT (image_id, det_index) DO NOTHING")
            if owned:  # a person's "this is a doe / buck" outlives the model's new answer
                self.reid.apply_class_facts(list(owned))
            failed = [(r.image_id, r.error) for r in results if r.error]
            done = [(r.image_id, r.width, r.height) for r in results if not r.error]
            if done:
                cur.execute(
                    "UPDATE images i SET status = 'completed', error = NULL, processed_at = now(),"
                    " width = coalesce(v.w, i.width), height = coalesce(v.h, i.height)"
                    " FROM unnest(%s::bigint[], %s::int[], %s::int[]) AS v(id, w, h) WHERE i.id = v.id",
                    ([d[0] for d in done], [d[1] for d in done], [d[2] for d in done]),
                )
            if failed:
                cur.execute(
                    "UPDATE images i SET status = 'failed', error = v.err, processed_at = now()"
                    " FROM unnest(%s::bigint[], %s::text[]) AS v(id, err) WHERE i.id = v.id",
                    ([f[0] for f in failed], [f[1] for f in failed]),
                )
            cur.execute(
                "UPDATE runs SET images_completed = images_completed + %s,"
                " images_failed = images_failed + %s, detections = detections + %s WHERE id = %s",
                (len(done), len(failed), n, run_id),
            )
        return n

    # ---- queries ------------------------------------------------------------------------
    def status_counts(self, image_ids: Sequence[int] | None = None) -> dict[str, int]:
        scope, params = ("WHERE id = ANY(%s)", (list(image_ids),)) if image_ids is not None else ("", ())
        counts = dict.fromkeys(("pending", "processing", "completed", "failed"), 0)
        counts.update(self.conn.execute(
            f"SELECT status, count(*) FROM images {scope} GROUP BY status", params).fetchall())
        return counts

    def run(self, run_id: int) -> dict:
        cur = self.conn.execute("SELECT * FROM runs WHERE id = %s", (run_id,))
        row = cur.fetchone()
        return dict(zip([c.name for c in cur.description], row)) if row else {}

    def latest_runs(self, limit: int = 5) -> list[dict]:
        cur = self.conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT %s", (limit,))
        return rows(cur)

    def failures(self, image_ids: Sequence[int], limit: int = 20) -> list[tuple[str, str]]:
        return self.conn.execute(
            "SELECT path, error FROM images WHERE id = ANY(%s) AND status = 'failed' ORDER BY path LIMIT %s",
            (list(image_ids), limit),
        ).fetchall()

    def census_by_location(self, image_ids: Sequence[int]) -> list[dict]:
        """Per location: photos, photos with deer, deer detections by class and buck age class, and
        what else was seen (other animals, people, vehicles: kept, never counted as deer)."""
        cur = self.conn.execute(
            """SELECT l.name AS location,
                      count(DISTINCT i.id) AS photos,
                      count(DISTINCT i.id) FILTER (WHERE i.status = 'completed') AS completed,
                      count(DISTINCT i.id) FILTER (WHERE i.status = 'failed') AS failed,
                      count(DISTINCT d.image_id) FILTER (WHERE d.deer_class IS NOT NULL) AS with_deer,
                      count(d.id) FILTER (WHERE d.deer_class IS NOT NULL) AS detections,
                      count(d.id) FILTER (WHERE d.deer_class = 'doe') AS doe,
                      count(d.id) FILTER (WHERE d.deer_class = 'fawn') AS fawn,
                      count(d.id) FILTER (WHERE d.deer_class = 'buck') AS buck,
                      count(d.id) FILTER (WHERE d.deer_class = 'deer') AS deer,
                      count(d.id) FILTER (WHERE d.age_class = 'young') AS buck_young,
                      count(d.id) FILTER (WHERE d.age_class = 'mid') AS buck_mid,
                      count(d.id) FILTER (WHERE d.age_class = 'mature') AS buck_mature,
                      count(d.id) FILTER (WHERE d.deer_class IS NULL AND d.observation_type = 'animal')
                          AS other_animals,
                      count(d.id) FILTER (WHERE d.observation_type = 'human') AS humans,
                      count(d.id) FILTER (WHERE d.observation_type = 'vehicle') AS vehicles
               FROM images i JOIN locations l ON l.id = i.location_id
               LEFT JOIN detections d ON d.image_id = i.id
               WHERE i.id = ANY(%s) GROUP BY l.name ORDER BY l.name""",
            (list(image_ids),),
        )
        return rows(cur)

    def others_seen(self, image_ids: Sequence[int]) -> list[tuple[str, str, int]]:
        """(observation type, species, detections) of everything that is not a deer: kept and
        shown, never counted in the census."""
        return self.conn.execute(
            "SELECT observation_type, species, count(*) FROM detections"
            " WHERE image_id = ANY(%s) AND deer_class IS NULL GROUP BY 1, 2 ORDER BY 3 DESC, 2",
            (list(image_ids),)).fetchall()

    def detection_count(self, image_ids: Sequence[int] | None = None) -> int:
        scope, params = ("WHERE image_id = ANY(%s)", (list(image_ids),)) if image_ids is not None else ("", ())
        return self.conn.execute(f"SELECT count(*) FROM detections {scope}", params).fetchone()[0]

    # ---- uploads ------------------------------------------------------------------------
    def image_id_by_sha256(self, sha256: str) -> int | None:
        row = self.conn.execute("SELECT id FROM images WHERE sha256 = %s", (sha256,)).fetchone()
        return row[0] if row else None

    def image_status(self, image_id: int) -> str | None:
        row = self.conn.execute("SELECT status FROM images WHERE id = %s", (image_id,)).fetchone()
        return row[0] if row else None

    def release_claim(self, run_id: int, image_id: int) -> None:
        """Hand an image this run claimed but could not finish back to pending (a batch run takes it)."""
        self.conn.execute("UPDATE images SET status = 'pending' WHERE id = %s AND run_id = %s AND status = 'processing'",
                          (image_id, run_id))

    def assign_to_profiles(self, image_id: int, max_distance: float, run_id: int | None = None) -> list[Assignment]:
        """Online re-ID of one photo's new deer (store.profiles); call inside `transaction()`."""
        return assign_image_detections(self.conn, image_id, max_distance, run_id)
