"""Ray jobs: bulk reprocessing (the batch pipeline, `python -m thumper process`), and following or
stopping any job the app submitted (training too: serve_apps/routes/models.py)."""
from __future__ import annotations

import shlex
import sys
import time

from fastapi import APIRouter, Depends, HTTPException
from ray.exceptions import AuthenticationError

from models.weights import KNOWN_DETECTORS
from serve_apps.context import ApiContext, get_context
from serve_apps.schemas import Job, ReprocessRequest
from serve_apps.security import require_read, require_write

AGENT_WAIT_S = 20  # how long a submit waits for a starting job agent
router = APIRouter(prefix="/api/jobs", tags=["jobs"])
LOG_TAIL = 4000


def _dashboard(ctx: ApiContext) -> str | None:
    """The configured address, else the dashboard of the cluster this replica runs on (several
    Ray clusters on one machine make Ray's own 'auto' lookup ambiguous)."""
    if ctx.settings.dashboard_address:
        return ctx.settings.dashboard_address
    try:
        from ray._private.services import get_webui_url_from_internal_kv  # no public API for this

        url = get_webui_url_from_internal_kv()
    except Exception:
        return None
    return url if not url or "://" in url else f"http://{url}"


def _refused(e: Exception) -> HTTPException:
    """The job service answered 401/403: the cluster uses token authentication and this replica has
    no token or the wrong one (its token comes from the node: RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or
    ~/.ray/auth_token, sent when RAY_AUTH_MODE=token, which Ray sets for the processes of a
    token-protected cluster). See docs/scale-out.md, Token authentication."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return HTTPException(503, f"the Ray job service refused the request (token authentication): {first}")


def _client(ctx: ApiContext):
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(_dashboard(ctx))
    except AuthenticationError as e:
        raise _refused(e) from None
    except Exception as e:
        raise HTTPException(503, f"the Ray job service (dashboard) is not reachable: {e}") from None


def _weights(spec: str | None, configured: str, known: set[str]) -> str:
    """Only names the server already allows: a client never points the job at a server path."""
    spec = spec or configured
    if spec not in known | {configured}:
        raise HTTPException(422, f"weights {spec!r} are not allowed; use one of {sorted(known | {configured})}")
    return spec


def submit_thumper_job(ctx: ApiContext, args: list[str]) -> Job:
    """Submit `python -m thumper ARGS` as a Ray job (202's body): the app's interpreter, the
    cluster's address when one is configured (--address), and the database URL in the job's
    environment, never on its command line. Used by /api/jobs/reprocess and /api/models/train."""
    from models.settings import env_name
    from store.db import resolve_database_url

    s = ctx.settings
    if s.ray_address:
        args = [*args, "--address", s.ray_address]
    entrypoint = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "thumper", *args])
    env = {env_name("database_url"): resolve_database_url(s.database_url)}
    client = _client(ctx)
    deadline = time.monotonic() + AGENT_WAIT_S
    while True:
        try:
            job_id = client.submit_job(entrypoint=entrypoint, runtime_env={"env_vars": env},
                                       metadata={"source": "thumper-api"})
            break
        except AuthenticationError as e:
            raise _refused(e) from None
        except RuntimeError as e:  # the job service answered but could not take it
            # a node's job agent starts after its raylet: Ray says "try again later", so do, briefly
            if "No available agent" in str(e) and time.monotonic() < deadline:
                time.sleep(1)
                continue
            raise HTTPException(503, f"the Ray job service could not start the job: {e}") from None
    return Job(job_id=job_id, status="PENDING", entrypoint=entrypoint, dashboard_url=_dashboard(ctx))


@router.post("/reprocess", response_model=Job, status_code=202, dependencies=[Depends(require_write)])
def start_reprocess(body: ReprocessRequest, ctx: ApiContext = Depends(get_context)):
    s = ctx.settings
    detector = _weights(body.detector, s.detector, {"demo", *KNOWN_DETECTORS})
    embedder = _weights(body.embedder, s.embedder, {"demo", "latest"})
    classifier = _weights(body.classifier, s.classifier, {"demo", "none", "auto", "latest"})
    args = ["process", "--detector", detector, "--classifier", classifier, "--embedder", embedder]
    args += ["--reprocess"] if body.all else []
    args += ["--retry-failed"] if body.retry_failed else []
    return submit_thumper_job(ctx, args)


@router.get("/{job_id}", response_model=Job, dependencies=[Depends(require_read)])
def get_job(job_id: str, ctx: ApiContext = Depends(get_context)):
    client = _client(ctx)
    try:
        info = client.get_job_info(job_id)
        logs = client.get_job_logs(job_id)
    except AuthenticationError as e:
        raise _refused(e) from None
    except RuntimeError as e:
        raise HTTPException(404, f"job {job_id!r}: {e}") from None
    return Job(job_id=job_id, status=str(info.status.value if hasattr(info.status, "value") else info.status),
               entrypoint=info.entrypoint, message=info.message, logs_tail=logs[-LOG_TAIL:],
               dashboard_url=_dashboard(ctx))


@router.post("/{job_id}/stop", response_model=Job, dependencies=[Depends(require_write)])
def stop_job(job_id: str, ctx: ApiContext = Depends(get_context)):
    client = _client(ctx)
    try:
        client.stop_job(job_id)
        info = client.get_job_info(job_id)
    except AuthenticationError as e:
        raise _refused(e) from None
    except RuntimeError as e:
        raise HTTPException(404, f"job {job_id!r}: {e}") from None
    return Job(job_id=job_id, status=str(getattr(info.status, "value", info.status)), message=info.message)
