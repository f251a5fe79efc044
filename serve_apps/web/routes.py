"""JSON endpoints of the web UI beyond the REST API: gallery pages with boxes, filter choices,
cached thumbnails and crops, census charts, a deer's timeline, and the review queue."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse

from serve_apps.context import ApiContext, get_context
from serve_apps.routes.filters import page
from serve_apps.routes.jobs import _dashboard
from serve_apps.schemas import DeerClass, Season
from serve_apps.security import require_read, require_write
from serve_apps.web import thumbnails
from pipelines.corrections import confirm_match
from store.web_queries import GalleryFilters
from store.embedded import data_dir

router = APIRouter(tags=["web"])
reads = [Depends(require_read)]
AgeClass = Literal["fawn", "young", "mid", "mature"]
# a photo's content never changes under its id, so browsers may keep thumbnails for a day
IMAGE_CACHE = {"Cache-Control": "private, max-age=86400"}


def _cache_dir() -> Path:
    return data_dir() / "thumbnails"


@router.get("/api/web/gallery", dependencies=reads)
def gallery(location: str | None = Query(None, max_length=100), date_from: date | None = None,
            date_to: date | None = None, season: Season | None = None,
            deer_class: DeerClass | None = None, age_class: AgeClass | None = None,
            deer_id: int | None = Query(None, ge=1), p=Depends(page), ctx: ApiContext = Depends(get_context)):
    """Photos newest first, each with its boxes (normalised xyxy), one page at a time."""
    if date_from and date_to and date_from > date_to:
        raise HTTPException(422, "date_from is after date_to")
    f = GalleryFilters(location, date_from, date_to, season, deer_class, age_class, deer_id)
    with ctx.pool.store() as s:
        return s.web.gallery(f, p)


@router.get("/api/web/facets", dependencies=reads)
def facets(ctx: ApiContext = Depends(get_context)):
    """Locations, date range and live deer, for the filter controls."""
    with ctx.pool.store() as s:
        return s.web.facets()


@router.get("/api/images/{image_id}/thumbnail", dependencies=reads, response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}}}})
def image_thumbnail(image_id: int, size: int = Query(320, description=f"longest side, one of {thumbnails.SIZES}"),
                    ctx: ApiContext = Depends(get_context)):
    """A JPEG of the photo, made once and cached; grids never load full photos."""
    if size not in thumbnails.SIZES:
        raise HTTPException(422, f"size must be one of {thumbnails.SIZES}")
    with ctx.pool.store() as s:
        found = s.web.image_source(image_id)
    if found is None:
        raise HTTPException(404, f"image {image_id} not found")
    sha, path = found
    try:
        out = thumbnails.thumbnail(_cache_dir(), sha, Path(path), size)
    except (OSError, ValueError):  # the photo moved, or it never decoded (a failed image)
        raise HTTPException(404, f"image {image_id} has no readable file") from None
    return FileResponse(out, media_type="image/jpeg", headers=IMAGE_CACHE)


@router.get("/api/detections/{detection_id}/crop", dependencies=reads, response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}}}})
def detection_crop(detection_id: int, size: int = Query(256, description=f"one of {thumbnails.CROP_SIZES}"),
                   ctx: ApiContext = Depends(get_context)):
    """The detection's box cut from its photo (deer cards, review), made once and cached."""
    if size not in thumbnails.CROP_SIZES:
        raise HTTPException(422, f"size must be one of {thumbnails.CROP_SIZES}")
    with ctx.pool.store() as s:
        det = s.web.detection_source(detection_id)
    if det is None:
        raise HTTPException(404, f"detection {detection_id} not found")
    box = (det["x1"], det["y1"], det["x2"], det["y2"])
    try:
        out = thumbnails.crop(_cache_dir(), det["sha256"], Path(det["path"]), box, size)
    except (OSError, ValueError):
        raise HTTPException(404, f"detection {detection_id}: its photo has no readable file") from None
    return FileResponse(out, media_type="image/jpeg", headers=IMAGE_CACHE)


@router.get("/api/web/census", dependencies=reads)
def census(ctx: ApiContext = Depends(get_context)):
    """Deer count, sex ratio, bucks by age, detections by hour of day and by month per location."""
    with ctx.pool.store() as s:
        return s.web.census()


@router.get("/api/web/deer/{deer_id}/timeline", dependencies=reads)
def deer_timeline(deer_id: int, ctx: ApiContext = Depends(get_context)):
    with ctx.pool.store() as s:
        return s.web.deer_timeline(deer_id)


@router.get("/api/web/review", dependencies=reads)
def review_queue(p=Depends(page), ctx: ApiContext = Depends(get_context)):
    """Uncertain matches and small deer, those whose distance is closest to the re-ID threshold first."""
    with ctx.pool.store() as s:
        items = s.web.review_queue(ctx.settings.max_distance, limit=p.limit, offset=p.offset)
    return {"threshold": ctx.settings.max_distance, "items": items}


@router.post("/api/web/review/{detection_id}/confirm", dependencies=[Depends(require_write)])
def confirm(detection_id: int, ctx: ApiContext = Depends(get_context)):
    """Yes, this detection is its deer: kept together by every later re-ID run."""
    with ctx.pool.store() as s:
        deer_id = confirm_match(s.reid, detection_id)  # a CorrectionError is answered by serve_apps.api
    return {"deer_id": deer_id}


@router.get("/api/web/processing", dependencies=reads)
def processing(ctx: ApiContext = Depends(get_context)):
    """Processing status plus the Ray dashboard's address (for the link)."""
    with ctx.pool.store() as s:
        status = s.browse.processing_status()
    return {**status, "dashboard_url": _dashboard(ctx)}
