"""Synthetic trail-camera photos: EXIF, determinism, ground truth, bursts, individual looks, non-deer subjects."""
from collections import defaultdict
from datetime import datetime, timedelta

import exifread
import numpy as np
import pytest
from PIL import Image

from PIL import ImageDraw

from models.synthetic import (ALL_KINDS, KINDS, OTHER_KINDS, DeerSpec, OtherSpec, appearance, default_herd,
                              draw_subject, make_photo_folder, other_appearance, place_deer, place_group,
                              random_subject, render_scene, write_photo)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    return root, make_photo_folder(root, seed=3)


def test_exif_round_trip_with_exifread(tmp_path):
    img, _ = render_scene(np.random.default_rng(0), (320, 180), [], background_seed=1)
    taken = datetime(2024, 11, 3, 5, 42, 17)
    path = tmp_path / "IMG_0001.JPG"
    write_photo(path, img, taken, make="Reconyx", model="HF2X")
    with open(path, "rb") as f:
        tags = exifread.process_file(f, details=False)
    assert str(tags["EXIF DateTimeOriginal"]) == "2024:11:03 05:42:17"
    assert str(tags["Image Make"]) == "Reconyx"
    assert str(tags["Image Model"]) == "HF2X"
    assert Image.open(path).size == (320, 180)


def test_photo_without_time_has_no_date(tmp_path):
    img, _ = render_scene(np.random.default_rng(0), (64, 48), [], background_seed=1)
    write_photo(tmp_path / "a.jpg", img, None)
    with open(tmp_path / "a.jpg", "rb") as f:
        tags = exifread.process_file(f, details=False)
    assert "EXIF DateTimeOriginal" not in tags and str(tags["Image Make"]) == "Browning"


def test_folder_layout_and_ground_truth(folder):
    root, rows = folder
    photos = {r["path"] for r in rows}
    assert len(photos) == 36
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.JPG")) == sorted(photos)
    assert {r["location"] for r in rows} == {"270_Jason", "Hayfield", "Sanctuary"}
    deer = [r for r in rows if r["individual"]]
    assert any(r["individual"] is None for r in rows), "expected a few empty photos"
    per_photo = defaultdict(int)
    for r in deer:
        per_photo[r["path"]] += 1
        x1, y1, x2, y2 = r["box"]
        assert 0 <= x1 < x2 <= 960 and 0 <= y1 < y2 <= 540
        assert (x2 - x1) * (y2 - y1) > 40 * 40
    assert max(per_photo.values()) >= 2, "expected some photos with two deer"
    herd = {s.individual: s for s in default_herd()}
    assert {r["individual"] for r in deer} <= set(herd)
    assert all(r["kind"] == herd[r["individual"]].kind for r in deer)
    locations = defaultdict(set)
    for r in deer:
        locations[r["individual"]].add(r["location"])
    assert max(len(v) for v in locations.values()) >= 2, "the herd should wander between cameras"
    months = {r["taken_at"].month for r in rows}
    assert months <= {9, 10, 11, 12, 1} and len(months) >= 3


def test_bursts_share_a_camera_and_are_seconds_apart(folder):
    _, rows = folder
    shots = sorted({(r["location"], r["path"], r["taken_at"]) for r in rows})
    bursts, current = [], [shots[0]]
    for prev, shot in zip(shots, shots[1:]):
        if shot[0] == prev[0] and shot[2] - prev[2] <= timedelta(seconds=10):
            current.append(shot)
        else:
            bursts.append(current)
            current = [shot]
    bursts.append(current)
    assert len(bursts) == 12 and all(len(b) == 3 for b in bursts)
    for burst in bursts:
        gaps = [(b[2] - a[2]).total_seconds() for a, b in zip(burst, burst[1:])]
        assert gaps == [2.0, 2.0]
        members = [{r["individual"] for r in rows if r["path"] == p} for _, p, _ in burst]
        assert members[0] == members[1] == members[2], "a burst shows the same deer"
    by_location = defaultdict(list)
    for b in bursts:
        by_location[b[0][0]].append(b[0][2])
    for starts in by_location.values():
        assert all(b - a >= timedelta(hours=1) for a, b in zip(starts, starts[1:]))


def test_deer_move_a_little_within_a_burst(folder):
    _, rows = folder
    by_individual = defaultdict(list)
    for r in rows:
        if r["individual"]:
            by_individual[(r["location"], r["individual"])].append(r)
    moved = 0
    for seq in by_individual.values():
        for a, b in zip(seq, seq[1:]):
            if (b["taken_at"] - a["taken_at"]).total_seconds() == 2:
                shift = abs((a["box"][0] + a["box"][2]) - (b["box"][0] + b["box"][2])) / 2
                assert shift < 60
                moved += shift > 0
    assert moved > 0


