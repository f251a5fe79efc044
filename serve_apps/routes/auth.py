"""Logging in and out, and who am I: the web UI's session cookie (HttpOnly, SameSite=Strict,
Secure over HTTPS) and its CSRF token. Scripts send API tokens instead (serve_apps/security.py)."""
from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from serve_apps.context import ApiContext, get_context
from serve_apps.security import (SESSION_COOKIE, Principal, check_csrf, client_address, local_only_guard,
                                 require_read)

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Login(BaseModel):
    name: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class Me(BaseModel):
    name: str
    role: str
    via: str = Field(description="local (local-only mode), api-key, token or session")
    csrf: str | None = Field(None, description="send it in X-CSRF-Token with every write made with the cookie")
    can_edit: bool


def _me(p: Principal) -> Me:
    return Me(name=p.name, role=p.role, via=p.via, csrf=p.csrf, can_edit=p.can_edit)


@router.post("/login", response_model=Me, responses={401: {"description": "wrong name or password"},
                                                     429: {"description": "too many failed logins"}})
def login(body: Login, request: Request, response: Response, ctx: ApiContext = Depends(get_context)):
    """Checks the password and sets the session cookie. Failed logins are limited per name and
    per client address (store.accounts.MAX_FAILURES in FAILURE_WINDOW): then 429 and Retry-After."""
    local_only_guard(request, ctx)
    with ctx.pool.store() as store:
        result = store.accounts.login(body.name, body.password, client_address(request))
        if result.account is None:
            if result.retry_after:
                raise HTTPException(429, f"too many failed logins; try again in {result.retry_after} s",
                                    headers={"Retry-After": str(result.retry_after)})
            raise HTTPException(401, "wrong name or password")
        lifetime = timedelta(hours=ctx.settings.session_hours)
        token, session = store.accounts.start_session(result.account, lifetime)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(lifetime.total_seconds()), path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return _me(Principal(result.account.name, result.account.role, "session", session.csrf))


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, ctx: ApiContext = Depends(get_context)):
    """Ends this browser's session (a write: it needs the session's X-CSRF-Token)."""
    local_only_guard(request, ctx)
    if cookie := request.cookies.get(SESSION_COOKIE):
        with ctx.pool.store() as store:
            session = store.accounts.session(cookie)
            if session is not None:  # an ended one needs nothing but its cookie cleared
                check_csrf(request, Principal(session.account.name, session.account.role, "session", session.csrf))
                store.accounts.end_session(cookie)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    response.status_code = 204
    return response


@router.get("/me", response_model=Me)
def me(principal: Principal = Depends(require_read)):
    """Who the credentials are: 401 when there are none (the web UI then shows its login page)."""
    return _me(principal)
