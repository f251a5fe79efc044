"""Deer profiles: list and detail with sightings (reads), and the re-ID corrections (writes)."""
from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Depends, HTTPException, Query

from serve_apps.context import ApiContext, get_context
from serve_apps.routes.filters import common_filters, page
from serve_apps.schemas import (CorrectionDone, Deer, DeerDetail, DeerStatus, MergeInto, MoveTo, Page, Rename,
                                SetClass, SplitOff)
from serve_apps.security import require_read, require_write
from pipelines import corrections
from store.queries import Page as QueryPage

router = APIRouter(prefix="/api", tags=["deer"])
reads = [Depends(require_read)]
writes = [Depends(require_write)]


@router.get("/deer", response_model=Page[Deer], dependencies=reads)
def list_deer(f=Depends(common_filters), p=Depends(page), status: DeerStatus | None = Query(None),
              ctx: ApiContext = Depends(get_context)):
    """Profiles, most sighted first. location / dates / season: seen there or then."""
    with ctx.pool.store() as s:
        return s.browse.list_deer(replace(f, status=status), p)


@router.get("/deer/{deer_id}", response_model=DeerDetail, dependencies=reads)
def get_deer(deer_id: int, p=Depends(page), ctx: ApiContext = Depends(get_context)):
    """One profile with a page of its sightings."""
    with ctx.pool.store() as s:
        deer = s.browse.get_deer(deer_id, p)
    if deer is None:
        raise HTTPException(404, f"deer {deer_id} not found")
    return deer


def _apply(ctx: ApiContext, op, *args, show: int | None = None) -> CorrectionDone:
    """Run one of the re-ID corrections (pipelines.corrections: applied now, kept as facts)."""
    with ctx.pool.store() as s:
        result = op(s.reid, *args)  # a CorrectionError is answered by serve_apps.api (404 / 409)
        shown = s.browse.get_deer(show, QueryPage(1, 0)) if show else None
    return CorrectionDone(deer_id=result if isinstance(result, int) else None, deer=shown)


@router.post("/deer/{deer_id}/rename", response_model=CorrectionDone, dependencies=writes)
def rename(deer_id: int, body: Rename, ctx: ApiContext = Depends(get_context)):
    return _apply(ctx, corrections.rename, deer_id, body.name.strip(), show=deer_id)


@router.post("/deer/{deer_id}/merge", response_model=CorrectionDone, dependencies=writes)
def merge(deer_id: int, body: MergeInto, ctx: ApiContext = Depends(get_context)):
    """deer_id is the same animal as `into`: its sightings move there and it is marked merged."""
    return _apply(ctx, corrections.merge, deer_id, body.into, show=body.into)


@router.post("/deer/{deer_id}/split", response_model=CorrectionDone, dependencies=writes)
def split(deer_id: int, body: SplitOff, ctx: ApiContext = Depends(get_context)):
    """These detections of deer_id are another animal: they become a new profile."""
    done = _apply(ctx, corrections.split, deer_id, body.detection_ids, show=None)
    if body.name:  # the new deer's id stays the answer (rename itself returns none)
        named = _apply(ctx, corrections.rename, done.deer_id, body.name.strip(), show=done.deer_id)
        return CorrectionDone(deer_id=done.deer_id, deer=named.deer)
    return done


@router.post("/detections/{detection_id}/move", response_model=CorrectionDone, dependencies=writes)
def move(detection_id: int, body: MoveTo, ctx: ApiContext = Depends(get_context)):
    return _apply(ctx, corrections.move, detection_id, body.deer_id, show=body.deer_id)


@router.post("/detections/{detection_id}/class", response_model=CorrectionDone, dependencies=writes)
def set_class(detection_id: int, body: SetClass, ctx: ApiContext = Depends(get_context)):
    """Doe, fawn, buck (with age class) or deer of unknown sex: stored as a fact that every
    reprocess keeps; 409 for an age on a doe, or for a person or vehicle."""
    return _apply(ctx, corrections.set_class, detection_id, body.deer_class, body.age_class)


@router.post("/detections/{detection_id}/not-deer", response_model=CorrectionDone, dependencies=writes)
def not_deer(detection_id: int, ctx: ApiContext = Depends(get_context)):
    return _apply(ctx, corrections.not_deer, detection_id)


@router.post("/detections/{detection_id}/not-this-deer", response_model=CorrectionDone, dependencies=writes)
def not_this_deer(detection_id: int, ctx: ApiContext = Depends(get_context)):
    return _apply(ctx, corrections.not_this_deer, detection_id)
