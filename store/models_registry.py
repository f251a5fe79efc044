"""The model registry (migration 0009): versions of the detector, the crop classifier and the
embedder, each with its file's sha256, its parent, what data made it and how it scored, one active
per kind; and what training reads: the labelled crop set (human corrections first) and the
identity set (detections of the deer profiles a person confirmed).

Runs point at the versions they used (runs.*_model_id); detections keep their `*_version` text
(stem@sha12), which is model_versions.version, so a detection joins to its model by that."""
from __future__ import annotations

from typing import Sequence

import psycopg
from psycopg.types.json import Jsonb

from store.columns import rows
from store.reid import CLASS_FACTS
from store.report_queries import _CONFIRMED

KINDS = ("detector", "classifier", "embedder")
_COLUMNS = ("m.id, m.kind, m.name, m.version, m.sha256, m.path, m.parent_id, p.version AS parent_version,"
            " m.data, m.metrics, m.created_at, m.active")

# Every human label of a detection, best source first (one row per detection):
#   rank 0 'class':    a person said what it is (doe, fawn, buck with its age if known, or deer),
#                      migration 0008's class correction, the latest one of the detection;
#   rank 1 'not_deer': a person said it is not a deer (any non-deer label is right);
#   rank 2 'profile':  it sits in a deer profile a person vouched for (named, merged into, moved
#                      into, split, or holding a "same deer" fact), labelled with the profile's class.
_HUMAN_LABELS = f"""
    SELECT c.detection_id AS id, 'class' AS source, c.deer_class, c.age_class, 0 AS rank
    FROM ({CLASS_FACTS.format(scope="")}) c
    UNION ALL
    SELECT f.detection_id, 'not_deer', NULL::text, NULL::text, 1
    FROM correction_facts f WHERE f.kind = 'not_deer' AND f.detection_id IS NOT NULL
    UNION ALL
    SELECT d.id, 'profile', r.deer_class, r.age_class, 2
    FROM detections d JOIN deer r ON r.id = d.deer_id
    WHERE r.status = 'active' AND r.deer_class IN ('doe', 'fawn', 'buck') AND r.id IN ({_CONFIRMED})"""

_CROP_SET = f"""
WITH human AS ({_HUMAN_LABELS}),
best AS (SELECT DISTINCT ON (id) id, source, deer_class, age_class FROM human ORDER BY id, rank)
SELECT d.id AS detection_id, d.image_id, i.path, d.x1, d.y1, d.x2, d.y2,
       coalesce(i.burst_id, -i.id) AS burst, d.deer_id, b.source, b.deer_class, b.age_class,
       d.class_label, d.class_confidence, d.classifier_version
FROM best b JOIN detections d ON d.id = b.id JOIN images i ON i.id = d.image_id
UNION ALL
SELECT d.id, d.image_id, i.path, d.x1, d.y1, d.x2, d.y2, coalesce(i.burst_id, -i.id), d.deer_id,
       'model', NULL, NULL, d.class_label, d.class_confidence, d.classifier_version
FROM detections d JOIN images i ON i.id = d.image_id
WHERE %(model_confidence)s::real IS NOT NULL AND d.class_label IS NOT NULL
  AND d.class_confidence >= %(model_confidence)s::real AND d.id NOT IN (SELECT id FROM best)
ORDER BY 1"""

# The identity set: every detection of a deer profile a person vouched for (_CONFIRMED: named,
# merged into, moved into, split, or holding a "same deer" fact), the profile being the individual;
# detections marked "not a deer" are left out (re-ID drops them from profiles too).
_IDENTITY_SET = f"""
SELECT d.id AS detection_id, d.image_id, i.path, d.x1, d.y1, d.x2, d.y2,
       coalesce(i.burst_id, -i.id) AS burst, d.deer_id, r.sex, r.deer_class, d.embedder_version
FROM detections d JOIN deer r ON r.id = d.deer_id JOIN images i ON i.id = d.image_id
WHERE r.status = 'active' AND r.id IN ({_CONFIRMED})
  AND d.id NOT IN (SELECT f.detection_id FROM correction_facts f
                   WHERE f.kind = 'not_deer' AND f.detection_id IS NOT NULL)
ORDER BY d.deer_id, d.id"""


