"""`thumper reid | export | report | deer ...`: re-identification sub-commands (registered by
thumper.cli through COMMAND_MODULES)."""
from __future__ import annotations

import argparse
import csv
import sys
from datetime import date
from pathlib import Path

from models.settings import settings
from pipelines.clustering import ClusterSettings
from pipelines.reid import ReidSettings

EXIT_BAD_INPUT = 2


def add_settings_arguments(p: argparse.ArgumentParser) -> None:
    d, c, s = ReidSettings(), ClusterSettings(), settings()
    p.add_argument("--gap", type=float, default=d.burst_gap_seconds,
                   help="seconds between photos of one camera that still continue a burst "
                        f"(default: {d.burst_gap_seconds:g})")
    p.add_argument("--max-distance", type=float, default=s.max_distance,
                   help=f"largest mean cosine distance within one deer (default: {s.max_distance}; "
                        "env THUMPER_MAX_DISTANCE)")
    p.add_argument("--min-sightings", type=int, default=c.min_sightings,
                   help=f"detections a deer needs for a profile (default: {c.min_sightings})")


def settings_from_args(args: argparse.Namespace) -> ReidSettings:
    return ReidSettings(burst_gap_seconds=args.gap,
                        cluster=ClusterSettings(max_distance=args.max_distance, min_sightings=args.min_sightings))


def add_window_arguments(p: argparse.ArgumentParser) -> None:
    """The census estimate's survey window and site (thumper report, thumper export --format estimate-*)."""
    from pipelines.estimate import SEASONS

    g = p.add_argument_group("census estimate", "the survey window (default: the last 14 days of deer photos) "
                                                "and the site (default: every camera pooled)")
    g.add_argument("--from", dest="date_from", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="first day of the survey window (camera-local)")
    g.add_argument("--to", dest="date_to", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="last day of the survey window (alone: the 14 days ending then)")
    g.add_argument("--season", metavar="SEASON",
                   help=f"a preset instead of dates: {', '.join(SEASONS)} (the latest; rut = Sep 1 - Jan 31), "
                        "with a starting year (rut-2024), or last-N-days")
    g.add_argument("--location", help="one camera location")
    g.add_argument("--boot", type=int, default=1000, metavar="N",
                   help="bootstrap replicates for the 95%% intervals (default: 1000; seed 0, so the same data "
                        "always gives the same figures)")


def window_from_args(store, args: argparse.Namespace):
    """(SurveyWindow, location) from the options; ValueError with a message a user can act on."""
    from pipelines.census_estimate import survey_window

    if args.location is not None and args.location not in store.reports.location_names():
        known = ", ".join(store.reports.location_names()) or "none yet"
        raise ValueError(f"no location {args.location!r} (locations: {known})")
    return survey_window(store, args.season, args.date_from, args.date_to, args.location), args.location


