"""People's corrections to re-ID. Each takes effect at once and is stored as facts that every later
re-ID run applies, so neither a re-run nor a full reprocess undoes it.

A fact names detections by (image, box), not by row id (see store/migrations/0003): `same_deer` is
a must-link between two detections, `not_this_deer` a cannot-link plus "never deer X", `not_deer`
removes a detection from re-ID. Deer-level actions (merge, split, move) are recorded as an action
row, and reduce to detection facts anchored on a deer's best detection.
"""
from __future__ import annotations

from contextlib import contextmanager

from store.reid import ReidStore


class CorrectionError(ValueError):
    """A correction that cannot be made (reported to the user as is)."""


class NotFound(CorrectionError):
    """The deer or detection it names does not exist (HTTP 404)."""


class Conflict(CorrectionError):
    """It contradicts the data or a hard rule: a doe is never a buck, one photo never shows one deer
    twice, a merged deer is gone (HTTP 409)."""


@contextmanager
def _locked(reid: ReidStore):
    reid.lock()  # a re-ID run in progress would overwrite the change; wait for it
    try:
        with reid.transaction():
            yield
    finally:
        reid.unlock()


def _ref(det: dict, prefix: str = "") -> dict:
    keys = ("image_id", "x1", "y1", "x2", "y2")
    names = ("other_image_id", "ox1", "oy1", "ox2", "oy2") if prefix else keys
    return {n: det[k] for n, k in zip(names, keys)}


def _fact(kind: str, det: dict, other: dict | None, action: int, **deer) -> dict:
    return {"kind": kind, **_ref(det), **(_ref(other, "o") if other else {}), "action_id": action, **deer}


def _active_deer(reid: ReidStore, deer_id: int) -> dict:
    deer = reid.deer(deer_id)
    if deer is None:
        raise NotFound(f"no deer {deer_id}")
    if deer["status"] == "merged":
        raise Conflict(f"deer {deer_id} was merged into deer {deer['merged_into']}")
    return deer


def _detection(reid: ReidStore, det_id: int) -> dict:
    found = reid.detections([det_id])
    if not found:
        raise NotFound(f"no detection {det_id}")
    return found[0]


def _anchor(reid: ReidStore, deer_id: int, exclude=()) -> dict | None:
    """The deer's representative detection (or its most confident other one)."""
    deer = reid.deer(deer_id)
    members = [m for m in reid.members(deer_id) if m["id"] not in set(exclude)]
    for m in members:
        if m["id"] == deer["representative_id"]:
            return m
    return max(members, key=lambda m: (m["confidence"], -m["id"]), default=None)


def _check_compatible(group_a: list[dict], group_b: list[dict], what: str) -> None:
    sexes = {m["sex"] for m in group_a + group_b} - {"unknown"}
    if len(sexes) > 1:
        raise Conflict(f"{what}: a doe and a buck are never the same deer")
    if {m["image_id"] for m in group_a} & {m["image_id"] for m in group_b}:
        raise Conflict(f"{what}: two deer in the same photo are never the same deer")


def rename(reid: ReidStore, deer_id: int, name: str | None) -> None:
    with _locked(reid):
        _active_deer(reid, deer_id)
        reid.rename(deer_id, name)
        reid.add_corrections([{"kind": "rename", "deer_id": deer_id, "name": name}])


def merge(reid: ReidStore, deer_id: int, into: int) -> None:
    """Deer `deer_id` is deer `into`: all their detections stay together from now on."""
    if deer_id == into:
        raise Conflict("a deer cannot be merged with itself")
    with _locked(reid):
        a, b = _active_deer(reid, deer_id), _active_deer(reid, into)
        ma, mb = reid.members(deer_id), reid.members(into)
        _check_compatible(ma, mb, f"merge {deer_id} into {into}")
        (action,) = reid.add_corrections([{"kind": "merge", "deer_id": deer_id, "other_deer_id": into}])
        anchor = _anchor(reid, into) or _anchor(reid, deer_id)
        if anchor:
            reid.add_corrections([_fact("same_deer", m, anchor, action, deer_id=deer_id, other_deer_id=into)
                                  for m in ma + mb if m["id"] != anchor["id"]])
        reid.assign([m["id"] for m in ma], into)
        reid.mark_merged(deer_id, into)
        if b["name"] is None and a["name"] is not None:
            reid.rename(into, a["name"])
        reid.refresh_profiles([into])


def split(reid: ReidStore, deer_id: int, detection_ids: list[int]) -> int:
    """These detections of the deer are another deer (returned: its new id)."""
    with _locked(reid):
        _active_deer(reid, deer_id)
        members = reid.members(deer_id)
        wanted = set(detection_ids)
        part = [m for m in members if m["id"] in wanted]
        rest = [m for m in members if m["id"] not in wanted]
        if len(part) != len(wanted):
            raise Conflict(f"detections {sorted(wanted - {m['id'] for m in part})} are not deer {deer_id}")
        if not rest:
            raise Conflict("that is every detection of the deer: nothing to split it from")
        (new,) = reid.create_deer(1)
        (action,) = reid.add_corrections([{"kind": "split", "deer_id": deer_id, "other_deer_id": new}])
        anchor = max(part, key=lambda m: (m["confidence"], -m["id"]))
        kept = _anchor(reid, deer_id, exclude=wanted)
        reid.add_corrections(
            [_fact("same_deer", m, anchor, action, deer_id=new) for m in part if m is not anchor]
            + [_fact("not_this_deer", m, anchor, action, deer_id=new) for m in rest]
            + [_fact("not_this_deer", anchor, kept, action, deer_id=deer_id)])
        reid.assign([m["id"] for m in part], new)
        reid.refresh_profiles([deer_id, new])
    return new


