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
from pipelines.corrections import buck_count_either_way, confirm_match, different_deer
from store.web_queries import GalleryFilters
from store.embedded import data_dir

router = APIRouter(tags=["web"])
reads = [Depends(require_read)]
AgeClass = Literal["fawn", "young", "mid", "mature"]
BUCK_PAIR_MARGIN = 0.15  # buck pairs asked about: centroid distance up to the threshold plus this
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
    """Buck pairs first (two buck profiles that may be one buck: each decides the buck count), then
    uncertain matches and small deer; within each, those whose distance is closest to the re-ID
    threshold first. `bucks`: how many pairs are left and the buck count if all or none are one buck."""
    t = ctx.settings.max_distance
    with ctx.pool.store() as s:
        pairs = s.web.buck_pairs(t, BUCK_PAIR_MARGIN)
        bucks = s.web.buck_profiles()
        rest = s.web.review_queue(t, limit=p.offset + p.limit, offset=0)
    if_all, if_none = buck_count_either_way(bucks, [(x["deer_id"], x["other_deer_id"]) for x in pairs])
    return {"threshold": t, "items": (pairs + rest)[p.offset:p.offset + p.limit],
            "bucks": {"pairs_left": len(pairs), "buck_profiles": bucks, "if_all_same": if_all, "if_none": if_none}}


@router.post("/api/web/review/pairs/{deer_id}/{other_id}/different", dependencies=[Depends(require_write)])
def different_bucks(deer_id: int, other_id: int, ctx: ApiContext = Depends(get_context)):
    """No, these two profiles are two animals: kept apart by every later re-ID run, never asked again."""
    with ctx.pool.store() as s:
        different_deer(s.reid, deer_id, other_id)  # a CorrectionError is answered by serve_apps.api
    return {"deer_id": deer_id, "other_deer_id": other_id}


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
