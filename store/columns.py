"""The image and detection columns the API and the web UI show (never a server path), and rows as dicts."""
from __future__ import annotations

import psycopg

IMAGE_COLUMNS = ("i.id, i.sha256, l.name AS location, i.taken_at, i.time_source, i.camera_make, i.camera_model,"
                 " i.width, i.height, i.file_size, i.status, i.error, i.run_id, i.created_at, i.processed_at")
PERSON_SAID = "SELECT detection_id FROM correction_facts WHERE kind = '{kind}' AND detection_id IS NOT NULL"
DETECTION_COLUMNS = ("d.id, d.image_id, d.det_index, d.x1, d.y1, d.x2, d.y2, d.confidence, d.label,"
                     " d.observation_type, d.species, d.species_confidence, d.class_label, d.class_confidence,"
                     " d.deer_class, d.sex, d.age_class, d.deer_id, deer.name AS deer_name, deer.status AS deer_status,"
                     " d.detector_version, d.classifier_version, d.embedder_version, d.run_id,"
                     # a person's word on it (migrations 0003, 0008): uncorrelated, so planned once per query
                     f" d.id IN ({PERSON_SAID.format(kind='class')}) AS class_corrected,"
                     f" d.id IN ({PERSON_SAID.format(kind='not_deer')}) AS not_deer")


def rows(cur: psycopg.Cursor) -> list[dict]:
    names = [c.name for c in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]
