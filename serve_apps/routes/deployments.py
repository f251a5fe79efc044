"""Deployments (a camera at a location for a period), their clock corrections and survey effort:
the same code as `thumper cameras` (pipelines.timefix, pipelines.effort)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query

from pipelines import timefix
from pipelines.effort import GAP_DAYS, by_site, effort
from serve_apps.context import ApiContext, get_context
from serve_apps.schemas import (Deployment, DeploymentDetail, DeploymentEdit, TimeCorrectionDone, TimeCorrectionIn,
                                TimeCorrectionOut)
from serve_apps.security import require_read, require_write
from store.deployments import DeploymentError, DeploymentNotFound

router = APIRouter(prefix="/api", tags=["deployments"])
reads, writes = [Depends(require_read)], [Depends(require_write)]


def _refused(e: DeploymentError) -> HTTPException:
    return HTTPException(404 if isinstance(e, DeploymentNotFound) else 422, str(e))


def _iso(t) -> str | None:
    return t.isoformat(sep=" ") if t else None


@router.get("/deployments", response_model=list[Deployment], dependencies=reads)
def list_deployments(location: str | None = Query(None, max_length=100), ctx: ApiContext = Depends(get_context)):
    with ctx.pool.store() as s:
        return s.deployments.list(location)


@router.get("/deployments/{deployment_id}", response_model=DeploymentDetail, dependencies=reads)
def get_deployment(deployment_id: int, ctx: ApiContext = Depends(get_context)):
    with ctx.pool.store() as s:
        try:
            d = s.deployments.get(deployment_id)
        except DeploymentError as e:
            raise _refused(e) from None
        fixes = s.deployments.corrections(deployment_id)
    return {**d, "time_corrections": [
        TimeCorrectionOut(id=c.id, kind=c.kind, description=timefix.describe(c), range_start=c.range_start,
                          range_end=c.range_end, note=c.note, created_at=c.created_at, undone=c.undone_at is not None)
        for c in fixes]}


@router.patch("/deployments/{deployment_id}", response_model=Deployment, dependencies=writes)
def edit_deployment(deployment_id: int, body: DeploymentEdit, ctx: ApiContext = Depends(get_context)):
    values = body.model_dump(exclude_unset=True)
    try:
        if values.get("time_zone"):
            timefix.check_time_zone(values["time_zone"])
        with ctx.pool.store() as s:
            return s.deployments.update(deployment_id, values)
    except DeploymentError as e:
        raise _refused(e) from None


@router.post("/deployments/{deployment_id}/time-corrections", response_model=TimeCorrectionDone, status_code=201,
             dependencies=writes)
def correct_time(deployment_id: int, body: TimeCorrectionIn, ctx: ApiContext = Depends(get_context)):
    try:
        with ctx.pool.store() as s:
            done = timefix.add_correction(s, deployment_id, body.kind, by=body.by, camera_said=_iso(body.camera_said),
                                          true_time=_iso(body.true_time), start=_iso(body.start), end=_iso(body.end),
                                          note=body.note)
            return TimeCorrectionDone(correction_id=done.correction_id, photos_changed=done.photos_changed,
                                      bursts=done.bursts, deployment=s.deployments.get(deployment_id))
    except DeploymentError as e:
        raise _refused(e) from None


@router.post("/time-corrections/{correction_id}/undo", response_model=TimeCorrectionDone, dependencies=writes)
def undo_time_correction(correction_id: int, ctx: ApiContext = Depends(get_context)):
    try:
        with ctx.pool.store() as s:
            c, done = timefix.undo(s, correction_id)
            return TimeCorrectionDone(correction_id=correction_id, photos_changed=done.photos_changed,
                                      bursts=done.bursts, deployment=s.deployments.get(c.deployment_id))
    except DeploymentError as e:
        raise _refused(e) from None


@router.get("/effort", dependencies=reads)
def survey_effort(location: str | None = Query(None, max_length=100),
                  gap_days: float = Query(GAP_DAYS, ge=0, le=365), ctx: ApiContext = Depends(get_context)):
    """Trap-nights per deployment and independent events (bursts) per 100 trap-nights by class and
    site (pipelines/effort.py: photo-free stretches over gap_days count as the camera not working)."""
    with ctx.pool.store() as s:
        efforts = effort(s, gap_days, location)
    return {"gap_days": gap_days,
            "deployments": [{"deployment_id": e.deployment_id, "location": e.location, "camera": e.camera,
                             "start": e.start, "end": e.end, "trap_nights": e.trap_nights,
                             "not_working": [{"from": a, "to": b} for a, b in e.gaps], "events": e.events}
                            for e in efforts],
            "sites": by_site(efforts)}
