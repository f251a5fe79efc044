"""Deployments (a camera at a location for a period) and their camera-clock corrections (migration
0007): reads, edits, the corrections kept as facts, and the bulk rewrite of corrected times. What a
correction does to a time is pipelines.timefix's; this module only stores and fetches."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

import psycopg

from store.columns import rows
from store.reid_io import copy_in

EDITABLE = ("latitude", "longitude", "coordinate_uncertainty_m", "start_at", "end_at", "time_zone",
            "timestamp_issues", "notes", "camera_serial")
# a camera clock reset to its factory default says a year like these; nothing was photographed then
SUSPECT_BEFORE = datetime(2005, 1, 1)

_LIST_SQL = """
SELECT d.id, l.name AS location, d.camera_make, d.camera_model, d.camera_serial,
       d.latitude, d.longitude, d.coordinate_uncertainty_m, d.time_zone, d.timestamp_issues, d.notes,
       d.start_at, d.end_at,
       coalesce(d.start_at, s.first_photo) AS start, coalesce(d.end_at, s.last_photo) AS "end",
       coalesce(s.photos, 0) AS photos, coalesce(s.mtime_photos, 0) AS mtime_photos,
       coalesce(s.ocr_photos, 0) AS ocr_photos, coalesce(s.suspect_photos, 0) AS suspect_photos,
       coalesce(s.shifted_photos, 0) AS shifted_photos,
       (SELECT count(*) FROM time_corrections c WHERE c.deployment_id = d.id AND c.undone_at IS NULL) AS corrections