def test_deterministic_for_a_seed(tmp_path):
    a = make_photo_folder(tmp_path / "a", locations=("X",), photos_per_location=6, seed=7, size=(320, 180))
    b = make_photo_folder(tmp_path / "b", locations=("X",), photos_per_location=6, seed=7, size=(320, 180))
    c = make_photo_folder(tmp_path / "c", locations=("X",), photos_per_location=6, seed=8, size=(320, 180))
    assert a == b and a != c
    for r in a:
        assert (tmp_path / "a" / r["path"]).read_bytes() == (tmp_path / "b" / r["path"]).read_bytes()


def test_scene_boxes_cover_the_drawn_deer():
    rng = np.random.default_rng(5)
    spec = DeerSpec("buck", "mature", "b-1")
    empty, _ = render_scene(np.random.default_rng(0), (480, 270), [], background_seed=2, night=True)
    img, truth = render_scene(np.random.default_rng(0), (480, 270), [(spec, (240, 150, 150, 1))], background_seed=2,
                              night=True)
    changed = np.abs(np.asarray(img, dtype=int) - np.asarray(empty, dtype=int)).sum(2) > 40
    ys, xs = np.nonzero(changed)
    x1, y1, x2, y2 = truth[0]["box"]
    assert x1 - 2 <= xs.min() and xs.max() <= x2 + 2 and y1 - 2 <= ys.min() and ys.max() <= y2 + 2
    assert xs.min() - x1 < 10 and x2 - xs.max() < 10, "box should be tight"
    assert place_group(rng, (480, 270), [spec, spec])  # placements exist


def test_individuals_look_distinct_and_stable():
    a1, a2 = appearance("doe-1", "doe", None), appearance("doe-1", "doe", None)
    b = appearance("doe-2", "doe", None)
    assert a1 == a2 and a1 != b
    for i in range(20):  # tine counts follow age class
        assert sum(appearance(f"b{i}", "buck", "young")["antlers"]["per_side"]) <= 3
        assert 4 <= sum(appearance(f"b{i}", "buck", "mid")["antlers"]["per_side"]) <= 6
        assert sum(appearance(f"b{i}", "buck", "mature")["antlers"]["per_side"]) >= 8
    assert appearance("f", "fawn", "fawn")["spots"] and not a1["spots"]


def test_many_scenes_render():  # speed is measured in benchmarks, not asserted here
    rng = np.random.default_rng(0)
    herd = default_herd()
    scenes = [[(s, p) for s, p in zip(pair, place_group(rng, (960, 540), pair))]
              for pair in ([herd[i % 6], herd[(i + 3) % 6]] for i in range(30))]
    for i, deer in enumerate(scenes):
        img, truth = render_scene(rng, (960, 540), deer, background_seed=i % 3, night=i % 4 == 0)
        assert img.size == (960, 540) and len(truth) == 2
        assert [t["species"] for t in truth] == ["deer", "deer"]


# ---------------------------------------------------------------- non-deer subjects

def test_kind_constants():
    assert OTHER_KINDS == ("cow", "hog", "raccoon", "turkey", "person", "vehicle")
    assert ALL_KINDS == KINDS + OTHER_KINDS


@pytest.mark.parametrize("kind", OTHER_KINDS)
def test_other_kind_renders_with_a_tight_box(kind):
    spec = OtherSpec(kind, f"{kind}-1")
    size = (480, 270)
    empty, _ = render_scene(np.random.default_rng(0), size, [], background_seed=2, night=True)
    img, truth = render_scene(np.random.default_rng(0), size, [(spec, (240, 140, 100, 1))], background_seed=2,
                              night=True)
    (t,) = truth
    assert t == {"individual": f"{kind}-1", "kind": kind, "age_class": None, "box": t["box"], "species": kind}
    x1, y1, x2, y2 = t["box"]
    assert 0 <= x1 < x2 <= size[0] and 0 <= y1 < y2 <= size[1]
    changed = np.abs(np.asarray(img, dtype=int) - np.asarray(empty, dtype=int)).sum(2) > 40
    ys, xs = np.nonzero(changed)
    assert x1 - 2 <= xs.min() and xs.max() <= x2 + 2 and y1 - 2 <= ys.min() and ys.max() <= y2 + 2
    assert xs.min() - x1 < 8 and x2 - xs.max() < 8 and ys.min() - y1 < 8 and y2 - ys.max() < 8, "box should be tight"


def _box_at(spec, scale=100, seed=0):
    draw = ImageDraw.Draw(Image.new("RGB", (1000, 1000)))
    x1, y1, x2, y2 = draw_subject(draw, spec, 500, 500, scale, 1, np.random.default_rng(seed))
    return x2 - x1, y2 - y1


