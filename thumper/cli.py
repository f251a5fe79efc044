"""`thumper` command line: census, process, status; re-ID, serve, users and cameras commands register themselves."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from functools import partial

from cluster.runtime import CPU_BATCH
from models.settings import settings
from pipelines.census import DECODE_CHOICES, PipelineOptions
from pipelines.clustering import ClusterSettings
from thumper.cli_reid import add_census_options, reid_after_census

EXIT_BAD_INPUT = 2
EXIT_BUSY = 3  # some of the photos are being processed right now by another live run (see --wait)
EXIT_NO_DATABASE = 4  # the database cannot be reached, or went away mid-run (a rerun resumes)
# modules with `register(subparsers, add_db)` adding sub-commands whose handler is set as a default
COMMAND_MODULES = ["thumper.cli_reid", "thumper.cli_serve", "thumper.cli_users", "thumper.cli_cameras",
                   "thumper.cli_models"]

log = logging.getLogger("thumper")


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL",
                   help="Postgres URL (env THUMPER_DATABASE_URL); default: an embedded Postgres "
                        "with pgvector in ~/.local/share/thumper (env THUMPER_DATA_DIR)",
                   default=settings().database_url)


def _add_pipeline(p: argparse.ArgumentParser) -> None:
    s = settings()  # defaults: THUMPER_* variables, else models.settings
    p.add_argument("--address", metavar="ADDR",
                   help="Ray cluster to join (env RAY_ADDRESS); default: start a local one for this run")
    p.add_argument("--num-cpus", type=int, help="CPUs for the local Ray cluster (default: all)")
    p.add_argument("--detector", default=s.detector,
                   help=f"detector weights: a .pt path, a known name, or 'demo' (default: {s.detector}; "
                        "env THUMPER_DETECTOR)")
    p.add_argument("--classifier", default=s.classifier,
                   help="crop classifier that names each animal's species, and for deer doe/fawn/buck and buck "
                        "age: an Ultralytics *-cls.pt, a timm checkpoint or manifest, TorchScript, a known name "
                        "(deepfaune-new-england), 'demo', 'latest' (the active registered version: thumper "
                        "models), or 'none' to keep the detector's own labels "
                        f"(default: {s.classifier}; 'auto' is 'demo' beside the demo detector, else none; "
                        "env THUMPER_CLASSIFIER)")
    p.add_argument("--embedder", default=s.embedder,
                   help=f"re-ID embedder weights: a path or 'demo' (default: {s.embedder}; env THUMPER_EMBEDDER)")
    p.add_argument("--gpu-fraction", type=float, default=s.gpu_fraction,
                   help=f"GPU share per model actor when the cluster has GPUs (default: {s.gpu_fraction})")
    p.add_argument("--batch-size", type=int,
                   help="images per detector call (default: sized from the GPU's memory, 160 on an H100 at "
                        f"--gpu-fraction 0.25; {CPU_BATCH} on CPU)")
    p.add_argument("--imgsz", type=int, help="detector input size (default: the size the weights were trained at)")
    p.add_argument("--conf", type=float, default=s.conf, help=f"detection confidence threshold (default: {s.conf})")
    p.add_argument("--decode", choices=DECODE_CHOICES, default="auto",
                   help="where JPEGs are decoded: 'cpu' worker tasks, or the detector's 'device' (nvJPEG on "
                        "a GPU); default 'auto': the device when the cluster has GPUs, else cpu")
    p.add_argument("--write-batch", type=int, default=s.write_batch,
                   help=f"photos per database transaction, at most: results are written as they arrive, "
                        f"and what queues behind a write goes in the next one (default: {s.write_batch}); "
                        f"a crash loses no more than the transactions in flight, which the next run redoes")
    p.add_argument("--reprocess", action="store_true",
                   help="process every photo again (e.g. after a model change); results are replaced")
    p.add_argument("--retry-failed", action="store_true", help="try photos that failed before again")
    p.add_argument("--db-grace", type=float, default=s.db_grace_s, metavar="SECONDS",
                   help="when the database goes away mid-run, wait this long for it to come back (reconnecting "
                        "with backoff; the embedded one is restarted) and resume; 0: exit at once "
                        f"(default: {s.db_grace_s:g}; env THUMPER_DB_GRACE_S)")
    p.add_argument("--wait", action="store_true",
                   help="when another live run is processing some of these photos, wait for it to end and then "
                        f"finish what it left (default: say which run, and exit {EXIT_BUSY})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thumper",
        description="Thumper Counter: turn a folder of trail-camera photos into a deer census.",
        epilog="Example: thumper census /photos   (sub-folders of /photos are camera locations)\n"
               f"Exit status: 0 done, 1 an unexpected error, {EXIT_BAD_INPUT} bad input or settings, "
               f"{EXIT_BUSY} photos held by another live run (--wait waits for it), "
               f"{EXIT_NO_DATABASE} the database cannot be reached or went away (rerun to resume).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    census = sub.add_parser("census", help="ingest a folder of photos, find and classify every animal, print the census",
                            description="Ingest every photo under PHOTOS_DIR (first folder level = camera "
                                        "location), run detection, species/sex/age classification and re-ID "
                                        "embedding on Ray, store results, and print a census of the deer (other "
                                        "animals, people and vehicles are kept and listed, never counted). "
                                        "Rerunning only processes what is new or unfinished.")
    census.add_argument("photos_dir", nargs="?",
                        help="folder of photos (jpg/jpeg/png), or an object-storage URI (s3://bucket/prefix)")
    census.add_argument("--demo", action="store_true",
                        help="generate a sample folder of synthetic trail-camera photos and census it "
                             "with the project's own offline demo models")
    _add_db(census)
    _add_pipeline(census)
    add_census_options(census)
    census.set_defaults(handler=cmd_census)

    process = sub.add_parser("process", help="process photos already in the store (no folder walk)",
                             description="Process every pending photo in the store; with --reprocess, every "
                                         "photo, recording which models produced the new results.")
    _add_db(process)
    _add_pipeline(process)
    process.set_defaults(handler=cmd_process)

    status = sub.add_parser("status", help="photo counts by processing status, and recent runs")
    _add_db(status)
    status.set_defaults(handler=cmd_status)

    for module in COMMAND_MODULES:  # feature areas add their own sub-commands
        importlib.import_module(module).register(sub, _add_db)
    return parser


def _options(args: argparse.Namespace) -> PipelineOptions:
    return PipelineOptions(detector=args.detector, classifier=args.classifier, embedder=args.embedder,
                           gpu_fraction=args.gpu_fraction,
                           batch_size=args.batch_size, imgsz=args.imgsz, conf=args.conf,
                           write_batch=args.write_batch, decode=args.decode,
                           reprocess=args.reprocess, retry_failed=args.retry_failed)


def _busy(store, image_ids) -> list[dict]:
    return [r for r in store.live_runs(image_ids) if r["holding"]]


def _say_busy(command: str, runs: list[dict], waiting: bool) -> None:
    for r in runs:
        what = f"{r['kind']} of {r['source']}" if r["source"] else r["kind"]
        print(f"thumper {command}: {r['holding']} of these photos are being processed right now by run {r['id']} "
              f"({what}, running since {r['started_at']:%Y-%m-%d %H:%M:%S}, {r['done']} photos done so far)",
              file=sys.stderr)
    print(f"thumper {command}: " + ("waiting for it to end (--wait) ..." if waiting else
                                    f"nothing is processed twice: rerun when it has ended, or add --wait "
                                    f"(exit {EXIT_BUSY})"), file=sys.stderr)


def _wait_for(store, image_ids, poll_s: float = 2.0) -> None:
    import time

    while _busy(store, image_ids):
        time.sleep(poll_s)


def _resuming(args: argparse.Namespace, store, attempt):
    """attempt(store), again on a new connection whenever the database goes away mid-run and comes
    back within the grace time (--db-grace): the lost run is marked aborted by the next one, which
    takes up its photos, so nothing is done twice. Returns (result, the store now in use)."""
    from pipelines.census import DatabaseLost
    from store import DatabaseUnavailable, Store, unavailable_reason
    from store.db import wait_for_database

    while True:
        try:
            return attempt(store), store
        except (DatabaseLost, DatabaseUnavailable) as e:
            what = e.what if isinstance(e, DatabaseLost) else f"the database went away ({unavailable_reason(e)})"
            if args.db_grace <= 0:
                raise
            print(f"thumper {args.command}: {what}. Waiting up to {args.db_grace:g} s for it to come back "
                  "(--db-grace) ...", file=sys.stderr)
            started = time.monotonic()
            if not wait_for_database(args.db, args.db_grace):
                raise GaveUp(f"{what}, and it did not come back within {args.db_grace:g} s. Start it again and "
                             "rerun the same command: it resumes where this run stopped, nothing twice") from e
            store = Store.open(args.db)
            print(f"thumper {args.command}: the database is back after {time.monotonic() - started:.1f} s; "
                  "resuming where the lost run stopped", file=sys.stderr)


class GaveUp(RuntimeError):
    """The database went away mid-run and did not come back within the grace time."""


def cmd_census(args: argparse.Namespace) -> int:
    from cluster.runtime import connect as connect_ray
    from pipelines.census import run_census
    from pipelines.ingest import PhotoFolderError
    from store import Store
    from thumper.render import render_census

    if args.demo:
        from thumper.demo import demo_folder

        args.photos_dir = args.photos_dir or demo_folder()
        if args.detector == settings().detector:  # not given: the demo's own
            args.detector = "demo"
        if args.embedder == "demo" and args.max_distance == ClusterSettings().max_distance:
            from models.recipes.demo import DEMO_REID_MAX_DISTANCE

            args.max_distance = DEMO_REID_MAX_DISTANCE  # calibrated for the demo embedder
    if args.photos_dir is None:
        print("thumper census: give a PHOTOS_DIR (or --demo)", file=sys.stderr)
        return EXIT_BAD_INPUT
    store = Store.open(args.db)
    dashboard = connect_ray(args.address, args.num_cpus)
    if dashboard:
        log.info("Ray dashboard: http://%s", dashboard.removeprefix("http://"))
    census = partial(run_census, photos_dir=args.photos_dir, options=_options(args))
    try:
        report, store = _resuming(args, store, census)
    except PhotoFolderError as e:
        print(f"thumper census: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if busy := _busy(store, report.ingest.image_ids):
        _say_busy("census", busy, args.wait)
        if not args.wait:
            print(render_census(report))
            return EXIT_BUSY
        _wait_for(store, report.ingest.image_ids)
        report, store = _resuming(args, store, census)  # what those runs left unfinished
    print(render_census(report))
    if line := reid_after_census(args, store):
        print(line)
    return 0


def cmd_process(args: argparse.Namespace) -> int:
    from cluster.runtime import connect as connect_ray
    from pipelines.census import process_pending
    from store import Store

    store = Store.open(args.db)
    connect_ray(args.address, args.num_cpus)
    process = partial(process_pending, options=_options(args), kind="reprocess" if args.reprocess else "process")
    run, store = _resuming(args, store, process)
    if busy := _busy(store, None):
        _say_busy("process", busy, args.wait)
        if not args.wait:
            return EXIT_BUSY
        _wait_for(store, None)
        run, store = _resuming(args, store, process)
    print(f"run {run.run_id}: {run.claimed} photos claimed, {run.completed} completed, {run.failed} failed, "
          f"{run.detections} detections in {run.seconds:.1f} s (detector {run.detector_version})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from store import Store
    from thumper.render import table

    store = Store.open(args.db)
    counts = store.status_counts()
    print("Photos by status: " + ", ".join(f"{k} {v}" for k, v in counts.items())
          + f"  (total {sum(counts.values())})")
    if live := store.live_runs():
        print("\nLive runs (alive in another process now):")
        for r in live:
            r["started"], r["source"] = f"{r['started_at']:%Y-%m-%d %H:%M:%S}", r["source"] or ""
        print(table(live, [("id", "run"), ("kind", "kind"), ("source", "source"), ("started", "since"),
                           ("holding", "processing now"), ("done", "done")]))
    runs = store.latest_runs()
    if runs:
        print("\nRecent runs:")
        print(table(runs, [("id", "run"), ("kind", "kind"), ("status", "status"), ("started_at", "started"),
                           ("images_claimed", "claimed"), ("images_completed", "done"),
                           ("images_failed", "failed"), ("detections", "detections"),
                           ("detector_version", "detector"), ("classifier_version", "classifier")]))
    return 0


SIGNED_OPTIONS = ("--utc-offset", "--by", "--lon", "--lat", "--time-zone")  # values such as -05:00, -1h, -89.5: argparse reads them as options


def _glue_signed_values(argv: list[str]) -> list[str]:
    """`--utc-offset -05:00` as `--utc-offset=-05:00` (and --by -1h ...), so the documented forms work."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in SIGNED_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    try:
        parser = build_parser()  # its defaults are the settings: a bad THUMPER_* value stops here
    except ValidationError as e:
        bad = "; ".join(f"THUMPER_{'_'.join(map(str, err['loc'])).upper()}: {err['msg']}" for err in e.errors())
        print(f"thumper: a setting in the environment is not valid: {bad}", file=sys.stderr)
        return EXIT_BAD_INPUT
    args = parser.parse_args(_glue_signed_values(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not args.verbose:
        logging.getLogger("pgserver").setLevel(logging.WARNING)  # its start-up chatter
    from cluster.runtime import PlanError
    from models.weights import WeightsNotFound
    from pipelines.census import DatabaseLost
    from store import DatabaseUnavailable, unavailable_reason

    try:
        return args.handler(args)
    except (WeightsNotFound, PlanError) as e:
        print(f"thumper {args.command}: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (DatabaseLost, GaveUp) as e:
        print(f"thumper {args.command}: {e}", file=sys.stderr)
        return EXIT_NO_DATABASE
    except DatabaseUnavailable as e:
        print(f"thumper {args.command}: the database cannot be reached ({unavailable_reason(e)}). Check --db / "
              "THUMPER_DATABASE_URL and that the server is up, then rerun: nothing is lost", file=sys.stderr)
        return EXIT_NO_DATABASE


if __name__ == "__main__":
    sys.exit(main())