FROM deployments d JOIN locations l ON l.id = d.location_id
LEFT JOIN (SELECT deployment_id, count(*) AS photos, min(taken_at) AS first_photo, max(taken_at) AS last_photo,
                  count(*) FILTER (WHERE time_source = 'mtime') AS mtime_photos,
                  count(*) FILTER (WHERE time_source = 'ocr') AS ocr_photos,
                  count(*) FILTER (WHERE taken_at < %(suspect)s OR taken_at > now()::timestamp + interval '1 day')
                      AS suspect_photos,
                  count(*) FILTER (WHERE taken_at IS DISTINCT FROM recorded_at) AS shifted_photos
           FROM images GROUP BY deployment_id) s ON s.deployment_id = d.id
{where}
ORDER BY l.name, d.id
"""


class DeploymentError(ValueError):
    """A refused edit or correction: an unknown deployment or correction, or a value out of range."""


class DeploymentNotFound(DeploymentError):
    """The deployment or correction named does not exist."""


@dataclass(frozen=True)
class TimeCorrection:
    id: int
    deployment_id: int
    kind: str  # offset | drift | dst | ampm
    range_start: datetime | None
    range_end: datetime | None
    offset_seconds: float | None
    known_recorded: datetime | None
    known_true: datetime | None
    note: str | None
    created_at: datetime
    undone_at: datetime | None


_CORRECTION_COLUMNS = ("id, deployment_id, kind, range_start, range_end, offset_seconds, known_recorded, known_true,"
                       " note, created_at, undone_at")


class Deployments:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def list(self, location: str | None = None) -> list[dict]:
        where = "WHERE l.name = %(location)s" if location else ""
        return rows(self.conn.execute(_LIST_SQL.format(where=where), {"suspect": SUSPECT_BEFORE, "location": location}))

    def get(self, deployment_id: int) -> dict:
        found = rows(self.conn.execute(_LIST_SQL.format(where="WHERE d.id = %(id)s"),
                                       {"suspect": SUSPECT_BEFORE, "id": deployment_id}))
        if not found:
            raise DeploymentNotFound(f"no deployment {deployment_id} (thumper cameras list shows them)")
        return found[0]

    def update(self, deployment_id: int, values: dict) -> dict:
        """Sets the given fields (EDITABLE); checked by the caller, and by the table's CHECKs."""
        unknown = set(values) - set(EDITABLE)
        if unknown:
            raise DeploymentError(f"not an editable field: {', '.join(sorted(unknown))}")
        self.get(deployment_id)
        if values:
            sets = ", ".join(f"{k} = %({k})s" for k in values)
            try:
                self.conn.execute(f"UPDATE deployments SET {sets} WHERE id = %(id)s", {**values, "id": deployment_id})
            except psycopg.errors.CheckViolation as e:
                raise DeploymentError(f"refused, nothing changed: {e.diag.message_primary}") from None
        return self.get(deployment_id)

    # ---- clock corrections ----------------------------------------------------------------
    def add_correction(self, deployment_id: int, kind: str, *, range_start=None, range_end=None,
                       offset_seconds: float | None = None, known_recorded=None, known_true=None,
                       note: str | None = None) -> int:
        self.get(deployment_id)
        try:
            (cid,) = self.conn.execute(
                "INSERT INTO time_corrections (deployment_id, kind, range_start, range_end, offset_seconds,"
                " known_recorded, known_true, note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (deployment_id, kind, range_start, range_end, offset_seconds, known_recorded, known_true,
                 note)).fetchone()
        except psycopg.errors.CheckViolation as e:
            raise DeploymentError(f"refused, nothing changed: {e.diag.message_primary}") from None
        return cid

    def undo_correction(self, correction_id: int) -> TimeCorrection:
        found = self.conn.execute(f"UPDATE time_corrections SET undone_at = now() WHERE id = %s AND undone_at IS NULL"
                                  f" RETURNING {_CORRECTION_COLUMNS}", (correction_id,)).fetchone()
        if found is None:
            exists = self.conn.execute("SELECT 1 FROM time_corrections WHERE id = %s", (correction_id,)).fetchone()
            if exists:
                raise DeploymentError(f"time correction {correction_id} was undone already")
            raise DeploymentNotFound(f"no time correction {correction_id}")
        return TimeCorrection(*found)

    def corrections(self, deployment_id: int, *, include_undone: bool = True) -> list[TimeCorrection]:
        live = "" if include_undone else " AND undone_at IS NULL"
        return [TimeCorrection(*r) for r in self.conn.execute(
            f"SELECT {_CORRECTION_COLUMNS} FROM time_corrections WHERE deployment_id = %s{live} ORDER BY id",
            (deployment_id,))]

    def recorded_times(self, deployment_ids: Iterable[int]) -> list[tuple[int, int, datetime | None, datetime | None]]:
        """(image id, deployment id, recorded_at, taken_at) of the deployments' photos."""
        return self.conn.execute("SELECT id, deployment_id, recorded_at, taken_at FROM images"
                                 " WHERE deployment_id = ANY(%s) ORDER BY id", (list(deployment_ids),)).fetchall()

    def first_recorded(self, deployment_id: int) -> datetime | None:
        return self.conn.execute("SELECT min(recorded_at) FROM images WHERE deployment_id = %s",
                                 (deployment_id,)).fetchone()[0]

    def deployments_of(self, image_ids: Sequence[int]) -> list[int]:
        return [d for (d,) in self.conn.execute(
            "SELECT DISTINCT deployment_id FROM images WHERE id = ANY(%s) AND deployment_id IS NOT NULL",
            (list(image_ids),))]

    def set_taken_at(self, times: Sequence[tuple[int, datetime | None]]) -> int:
        """Writes corrected times in bulk (binary COPY); returns how many photos changed."""
        if not times:
            return 0
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE stage_times (image_id bigint, taken_at timestamp) ON COMMIT DROP")
            copy_in(cur, "stage_times", ["image_id", "taken_at"], ["int8", "timestamp"], times)
            cur.execute("UPDATE images i SET taken_at = s.taken_at FROM stage_times s"
                        " WHERE i.id = s.image_id AND i.taken_at IS DISTINCT FROM s.taken_at")
            return cur.rowcount

    # ---- effort -------------------------------------------------------------------------
    def photo_days(self) -> list[tuple[int, datetime]]:
        """(deployment id, taken_at) of every photo with a time, in order: the effort's input."""
        return self.conn.execute("SELECT deployment_id, taken_at FROM images WHERE deployment_id IS NOT NULL"
                                 " AND taken_at IS NOT NULL ORDER BY deployment_id, taken_at").fetchall()

    def events_by_class(self) -> list[dict]:
        """Per deployment and deer class: independent events (bursts) with that class in them."""
        return rows(self.conn.execute(
            "SELECT i.deployment_id, d.deer_class, count(DISTINCT coalesce(i.burst_id, -i.id)) AS events"
            " FROM detections d JOIN images i ON i.id = d.image_id"
            " WHERE d.deer_class IS NOT NULL AND i.deployment_id IS NOT NULL"
            " AND d.id NOT IN (SELECT detection_id FROM correction_facts WHERE kind = 'not_deer'"
            "                  AND detection_id IS NOT NULL)"
            " GROUP BY 1, 2 ORDER BY 1, 2"))
