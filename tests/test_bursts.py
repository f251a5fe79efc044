from datetime import datetime, timedelta

import numpy as np
import pytest

from pipelines.bursts import box_iou, group_bursts, link_burst_detections

T0 = datetime(2024, 11, 3, 6, 15, 0)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def test_bursts_split_by_camera_and_gap_with_exact_gap_continuing():
    cams = ["A", "A", "B", "A", "A", "A"]
    times = [at(0), at(30), at(10), at(90), at(151), at(151)]
    # A: 0, 30, 90 (exactly 60 s after 30 -> same burst), 151 (61 s -> new, twice)
    assert group_bursts(cams, times, gap_seconds=60).tolist() == [0, 0, 1, 0, 2, 2]


def test_bursts_use_time_order_not_input_order():
    cams = ["A"] * 4
    times = [at(200), at(0), at(230), at(40)]
    assert group_bursts(cams, times).tolist() == [0, 1, 0, 1]


def test_photos_without_time_are_their_own_bursts():
    cams = ["A", "A", "A", "A"]
    times = [None, at(0), None, at(5)]
    assert group_bursts(cams, times).tolist() == [0, 1, 2, 1]


def test_group_bursts_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        group_bursts(["A"], [])


def test_box_iou_hand_values():
    iou = box_iou([[0, 0, 2, 1], [5, 5, 6, 6]], [[1, 0, 3, 1], [0, 0, 2, 1]])
    np.testing.assert_allclose(iou, [[1 / 3, 1.0], [0.0, 0.0]])


def test_link_burst_detections_follows_moving_boxes_one_to_one():
    left, right = [0.1, 0.1, 0.3, 0.3], [0.6, 0.6, 0.8, 0.8]
    nudge = lambda b, d: [b[0] + d, b[1], b[2] + d, b[3]]  # noqa: E731
    burst = [
        [left, right],
        [nudge(right, 0.02), nudge(left, 0.02)],  # detector listed them in the other order
        [],  # deer briefly hidden: nothing to link across
        [left],
    ]
    assert link_burst_detections(burst) == [((0, 0), (1, 1)), ((0, 1), (1, 0))]


def test_link_burst_detections_is_one_to_one_and_respects_threshold():
    box = [0.2, 0.2, 0.4, 0.4]
    # Two boxes in photo 0 overlap the single box in photo 1; only the better one links.
    burst = [[box, [0.22, 0.2, 0.42, 0.4]], [[0.21, 0.2, 0.41, 0.4]]]
    links = link_burst_detections(burst)
    assert len(links) == 1 and links[0][1] == (1, 0)
    # IoU of a quarter-overlap (1/7) is below the 0.3 default.
    far = [[[0.0, 0.0, 0.2, 0.2]], [[0.1, 0.1, 0.3, 0.3]]]
    assert link_burst_detections(far) == []
    assert link_burst_detections(far, iou_threshold=0.1) == [((0, 0), (1, 0))]