def move(reid: ReidStore, detection_id: int, to: int) -> None:
    """This detection is deer `to` (and not the deer it was)."""
    with _locked(reid):
        det = _detection(reid, detection_id)
        _active_deer(reid, to)
        old = det["deer_id"]
        if old == to:
            return
        _check_compatible([det], reid.members(to), f"move {detection_id} to deer {to}")
        (action,) = reid.add_corrections([{"kind": "move", "deer_id": old, "other_deer_id": to}])
        facts = []
        anchor = _anchor(reid, to)
        if anchor:
            facts.append(_fact("same_deer", det, anchor, action, other_deer_id=to))
        if old is not None:
            previous = _anchor(reid, old, exclude=[detection_id])
            facts.append(_fact("not_this_deer", det, previous, action, deer_id=old))
        reid.add_corrections(facts)
        reid.assign([detection_id], to)
        reid.refresh_profiles([d for d in (old, to) if d is not None])


def not_deer(reid: ReidStore, detection_id: int) -> None:
    """A false detection: left out of re-ID, profiles, reports and exports."""
    with _locked(reid):
        det = _detection(reid, detection_id)
        reid.add_corrections([{"kind": "not_deer", "deer_id": det["deer_id"], **_ref(det)}])  # row = fact
        reid.assign([detection_id], None)
        if det["deer_id"] is not None:
            reid.refresh_profiles([det["deer_id"]])


DEER_CLASSES = ("doe", "fawn", "buck", "deer")
BUCK_AGES = ("young", "mid", "mature")


def set_class(reid: ReidStore, detection_id: int, deer_class: str, age_class: str | None = None) -> None:
    """A person's word on what the detection is: doe, fawn, buck (with its age class, if known) or
    deer (sex unknown). Stored as a fact, put on the detection now and after every reprocess, and
    it decides the detection's whole track in the census estimate. Its deer's profile is refreshed;
    a doe left in a buck's profile is split off by the next re-ID run (never female with male)."""
    if deer_class not in DEER_CLASSES:
        raise CorrectionError(f"class must be one of {', '.join(DEER_CLASSES)}, not {deer_class!r}")
    if age_class is not None and (deer_class != "buck" or age_class not in BUCK_AGES):
        raise CorrectionError(f"an age class ({', '.join(BUCK_AGES)}) is for bucks only")
    with _locked(reid):
        det = _detection(reid, detection_id)
        if det.get("observation_type", "animal") != "animal":
            raise Conflict(f"detection {detection_id} is a {det['observation_type']}, not an animal")
        reid.add_corrections([{"kind": "class", "deer_id": det["deer_id"], **_ref(det), "deer_class": deer_class,
                               "age_class": age_class}])
        reid.apply_class_facts([det["image_id"]])
        if det["deer_id"] is not None:
            reid.refresh_profiles([det["deer_id"]])


def not_this_deer(reid: ReidStore, detection_id: int) -> None:
    """The detection is not the deer it is assigned to; it can never be put back into it."""
    with _locked(reid):
        det = _detection(reid, detection_id)
        old = det["deer_id"]
        if old is None:
            raise Conflict(f"detection {detection_id} is not assigned to a deer")
        anchor = _anchor(reid, old, exclude=[detection_id])
        reid.add_corrections([{"kind": "not_this_deer", "deer_id": old, **_ref(det),
                               **(_ref(anchor, "o") if anchor else {})}])
        reid.assign([detection_id], None)
        reid.refresh_profiles([old])


def confirm_match(reid: ReidStore, detection_id: int) -> int:
    """"Yes, same deer" from the review queue: a must-link between the detection and its deer's best
    other detection, so every later re-ID run keeps them together and the queue stops asking.
    Returns the deer."""
    with _locked(reid):
        det = _detection(reid, detection_id)
        if det["deer_id"] is None:
            raise Conflict(f"detection {detection_id} is not assigned to a deer")
        anchor = _anchor(reid, det["deer_id"], exclude=[detection_id])
        if anchor is None:
            raise Conflict(f"deer {det['deer_id']} has no other sighting to confirm against")
        reid.add_corrections([{**_fact("same_deer", det, anchor, None), "deer_id": det["deer_id"],
                               "note": "confirmed in review"}])
    return det["deer_id"]


def different_deer(reid: ReidStore, deer_id: int, other: int) -> None:
    """Deer `deer_id` and `other` are two animals (the review queue's "different bucks"): a cannot-link
    between their best detections, and the first is never `other`, so no re-ID run joins them and the
    queue stops asking about the pair."""
    if deer_id == other:
        raise Conflict("a deer is always the same deer as itself")
    with _locked(reid):
        _active_deer(reid, deer_id)
        _active_deer(reid, other)
        a, b = _anchor(reid, deer_id), _anchor(reid, other)
        if a is None or b is None:
            raise Conflict(f"deer {deer_id if a is None else other} has no sighting to tell apart")
        reid.add_corrections([{**_fact("not_this_deer", a, b, None), "deer_id": other,
                               "note": "different deer (review)"}])


def buck_count_either_way(bucks: int, pairs: list[tuple[int, int]]) -> tuple[int, int]:
    """(bucks if every pair is one buck, bucks if none is): the pairs joined transitively, as merges."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    merges = 0
    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
            merges += 1
    return bucks - merges, bucks
