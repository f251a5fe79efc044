"""Health and processing status."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from serve_apps.context import ApiContext, get_context
from serve_apps.schemas import Health, ProcessingStatus
from serve_apps.security import require_read

router = APIRouter(tags=["status"])


@router.get("/health", response_model=Health)
def health(ctx: ApiContext = Depends(get_context)):
    """Liveness for load balancers: no key needed, nothing private in it."""
    try:
        with ctx.pool.store() as s:
            s.ping()
        db = True
    except Exception:
        db = False
    return Health(status="ok" if db else "degraded", database=db, models=ctx.uploads.models,
                  run_id=ctx.uploads.run_id)


@router.get("/api/processing/status", response_model=ProcessingStatus, dependencies=[Depends(require_read)])
def processing_status(ctx: ApiContext = Depends(get_context)):
    """Photo counts by status, runs in progress (batch jobs and this server's own) and recent runs."""
    with ctx.pool.store() as s:
        return s.browse.processing_status()
