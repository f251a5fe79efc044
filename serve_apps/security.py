"""API key for writes (and optionally reads), local-only mode, and the request-body cap."""
from __future__ import annotations

import hmac
import ipaddress

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader
from starlette.responses import JSONResponse

from serve_apps.context import ApiContext, get_context

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the configured THUMPER_API_KEY")


def _from_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check(ctx: ApiContext, request: Request, key: str | None, needs_key: bool) -> None:
    s = ctx.settings
    # local-only binds 127.0.0.1; checking the peer too keeps it local even behind another bind
    if s.local_only and not _from_loopback(request):
        raise HTTPException(403, "this server is in local-only mode and answers only requests from this machine")
    if needs_key and s.api_key:
        if not key:
            raise HTTPException(401, "missing API key: send it in the X-API-Key header",
                                headers={"WWW-Authenticate": "X-API-Key"})
        if not hmac.compare_digest(key.encode(), s.api_key.encode()):  # constant time
            raise HTTPException(403, "wrong API key")


def require_write(request: Request, key: str | None = Depends(api_key_header),
                  ctx: ApiContext = Depends(get_context)) -> None:
    _check(ctx, request, key, needs_key=True)


def require_read(request: Request, key: str | None = Depends(api_key_header),
                 ctx: ApiContext = Depends(get_context)) -> None:
    _check(ctx, request, key, needs_key=ctx.settings.read_requires_key)


class BodyLimit:
    """ASGI middleware: refuses request bodies over the cap while they are read (Content-Length
    first, then counting chunks), before anything is parsed, spooled or written."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        s = get_context().settings
        limit = s.max_upload_bytes * s.max_files + 1024 * 1024  # room for form fields and part headers
        message = (f"request body over {limit} bytes (at most {s.max_files} files of {s.max_upload_bytes} bytes); "
                   "nothing was stored")
        length = dict(scope["headers"]).get(b"content-length")
        if length and length.isdigit() and int(length) > limit:
            return await JSONResponse({"detail": message}, 413)(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            msg = await receive()
            seen += len(msg.get("body", b""))
            if seen > limit:  # FastAPI re-raises an HTTPException from body parsing as it is
                raise HTTPException(413, message)
            return msg

        return await self.app(scope, counted, send)