def register(sub, add_db) -> None:
    from pipelines.export import FORMATS

    reid = sub.add_parser("reid", help="group bursts and cluster every deer detection into individual deer",
                          description="Global re-identification over all embeddings in the store. Deer ids, "
                                      "names and corrections are kept from run to run.")
    add_db(reid)
    add_settings_arguments(reid)
    reid.set_defaults(handler=cmd_reid)

    export = sub.add_parser("export", help="export detections with deer ids (CSV, MegaDetector JSON, Camtrap DP), "
                                           "or the census estimate (JSON, CSV)")
    export.add_argument("out", type=Path, metavar="OUT",
                        help="output file (csv, megadetector, estimate-json, estimate-csv) or folder (camtrap-dp)")
    export.add_argument("--format", choices=FORMATS, default="csv",
                        help="default: csv; estimate-json / estimate-csv: the census estimate of the survey window "
                             "below (estimate-csv: one row per figure)")
    export.add_argument("--root", help="photo paths are written relative to this folder (default: the folder "
                                       "all photos share)")
    export.add_argument("--utc-offset", metavar="ZONE",
                        help="camtrap-dp: the time zone of deployments that have none set (`thumper cameras set "
                             "ID --time-zone`), e.g. -05:00 or America/Chicago")
    export.add_argument("--coordinates", type=Path, metavar="CSV",
                        help="camtrap-dp: CSV with columns location,latitude,longitude, for deployments without "
                             "coordinates of their own (`thumper cameras set ID --lat --lon`)")
    add_window_arguments(export)
    add_db(export)
    export.set_defaults(handler=cmd_export)

    report = sub.add_parser("report", help="the census estimate (bucks, does, fawns, total with 95%% intervals) of a "
                                           "survey window, the buck roster, sightings by location/month, rut",
                            description="The census estimate: antlered bucks identified one by one, does and fawns "
                                        "from photo ratios over bursts (Jacobson et al. 1997; docs/census.md), with "
                                        "95% bootstrap intervals and the assumptions they rest on. Then the re-ID "
                                        "profiles and the sightings.")
    add_window_arguments(report)
    add_db(report)
    report.set_defaults(handler=cmd_report)

    deer = sub.add_parser("deer", help="list deer, or correct re-identification (rename, merge, split, move ...)",
                          description="Without a sub-command: list the deer. Corrections take effect now and are "
                                      "kept by every later `thumper reid` and every reprocess.")
    add_db(deer)
    deer.add_argument("--all", action="store_true", help="include merged and retired deer")
    deer.set_defaults(handler=cmd_deer_list)
    actions = deer.add_subparsers(dest="deer_command", metavar="CORRECTION")
    for name, helptext, args, handler in (
        ("rename", "give a deer a name", [("deer_id", int), ("name", str)], cmd_rename),
        ("merge", "deer A is deer B (A's detections join B; A is marked merged)", [("a", int), ("b", int)], cmd_merge),
        ("split", "these detections of the deer are another deer", [("deer_id", int), ("detection_ids", int, "+")],
         cmd_split),
        ("move", "this detection is that deer", [("detection_id", int), ("to_deer", int)], cmd_move),
        ("not-deer", "this detection is not a deer at all", [("detection_id", int)], cmd_not_deer),
        ("class", "this detection is a doe, fawn or buck (buck: optionally young, mid or mature); it decides its "
                  "whole track in the census", [("detection_id", int), ("deer_class", str), ("age_class", str, "?")],
         cmd_class),
        ("not-this", "this detection is not the deer it was put in (never again)", [("detection_id", int)],
         cmd_not_this),
        ("show", "one deer's profile and detections", [("deer_id", int)], cmd_show),
    ):
        p = actions.add_parser(name, help=helptext)
        for arg in args:
            p.add_argument(arg[0], type=arg[1], nargs=arg[2] if len(arg) > 2 else None)
        add_db(p)
        p.set_defaults(handler=handler)


def _store(args):
    from store import Store

    return Store.open(args.db)


def cmd_reid(args: argparse.Namespace) -> int:
    from pipelines.reid import run_reid
    from thumper.render import render_summary

    with _store(args) as store:
        print(render_summary(run_reid(store, settings_from_args(args))))
    return 0


def _coordinates(path: Path | None) -> dict[str, tuple[float, float]]:
    """--coordinates CSV: location,latitude,longitude; an ExportError names the bad row."""
    from pipelines.export import ExportError

    if path is None:
        return {}
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise ExportError(f"--coordinates {path}: {e.strerror or e}") from None
    out = {}
    for n, r in enumerate(rows, start=2):
        try:
            out[r["location"]] = (float(r["latitude"]), float(r["longitude"]))
        except (KeyError, TypeError, ValueError):
            raise ExportError(f"--coordinates {path} line {n}: need columns location,latitude,longitude with "
                             f"numbers, got {dict(r)}") from None
    return out