class ModelRegistry:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def register(self, kind: str, *, name: str, version: str, sha256: str, path: str | None,
                 parent_id: int | None = None, data: dict | None = None, metrics: dict | None = None) -> int:
        """The version of this file (by kind and sha256), added the first time it is seen. The
        first version of a kind becomes the active one."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        with self.conn.transaction():
            row = self.conn.execute(
                "INSERT INTO model_versions (kind, name, version, sha256, path, parent_id, data, metrics, active)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
                "         NOT EXISTS (SELECT 1 FROM model_versions WHERE kind = %s AND active))"
                " ON CONFLICT (kind, sha256) DO NOTHING RETURNING id",
                (kind, name, version, sha256, path, parent_id, Jsonb(data or {}), Jsonb(metrics or {}), kind),
            ).fetchone()
            if row is None:  # known: keep its history, but remember where the file is now
                row = self.conn.execute(
                    "UPDATE model_versions SET path = coalesce(%s, path) WHERE kind = %s AND sha256 = %s RETURNING id",
                    (path, kind, sha256)).fetchone()
        return row[0]

    def get(self, version_id: int) -> dict | None:
        found = rows(self.conn.execute(
            f"SELECT {_COLUMNS} FROM model_versions m LEFT JOIN model_versions p ON p.id = m.parent_id"
            " WHERE m.id = %s", (version_id,)))
        return found[0] if found else None

    def active(self, kind: str) -> dict | None:
        found = rows(self.conn.execute(
            f"SELECT {_COLUMNS} FROM model_versions m LEFT JOIN model_versions p ON p.id = m.parent_id"
            " WHERE m.kind = %s AND m.active", (kind,)))
        return found[0] if found else None

    def by_sha256(self, kind: str, sha256: str) -> dict | None:
        found = rows(self.conn.execute(
            f"SELECT {_COLUMNS} FROM model_versions m LEFT JOIN model_versions p ON p.id = m.parent_id"
            " WHERE m.kind = %s AND m.sha256 = %s", (kind, sha256)))
        return found[0] if found else None

    def list(self, kind: str | None = None) -> list[dict]:
        return rows(self.conn.execute(
            f"SELECT {_COLUMNS} FROM model_versions m LEFT JOIN model_versions p ON p.id = m.parent_id"
            " WHERE %s::text IS NULL OR m.kind = %s ORDER BY m.kind, m.id", (kind, kind)))

    def activate(self, version_id: int) -> dict | None:
        """Make this version the active one of its kind (returned; None if there is no such version)."""
        with self.conn.transaction():
            row = self.conn.execute("SELECT kind FROM model_versions WHERE id = %s", (version_id,)).fetchone()
            if row is None:
                return None
            self.conn.execute("UPDATE model_versions SET active = false WHERE kind = %s AND active", (row[0],))
            self.conn.execute("UPDATE model_versions SET active = true WHERE id = %s", (version_id,))
        return self.get(version_id)

    def attach_to_run(self, run_id: int, ids: dict[str, int | None]) -> None:
        """Point a run at the versions it used: ids by kind."""
        self.conn.execute(
            "UPDATE runs SET detector_model_id = %s, classifier_model_id = %s, embedder_model_id = %s WHERE id = %s",
            (ids.get("detector"), ids.get("classifier"), ids.get("embedder"), run_id))

    def run_versions(self, run_id: int) -> dict[str, int | None]:
        row = self.conn.execute("SELECT detector_model_id, classifier_model_id, embedder_model_id FROM runs"
                                " WHERE id = %s", (run_id,)).fetchone()
        return dict(zip(KINDS, row)) if row else {}

    # ---- training data ------------------------------------------------------------------
    def crop_set(self, model_confidence: float | None = None) -> list[dict]:
        """Labelled detections for training a crop classifier: every detection a person labelled
        (see _HUMAN_LABELS: source, deer_class, age_class), plus, with `model_confidence`, the
        model's own labels at least that confident (source 'model', flagged so)."""
        return rows(self.conn.execute(_CROP_SET, {"model_confidence": model_confidence}))

    def identity_set(self) -> list[dict]:
        """Detections labelled with the individual a person confirmed (see _IDENTITY_SET): what
        the embedder is trained and scored on, the deer profile (deer_id) being the individual."""
        return rows(self.conn.execute(_IDENTITY_SET))

    def detection_versions(self, detection_ids: Sequence[int]) -> list[dict]:
        """Which registered version said what, per detection (classifier and embedder)."""
        return rows(self.conn.execute(
            "SELECT d.id AS detection_id, d.classifier_version, c.id AS classifier_model_id,"
            " d.embedder_version, e.id AS embedder_model_id FROM detections d"
            " LEFT JOIN model_versions c ON c.kind = 'classifier' AND c.version = d.classifier_version"
            " LEFT JOIN model_versions e ON e.kind = 'embedder' AND e.version = d.embedder_version"
            " WHERE d.id = ANY(%s) ORDER BY d.id", (list(detection_ids),)))
