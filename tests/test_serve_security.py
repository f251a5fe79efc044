"""Security settings of the Serve app that need no models: settings, local-only, credentials on
reads, and the `thumper serve` command line (which refuses to start while nobody could log in)."""
from __future__ import annotations

import argparse

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serve_apps.settings import ServeSettings


def test_the_app_builds_with_or_without_a_key(monkeypatch):
    monkeypatch.delenv("THUMPER_API_KEY", raising=False)
    monkeypatch.delenv("THUMPER_LOCAL_ONLY", raising=False)
    from serve_apps.app import build_app

    assert build_app({}) is not None  # users log in; nothing is open without credentials
    assert build_app({"local_only": "1"}) is not None
    monkeypatch.setenv("THUMPER_API_KEY", "from-env")
    assert ServeSettings.from_mapping({}).api_key == "from-env"


def test_settings_from_args_and_env(monkeypatch):
    monkeypatch.setenv("THUMPER_MAX_UPLOAD_BYTES", "1000")
    s = ServeSettings.from_mapping({"max_files": "3", "local_only": "yes", "batch_wait_timeout_s": "0.5"})
    assert (s.max_upload_bytes, s.max_files, s.local_only, s.batch_wait_timeout_s) == (1000, 3, True, 0.5)
    assert "api_key" not in repr(ServeSettings(api_key="secret"))


@pytest.fixture
def in_process(db_url):
    """The routers in this process (no Serve): only the context differs from a replica's."""
    from serve_apps.context import ApiContext, install
    from serve_apps.routes import browse, status
    from serve_apps.security import BodyLimit
    from store.pool import StorePool

    def make(**settings) -> TestClient:
        s = ServeSettings(database_url=db_url, **settings)
        pool = StorePool(db_url, size=2)
        install(ApiContext(s, pool, uploads=type("NoUploads", (), {"models": None, "run_id": None})()))
        app = FastAPI()
        app.add_middleware(BodyLimit)
        app.include_router(browse.router)
        app.include_router(status.router)
        return TestClient(app)

    return make


def test_reads_need_credentials(in_process):
    c = in_process(api_key="k")
    assert c.get("/api/images").status_code == 401
    assert c.get("/api/images", headers={"X-API-Key": "nope"}).status_code == 401
    assert c.get("/api/images", headers={"X-API-Key": "k"}).json()["total"] == 0
    assert c.get("/health").status_code == 200  # liveness stays open


def test_local_only_answers_only_loopback(in_process):
    c = in_process(local_only=True)  # TestClient's peer is "testclient", not a loopback address
    r = c.get("/api/images")
    assert r.status_code == 403 and "local-only" in r.json()["detail"]


def test_body_cap_from_content_length(in_process):
    c = in_process(api_key="k", max_upload_bytes=10, max_files=1)
    r = c.post("/api/images", content=b"x" * (2 * 1024 * 1024), headers={"X-API-Key": "k"})
    assert r.status_code == 413


def _parser():
    from thumper.cli import _add_db
    from thumper.cli_serve import register

    parser = argparse.ArgumentParser(prog="thumper")
    register(parser.add_subparsers(dest="command"), _add_db)
    return parser


def test_cli_serve_options(monkeypatch):
    monkeypatch.delenv("THUMPER_API_KEY", raising=False)
    args = _parser().parse_args(["serve", "--port", "9001", "--local-only", "--detector", "demo", "--db", "postgresql:///x"])
    assert (args.port, args.local_only, args.detector, args.db, args.host) == (9001, True, "demo", "postgresql:///x", None)
    assert args.handler.__name__ == "cmd_serve"


def test_cli_serve_refuses_to_start_while_nobody_could_log_in(monkeypatch, capsys, db_url):
    monkeypatch.delenv("THUMPER_API_KEY", raising=False)
    monkeypatch.delenv("THUMPER_LOCAL_ONLY", raising=False)
    args = _parser().parse_args(["serve", "--db", db_url])
    assert args.handler(args) == 2
    err = capsys.readouterr().err
    assert "refusing to start: nobody could log in" in err and "thumper users add" in err
    args = _parser().parse_args(["serve", "--local-only", "--host", "0.0.0.0"])
    assert args.handler(args) == 2
    assert "127.0.0.1" in capsys.readouterr().err


def test_cli_serve_refuses_latest_while_no_version_is_active(capsys, db_url):
    args = _parser().parse_args(["serve", "--local-only", "--classifier", "latest", "--db", db_url])
    assert args.handler(args) == 2  # before Ray starts: a replica would only fail its start again and again
    err = capsys.readouterr().err
    assert "no classifier version is registered as active yet" in err and "thumper train classifier" in err