def cmd_export(args: argparse.Namespace) -> int:
    from pipelines.export import ExportError, export

    try:
        options = ({"utc_offset": args.utc_offset,
                    "coordinates": _coordinates(args.coordinates)} if args.format == "camtrap-dp" else {})
        with _store(args) as store:
            if args.format.startswith("estimate-"):
                try:
                    window, location = window_from_args(store, args)
                except ValueError as e:
                    print(f"thumper export: {e}", file=sys.stderr)
                    return EXIT_BAD_INPUT
                options = {"window": window, "location": location, "n_boot": args.boot}
            out = export(store, args.format, args.out, root=args.root, **options)
    except ExportError as e:
        print(f"thumper export: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pipelines.census_estimate import census_estimate
    from pipelines.deer_report import build_report
    from thumper.render import render_estimate, render_report

    with _store(args) as store:
        try:
            window, location = window_from_args(store, args)
        except ValueError as e:
            print(f"thumper report: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        est = census_estimate(store, window, location, n_boot=args.boot)
        print(render_estimate(est))
        print()
        print(render_report(build_report(store)))
    return 0


def cmd_deer_list(args: argparse.Namespace) -> int:
    from thumper.render import table

    with _store(args) as store:
        rows = store.reid.list_deer(include_inactive=args.all)
    for r in rows:
        r["name"] = r["name"] or ""
        r["age_class"] = r["age_class"] or ""
        r["seen"] = f"{r['first_seen']:%Y-%m-%d} .. {r['last_seen']:%Y-%m-%d}" if r["first_seen"] else ""
        r["locations"] = ", ".join(r["locations"])
        r["status"] = r["status"] + (f" -> {r['merged_into']}" if r["merged_into"] else "")
    print(table(rows, [("id", "deer"), ("name", "name"), ("sex", "sex"), ("deer_class", "class"),
                       ("age_class", "age"), ("sightings", "sightings"), ("seen", "seen"),
                       ("locations", "locations"), ("representative_id", "best detection"), ("status", "status")])
          if rows else "no deer yet: run `thumper reid`")
    return 0


def _correct(args: argparse.Namespace, action, *params, done: str) -> int:
    from pipelines.corrections import CorrectionError

    with _store(args) as store:
        try:
            result = action(store.reid, *params)
        except CorrectionError as e:
            print(f"thumper deer {args.deer_command}: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
    print(done.format(result=result))
    return 0


def cmd_rename(args):
    from pipelines.corrections import rename

    return _correct(args, rename, args.deer_id, args.name, done=f"deer {args.deer_id} is now {args.name!r}")


def cmd_merge(args):
    from pipelines.corrections import merge

    return _correct(args, merge, args.a, args.b, done=f"deer {args.a} merged into deer {args.b}")


def cmd_split(args):
    from pipelines.corrections import split

    return _correct(args, split, args.deer_id, args.detection_ids, done="split off as deer {result}")


def cmd_move(args):
    from pipelines.corrections import move

    return _correct(args, move, args.detection_id, args.to_deer,
                    done=f"detection {args.detection_id} moved to deer {args.to_deer}")


def cmd_not_deer(args):
    from pipelines.corrections import not_deer

    return _correct(args, not_deer, args.detection_id, done=f"detection {args.detection_id} marked not a deer")


def cmd_class(args):
    from pipelines.corrections import set_class

    said = args.deer_class + (f" ({args.age_class})" if args.age_class else "")
    return _correct(args, set_class, args.detection_id, args.deer_class, args.age_class,
                    done=f"detection {args.detection_id} is a {said}")


def cmd_not_this(args):
    from pipelines.corrections import not_this_deer

    return _correct(args, not_this_deer, args.detection_id,
                    done=f"detection {args.detection_id} taken out of its deer, for good")


def cmd_show(args: argparse.Namespace) -> int:
    from thumper.render import table

    with _store(args) as store:
        deer = store.reid.deer(args.deer_id)
        if deer is None:
            print(f"thumper deer show: no deer {args.deer_id}", file=sys.stderr)
            return EXIT_BAD_INPUT
        rows = store.reid.sightings(args.deer_id)
    print("\n".join(f"{k}: {v}" for k, v in deer.items() if k != "centroid"))
    print(table(rows, [("id", "detection"), ("path", "photo"), ("taken_at", "taken"), ("confidence", "conf")]))
    return 0


# ---- hooks for `thumper census` (thumper/cli.py): re-ID runs at the end unless --no-reid --------
def add_census_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-reid", action="store_true", help="skip re-identification after the census")
    add_settings_arguments(p)


def reid_after_census(args: argparse.Namespace, store) -> str | None:
    """Run re-ID over the whole store after a census; returns the summary line (None if skipped)."""
    if getattr(args, "no_reid", False):
        return None
    from pipelines.reid import run_reid
    from thumper.render import render_summary

    summary = render_summary(run_reid(store, settings_from_args(args)))
    # profiles are re-ID's groups, not a count of deer: say where the census estimate is
    return summary + ("\nthe census estimate (bucks, does, fawns and the total, with 95% intervals, and the "
                      "assumptions): thumper report")
