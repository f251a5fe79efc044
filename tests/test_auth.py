"""Access to the app when it is not local-only: every route but /health and the static pages
refuses a caller without credentials; users with roles log in with a password (argon2id) and get
an HttpOnly, SameSite cookie whose writes need the session's CSRF token; scripts use API tokens;
failed logins are rate-limited; `thumper users` manages it all. The real app's routers in this
process, on a real Postgres; the browser side is in test_web_e2e.py."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from serve_apps.settings import ServeSettings

REMOTE = ("203.0.113.9", 5000)
OPEN = {"/health", "/", "/ui/{name:path}", "/api/auth/login", "/api/auth/logout"}  # hold no data


@pytest.fixture
def app_for(db_url):
    """The whole FastAPI app, its context on this test's database; no model deployments (no route
    here gets past the checks to an upload)."""
    from serve_apps.api import fastapi_app
    from serve_apps.context import ApiContext, install
    from store.pool import StorePool

    pools = []

    def make(client=REMOTE, **settings) -> TestClient:
        pool = StorePool(db_url, size=2)
        pools.append(pool)
        idle = type("NoUploads", (), {"models": None, "run_id": None})()
        install(ApiContext(ServeSettings(database_url=db_url, **settings), pool, idle))
        return TestClient(fastapi_app, client=client)

    yield make
    for pool in pools:
        pool.close()


@pytest.fixture
def users(store):
    store.accounts.add_user("ana", "editor", "correct horse")
    store.accounts.add_user("cam", "viewer", "battery staple")
    return store.accounts


def _routes(routes=None, prefix=""):
    """Every (method, path) the app answers, through included routers (FastAPI keeps those as
    wrappers around the original router in newer versions)."""
    from serve_apps.api import fastapi_app

    for route in fastapi_app.routes if routes is None else routes:
        if isinstance(route, APIRoute):
            path = route.path if route.path.startswith(prefix) else prefix + route.path
            for method in route.methods - {"HEAD"}:
                yield method, path
        elif hasattr(route, "original_router"):  # fastapi's _IncludedRouter
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_without_credentials_is_refused(app_for, users):
    c = app_for(api_key="server-key")
    routes = sorted(_routes())
    assert len(routes) >= 30 and ("POST", "/api/images") in routes  # the app's routes, not an empty list
    checked = 0
    for method, path in routes:
        if path in OPEN:
            continue
        r = c.request(method, _concrete(path))
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.headers["www-authenticate"] == 'Bearer realm="thumper"'
        checked += 1
    assert checked >= 28
    assert c.get("/health").status_code == 200
    assert c.get("/").status_code == 200 and c.get("/ui/js/login.js").status_code == 200  # no data in them


def test_a_viewer_reads_and_is_refused_every_write(app_for, users):
    c = app_for()
    assert c.post("/api/auth/login", json={"name": "cam", "password": "battery staple"}).status_code == 200
    me = c.get("/api/auth/me").json()
    assert (me["name"], me["role"], me["via"], me["can_edit"]) == ("cam", "viewer", "session", False)
    assert c.get("/api/images").json()["total"] == 0
    assert c.get("/docs").status_code == 200 and c.get("/openapi.json").json()["info"]["title"] == "Thumper Counter"
    headers = {"X-CSRF-Token": me["csrf"]}
    writes = [(m, p) for m, p in _routes() if m in ("POST", "PATCH") and p.startswith("/api/") and not p.startswith("/api/auth/")]
    assert len(writes) >= 9
    for method, path in writes:
        r = c.request(method, _concrete(path), headers=headers)
        assert r.status_code == 403 and "cam is a viewer" in r.json()["detail"], (path, r.text)


def test_an_editor_session_writes_only_with_its_csrf_token(app_for, users):
    c = app_for()
    r = c.post("/api/auth/login", json={"name": "ana", "password": "correct horse"})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=604800" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS the cookie is Secure
    csrf = r.json()["csrf"]
    rename = "/api/deer/99/rename"
    no_token = c.post(rename, json={"name": "Big Ten"})
    assert no_token.status_code == 403 and "X-CSRF-Token" in no_token.json()["detail"]
    other = csrf[:-1] + ("y" if csrf.endswith("x") else "x")  # one character off, never the token itself
    wrong = c.post(rename, json={"name": "Big Ten"}, headers={"X-CSRF-Token": other})
    assert wrong.status_code == 403
    # past the checks: the route itself answers (no such deer)
    right = c.post(rename, json={"name": "Big Ten"}, headers={"X-CSRF-Token": csrf})
    assert right.status_code == 404 and right.json()["detail"] == "no deer 99"
    # another session has another token
    other = app_for()
    other_csrf = other.post("/api/auth/login", json={"name": "ana", "password": "correct horse"}).json()["csrf"]
    assert other_csrf != csrf
    assert c.post(rename, json={"name": "x"}, headers={"X-CSRF-Token": other_csrf}).status_code == 403


def test_logout_ends_the_session_on_the_server(app_for, users, store):
    c = app_for()
    csrf = c.post("/api/auth/login", json={"name": "ana", "password": "correct horse"}).json()["csrf"]
    cookie = c.cookies.get("thumper_session")
    assert c.post("/api/auth/logout").status_code == 403  # a write: the token is needed
    assert c.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    replay = app_for()
    replay.cookies.set("thumper_session", cookie)  # the old cookie, kept by an attacker
    r = replay.get("/api/images")
    assert r.status_code == 401 and "session has ended" in r.json()["detail"]
    assert store.conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0


def test_api_tokens_for_scripts(app_for, users):
    token = users.create_token("ana", "backup")
    viewer_token = users.create_token("cam")
    assert token.startswith("thumper_") and token != viewer_token
    c = app_for()
    assert c.get("/api/images", headers={"X-API-Key": token}).status_code == 200
    assert c.get("/api/images", headers={"Authorization": f"Bearer {viewer_token}"}).status_code == 200
    assert c.post("/api/deer/1/rename", json={"name": "x"}, headers={"X-API-Key": token}).status_code == 404  # no CSRF
    assert c.post("/api/deer/1/rename", json={"name": "x"}, headers={"X-API-Key": viewer_token}).status_code == 403
    assert c.get("/api/auth/me", headers={"X-API-Key": token}).json()["via"] == "token"
    assert users.users()[0]["token_last_used"] is not None
    assert users.revoke_tokens("ana") == 1
    r = c.get("/api/images", headers={"X-API-Key": token})
    assert r.status_code == 401 and r.json()["detail"] == "unknown or revoked API key or token"
    assert c.get("/api/images", headers={"X-API-Key": "thumper_" + "x" * 43}).status_code == 401


def test_wrong_passwords_are_rate_limited(app_for, users):
    c = app_for()
    for _ in range(4):
        r = c.post("/api/auth/login", json={"name": "ana", "password": "wrong horse"})
        assert r.status_code == 401 and r.json()["detail"] == "wrong name or password"
    fifth = c.post("/api/auth/login", json={"name": "ana", "password": "wrong horse"})
    assert fifth.status_code == 429 and 800 < int(fifth.headers["retry-after"]) <= 901
    # locked: even the right password is refused, from this address and for this name from another
    assert c.post("/api/auth/login", json={"name": "ana", "password": "correct horse"}).status_code == 429
    assert c.post("/api/auth/login", json={"name": "cam", "password": "battery staple"}).status_code == 429
    elsewhere = app_for(client=("198.51.100.7", 1))
    assert elsewhere.post("/api/auth/login", json={"name": "ana", "password": "correct horse"}).status_code == 429
    assert elsewhere.post("/api/auth/login", json={"name": "cam", "password": "battery staple"}).status_code == 200
    # an unknown name fails like a wrong password, and counts the same
    assert elsewhere.post("/api/auth/login", json={"name": "nobody", "password": "x" * 9}).status_code == 401


def test_passwords_and_credentials_are_stored_hashed(app_for, users, store):
    c = app_for()
    c.post("/api/auth/login", json={"name": "ana", "password": "correct horse"})
    token = users.create_token("ana")
    stored = store.conn.execute("SELECT password_hash FROM users WHERE name = 'ana'").fetchone()[0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    dump = " ".join(str(v) for row in store.conn.execute(
        "SELECT s.token_sha256, t.token_sha256 FROM sessions s, api_tokens t") for v in row)
    assert c.cookies.get("thumper_session") not in dump and token not in dump


def test_account_rules(users):
    from store.accounts import AccountError

    with pytest.raises(AccountError, match="exists already"):
        users.add_user("ana", "viewer", "another pass")
    with pytest.raises(AccountError, match="at least 8"):
        users.add_user("dee", "viewer", "short")
    with pytest.raises(AccountError, match="role must be one of"):
        users.add_user("dee", "admin", "long enough")
    with pytest.raises(AccountError, match="user name"):
        users.add_user("-dee", "viewer", "long enough")
    assert users.login("ana", "correct horse", "here").account.role == "editor"
    users.set_role("ana", "viewer")
    users.set_password("ana", "new horse pass")
    assert users.login("ana", "correct horse", "here").account is None
    assert users.login("ana", "new horse pass", "here").account.role == "viewer"
    assert users.remove_user("cam") and not users.remove_user("cam")


def _thumper(db_url, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "thumper", "users", *args, "--db", db_url],
                          input=stdin, capture_output=True, text=True, timeout=120)


def test_thumper_users_add_list_token_remove(db_url):
    added = _thumper(db_url, "add", "ana", "--role", "editor", "--password-stdin", stdin="correct horse\n")
    assert added.returncode == 0 and added.stdout.strip() == "added ana (editor)", added.stderr
    again = _thumper(db_url, "add", "ana", "--password-stdin", stdin="correct horse\n")
    assert again.returncode == 2 and "exists already" in again.stderr
    no_tty = _thumper(db_url, "add", "bo")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    token = _thumper(db_url, "token", "ana", "--label", "backup")
    assert token.returncode == 0 and token.stdout.strip().startswith("thumper_") and "only this once" in token.stderr
    listed = _thumper(db_url, "list")
    assert listed.returncode == 0 and re.search(r"ana\s+editor\s+\S+ \S+\s+1\b", listed.stdout), listed.stdout
    removed = _thumper(db_url, "remove", "ana")
    assert removed.returncode == 0 and "removed ana" in removed.stdout
    assert _thumper(db_url, "remove", "ana").returncode == 2
    assert "no users yet" in _thumper(db_url, "list").stdout
