"""Read queries behind the web UI: the photo gallery with its boxes, filter choices, census charts
and the review queue. One statement per list, so a page of 60 photos costs two queries."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg

from store.queries import Page, equal_clause, time_clauses
from store.report_queries import ReportQueries
from store.columns import rows

LIVE = ("active", "provisional")
NOT_DEER = "SELECT detection_id FROM correction_facts WHERE kind = 'not_deer' AND detection_id IS NOT NULL"
CLASS_CORRECTED = "SELECT detection_id FROM correction_facts WHERE kind = 'class' AND detection_id IS NOT NULL"


@dataclass
class GalleryFilters:
    location: str | None = None
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    season: str | None = None  # a store.queries.SEASON_MONTHS key
    deer_class: str | None = None  # doe | fawn | buck | deer
    age_class: str | None = None  # young | mid | mature (bucks)
    deer_id: int | None = None


def _gallery_where(f: GalleryFilters) -> tuple[list[str], dict]:
    where, params = [], {}
    equal_clause(where, params, "l.name", "location", f.location)
    time_clauses("i.taken_at", f, where, params)
    sub = []  # detection filters: the photo shows such a deer
    for col in ("deer_class", "age_class", "deer_id"):
        equal_clause(sub, params, f"d.{col}", col, getattr(f, col))
    if sub:
        where.append(f"EXISTS (SELECT 1 FROM detections d WHERE d.image_id = i.id AND {' AND '.join(sub)})")
    return where, params


# Uncertain matches: a detection's mean cosine distance to its deer's members is 1 - e.c (c the
# raw-mean centroid, as the clustering and the online assignment use it); the closer to the
# threshold, the more a person's yes/no is worth. A detection a person confirmed is left out.
_UNCERTAIN = f"""
SELECT 'match' AS kind, d.id AS detection_id, d.deer_id, r.name AS deer_name, r.sightings,
       r.representative_id, NULL::bigint AS other_deer_id, NULL::text AS other_name,
       NULL::bigint AS other_representative_id, 1 + (d.embedding <#> r.centroid) AS distance
FROM detections d JOIN deer r ON r.id = d.deer_id
WHERE r.status = ANY(%(live)s) AND d.embedding IS NOT NULL AND r.centroid IS NOT NULL
  AND vector_dims(d.embedding) = vector_dims(r.centroid) AND d.id <> r.representative_id
  AND d.id NOT IN (SELECT detection_id FROM correction_facts WHERE kind = 'same_deer' AND detection_id IS NOT NULL)
  AND d.id NOT IN ({NOT_DEER})"""
# Small deer: too few sightings to trust; its nearest compatible deer is the likely merge. Two buck
# profiles are asked about as a buck pair instead (_BUCK_PAIRS).
_SMALL = """
SELECT 'small_deer' AS kind, r.representative_id AS detection_id, r.id AS deer_id, r.name AS deer_name,
       r.sightings, r.representative_id, n.id, n.name, n.representative_id, n.distance
FROM deer r CROSS JOIN LATERAL (
    SELECT o.id, o.name, o.representative_id, o.sex, (o.centroid <=> r.centroid) AS distance FROM deer o
    WHERE o.id <> r.id AND o.status = ANY(%(live)s) AND o.centroid IS NOT NULL
      AND vector_dims(o.centroid) = vector_dims(r.centroid)
      AND (o.sex = 'unknown' OR r.sex = 'unknown' OR o.sex = r.sex)
    ORDER BY o.centroid <=> r.centroid LIMIT 1) n
WHERE r.status = ANY(%(live)s) AND r.centroid IS NOT NULL AND r.sightings < %(few)s
  AND NOT (r.sex = 'male' AND n.sex = 'male')"""
# Buck pairs: two active buck profiles whose centroids lie no more than `margin` above the re-ID
# threshold (cosine distance), so they may be one buck split in two: each such pair decides the buck
# count by one. A pair a person already called two animals (a "not this deer" fact between their
# detections: the review's "different bucks", or a split) is not asked again.
_BUCK_PAIRS = """
SELECT 'buck_pair' AS kind, a.representative_id AS detection_id, a.id AS deer_id, a.name AS deer_name,
       a.sightings, a.representative_id, b.id AS other_deer_id, b.name AS other_name,
       b.representative_id AS other_representative_id, (a.centroid <=> b.centroid) AS distance,
       abs((a.centroid <=> b.centroid) - %(t)s) AS margin
FROM deer a JOIN deer b ON a.id < b.id
WHERE a.status = 'active' AND b.status = 'active' AND a.sex = 'male' AND b.sex = 'male'
  AND a.centroid IS NOT NULL AND b.centroid IS NOT NULL AND vector_dims(a.centroid) = vector_dims(b.centroid)
  AND (a.centroid <=> b.centroid) <= %(t)s + %(margin)s
  AND NOT EXISTS (
      SELECT 1 FROM correction_facts f JOIN detections x ON x.id = f.detection_id
      JOIN detections y ON y.id = f.other_detection_id
      WHERE f.kind = 'not_this_deer'
        AND ((x.deer_id = a.id AND y.deer_id = b.id) OR (x.deer_id = b.id AND y.deer_id = a.id)))
ORDER BY abs((a.centroid <=> b.centroid) - %(t)s), a.id, b.id"""


class WebQueries:
    """The web UI's reads: gallery, facets, photo sources, census charts, timelines, review queue."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def gallery(self, f: GalleryFilters, page: Page) -> dict:
        """A page of photos, newest first, each with its boxes (never the server path)."""
        where, params = _gallery_where(f)
        cond = f"WHERE {' AND '.join(where)}" if where else ""
        frm = "images i LEFT JOIN locations l ON l.id = i.location_id"
        (total,) = self.conn.execute(f"SELECT count(*) FROM {frm} {cond}", params).fetchone()
        items = rows(self.conn.execute(
            f"SELECT i.id, l.name AS location, i.taken_at, i.width, i.height, i.status FROM {frm} {cond}"
            " ORDER BY i.taken_at DESC NULLS LAST, i.id DESC LIMIT %(limit)s OFFSET %(offset)s",
            {**params, "limit": page.limit, "offset": page.offset}))
        boxes = rows(self.conn.execute(
            f"""SELECT d.image_id, d.id, d.x1, d.y1, d.x2, d.y2, d.confidence, d.observation_type, d.species,
                       d.deer_class, d.age_class, d.deer_id, r.name AS deer_name, d.id IN ({NOT_DEER}) AS not_deer,
                       d.class_label, d.class_confidence, d.id IN ({CLASS_CORRECTED}) AS class_corrected,
                       d.detector_version, d.classifier_version, d.embedder_version
                FROM detections d LEFT JOIN deer r ON r.id = d.deer_id
                WHERE d.image_id = ANY(%s) ORDER BY d.det_index""", ([i["id"] for i in items],)))
        by_image: dict[int, list] = {i["id"]: [] for i in items}
        for b in boxes:
            by_image[b.pop("image_id")].append(b)
        for i in items:
            i["boxes"] = by_image[i["id"]]
        return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}

    def facets(self, max_deer: int = 2000) -> dict:
        """Choices for the filters: locations, the date range, and the live deer."""
        locations = rows(self.conn.execute(
            "SELECT l.name, count(i.id) AS photos FROM locations l LEFT JOIN images i ON i.location_id = l.id"
            " GROUP BY l.name ORDER BY l.name"))
        first, last = self.conn.execute("SELECT min(taken_at)::date, max(taken_at)::date FROM images").fetchone()
        deer = rows(self.conn.execute(
            "SELECT id, name, sex, deer_class, age_class, sightings FROM deer WHERE status = ANY(%s)"
            " ORDER BY sightings DESC, id LIMIT %s", (list(LIVE), max_deer)))
        return {"locations": locations, "first_date": first, "last_date": last, "deer": deer}

    def image_source(self, image_id: int) -> tuple[str, str] | None:
        """(sha256, server path) of a photo, for the thumbnail cache; never sent to clients."""
        return self.conn.execute("SELECT sha256, path FROM images WHERE id = %s", (image_id,)).fetchone()

    def detection_source(self, detection_id: int) -> dict | None:
        found = rows(self.conn.execute(
            "SELECT i.sha256, i.path, d.x1, d.y1, d.x2, d.y2 FROM detections d JOIN images i ON i.id = d.image_id"
            " WHERE d.id = %s", (detection_id,)))
        return found[0] if found else None

    def census(self) -> dict:
        """Deer count, sex ratio, bucks by age, and detections by hour of day and month per location
        (detections marked "not a deer" left out)."""
        report = ReportQueries(self.conn)
        photos, detections = self.conn.execute(
            "SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM detections WHERE deer_class IS NOT NULL)"
        ).fetchone()
        (provisional,) = self.conn.execute("SELECT count(*) FROM deer WHERE status = 'provisional'").fetchone()
        activity = f"""SELECT coalesce(l.name, '(none)') AS location, {{key}} AS key, count(*) AS n
            FROM detections d JOIN images i ON i.id = d.image_id LEFT JOIN locations l ON l.id = i.location_id
            WHERE i.taken_at IS NOT NULL AND d.deer_class IS NOT NULL AND d.id NOT IN ({NOT_DEER})
            GROUP BY 1, 2 ORDER BY 1, 2"""
        return {
            "totals": {**report.deer_totals(), "provisional": provisional, "photos": photos, "detections": detections},
            "bucks_by_age": report.bucks_by_age(),
            "by_hour": rows(self.conn.execute(activity.format(key="extract(hour FROM i.taken_at)::int"))),
            "by_month": rows(self.conn.execute(activity.format(key="to_char(i.taken_at, 'YYYY-MM')"))),
        }

    def deer_timeline(self, deer_id: int, limit: int = 5000) -> list[dict]:
        """Every sighting's time and place, oldest first, for the profile's timeline strip."""
        return rows(self.conn.execute(
            "SELECT d.id, i.taken_at, l.name AS location FROM detections d JOIN images i ON i.id = d.image_id"
            " LEFT JOIN locations l ON l.id = i.location_id WHERE d.deer_id = %s AND i.taken_at IS NOT NULL"
            " ORDER BY i.taken_at LIMIT %s", (deer_id, limit)))

    def buck_pairs(self, threshold: float, margin: float) -> list[dict]:
        """Pairs of buck profiles that may be one buck, closest to the threshold first (_BUCK_PAIRS)."""
        return rows(self.conn.execute(_BUCK_PAIRS, {"t": threshold, "margin": margin}))

    def buck_profiles(self) -> int:
        """Active buck profiles: the bucks the re-ID tells apart."""
        return self.conn.execute("SELECT count(*) FROM deer WHERE status = 'active' AND sex = 'male'").fetchone()[0]

    def review_queue(self, threshold: float, few: int = 3, limit: int = 20,
                     offset: int = 0) -> list[dict]:
        """Matches to confirm and small deer to merge, closest to the threshold first."""
        return rows(self.conn.execute(
            f"SELECT *, abs(distance - %(t)s) AS margin FROM ({_UNCERTAIN} UNION ALL {_SMALL}) q"
            " ORDER BY abs(distance - %(t)s), sightings DESC, detection_id LIMIT %(limit)s OFFSET %(offset)s",
            {"live": list(LIVE), "t": threshold, "few": few, "limit": limit, "offset": offset}))
