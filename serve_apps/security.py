"""Who is asking, and may they: local-only mode, credentials (a browser's session cookie, a user's
API token, the server's own key), roles, CSRF for cookie writes, and the request-body cap.

Local-only: no credentials, but only this machine is answered. Otherwise every route but /health
(and the static pages, which hold no data) needs credentials:
- `X-API-Key: TOKEN` or `Authorization: Bearer TOKEN`, where TOKEN is a user's API token (`thumper
  users token NAME`) or the configured THUMPER_API_KEY (acts as an editor);
- the session cookie set by POST /api/auth/login; a write with it must carry the session's
  X-CSRF-Token header too (GET /api/auth/me tells it), so no other site can write with it.
Viewers read; editors also correct, upload and submit jobs.
"""
from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import JSONResponse

from serve_apps.context import ApiContext, get_context
from store.accounts import TOKEN_PREFIX

SESSION_COOKIE = "thumper_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# declared for the OpenAPI page; the checks below read the request themselves
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="a user's API token (`thumper users token NAME`) or THUMPER_API_KEY")
bearer = HTTPBearer(auto_error=False, description="the same token as X-API-Key")
session_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="set by POST /api/auth/login")
NEEDS_LOGIN = "log in (POST /api/auth/login, or the web UI), or send an API token in X-API-Key or Authorization: Bearer"


@dataclass(frozen=True)
class Principal:
    name: str
    role: str  # viewer | editor
    via: str  # local | api-key | token | session
    csrf: str | None = None  # the session's, for writes with the cookie

    @property
    def can_edit(self) -> bool:
        return self.role == "editor"


def _from_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def local_only_guard(request: Request, ctx: ApiContext) -> None:
    # local-only binds 127.0.0.1; checking the peer too keeps it local even behind another bind
    if ctx.settings.local_only and not _from_loopback(request):
        raise HTTPException(403, "this server is in local-only mode and answers only requests from this machine")


def _presented_token(request: Request) -> str | None:
    if key := request.headers.get("X-API-Key"):
        return key
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="thumper"'})


def identify(request: Request, ctx: ApiContext) -> Principal | None:
    """The caller, from the request's credentials; None when it sent none. Credentials that are
    sent but wrong are refused outright (401), never treated as none."""
    local_only_guard(request, ctx)
    s = ctx.settings
    if s.local_only:
        return Principal("local", "editor", "local")
    if token := _presented_token(request):
        if s.api_key and hmac.compare_digest(token.encode(), s.api_key.encode()):  # constant time
            return Principal("api-key", "editor", "api-key")
        if token.startswith(TOKEN_PREFIX):  # anything else is never looked up
            with ctx.pool.store() as store:
                account = store.accounts.token_account(token)
            if account:
                return Principal(account.name, account.role, "token")
        raise _unauthorized("unknown or revoked API key or token")
    if cookie := request.cookies.get(SESSION_COOKIE):
        with ctx.pool.store() as store:
            session = store.accounts.session(cookie)
        if session:
            return Principal(session.account.name, session.account.role, "session", session.csrf)
        raise _unauthorized("your session has ended (logged out, expired, or the password changed): log in again")
    return None


def require_read(request: Request, ctx: ApiContext = Depends(get_context),
                 _k: str | None = Depends(api_key_header), _b: HTTPAuthorizationCredentials | None = Depends(bearer),
                 _c: str | None = Depends(session_cookie)) -> Principal:
    principal = identify(request, ctx)
    if principal is None:
        raise _unauthorized(NEEDS_LOGIN)
    return principal


def check_csrf(request: Request, principal: Principal) -> None:
    """A write with the session cookie must echo the session's CSRF token: a page on another site
    can make the browser send the cookie, but it cannot read the token to send it back."""
    if principal.via == "session" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not (sent and principal.csrf and hmac.compare_digest(sent.encode(), principal.csrf.encode())):
            raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header (GET /api/auth/me gives this "
                                     "session's); nothing was changed")


def require_write(request: Request, principal: Principal = Depends(require_read)) -> Principal:
    if not principal.can_edit:
        raise HTTPException(403, f"{principal.name} is a viewer: corrections, uploads and jobs need the editor "
                                 "role (thumper users role NAME editor); nothing was changed")
    check_csrf(request, principal)
    return principal


class BodyLimit:
    """ASGI middleware: refuses request bodies over the cap while they are read (Content-Length
    first, then counting chunks), before anything is parsed, spooled or written."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
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