def test_other_kinds_have_plausible_shapes_and_sizes():
    for i in range(10):
        boxes = {k: _box_at(OtherSpec(k, f"{k}-{i}"), seed=i) for k in OTHER_KINDS}
        doe_w, doe_h = _box_at(DeerSpec("doe", None, f"doe-{i}"), seed=i)
        aspect = {k: w / h for k, (w, h) in boxes.items()}
        area = {k: w * h for k, (w, h) in boxes.items()}
        assert aspect["person"] < 0.5, "a person stands upright"
        assert aspect["cow"] > 1.1 and aspect["hog"] > 1.3 and aspect["raccoon"] > 1.8 and aspect["vehicle"] > 1.2
        assert 0.6 < aspect["turkey"] < 1.6
        assert area["cow"] > 4 * area["raccoon"] and area["cow"] > area["hog"] > area["raccoon"]
        assert area["vehicle"] > area["hog"] and area["cow"] > doe_w * doe_h * 0.9
        # heights against a doe's body length (the scale, 100 px): person ~1.1, raccoon low, turkey below a doe's back
        assert 95 < boxes["person"][1] < 125 and boxes["raccoon"][1] < 35 and boxes["turkey"][1] < 70 < doe_h


def test_others_place_inside_the_image_and_apart():
    rng = np.random.default_rng(4)
    for _ in range(20):
        specs = [random_subject(rng, "p", others=1.0) for _ in range(3)]
        assert all(isinstance(s, OtherSpec) for s in specs)
        img, truth = render_scene(rng, (320, 180), list(zip(specs, place_group(rng, (320, 180), specs))))
        for t in truth:  # the placement keeps the whole subject in view: nothing clipped away
            x1, y1, x2, y2 = t["box"]
            assert x1 > 0 and y1 > 0 and x2 < 320 and y2 < 180
    cx, cy, scale, facing = place_deer(rng, (960, 540), OtherSpec("vehicle", "v"), scale_range=(0.9, 1.0))
    assert scale * 1.8 < 960 and facing in (-1, 1)  # clamped to fit even when asked for a huge one


def test_same_individual_same_colours():
    for kind in OTHER_KINDS:
        assert other_appearance(f"{kind}-1", kind) == other_appearance(f"{kind}-1", kind)
        assert any(other_appearance(f"{kind}-1", kind) != other_appearance(f"{kind}-{i}", kind) for i in range(2, 6))

        def colours(individual, seed):
            img = Image.new("RGB", (400, 400), (0, 0, 255))
            draw_subject(ImageDraw.Draw(img), OtherSpec(kind, individual), 200, 200, 150 if kind != "vehicle" else 100,
                         1, np.random.default_rng(seed))
            pixels, counts = np.unique(np.asarray(img).reshape(-1, 3), axis=0, return_counts=True)
            return {tuple(p) for p, c in zip(pixels, counts) if c > 150} - {(0, 0, 255)}  # main colours

        assert colours(f"{kind}-1", 0) == colours(f"{kind}-1", 1), kind  # pose changes, colours do not
    assert colours("vehicle-1", 0) != colours("vehicle-7", 0)


def test_random_subject_mix_is_deterministic():
    assert random_subject(np.random.default_rng(3), "t") == random_subject(np.random.default_rng(3), "t")
    rng = np.random.default_rng(0)
    specs = [random_subject(rng, "t") for _ in range(2000)]
    others = [s for s in specs if isinstance(s, OtherSpec)]
    assert 0.25 < len(others) / len(specs) < 0.35
    assert {s.kind for s in others} == set(OTHER_KINDS)
    deer = [s for s in specs if isinstance(s, DeerSpec)]
    assert {(s.kind, s.age_class) for s in deer} == {("doe", None), ("fawn", "fawn"), ("buck", "young"),
                                                      ("buck", "mid"), ("buck", "mature")}
    assert 0.35 < sum(s.kind == "doe" for s in deer) / len(deer) < 0.45
    assert len({s.individual for s in specs}) == len(specs)


def test_folder_with_others(tmp_path):
    kw = dict(locations=("X", "Y"), photos_per_location=15, seed=7, size=(320, 180))
    default = make_photo_folder(tmp_path / "default", **kw)
    none = make_photo_folder(tmp_path / "none", others=0, **kw)
    assert none == default
    for r in default:
        assert (tmp_path / "none" / r["path"]).read_bytes() == (tmp_path / "default" / r["path"]).read_bytes()
    assert {r["species"] for r in default} <= {"deer", None}

    rows = make_photo_folder(tmp_path / "others", others=0.4, **kw)
    assert rows == make_photo_folder(tmp_path / "again", others=0.4, **kw)  # still deterministic
    assert len({r["path"] for r in rows}) == 30
    other = [r for r in rows if r["species"] not in ("deer", None)]
    assert len({r["kind"] for r in other}) >= 2, "expected a few kinds of non-deer"
    for r in other:
        assert r["kind"] in OTHER_KINDS and r["species"] == r["kind"] and r["age_class"] is None
        name, n = r["individual"].rsplit("-", 1)
        assert name == r["kind"] and n.isdigit()
        x1, y1, x2, y2 = r["box"]
        assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 180
    deer = [r for r in rows if r["species"] == "deer"]
    assert deer and all(r["kind"] in KINDS for r in deer)
    species = defaultdict(set)
    for r in rows:
        species[r["path"]].add(r["species"])
    with_other = [v for v in species.values() if v - {"deer", None}]
    assert any("deer" in v for v in with_other) and any("deer" not in v for v in with_other), "also and instead"
