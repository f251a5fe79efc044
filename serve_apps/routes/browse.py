"""Read API: images and detections, paginated and filterable."""
from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Depends, HTTPException, Query

from serve_apps.context import ApiContext, get_context
from serve_apps.routes.filters import common_filters, page
from serve_apps.schemas import DeerStatus, Detection, Image, ImageDetail, ImageStatus, Page
from serve_apps.security import require_read

router = APIRouter(prefix="/api", tags=["browse"], dependencies=[Depends(require_read)])


@router.get("/images", response_model=Page[Image])
def list_images(f=Depends(common_filters), p=Depends(page), status: ImageStatus | None = Query(None),
                ctx: ApiContext = Depends(get_context)):
    """Photos, newest first; deer_class / deer_id keep photos with such a detection."""
    with ctx.pool.store() as s:
        return s.browse.list_images(replace(f, status=status), p)


@router.get("/images/{image_id}", response_model=ImageDetail)
def get_image(image_id: int, ctx: ApiContext = Depends(get_context)):
    with ctx.pool.store() as s:
        image = s.browse.get_image(image_id)
    if image is None:
        raise HTTPException(404, f"image {image_id} not found")
    return image


@router.get("/detections", response_model=Page[Detection])
def list_detections(f=Depends(common_filters), p=Depends(page),
                    deer_status: DeerStatus | None = Query(None, description="status of the assigned deer"),
                    ctx: ApiContext = Depends(get_context)):
    with ctx.pool.store() as s:
        return s.browse.list_detections(replace(f, status=deer_status), p)
