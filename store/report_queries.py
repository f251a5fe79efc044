"""Read-only queries behind exports, the deer report and the census estimate: one statement each,
detections a person marked "not a deer" left out everywhere."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg

from store.columns import rows
from store.reid import CLASS_FACTS

_REAL = ("d.id NOT IN (SELECT detection_id FROM correction_facts"
         " WHERE kind = 'not_deer' AND detection_id IS NOT NULL)")
# A visit: one deer in one burst (a 3-shot trigger is one sighting of the animal, not three).
_VISITS = f"""
    SELECT d.deer_id, coalesce(i.burst_id, -i.id) AS visit, min(i.taken_at) AS taken_at,
           min(l.name) AS location, min(r.sex) AS sex, min(r.age_class) AS age_class,
           count(*) AS detections
    FROM detections d JOIN images i ON i.id = d.image_id LEFT JOIN locations l ON l.id = i.location_id
    JOIN deer r ON r.id = d.deer_id
    WHERE {_REAL} AND r.status = 'active'
    GROUP BY d.deer_id, coalesce(i.burst_id, -i.id)"""


# Deer a person vouched for as one animal: named, renamed, split (both sides), the deer a merge or a
# move went into, or holding a detection of a "same deer" fact (merges, moves, splits and the review
# queue's "yes, same deer" all leave those).
_CONFIRMED = """
    SELECT id FROM deer WHERE name IS NOT NULL
    UNION SELECT deer_id FROM corrections WHERE kind IN ('rename', 'split') AND deer_id IS NOT NULL
    UNION SELECT other_deer_id FROM corrections WHERE kind IN ('merge', 'split', 'move') AND other_deer_id IS NOT NULL
    UNION SELECT d.deer_id FROM correction_facts f JOIN detections d ON d.id IN (f.detection_id, f.other_detection_id)
          WHERE f.kind = 'same_deer' AND d.deer_id IS NOT NULL"""


class ReportQueries:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    # ---- exports ------------------------------------------------------------------------
    def images(self) -> list[dict]:
        """Every photo, with its deployment and burst, and how many detections it has (marked "not a
        deer" included: a photo whose only detection is not a deer is not a blank)."""
        return rows(self.conn.execute(
            """SELECT i.id, i.path, l.name AS location, i.taken_at, i.time_source, i.status, i.error,
                      i.width, i.height, i.camera_make, i.camera_model, i.burst_id, i.deployment_id,
                      b.started_at AS burst_start, b.ended_at AS burst_end,
                      (SELECT count(*) FROM detections x WHERE x.image_id = i.id) AS n_detections
               FROM images i LEFT JOIN locations l ON l.id = i.location_id LEFT JOIN bursts b ON b.id = i.burst_id
               ORDER BY i.path"""))

    def deployments(self) -> list[dict]:
        """Every deployment that has processed photos with a time: what the deployments table says
        (coordinates, period, zone, camera, timestampIssues) and its first and last photo's time."""
        return rows(self.conn.execute(
            """SELECT d.id, l.name AS location, d.camera_make, d.camera_model, d.camera_serial, d.latitude,
                      d.longitude, d.coordinate_uncertainty_m, d.start_at, d.end_at, d.time_zone,
                      d.timestamp_issues, d.notes, min(i.taken_at) AS first_photo, max(i.taken_at) AS last_photo,
                      count(*) AS photos, count(*) FILTER (WHERE i.time_source = 'mtime') AS mtime_photos
               FROM deployments d JOIN locations l ON l.id = d.location_id
               JOIN images i ON i.deployment_id = d.id AND i.status = 'completed' AND i.taken_at IS NOT NULL
               GROUP BY d.id, l.name ORDER BY l.name, d.id"""))

    def detections(self) -> list[dict]:
        """Every detection but those marked not a deer; `corrected_by` is the latest correction
        (merge, split, move, confirm, not-this) that decided which deer it is, `corrected_at` its time."""
        return rows(self.conn.execute(
            f"""WITH decided AS (
                    SELECT DISTINCT ON (detection_id) detection_id, coalesce(action_id, id) AS correction,
                           created_at
                    FROM correction_facts
                    WHERE kind IN ('same_deer', 'not_this_deer') AND detection_id IS NOT NULL
                    ORDER BY detection_id, created_at DESC, id DESC)
                SELECT d.id AS detection_id, d.image_id, i.path, l.name AS location, i.taken_at,
                       i.burst_id, d.x1, d.y1, d.x2, d.y2, d.confidence, d.label, d.observation_type,
                       d.species, d.species_confidence, d.class_label, d.class_confidence, d.deer_class, d.sex,
                       d.age_class, d.deer_id, r.name AS deer_name, d.detector_version, d.classifier_version,
                       d.created_at, c.correction AS corrected_by, c.created_at AS corrected_at
                FROM detections d JOIN images i ON i.id = d.image_id
                LEFT JOIN locations l ON l.id = i.location_id LEFT JOIN deer r ON r.id = d.deer_id
                LEFT JOIN decided c ON c.detection_id = d.id
                WHERE {_REAL} ORDER BY i.path, d.det_index"""))

    def run_models(self) -> dict:
        row = self.conn.execute("SELECT detector_version, classifier_version, embedder_version, finished_at FROM runs"
                                " WHERE detector_version IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
        return dict(zip(("detector", "classifier", "embedder", "finished_at"), row)) if row else {}

    # ---- census estimate (pipelines.census_estimate) --------------------------------------
    def latest_deer_photo(self, location: str | None = None) -> datetime | None:
        """When the latest dated photo of a deer was taken (at this location, or anywhere)."""
        return self.conn.execute(
            f"""SELECT max(i.taken_at) FROM detections d JOIN images i ON i.id = d.image_id
                LEFT JOIN locations l ON l.id = i.location_id
                WHERE d.deer_class IS NOT NULL AND {_REAL} AND (%(loc)s::text IS NULL OR l.name = %(loc)s)""",
            {"loc": location}).fetchone()[0]

    def estimate_rows(self, start: date, end: date, location: str | None = None) -> list[dict]:
        """Every deer detection taken on days start..end (both included, camera-local), at this
        location or anywhere, for pipelines.estimate.events_from_rows: burst, photo, time, place, box,
        stored class and probabilities, and the deer profile (active ones only) with whether a person
        confirmed it. Detections marked "not a deer" are left out. In a stable order (time, photo,
        box), so the same data always gives the same events."""
        return rows(self.conn.execute(
            f"""SELECT d.id AS detection_id, d.image_id, i.burst_id, i.taken_at, l.name AS location,
                       d.x1, d.y1, d.x2, d.y2, d.deer_class, d.age_class, d.class_probs,
                       CASE WHEN r.status = 'active' THEN d.deer_id END AS deer_id,
                       coalesce(r.status = 'active' AND d.deer_id IN ({_CONFIRMED}), false) AS confirmed,
                       k.deer_class AS corrected_class, k.age_class AS corrected_age
                FROM detections d JOIN images i ON i.id = d.image_id
                LEFT JOIN locations l ON l.id = i.location_id LEFT JOIN deer r ON r.id = d.deer_id
                LEFT JOIN ({CLASS_FACTS.format(scope="")}) k ON k.detection_id = d.id
                WHERE d.deer_class IS NOT NULL AND {_REAL}
                  AND i.taken_at >= %(start)s AND i.taken_at < %(end)s
                  AND (%(loc)s::text IS NULL OR l.name = %(loc)s)
                ORDER BY i.taken_at, i.id, d.x1, d.y1, d.x2, d.y2, d.id""",
            {"start": start, "end": end + timedelta(days=1), "loc": location}))

    def location_names(self) -> list[str]:
        return [n for (n,) in self.conn.execute("SELECT name FROM locations ORDER BY name")]

    # ---- report -------------------------------------------------------------------------
    def deer_totals(self) -> dict:
        row = self.conn.execute(
            """SELECT count(*), count(*) FILTER (WHERE sex = 'female'), count(*) FILTER (WHERE sex = 'male'),
                      count(*) FILTER (WHERE sex = 'unknown'), coalesce(sum(sightings), 0)
               FROM deer WHERE status = 'active'""").fetchone()
        return dict(zip(("deer", "female", "male", "unknown", "sightings"), row))

    def bucks_by_age(self) -> dict[str, int]:
        return dict(self.conn.execute(
            "SELECT coalesce(age_class, 'unknown'), count(*) FROM deer WHERE status = 'active' AND sex = 'male'"
            " GROUP BY 1 ORDER BY 1").fetchall())

    def by_location_month(self) -> list[dict]:
        return rows(self.conn.execute(
            f"""SELECT location, to_char(taken_at, 'YYYY-MM') AS month, count(*) AS visits,
                       count(DISTINCT deer_id) AS deer,
                       count(DISTINCT deer_id) FILTER (WHERE sex = 'male') AS bucks,
                       sum(detections)::int AS detections
                FROM ({_VISITS}) v
                GROUP BY 1, 2 ORDER BY 1, 2"""))

    def rut(self) -> list[dict]:
        """September to January, by season ("2024-25") and month: who is moving."""
        return rows(self.conn.execute(
            f"""SELECT CASE WHEN extract(month FROM taken_at) = 1
                            THEN (extract(year FROM taken_at)::int - 1) ELSE extract(year FROM taken_at)::int END
                       AS season_start,
                       to_char(taken_at, 'YYYY-MM') AS month,
                       count(*) FILTER (WHERE sex = 'male') AS buck_visits,
                       count(*) FILTER (WHERE sex = 'female') AS doe_visits,
                       count(DISTINCT deer_id) FILTER (WHERE sex = 'male') AS bucks,
                       count(DISTINCT deer_id) FILTER (WHERE sex = 'female') AS does,
                       count(DISTINCT deer_id) FILTER (WHERE sex = 'male' AND age_class = 'mature') AS mature_bucks
                FROM ({_VISITS}) v
                WHERE extract(month FROM taken_at) IN (9, 10, 11, 12, 1)
                GROUP BY 1, 2 ORDER BY 2"""))
