"""An embedded Postgres 16 + pgvector (PyPI `pgserver`) for when no database URL is configured."""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

from models.settings import settings

log = logging.getLogger(__name__)

_servers: dict[Path, object] = {}


def data_dir() -> Path:
    """Per-user data folder (THUMPER_DATA_DIR), so a second run finds the first run's data."""
    return settings().data_dir.expanduser()


def embedded_url(pgdata: Path | None = None, database: str = "postgres") -> str:
    """Start (or reuse) the embedded server and return a libpq URL for it.

    The server outlives this process (cleanup_mode=None): later commands, and other processes on
    the same node, reuse it; a restart of a stopped one takes ~0.1 s.
    """
    # pgserver keeps its lock file in the user runtime dir; /tmp is fine where none is set
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import pgserver  # imported here: only the embedded path needs it

    pgdata = (pgdata or data_dir() / "pgdata").resolve()
    if pgdata not in _servers:
        pgdata.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded Postgres in %s", pgdata)
        _servers[pgdata] = pgserver.get_server(pgdata, cleanup_mode=None)
    return _servers[pgdata].get_uri(database)


def revive_embedded(pgdata: Path | None = None) -> None:
    """Start this process's embedded server again if it died (killed, out of memory): a run that
    lost it waits for it (store.db.wait_for_database), and nobody else would start it."""
    pgdata = (pgdata or data_dir() / "pgdata").resolve()
    server = _servers.get(pgdata)
    if server is None:
        embedded_url(pgdata)  # never started here: start (or find) it now
    else:
        server.ensure_postgres_running()  # a no-op while it runs; pg_ctl start -w when it does not


def stop_embedded(pgdata: Path) -> None:
    """Stop the embedded server of a throw-away data dir (tests, benchmarks), whichever process
    started it; the CLI's own server is left running on purpose."""
    import pgserver

    pgdata = Path(pgdata).resolve()
    _servers.pop(pgdata, None)
    if (pgdata / "postmaster.pid").exists():
        user = "pgserver" if os.geteuid() == 0 else None  # as root, pgserver runs Postgres as this user
        try:
            pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
        except Exception as e:  # already stopped, or not ours to stop: nothing to clean
            log.info("embedded Postgres in %s not stopped: %s", pgdata, e)
