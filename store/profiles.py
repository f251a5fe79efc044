"""Online re-ID: attach new detections to the nearest deer profile, or open a provisional one.

Distance is 1 - embedding . centroid with the raw-mean centroid (pgvector `<#>` is the negative
inner product), the same average-linkage test as pipelines.clustering.assign_to_profiles, so
online and batch decisions agree at the same max_distance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg

from store.reid import REID_LOCK

# Held for the transaction: two uploads of the same new animal must not each open a profile, two
# updates of one centroid must not lose one another, and a re-ID run or correction (which holds the
# same key) never interleaves with an online assignment.
PROFILE_LOCK = REID_LOCK
LIVE = ("active", "provisional")


def as_array(v) -> np.ndarray:
    """pgvector values come back as numpy arrays or as pgvector.Vector, depending on the format."""
    return np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, np.float32)


@dataclass
class Assignment:
    detection_id: int
    deer_id: int
    distance: float | None  # None: a new provisional profile
    created: bool


def assign_image_detections(conn: psycopg.Connection, image_id: int, max_distance: float,
                            run_id: int | None = None) -> list[Assignment]:
    """Assign every embedded, unassigned detection of the image. Call inside a transaction."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (PROFILE_LOCK,))
    dets = conn.execute(
        "SELECT d.id, d.embedding, d.sex, d.deer_class, d.age_class, i.taken_at, l.name"
        " FROM detections d JOIN images i ON i.id = d.image_id LEFT JOIN locations l ON l.id = i.location_id"
        " WHERE d.image_id = %s AND d.embedding IS NOT NULL AND d.deer_class IS NOT NULL AND d.deer_id IS NULL"
        " ORDER BY d.det_index",
        (image_id,)).fetchall()
    used: list[int] = []  # one photo never shows the same deer twice
    out = []
    for det_id, emb, sex, deer_class, age_class, taken_at, location in dets:
        emb = as_array(emb)
        near = conn.execute(
            "SELECT id, sightings, centroid, 1 + (centroid <#> %(e)s) AS distance FROM deer"
            " WHERE status = ANY(%(live)s) AND centroid IS NOT NULL AND id <> ALL(%(used)s)"
            "   AND vector_dims(centroid) = vector_dims(%(e)s)"
            "   AND (sex = 'unknown' OR %(sex)s = 'unknown' OR sex = %(sex)s)"
            " ORDER BY centroid <#> %(e)s LIMIT 1",
            {"e": emb, "live": list(LIVE), "used": used, "sex": sex}).fetchone()
        if near and near[3] <= max_distance:
            deer_id, n, centroid, distance = near
            _join(conn, deer_id, det_id, (as_array(centroid) * n + emb) / (n + 1), sex, taken_at, location)
            out.append(Assignment(det_id, deer_id, float(distance), False))
        else:
            deer_id = _open_provisional(conn, det_id, emb, sex, deer_class, age_class, taken_at, location, run_id)
            out.append(Assignment(det_id, deer_id, None, True))
        used.append(deer_id)
    return out


def _join(conn, deer_id, det_id, centroid, sex, taken_at, location) -> None:
    conn.execute(
        "UPDATE deer SET centroid = %(c)s, sightings = sightings + 1,"
        " sex = CASE WHEN sex = 'unknown' THEN %(sex)s ELSE sex END,"
        " first_seen = LEAST(first_seen, %(t)s), last_seen = GREATEST(last_seen, %(t)s),"
        " locations = CASE WHEN %(loc)s::text IS NULL OR %(loc)s = ANY(locations) THEN locations"
        "                  ELSE array_append(locations, %(loc)s) END,"
        " representative_id = coalesce(representative_id, %(det)s), updated_at = now()"
        " WHERE id = %(id)s",
        {"c": centroid.astype(np.float32), "sex": sex, "t": taken_at, "loc": location, "det": det_id,
         "id": deer_id})
    conn.execute("UPDATE detections SET deer_id = %s WHERE id = %s", (deer_id, det_id))


def _open_provisional(conn, det_id, emb, sex, deer_class, age_class, taken_at, location, run_id) -> int:
    (deer_id,) = conn.execute(
        "INSERT INTO deer (sex, deer_class, age_class, status, first_seen, last_seen, sightings, locations,"
        " representative_id, centroid, run_id)"
        " VALUES (%s, %s, %s, 'provisional', %s, %s, 1, %s, %s, %s, %s) RETURNING id",
        (sex, deer_class, age_class, taken_at, taken_at, [location] if location else [], det_id, emb,
         run_id)).fetchone()
    conn.execute("UPDATE detections SET deer_id = %s WHERE id = %s", (deer_id, det_id))
    return deer_id
