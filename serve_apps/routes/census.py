"""The census estimate (docs/census.md): bucks, does, fawns and their total with 95% intervals, for
a site and a survey window, computed from what is stored (pipelines.census_estimate), so it is the
same figure `thumper report` prints."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, HTTPException, Query

from pipelines.census_estimate import census_estimate, survey_window
from pipelines.estimate import SEASONS
from serve_apps.context import ApiContext, get_context
from serve_apps.schemas import CensusEstimate
from serve_apps.security import require_read

router = APIRouter(prefix="/api", tags=["census"])
PRESETS = ["last-14-days", *SEASONS]
N_BOOT = 1000


@router.get("/census/estimate", response_model=CensusEstimate, dependencies=[Depends(require_read)])
def estimate(location: str | None = Query(None, max_length=100, description="one camera location; none: all pooled"),
             date_from: date | None = Query(None, description="first day of the survey window (camera-local)"),
             date_to: date | None = Query(None, description="last day (alone: the 14 days ending then)"),
             season: str | None = Query(None, max_length=40, pattern=r"^[a-z0-9-]+$",
                                        description="instead of dates: last-14-days, last-N-days, rut (the latest, "
                                                    "Sep 1 - Jan 31), rut-2024, late-summer, late-summer-2024"),
             ctx: ApiContext = Depends(get_context)):
    """The census of a site over a survey window (default: the last 14 days of deer photos):
    antlered bucks identified one by one, does and fawns from photo ratios over bursts; a figure
    the data cannot support carries `refused` instead of a number. Seeded: the same photos and
    corrections give the same answer."""
    if date_from and date_to and date_from > date_to:
        raise HTTPException(422, "date_from is after date_to")
    with ctx.pool.store() as s:
        if location is not None and location not in s.reports.location_names():
            raise HTTPException(404, f"no location {location!r}")
        try:
            window = survey_window(s, season, date_from, date_to, location)
        except ValueError as e:
            raise HTTPException(422, str(e)) from None
        est = census_estimate(s, window, location, n_boot=N_BOOT)
    return {**est.to_dict(), "presets": PRESETS}
