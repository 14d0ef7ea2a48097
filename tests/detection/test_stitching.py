"""Track ids across window boundaries: IoU matching on the overlap frames (pure logic on synthetic boxes)."""

from __future__ import annotations

import numpy as np
import pytest

from basketball_analyzer.detection.stitching import IdStitcher, box_iou, match_tracks
from basketball_analyzer.detections import Detections
from basketball_analyzer.sample import default_players, player_box


def truth(frames: range, players, relabel=None, width=640, height=360) -> Detections:
    """The sample clip's true boxes on `frames`, with track ids relabelled by `relabel` (a window's own ids)."""
    parts = []
    for f in frames:
        boxes = [player_box(p, f, width, height) for p in players]
        ids = [relabel[i] if relabel else i for i in range(len(players))]
        parts.append(Detections.for_frame(f, np.array(boxes), np.ones(len(boxes)), ids))
    return Detections.merge(parts)


def test_box_iou_known_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    iou = box_iou(a, b)
    assert iou.shape == (2, 3)
    assert iou[0].tolist() == pytest.approx([1.0, 1 / 3, 0.0])
    assert iou[1].tolist() == [0.0, 0.0, 0.0]  # a degenerate box matches nothing


def test_ids_continue_across_a_boundary_on_the_synthetic_clip():
    players = default_players(640, 360, 3)
    stitcher = IdStitcher()
    # Window 1 (frames 0-29) numbers the players 0, 1, 2; window 2 (frames 24-59) numbers them 7, 5, 6.
    first = truth(range(30), players, relabel=[0, 1, 2])
    stitcher.start_window(Detections.empty(), Detections.empty())
    first.tracker_id = stitcher.to_global(first.tracker_id)
    second = truth(range(24, 60), players, relabel=[7, 5, 6])
    overlap = second[second.frame_number < 30]
    carried = stitcher.start_window(first[first.frame_number >= 24], overlap)
    assert carried == {7: 0, 5: 1, 6: 2}
    after = second[second.frame_number >= 30]
    after.tracker_id = stitcher.to_global(after.tracker_id)
    for f in (30, 45, 59):
        frame = after[after.frame_number == f]
        assert frame.tracker_id.tolist() == [0, 1, 2]


def test_new_and_vanished_tracks_get_new_ids_and_are_not_reused():
    players = default_players(640, 360, 3)
    stitcher = IdStitcher()
    stitcher.start_window(Detections.empty(), Detections.empty())
    first = truth(range(10), players[:2])
    first.tracker_id = stitcher.to_global(first.tracker_id)  # global 0, 1
    # Window 2 sees player 0 (as local 3) and a newcomer (player 2, as local 4); player 1 left.
    second = truth(range(8, 20), [players[0], players[2]], relabel=[3, 4])
    carried = stitcher.start_window(first[first.frame_number >= 8], second[second.frame_number < 10])
    assert carried == {3: 0}
    ids = stitcher.to_global(np.array([3, 4, 4, -1]))
    assert ids.tolist() == [0, 2, 2, -1]


def test_low_overlap_and_brief_tracks_are_not_matched():
    prev = Detections.merge([Detections.for_frame(f, [[0, 0, 10, 10]], [1.0], [0]) for f in range(4)])
    shifted = Detections.merge([Detections.for_frame(f, [[6, 0, 16, 10]], [1.0], [9]) for f in range(4)])
    assert match_tracks(prev, shifted) == {}  # IoU 0.25 on every frame
    brief = Detections.for_frame(3, [[0, 0, 10, 10]], [1.0], [9])  # same box, but on 1 of 4 shared frames
    other = Detections.merge([Detections.for_frame(f, [[50, 50, 60, 60]], [1.0], [8]) for f in range(3)])
    assert match_tracks(prev, Detections.merge([other, brief])) == {}
    assert match_tracks(prev, Detections.empty()) == {}


def test_each_previous_track_is_claimed_once_by_the_best_match():
    prev = Detections.merge([Detections.for_frame(f, [[0, 0, 10, 10]], [1.0], [0]) for f in range(3)])
    cur = Detections.merge([Detections.for_frame(f, [[0, 0, 10, 10], [0, 0, 10, 11]], [1.0, 1.0], [4, 5])
                            for f in range(3)])
    assert match_tracks(prev, cur) == {4: 0}


def test_matching_is_optimal_not_greedy():
    """IoUs A-B 0.9, A-C 0.85, D-B 0.8, D-C 0.565: greedy pairs A-B and D-C (1.465 in all), the optimal
    assignment A-C and D-B (1.65)."""
    prev = Detections.for_frame(0, [[0, 0, 100, 100], [0, 0, 100, 76.5]], [1, 1], [1, 2])  # B, C
    cur = Detections.for_frame(0, [[0, 0, 100, 90], [0, 20, 100, 100]], [1, 1], [7, 8])  # A, D
    assert box_iou(cur.xyxy, prev.xyxy).round(3).tolist() == [[0.9, 0.85], [0.8, 0.565]]
    assert match_tracks(prev, cur) == {7: 2, 8: 1}


def test_hungarian_beats_greedy_on_a_constructed_case():
    from basketball_analyzer.detection.stitching import _assign

    score = np.array([[0.9, 0.85], [0.8, 0.0]])  # rows: current A, D; columns: previous B, C
    assert _assign(score, np.array([10, 11]), np.array([1, 2]), 0.5) == {10: 2, 11: 1}
    # Below the threshold a pair is never matched, even when the assignment would pair it.
    assert _assign(np.array([[0.9, 0.4]]), np.array([10]), np.array([1, 2]), 0.5) == {10: 1}


def test_assignment_without_conflicts_equals_the_hungarian_one():
    """Where no track has two candidates the pairs are taken directly; they must be the optimum."""
    from scipy.optimize import linear_sum_assignment

    from basketball_analyzer.detection.stitching import _assign

    rng = np.random.default_rng(0)
    shortcut = 0
    for _ in range(300):
        score = rng.uniform(0, 1, (rng.integers(1, 8), rng.integers(1, 8)))
        score[rng.uniform(size=score.shape) < 0.8] = 0.0  # sparse: most draws have no conflict
        cur, prev = np.arange(score.shape[0]) + 100, np.arange(score.shape[1])
        gain = np.where(score >= 0.5, score, 0.0)
        rows, cols = linear_sum_assignment(gain, maximize=True)
        expected = {int(cur[r]): int(prev[c]) for r, c in zip(rows, cols) if score[r, c] >= 0.5}
        assert _assign(score, cur, prev, 0.5) == expected
        shortcut += int(((gain > 0).sum(0) <= 1).all() and ((gain > 0).sum(1) <= 1).all())
    assert 50 < shortcut < 300  # both paths were exercised
