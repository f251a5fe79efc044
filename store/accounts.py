"""Users, their roles, browser sessions, API tokens and the login rate limit (migration 0005).

Passwords are kept only as argon2id hashes (argon2-cffi, the reference implementation's binding);
session and token values are random 256-bit strings, kept only as SHA-256 digests, so the tables
hold nothing that could be presented back to the app.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from store.columns import rows

ROLES = ("viewer", "editor")  # viewer: every read; editor: reads, corrections, uploads and jobs
TOKEN_PREFIX = "thumper_"  # every API token starts so; anything else is never looked up
NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 8
MAX_FAILURES = 5  # failed logins per name, or per client address, within FAILURE_WINDOW
FAILURE_WINDOW = timedelta(minutes=15)

_hasher = PasswordHasher()  # argon2id with the library's current recommended cost
# checked against when the name is unknown, so a wrong name costs what a wrong password does
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A refused change to the accounts: a bad name, role or password, or a duplicate."""


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str

    @property
    def can_edit(self) -> bool:
        return self.role == "editor"


@dataclass(frozen=True)
class Session:
    account: Account
    csrf: str


@dataclass(frozen=True)
class LoginResult:
    account: Account | None  # None: refused
    retry_after: int = 0  # seconds, when refused because of too many failures


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_name(name: str) -> None:
    if not NAME_RULE.match(name or ""):
        raise AccountError("a user name is 1-64 letters, digits or _.@- and starts with a letter or digit")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")


class Accounts:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    # ---- users ----------------------------------------------------------------------------
    def add_user(self, name: str, role: str, password: str) -> Account:
        _check_name(name)
        _check_role(role)
        _check_password(password)
        try:
            (uid,) = self.conn.execute(
                "INSERT INTO users (name, role, password_hash) VALUES (%s, %s, %s) RETURNING id",
                (name, role, _hasher.hash(password))).fetchone()
        except psycopg.errors.UniqueViolation:
            raise AccountError(f"user {name!r} exists already") from None
        return Account(uid, name, role)

    def set_password(self, name: str, password: str) -> None:
        _check_password(password)
        with self.conn.transaction():
            cur = self.conn.execute("UPDATE users SET password_hash = %s WHERE name = %s RETURNING id",
                                    (_hasher.hash(password), name))
            found = cur.fetchone()
            if found is None:
                raise AccountError(f"no user {name!r}")
            self.conn.execute("DELETE FROM sessions WHERE user_id = %s", found)  # log out everywhere

    def set_role(self, name: str, role: str) -> None:
        _check_role(role)
        if self.conn.execute("UPDATE users SET role = %s WHERE name = %s", (role, name)).rowcount == 0:
            raise AccountError(f"no user {name!r}")

    def remove_user(self, name: str) -> bool:
        """Removes the user with their sessions and tokens; False when there was none."""
        return self.conn.execute("DELETE FROM users WHERE name = %s", (name,)).rowcount > 0

    def users(self) -> list[dict]:
        cur = self.conn.execute(
            "SELECT u.name, u.role, u.created_at,"
            " (SELECT count(*) FROM api_tokens t WHERE t.user_id = u.id) AS tokens,"
            " (SELECT count(*) FROM sessions s WHERE s.user_id = u.id AND s.expires_at > now()) AS sessions,"
            " (SELECT max(t.last_used_at) FROM api_tokens t WHERE t.user_id = u.id) AS token_last_used"
            " FROM users u ORDER BY u.name")
        return rows(cur)

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM users").fetchone()[0]

    def _account(self, name: str) -> tuple[Account, str] | None:
        row = self.conn.execute("SELECT id, name, role, password_hash FROM users WHERE name = %s",
                                (name,)).fetchone()
        return (Account(*row[:3]), row[3]) if row else None

    # ---- logging in -------------------------------------------------------------------------
    def login(self, name: str, password: str, client: str) -> LoginResult:
        """Checks a password, under the rate limit: after MAX_FAILURES failures for this name or
        from this client within FAILURE_WINDOW, every attempt is refused (right or wrong) until
        the oldest failure ages out."""
        if wait := self._locked_for(name, client):
            return LoginResult(None, wait)
        found = self._account(name)
        try:
            ok = _hasher.verify(found[1] if found else _DUMMY_HASH, password) and found is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            self.conn.execute("INSERT INTO login_failures (name, client) VALUES (%s, %s)", (name[:64], client))
            return LoginResult(None, self._locked_for(name, client))
        account, stored = found
        if _hasher.check_needs_rehash(stored):  # the library's cost went up since it was hashed
            self.conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (_hasher.hash(password), account.id))
        self.conn.execute("DELETE FROM login_failures WHERE name = %s OR at < now() - %s", (name, FAILURE_WINDOW))
        return LoginResult(account)

    def _locked_for(self, name: str, client: str) -> int:
        """Seconds until a login may be tried again for this name or client; 0: now."""
        waits = []
        for column, value in (("name", name[:64]), ("client", client)):
            at = self.conn.execute(
                f"SELECT at FROM login_failures WHERE {column} = %s AND at > now() - %s"
                " ORDER BY at DESC OFFSET %s LIMIT 1", (value, FAILURE_WINDOW, MAX_FAILURES - 1)).fetchone()
            if at:  # the MAX_FAILURES-th newest failure is inside the window
                now = self.conn.execute("SELECT now()").fetchone()[0]
                waits.append(max(1, int((at[0] + FAILURE_WINDOW - now).total_seconds()) + 1))
        return max(waits, default=0)

    # ---- sessions (the browser's cookie) ------------------------------------------------------
    def start_session(self, account: Account, lifetime: timedelta) -> tuple[str, Session]:
        """A new session: the cookie value (returned once, never stored) and its CSRF token."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires = datetime.now(timezone.utc) + lifetime
        self.conn.execute("DELETE FROM sessions WHERE expires_at < now()")
        self.conn.execute("INSERT INTO sessions (token_sha256, user_id, csrf, expires_at) VALUES (%s, %s, %s, %s)",
                          (digest(token), account.id, csrf, expires))
        return token, Session(account, csrf)

    def session(self, token: str) -> Session | None:
        row = self.conn.execute(
            "SELECT u.id, u.name, u.role, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.token_sha256 = %s AND s.expires_at > now()", (digest(token),)).fetchone()
        return Session(Account(*row[:3]), row[3]) if row else None

    def end_session(self, token: str) -> None:
        self.conn.execute("DELETE FROM sessions WHERE token_sha256 = %s", (digest(token),))

    # ---- API tokens (scripts) -------------------------------------------------------------
    def create_token(self, name: str, label: str = "") -> str:
        """A new token for the user, returned once: only its digest is kept."""
        found = self._account(name)
        if found is None:
            raise AccountError(f"no user {name!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.conn.execute("INSERT INTO api_tokens (token_sha256, user_id, label) VALUES (%s, %s, %s)",
                          (digest(token), found[0].id, label[:100]))
        return token

    def token_account(self, token: str) -> Account | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        row = self.conn.execute(
            "UPDATE api_tokens t SET last_used_at = now() FROM users u"
            " WHERE t.token_sha256 = %s AND u.id = t.user_id RETURNING u.id, u.name, u.role",
            (digest(token),)).fetchone()
        return Account(*row) if row else None

    def revoke_tokens(self, name: str) -> int:
        """Revokes every token of the user; how many there were."""
        return self.conn.execute("DELETE FROM api_tokens t USING users u WHERE u.id = t.user_id AND u.name = %s",
                                 (name,)).rowcount
