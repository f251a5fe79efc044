"""The web UI's static files: index.html at /, its scripts and styles under /ui/. No build step
and nothing fetched from elsewhere at run time."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse

from serve_apps.context import ApiContext, get_context
from serve_apps.security import local_only_guard

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
router = APIRouter(include_in_schema=False)


def pages_guard(request: Request, ctx: ApiContext = Depends(get_context)) -> None:
    """Pages are public like /health: they hold no data (the data behind them goes through the
    API's own checks, and the UI shows its login page on the first 401), but a local-only server
    still answers only this machine."""
    local_only_guard(request, ctx)


def _file(name: str) -> FileResponse:
    path = (STATIC / name).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file() or path.suffix not in TYPES:
        raise HTTPException(404, "no such page")
    # revalidate every time: an upgraded server never runs against stale scripts
    return FileResponse(path, media_type=TYPES[path.suffix], headers={"Cache-Control": "no-cache"})


@router.get("/", dependencies=[Depends(pages_guard)])
def index():
    return _file("index.html")


@router.get("/ui/{name:path}", dependencies=[Depends(pages_guard)])
def asset(name: str):
    return _file(name)
