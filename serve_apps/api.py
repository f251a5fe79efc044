"""The ingress deployment: a FastAPI app (OpenAPI at /docs) whose upload route calls the detector
and the crop-model (classifier + embedder) deployments through DeploymentHandles."""
from __future__ import annotations

import logging

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from ray import serve
from ray.serve.handle import DeploymentHandle

from pipelines.corrections import CorrectionError, NotFound
from serve_apps.context import ApiContext, install
from store import DatabaseUnavailable, unavailable_reason
from serve_apps.routes import auth, browse, census, deer, deployments, jobs, status, uploads
from serve_apps.routes import models as model_routes
from serve_apps.security import BodyLimit, require_read
from serve_apps.settings import ServeSettings
from serve_apps.upload_service import UploadService
from serve_apps.web import pages as web_pages, routes as web_routes
from store.embedded import data_dir
from store.pool import StorePool

log = logging.getLogger(__name__)

fastapi_app = FastAPI(
    title="Thumper Counter",
    description="Trail-camera photos in, individual deer out. Unless the server is local-only, every route "
                "but /health needs a login (POST /api/auth/login, then the cookie and X-CSRF-Token on writes) "
                "or an API token (X-API-Key or Authorization: Bearer). Viewers read; editors also write.",
    version="0.1.0",
    docs_url=None, redoc_url=None, openapi_url=None,  # served below, behind the login like the data
)
fastapi_app.add_middleware(BodyLimit)
for module in (auth, uploads, browse, deer, census, deployments, status, jobs, model_routes, web_routes, web_pages):
    fastapi_app.include_router(module.router)


@fastapi_app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require_read)])
def openapi_schema():
    return fastapi_app.openapi()


@fastapi_app.get("/docs", include_in_schema=False, dependencies=[Depends(require_read)])
def api_docs():
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Thumper Counter API")


@fastapi_app.exception_handler(DatabaseUnavailable)
def database_away(request: Request, e: DatabaseUnavailable) -> JSONResponse:
    """The database went away or cannot be reached: 503 with the reason, never a 500. The broken
    connection is dropped from the pool, so the app recovers by itself when the server is back."""
    return JSONResponse({"detail": f"the database is unavailable ({unavailable_reason(e)}); nothing was changed, try again shortly"},
                        status_code=503, headers={"Retry-After": "5"})


@fastapi_app.exception_handler(CorrectionError)
def correction_refused(request: Request, e: CorrectionError) -> JSONResponse:
    """Every route's refused correction: 404 when what it names does not exist, else 409."""
    return JSONResponse({"detail": str(e)}, status_code=404 if isinstance(e, NotFound) else 409)


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=64)
@serve.ingress(fastapi_app)
class ThumperAPI:
    def __init__(self, detector: DeploymentHandle, describer: DeploymentHandle, settings: ServeSettings):
        pool = StorePool(settings.database_url, size=settings.db_pool_size)
        if not settings.local_only and not settings.api_key:
            with pool.store() as store:
                if store.accounts.count() == 0:
                    log.warning("no users and no THUMPER_API_KEY: every request but /health is refused. Add one: "
                                "thumper users add NAME --role editor")
        service = UploadService(settings, pool, data_dir() / "uploads", detector, describer)
        install(ApiContext(settings, pool, service))
        self.service, self.pool = service, pool

    def __del__(self):  # Serve calls this when the replica shuts down
        try:
            self.service.close()
            self.pool.close()
        except Exception:  # the run's lock dies with the connection anyway
            log.exception("closing the API replica")
