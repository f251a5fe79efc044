"""POST /api/images: upload photos for online detection and re-ID."""
from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile

from serve_apps.context import ApiContext, get_context
from serve_apps.photos import CheckedPhoto, PhotoRejected, check_photo
from serve_apps.schemas import UploadedImage, UploadResponse
from serve_apps.security import require_write
from serve_apps.upload_service import ModelUnavailable

router = APIRouter(prefix="/api", tags=["upload"])

# a camera location is a label, never a path; letters, digits and a little punctuation
LOCATION_PATTERN = r"^[\w][\w .,'()&#-]{0,99}$"


@router.post("/images", response_model=UploadResponse, dependencies=[Depends(require_write)],
             responses={401: {"description": "missing API key"}, 403: {"description": "wrong API key"},
                        413: {"description": "file or body too large, or too many pixels"},
                        415: {"description": "not a JPEG or PNG"}, 422: {"description": "truncated or corrupt"},
                        503: {"description": "models unavailable; photos are kept pending"}})
async def upload_images(
    files: Annotated[list[UploadFile], File(description="one or more JPEG/PNG photos")],
    location: Annotated[str, Form(description="camera location name, e.g. 270_Jason", pattern=LOCATION_PATTERN)],
    ctx: ApiContext = Depends(get_context),
) -> UploadResponse:
    """Store each photo (deduplicated by content), read its EXIF, detect deer, embed them and assign
    each to its nearest deer profile (or a new provisional one). Every file is checked first: if
    any is rejected, nothing at all is written."""
    s = ctx.settings
    if len(files) > s.max_files:
        raise HTTPException(413, f"{len(files)} files: at most {s.max_files} per request; nothing was stored")
    models = await ctx.uploads.ensure_ready()
    checked: list[tuple[str | None, CheckedPhoto]] = []
    for f in files:
        name = f.filename
        if f.size is not None and f.size > s.max_upload_bytes:
            raise HTTPException(413, f"{name!r}: {f.size} bytes is over the {s.max_upload_bytes} byte limit; "
                                     "nothing was stored")
        data = await f.read(s.max_upload_bytes + 1)
        if len(data) > s.max_upload_bytes:
            raise HTTPException(413, f"{name!r}: over the {s.max_upload_bytes} byte limit; nothing was stored")
        try:
            photo = await asyncio.to_thread(check_photo, data, models["detector"]["imgsz"], s.max_pixels)
        except PhotoRejected as e:
            raise HTTPException(e.status, f"{name!r}: {e.message}; nothing was stored") from None
        checked.append((name, photo))
    out = []
    for name, photo in checked:
        try:
            done = await ctx.uploads.upload(photo, location.strip())
        except ModelUnavailable as e:
            raise HTTPException(503, f"{name!r}: {e}; the photo is stored and pending for a batch run") from None
        out.append(UploadedImage(**done.image, duplicate=done.duplicate, filename=name))
    return UploadResponse(images=out)
