"""Read-only queries behind exports and the deer report: one statement each, detections a person
marked "not a deer" left out everywhere."""
from __future__ import annotations

import psycopg

from store.columns import rows

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


class ReportQueries:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    # ---- exports ------------------------------------------------------------------------
    def images(self) -> list[dict]:
        return rows(self.conn.execute(
            """SELECT i.id, i.path, l.name AS location, i.taken_at, i.time_source, i.status, i.error,
                      i.width, i.height, i.camera_make, i.camera_model, i.burst_id,
                      b.started_at AS burst_start, b.ended_at AS burst_end
               FROM images i LEFT JOIN locations l ON l.id = i.location_id LEFT JOIN bursts b ON b.id = i.burst_id
               ORDER BY i.path"""))

    def detections(self) -> list[dict]:
        return rows(self.conn.execute(
            f"""SELECT d.id AS detection_id, d.image_id, i.path, l.name AS location, i.taken_at,
                       i.burst_id, d.x1, d.y1, d.x2, d.y2, d.confidence, d.label, d.observation_type,
                       d.species, d.species_confidence, d.class_label, d.class_confidence, d.deer_class, d.sex,
                       d.age_class, d.deer_id, r.name AS deer_name, d.detector_version, d.classifier_version
                FROM detections d JOIN images i ON i.id = d.image_id
                LEFT JOIN locations l ON l.id = i.location_id LEFT JOIN deer r ON r.id = d.deer_id
                WHERE {_REAL} ORDER BY i.path, d.det_index"""))

    def run_models(self) -> dict:
        row = self.conn.execute("SELECT detector_version, classifier_version, embedder_version, finished_at FROM runs"
                                " WHERE detector_version IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
        return dict(zip(("detector", "classifier", "embedder", "finished_at"), row)) if row else {}

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
                       count(DISTINCT deer_id) AS deer, sum(detections)::int AS detections
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
