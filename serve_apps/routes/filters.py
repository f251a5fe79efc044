"""Query parameters shared by the list endpoints."""
from __future__ import annotations

from datetime import date

from fastapi import HTTPException, Query

from serve_apps.schemas import DeerClass, Season
from store.queries import Filters, Page


def page(limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10_000_000)) -> Page:
    return Page(limit, offset)


def common_filters(
    location: str | None = Query(None, max_length=100, description="camera location name"),
    date_from: date | None = Query(None, description="taken on or after (camera-local date)"),
    date_to: date | None = Query(None, description="taken on or before"),
    season: Season | None = Query(None, description="rut = Sep-Jan, winter = Dec-Feb, spring = Mar-May, ..."),
    deer_class: DeerClass | None = Query(None),
    deer_id: int | None = Query(None, ge=1),
) -> Filters:
    if date_from and date_to and date_from > date_to:
        raise HTTPException(422, "date_from is after date_to")
    return Filters(location=location, date_from=date_from, date_to=date_to, season=season,
                   deer_class=deer_class, deer_id=deer_id)
