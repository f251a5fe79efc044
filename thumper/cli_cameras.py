"""`thumper cameras`: deployments (a camera at a location for a period), their clocks put right,
and survey effort (trap-nights, detections per 100 trap-nights)."""
from __future__ import annotations

import argparse
import sys

EXIT_BAD_INPUT = 2


def register(sub, add_db) -> None:
    p = sub.add_parser(
        "cameras", help="deployments: coordinates, time zone, camera-clock fixes (shift, drift, DST, AM/PM), effort",
        description="Each camera at a location is a deployment, made on ingest from the folder and EXIF. Set its "
                    "coordinates and time zone (Camtrap DP export needs them), and fix its clock: corrections "
                    "are stored as facts, shown, undoable, applied to later photos of the camera too, and "
                    "kept through any reprocess. The photo's own time is kept beside the corrected one; "
                    "bursts, filters, charts, reports and exports use the corrected time.",
        epilog="Examples:\n"
               "  thumper cameras list\n"
               "  thumper cameras set 3 --lat 44.51 --lon -89.57 --time-zone America/Chicago\n"
               "  thumper cameras shift 3 --by -1h --from '2024-11-03 02:00'     (clock one hour fast)\n"
               "  thumper cameras drift 3 --camera-said '2024-12-01 12:07:30' --true '2024-12-01 12:00:00'\n"
               "  thumper cameras dst 3 --from '2024-11-03 02:00'     (left on summer time: -1h by default)\n"
               "  thumper cameras ampm 3 --from 2024-10-01 --to 2024-10-15\n"
               "  thumper cameras show 3        (its corrections, with their ids)\n"
               "  thumper cameras undo 7\n"
               "  thumper cameras effort        (trap-nights, events per 100 trap-nights)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    acts = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = acts.add_parser("list", help="every deployment with its photos, period, zone and clock state")
    ls.add_argument("--location")
    show = acts.add_parser("show", help="one deployment and its clock corrections")
    show.add_argument("deployment", type=int)
    st = acts.add_parser("set", help="coordinates, period, time zone, serial, notes, timestampIssues")
    st.add_argument("deployment", type=int)
    st.add_argument("--lat", type=float, help="latitude, WGS84 decimal degrees")
    st.add_argument("--lon", type=float, help="longitude, WGS84 decimal degrees")
    st.add_argument("--uncertainty", type=int, metavar="METRES", help="coordinate uncertainty in metres")
    st.add_argument("--start", help="when the camera was set up (camera-local; default: its first photo)")
    st.add_argument("--end", help="when it was taken down (default: its last photo)")
    st.add_argument("--time-zone", help="IANA name (America/Chicago) or UTC offset (-05:00)")
    st.add_argument("--serial", help="the camera's serial number")
    st.add_argument("--notes")
    st.add_argument("--timestamp-issues", choices=("yes", "no"),
                    help="flag a clock that cannot be trusted (Camtrap DP timestampIssues)")
    kinds = {
        "shift": "move photo times by a fixed amount (--by +1h30m, -3600s, -2d)",
        "drift": "a clock that ran fast or slow: give what the camera said at a moment and the true time",
        "dst": "a daylight-saving hour (--by, default -1h: the camera stayed on summer time) from --from on",
        "ampm": "swap AM and PM (a 12-hour clock set wrong)",
    }
    for name, text in kinds.items():
        k = acts.add_parser(name, help=text)
        k.add_argument("deployment", type=int)
        if name in ("shift", "dst"):
            k.add_argument("--by", required=name == "shift", help="a duration: +1h, -30m, +01:30, -90s")
        if name == "drift":
            k.add_argument("--camera-said", required=True, help="the camera's time at a known moment")
            k.add_argument("--true", required=True, dest="true_time", help="the true time at that moment")
        k.add_argument("--from", dest="start", help="first photo time (as the camera recorded it) it applies to")
        k.add_argument("--to", dest="end", help="last photo time (as recorded) it applies to")
        k.add_argument("--note", help="why (kept with the correction)")
        k.set_defaults(kind={"shift": "offset"}.get(name, name))
    undo = acts.add_parser("undo", help="undo one clock correction (by its id, from `show`)")
    undo.add_argument("correction", type=int)
    eff = acts.add_parser("effort", help="trap-nights per deployment and detections per 100 trap-nights")
    eff.add_argument("--location")
    eff.add_argument("--gap-days", type=float, default=None,
                     help="days without any photo counted as the camera not working (default 14; 0: never)")
    for q in acts.choices.values():
        add_db(q)
    p.set_defaults(handler=cmd_cameras)


def _fmt(t) -> str:
    return f"{t:%Y-%m-%d %H:%M}" if t else ""


def _clock(d: dict) -> str:
    """What a person should know about the deployment's clock."""
    notes = []
    if d["timestamp_issues"]:
        notes.append("flagged untrustworthy")
    if d["suspect_photos"]:
        notes.append(f"{d['suspect_photos']} photos dated before 2005 or in the future: reset clock?")
    if d["mtime_photos"]:
        notes.append(f"{d['mtime_photos']} timed by file date")
    if d["ocr_photos"]:
        notes.append(f"{d['ocr_photos']} timed by the stamp bar")
    if d["corrections"]:
        notes.append(f"{d['corrections']} correction(s), {d['shifted_photos']} photos moved")
    return "; ".join(notes) or "ok"


def _show_list(store, location) -> None:
    from thumper.render import table

    deps = store.deployments.list(location)
    if not deps:
        print("no deployments yet: ingest photos first (thumper census PHOTOS_DIR)")
        return
    for d in deps:
        d["camera"] = " ".join(x for x in (d["camera_make"], d["camera_model"], d["camera_serial"]) if x) or "?"
        d["period"] = f"{_fmt(d['start'])} – {_fmt(d['end'])}"
        d["where"] = f"{d['latitude']:.5f}, {d['longitude']:.5f}" if d["latitude"] is not None else "not set"
        d["zone"] = d["time_zone"] or "not set"
        d["clock"] = _clock(d)
    print(table(deps, [("id", "id"), ("location", "location"), ("camera", "camera"), ("photos", "photos"),
                       ("period", "period (corrected time)"), ("where", "coordinates"), ("zone", "time zone"),
                       ("clock", "clock")]))


def _show_one(store, deployment_id: int) -> None:
    from pipelines.timefix import describe

    d = store.deployments.get(deployment_id)
    camera = " ".join(x for x in (d["camera_make"], d["camera_model"], d["camera_serial"]) if x) or "unknown camera"
    print(f"deployment {d['id']}: {camera} at {d['location']}, {d['photos']} photos")
    print(f"  period   {_fmt(d['start'])} – {_fmt(d['end'])}" + ("" if d["start_at"] else "  (from its photos)"))
    coords = f"{d['latitude']}, {d['longitude']}" if d["latitude"] is not None else "not set"
    print(f"  where    {coords}" + (f" (±{d['coordinate_uncertainty_m']} m)" if d["coordinate_uncertainty_m"] else ""))
    print(f"  zone     {d['time_zone'] or 'not set'}")
    print(f"  clock    {_clock(d)}")
    if d["notes"]:
        print(f"  notes    {d['notes']}")
    fixes = store.deployments.corrections(deployment_id)
    for c in fixes:
        print(f"  #{c.id:<5} {describe(c)}" + (f"  ({c.note})" if c.note else ""))
    if not fixes:
        print("  no clock corrections")


def _set(store, args) -> None:
    from pipelines.timefix import check_coordinates, check_time_zone, parse_time

    values: dict = {}
    check_coordinates(args.lat, args.lon)
    for key, value in (("latitude", args.lat), ("longitude", args.lon), ("coordinate_uncertainty_m", args.uncertainty),
                       ("notes", args.notes), ("camera_serial", args.serial)):
        if value is not None:
            values[key] = value
    if args.start:
        values["start_at"] = parse_time(args.start)
    if args.end:
        values["end_at"] = parse_time(args.end)
    if args.time_zone:
        values["time_zone"] = check_time_zone(args.time_zone)
    if args.timestamp_issues:
        values["timestamp_issues"] = args.timestamp_issues == "yes"
    if not values:
        raise ValueError("nothing to set: give --lat/--lon, --start/--end, --time-zone, --serial, --notes or "
                         "--timestamp-issues")
    store.deployments.update(args.deployment, values)
    print(f"deployment {args.deployment}: set {', '.join(sorted(values))}")


def cmd_cameras(args: argparse.Namespace) -> int:
    from pipelines import timefix
    from store import Store
    from store.deployments import DeploymentError

    store = Store.open(args.db)
    try:
        if args.action == "list":
            _show_list(store, args.location)
        elif args.action == "show":
            _show_one(store, args.deployment)
        elif args.action == "set":
            _set(store, args)
        elif args.action == "undo":
            c, done = timefix.undo(store, args.correction)
            print(f"undid #{c.id} ({timefix.describe(c).removesuffix(' (undone)')}) on deployment {c.deployment_id}: "
                  f"{done.photos_changed} photos moved back, bursts regrouped ({done.bursts} in all)")
        elif args.action == "effort":
            _effort(store, args)
        else:
            done = timefix.add_correction(store, args.deployment, args.kind, by=getattr(args, "by", None),
                                          camera_said=getattr(args, "camera_said", None),
                                          true_time=getattr(args, "true_time", None),
                                          start=args.start, end=args.end, note=args.note)
            print(f"correction #{done.correction_id} on deployment {args.deployment}: {done.photos_changed} photos "
                  f"moved, bursts regrouped ({done.bursts} in all) (undo: thumper cameras undo {done.correction_id}; "
                  "run thumper reid to redo the deer profiles with the new bursts)")
    except (DeploymentError, ValueError) as e:
        print(f"thumper cameras {args.action}: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        store.close()
    return 0


def _effort(store, args) -> None:
    from pipelines.effort import CLASSES, GAP_DAYS, by_site, effort
    from thumper.render import table

    efforts = effort(store, GAP_DAYS if args.gap_days is None else args.gap_days, args.location)
    if not efforts:
        print("no deployments yet")
        return
    rows = [{"id": e.deployment_id, "location": e.location, "camera": e.camera,
             "period": f"{_fmt(e.start)} – {_fmt(e.end)}", "nights": e.trap_nights,
             "gaps": ", ".join(f"{a:%m-%d}–{b:%m-%d}" for a, b in e.gaps)} for e in efforts]
    print(table(rows, [("id", "id"), ("location", "location"), ("camera", "camera"), ("period", "period"),
                       ("nights", "trap-nights"), ("gaps", "not working (no photo for > gap days)")]))
    print("\nIndependent events (bursts) per 100 trap-nights:")
    sites = by_site(efforts)
    for s in sites:
        for c in CLASSES:
            s[c] = f"{s[f'{c}_per_100']:.1f} ({s[f'{c}_events']})" if s[f"{c}_per_100"] is not None else "-"
    print(table(sites, [("site", "site"), ("trap_nights", "trap-nights"),
                        *((c, f"{c} per 100 (events)") for c in CLASSES)]))
