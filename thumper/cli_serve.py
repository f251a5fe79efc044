"""`thumper serve`: the REST API and online upload inference as a Ray Serve application."""
from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

log = logging.getLogger("thumper")
EXIT_BAD_INPUT = 2


def register(sub, add_db) -> None:
    from serve_apps.settings import ServeSettings

    s = ServeSettings()  # defaults: THUMPER_* variables, else models.settings
    p = sub.add_parser(
        "serve", help="serve the REST API: photo uploads with online detection and re-ID, census reads",
        description="Start a Ray Serve application: a FastAPI ingress (OpenAPI docs at /docs) composed with "
                    "detector and crop-model (classifier + embedder) deployments. Unless --local-only, every route but "
                    "/health needs a login (the web UI's login page) or an API token: add users with `thumper users "
                    "add`; the server refuses to start while nobody could log in.")
    p.add_argument("--host", help="address to listen on (default 0.0.0.0; 127.0.0.1 with --local-only)")
    p.add_argument("--port", type=int, default=8000, help="HTTP port (default: 8000)")
    p.add_argument("--api-key", default=s.api_key,
                   help="the server's own API token, an editor's, for scripts that have no user (env "
                        "THUMPER_API_KEY; prefer the env var: a command line is visible in ps)")
    p.add_argument("--local-only", action="store_true",
                   default=s.local_only,
                   help="no login needed, but listen on 127.0.0.1 and answer only this machine (env THUMPER_LOCAL_ONLY)")
    p.add_argument("--detector", default=s.detector,
                   help=f"detector weights: a .pt path, a known name, or 'demo' (env THUMPER_DETECTOR; "
                        f"default {s.detector})")
    p.add_argument("--classifier", default=s.classifier,
                   help="crop classifier: a path, a known name, 'demo', 'none', 'auto' (the demo classifier "
                        "beside the demo detector, else none), or 'latest' (the registry's active version, followed "
                        f"when another is activated) (env THUMPER_CLASSIFIER; default {s.classifier})")
    p.add_argument("--embedder", default=s.embedder,
                   help="re-ID embedder weights: a path, 'demo' or 'latest' (the active version when the app "
                        f"starts) (env THUMPER_EMBEDDER; default {s.embedder})")
    p.add_argument("--address", metavar="ADDR",
                   help="Ray cluster to join (env RAY_ADDRESS); default: start a local one")
    add_db(p)
    p.set_defaults(handler=cmd_serve)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def cmd_serve(args: argparse.Namespace) -> int:
    from serve_apps.settings import LOOPBACK, ServeSettings
    from store import Store

    host = args.host or (LOOPBACK if args.local_only else "0.0.0.0")
    if args.local_only and not _loopback(host):
        print(f"thumper serve: --local-only listens on {LOOPBACK} only, not {host}", file=sys.stderr)
        return EXIT_BAD_INPUT
    values = {"database_url": args.db, "detector": args.detector, "classifier": args.classifier,
              "embedder": args.embedder,
              "api_key": args.api_key, "local_only": args.local_only}
    settings = ServeSettings.from_mapping(values)  # a bad value fails here, before Ray starts
    if not settings.local_only and not settings.api_key:
        with Store.open(args.db) as store:
            users = store.accounts.count()
        if not users:
            print("thumper serve: refusing to start: nobody could log in. Add a user (thumper users add NAME --role "
                  "editor), or set THUMPER_API_KEY for scripts, or run --local-only (127.0.0.1, this machine only)",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        log.info("%d user(s) may log in (thumper users list)", users)
    if error := _latest_missing(settings, args.db):  # before Ray: a replica would fail its start over and over
        print(f"thumper serve: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from ray import serve

    from cluster.runtime import connect as connect_ray
    from serve_apps.app import build_app

    connect_ray(args.address, warm_data=False)  # the Serve app runs no dataset
    serve.start(http_options={"host": host, "port": args.port})
    log.info("serving on http://%s:%d (API docs at /docs)", host, args.port)
    serve.run(build_app(values), name="thumper", route_prefix="/", blocking=True)
    return 0


def _latest_missing(settings, db: str | None) -> str | None:
    """Why a 'latest' model cannot be loaded (no active version, its file gone); None when it can."""
    from models.weights import WeightsNotFound
    from pipelines.model_versions import LATEST, resolve_latest
    from store import Store

    kinds = [k for k in ("classifier", "embedder") if getattr(settings, k) == LATEST]
    if not kinds:
        return None
    with Store.open(db) as store:
        for kind in kinds:
            try:
                resolve_latest(store, kind)
            except WeightsNotFound as e:
                return str(e)
    return None
