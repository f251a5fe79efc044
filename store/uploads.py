"""Store operations the upload API needs beyond store.repository."""
from __future__ import annotations

import psycopg

IMAGE_COLUMNS = ("i.id, i.sha256, l.name AS location, i.taken_at, i.time_source, i.camera_make, i.camera_model,"
                 " i.width, i.height, i.file_size, i.status, i.error, i.run_id, i.created_at, i.processed_at")
DETECTION_COLUMNS = ("d.id, d.image_id, d.det_index, d.x1, d.y1, d.x2, d.y2, d.confidence, d.label,"
                     " d.observation_type, d.species, d.species_confidence, d.class_label, d.class_confidence,"
                     " d.deer_class, d.sex, d.age_class, d.deer_id, deer.name AS deer_name, deer.status AS deer_status,"
                     " d.detector_version, d.classifier_version, d.embedder_version, d.run_id")


def rows(cur: psycopg.Cursor) -> list[dict]:
    names = [c.name for c in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def image_with_detections(conn: psycopg.Connection, image_id: int) -> dict | None:
    """One image (never its server path) and its detections with their deer."""
    found = rows(conn.execute(
        f"SELECT {IMAGE_COLUMNS} FROM images i LEFT JOIN locations l ON l.id = i.location_id WHERE i.id = %s",
        (image_id,)))
    if not found:
        return None
    image = found[0]
    image["detections"] = rows(conn.execute(
        f"SELECT {DETECTION_COLUMNS} FROM detections d LEFT JOIN deer ON deer.id = d.deer_id"
        " WHERE d.image_id = %s ORDER BY d.det_index", (image_id,)))
    return image


def image_status(conn: psycopg.Connection, image_id: int) -> str | None:
    row = conn.execute("SELECT status FROM images WHERE id = %s", (image_id,)).fetchone()
    return row[0] if row else None


def release_claim(conn: psycopg.Connection, run_id: int, image_id: int) -> None:
    """Hand an image this run claimed but could not finish back to pending (a batch run takes it)."""
    conn.execute("UPDATE images SET status = 'pending' WHERE id = %s AND run_id = %s AND status = 'processing'",
                 (image_id, run_id))
