"""Read queries for the REST API: filtered, paginated lists of images, detections and deer."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from store.columns import DETECTION_COLUMNS, IMAGE_COLUMNS, rows

# by the photo's camera-local month; the rut runs September to January, across the new year
SEASON_MONTHS = {"winter": [12, 1, 2], "spring": [3, 4, 5], "summer": [6, 7, 8], "fall": [9, 10, 11],
                 "rut": [9, 10, 11, 12, 1]}


@dataclass
class Filters:
    location: str | None = None
    date_from: date | None = None  # inclusive, camera-local date
    date_to: date | None = None  # inclusive
    season: str | None = None  # a SEASON_MONTHS key
    deer_class: str | None = None  # doe | fawn | buck | deer
    deer_id: int | None = None
    status: str | None = None  # image status for images, deer status for deer


@dataclass
class Page:
    limit: int = 50
    offset: int = 0


def equal_clause(where: list[str], params: dict, column: str, name: str, value) -> None:
    """`column = value` when a filter is set (None or empty means "any")."""
    if value is not None and value != "":
        where.append(f"{column} = %({name})s")
        params[name] = value


def time_clauses(col: str, f, where: list[str], params: dict) -> None:
    """Date range (inclusive, camera-local days) and season of any filters with date_from,
    date_to and season."""
    if f.date_from:
        where.append(f"{col} >= %(date_from)s")
        params["date_from"] = f.date_from
    if f.date_to:
        where.append(f"{col} < %(date_to)s")
        params["date_to"] = f.date_to + timedelta(days=1)
    if f.season:
        where.append(f"extract(month FROM {col})::int = ANY(%(months)s)")
        params["months"] = SEASON_MONTHS[f.season]


DEER_COLUMNS = ("deer.id, deer.name, deer.sex, deer.deer_class, deer.age_class, deer.status, deer.merged_into,"
                " deer.first_seen, deer.last_seen, deer.sightings, deer.locations, deer.representative_id,"
                " deer.created_at, deer.updated_at")


class BrowseQueries:
    """The REST API's filtered, paginated reads of images, detections, deer and runs."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def _page(self, select: str, frm: str, where: list[str], params: dict, order: str, page: Page) -> dict:
        cond = f"WHERE {' AND '.join(where)}" if where else ""
        (total,) = self.conn.execute(f"SELECT count(*) FROM {frm} {cond}", params).fetchone()
        items = rows(self.conn.execute(f"SELECT {select} FROM {frm} {cond} ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s",
                                  {**params, "limit": page.limit, "offset": page.offset}))
        return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}

    def list_images(self, f: Filters, page: Page) -> dict:
        where, params = [], {}
        equal_clause(where, params, "l.name", "location", f.location)
        equal_clause(where, params, "i.status", "status", f.status)
        time_clauses("i.taken_at", f, where, params)
        sub = ["d.image_id = i.id"]  # the photo shows such a deer
        equal_clause(sub, params, "d.deer_class", "deer_class", f.deer_class)
        equal_clause(sub, params, "d.deer_id", "deer_id", f.deer_id)
        if len(sub) > 1:
            where.append(f"EXISTS (SELECT 1 FROM detections d WHERE {' AND '.join(sub)})")
        select = IMAGE_COLUMNS + ", (SELECT count(*) FROM detections d WHERE d.image_id = i.id) AS detections"
        return self._page(select, "images i LEFT JOIN locations l ON l.id = i.location_id", where, params,
                     "i.taken_at DESC NULLS LAST, i.id DESC", page)

    def get_image(self, image_id: int) -> dict | None:
        """One image (never its server path) and its detections with their deer."""
        found = rows(self.conn.execute(
            f"SELECT {IMAGE_COLUMNS} FROM images i LEFT JOIN locations l ON l.id = i.location_id WHERE i.id = %s",
            (image_id,)))
        if not found:
            return None
        image = found[0]
        image["detections"] = rows(self.conn.execute(
            f"SELECT {DETECTION_COLUMNS} FROM detections d LEFT JOIN deer ON deer.id = d.deer_id"
            " WHERE d.image_id = %s ORDER BY d.det_index", (image_id,)))
        return image

    def list_detections(self, f: Filters, page: Page) -> dict:
        where, params = [], {}
        equal_clause(where, params, "l.name", "location", f.location)
        equal_clause(where, params, "d.deer_class", "deer_class", f.deer_class)
        equal_clause(where, params, "d.deer_id", "deer_id", f.deer_id)
        equal_clause(where, params, "deer.status", "status", f.status)  # e.g. only provisional assignments
        time_clauses("i.taken_at", f, where, params)
        select = DETECTION_COLUMNS + ", i.taken_at, l.name AS location"
        frm = ("detections d JOIN images i ON i.id = d.image_id LEFT JOIN locations l ON l.id = i.location_id"
               " LEFT JOIN deer ON deer.id = d.deer_id")
        return self._page(select, frm, where, params, "i.taken_at DESC NULLS LAST, d.id DESC", page)

    def list_deer(self, f: Filters, page: Page) -> dict:
        where, params = [], {}
        equal_clause(where, params, "deer.status", "status", f.status)
        equal_clause(where, params, "deer.deer_class", "deer_class", f.deer_class)
        equal_clause(where, params, "deer.id", "deer_id", f.deer_id)
        if f.location or f.date_from or f.date_to or f.season:  # seen there / then: by its detections
            sub = ["d.deer_id = deer.id"]
            equal_clause(sub, params, "l.name", "location", f.location)
            time_clauses("i.taken_at", f, sub, params)
            where.append("EXISTS (SELECT 1 FROM detections d JOIN images i ON i.id = d.image_id"
                         f" LEFT JOIN locations l ON l.id = i.location_id WHERE {' AND '.join(sub)})")
        return self._page(DEER_COLUMNS, "deer", where, params, "deer.sightings DESC, deer.id", page)

    def get_deer(self, deer_id: int, page: Page) -> dict | None:
        """A deer with one page of its sightings (detections with their photo's time and place)."""
        found = rows(self.conn.execute(f"SELECT {DEER_COLUMNS} FROM deer WHERE deer.id = %s", (deer_id,)))
        if not found:
            return None
        deer = found[0]
        deer["sightings_page"] = self.list_detections(Filters(deer_id=deer_id), page)
        return deer

    def processing_status(self) -> dict:
        counts = dict.fromkeys(("pending", "processing", "completed", "failed"), 0)
        counts.update(self.conn.execute("SELECT status, count(*) FROM images GROUP BY status").fetchall())
        cols = ("id, kind, status, source, detector_version, embedder_version, images_claimed, images_completed,"
                " images_failed, detections, error, started_at, finished_at")
        running = rows(self.conn.execute(f"SELECT {cols} FROM runs WHERE status = 'running' ORDER BY id DESC"))
        recent = rows(self.conn.execute(f"SELECT {cols} FROM runs ORDER BY id DESC LIMIT 5"))
        (deer,) = self.conn.execute("SELECT count(*) FROM deer WHERE status = ANY(%s)", (["active", "provisional"],)).fetchone()
        return {"images": counts, "total": sum(counts.values()), "running": running, "recent_runs": recent,
                "deer": deer}
