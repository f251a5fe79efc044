"""What the routes need (settings, store pool, upload service), installed once per ingress replica.
Routers get it through `Depends(get_context)`, so they stay plain FastAPI and testable."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from serve_apps.settings import ServeSettings
from store.pool import StorePool

if TYPE_CHECKING:
    from serve_apps.upload_service import UploadService


@dataclass
class ApiContext:
    settings: ServeSettings
    pool: StorePool
    uploads: "UploadService"


_current: ApiContext | None = None


def install(ctx: ApiContext) -> None:
    global _current
    _current = ctx


def get_context() -> ApiContext:
    if _current is None:
        raise RuntimeError("the API context is not installed (the ingress replica has not started)")
    return _current
