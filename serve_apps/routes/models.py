"""The model registry over REST (docs/training.md): list the versions (no server paths), activate
one, and train the next one as a Ray job (`python -m thumper train classifier`, as `thumper train`
runs it). With `classifier: latest` the app's describer follows an activation at once."""
from __future__ import annotations

import asyncio
import logging
from pathlib import PurePath

from fastapi import APIRouter, Depends, HTTPException

from serve_apps.context import ApiContext, get_context
from serve_apps.routes.jobs import submit_thumper_job
from serve_apps.schemas import Activated, Job, ModelList, Serving, TrainRequest
from serve_apps.security import require_read, require_write

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/models", tags=["models"])
LATEST = "latest"
INFO_TIMEOUT_S = 10


def _public(v: dict) -> dict:
    return {k: v[k] for k in v if k != "path"}  # never a server path


def _spec(spec: str | None) -> str | None:
    """A setting as it may be shown: a weights path by its file name only (never a server path)."""
    return f"file {PurePath(spec).name}" if spec and ("/" in spec or "\\" in spec) else spec


async def _serving(ctx: ApiContext, reload: bool = False) -> Serving | None:
    """The describer's models now; with `reload`, after it re-read the registry (and the upload
    service's record of them updated). None without model deployments (or when they do not answer)."""
    uploads = ctx.uploads
    if getattr(uploads, "describer", None) is None:
        return None
    try:
        info = await asyncio.wait_for(uploads.reload_models() if reload else uploads.describer.info.remote(),
                                      INFO_TIMEOUT_S)
    except Exception:
        log.exception("asking the describer deployment for its models")
        return None
    return Serving(classifier_spec=_spec(ctx.settings.classifier),
                   classifier=info.get("classifier"), embedder=info.get("embedder"))


@router.get("", response_model=ModelList, dependencies=[Depends(require_read)])
async def list_models(ctx: ApiContext = Depends(get_context)):
    """Every registered version (detector, classifier, embedder), oldest first per kind: its sha256,
    parent, training data summary, held-out metrics (its own and its parent's), which is active;
    and what the app's uploads use now."""
    def read():
        with ctx.pool.store() as s:
            return s.models.list()

    versions = await asyncio.to_thread(read)
    return ModelList(versions=[_public(v) for v in versions], serving=await _serving(ctx))


@router.post("/{version_id}/activate", response_model=Activated, dependencies=[Depends(require_write)])
async def activate(version_id: int, ctx: ApiContext = Depends(get_context)):
    """Make this version the active one of its kind: what `latest` resolves to for later runs
    (`thumper process --classifier latest`, reprocess jobs) and, when the app's classifier setting
    is `latest`, for the next upload at once."""
    def write():
        with ctx.pool.store() as s:
            return s.models.activate(version_id)

    found = await asyncio.to_thread(write)
    if found is None:
        raise HTTPException(404, f"no model version {version_id}")
    kind, s = found["kind"], ctx.settings
    follows = kind == "classifier" and s.classifier == LATEST
    serving = await _serving(ctx, reload=follows)
    if follows:
        note = ("uploads use it from now on" if serving and serving.classifier == found["version"]
                else "the app's classifier is 'latest': its replicas load it within seconds")
    elif kind == "classifier":
        note = (f"the app's classifier is {_spec(s.classifier)!r}, not 'latest': uploads keep theirs; runs and "
                "reprocess jobs with --classifier latest use this one")
    elif kind == "embedder":
        note = ("runs with --embedder latest use it; the app loads an embedder when it starts (restart it after "
                "`thumper process --reprocess --embedder latest` and `thumper reid`, so profiles and new "
                "uploads share one embedding space)")
    else:
        note = "runs with --detector latest use it; the app loads its detector when it starts"
    return Activated(version=_public(found), serving=serving, note=note)


@router.post("/train", response_model=Job, status_code=202, dependencies=[Depends(require_write)])
def train(body: TrainRequest, ctx: ApiContext = Depends(get_context)):
    """Train the next version from the corrections in the store as a Ray job (`thumper train
    classifier`: fine-tunes the active classifier on Ray Train, scores it against its parent on the
    same held-out crops, registers it, and activates it if it is better). Follow it with
    GET /api/jobs/{job_id}; it shows in the Ray dashboard's Jobs and Train views."""
    args = ["train", body.kind]
    if body.epochs is not None:
        args += ["--epochs", str(body.epochs)]
    if body.activate is not None:
        args += ["--activate", body.activate]
    return submit_thumper_job(ctx, args)
