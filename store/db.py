"""Connections and migrations."""
from __future__ import annotations

import logging
import time
from importlib import resources

import psycopg
from pgvector.psycopg import register_vector

from models.settings import settings

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 727_001  # pg advisory lock key: one migrator at a time


def unavailable_reason(e: Exception) -> str:
    """What to tell a user of a lost or unreachable database: the error's first line."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def resolve_database_url(url: str | None = None) -> str:
    """An explicit URL, else $THUMPER_DATABASE_URL, else the embedded server."""
    url = url or settings().database_url
    if url:
        return url
    from store.embedded import embedded_url

    return embedded_url()


def connect(url: str | None = None, *, migrate: bool = True) -> psycopg.Connection:
    """Open a connection with pgvector types registered and the schema up to date."""
    conn = psycopg.connect(resolve_database_url(url), autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)  # before any cursor, so vectors load as numpy arrays
    if migrate:
        apply_migrations(conn)
    return conn


def _migrations() -> list[tuple[int, str, str]]:
    files = sorted(
        f for f in resources.files("store.migrations").iterdir() if f.name.endswith(".sql")
    )
    return [(int(f.name.split("_", 1)[0]), f.name, f.read_text()) for f in files]


def apply_migrations(conn: psycopg.Connection) -> list[str]:
    """Apply versioned SQL files in order, each in its own transaction; returns those applied."""
    applied: list[str] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version int PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in _migrations():
            if version in done:
                continue
            with conn.transaction():
                conn.execute(sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name)
                )
            log.info("applied migration %s", name)
            applied.append(name)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    return applied


def wait_for_database(url: str | None = None, grace_s: float = 60, *, first_delay: float = 0.5,
                      max_delay: float = 8.0) -> bool:
    """After a loss: try to connect, backing off exponentially (0.5 s, 1 s, 2 s ... at most
    `max_delay`), until the database answers (True) or `grace_s` have passed (False). When it is
    the embedded server and it died, it is started again: nobody else would."""
    deadline = time.monotonic() + grace_s
    delay = first_delay
    while True:
        try:
            if not (url or settings().database_url):
                from store.embedded import revive_embedded

                revive_embedded()
            psycopg.connect(resolve_database_url(url), autocommit=True, connect_timeout=5).close()
            return True
        except Exception as e:  # psycopg's OperationalError, or the embedded server not starting (yet)
            log.debug("the database is not back yet: %s", unavailable_reason(e))
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(delay, left))
        delay = min(delay * 2, max_delay)
