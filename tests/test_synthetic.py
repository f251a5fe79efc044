"""Synthetic trail-camera photos: EXIF, determinism, ground truth, bursts, speed, individual looks."""
import time
from collections import defaultdict
from datetime import datetime, timedelta

import exifread
import numpy as np
import pytest
from PIL import Image

from models.synthetic import (DeerSpec, appearance, default_herd, make_photo_folder, place_group, render_scene,
                              write_photo)


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


def test_render_speed():
    rng = np.random.default_rng(0)
    herd = default_herd()
    scenes = [[(s, p) for s, p in zip(pair, place_group(rng, (960, 540), pair))]
              for pair in ([herd[i % 6], herd[(i + 3) % 6]] for i in range(30))]
    render_scene(rng, (960, 540), scenes[0], background_seed=0)  # background is cached per camera
    start = time.perf_counter()
    for i, deer in enumerate(scenes):
        render_scene(rng, (960, 540), deer, background_seed=i % 3, night=i % 4 == 0)
    rate = len(scenes) / (time.perf_counter() - start)
    assert rate >= 20, f"{rate:.1f} scenes/s"
