"""Helpers on the synthetic game (sample_game.py) shared by the analytics tests."""

from __future__ import annotations


def with_ball(truth, boxes):
    """`boxes` plus a ball (track 500, label "ball") in player 0's hand for the first 4 seconds, then in player 3's."""
    from basketball_analyzer.detections import Detections

    rows = []
    for f in range(truth.positions.shape[0]):
        holder = 0 if f < 120 else 3
        box = truth.boxes.xyxy[(truth.boxes.frame_number == f) & (truth.boxes.tracker_id == holder)][0]
        x, y = box[2], box[1] + 0.45 * (box[3] - box[1])
        rows.append(Detections.for_frame(f, [[x - 5, y - 5, x + 5, y + 5]], [0.8], [500]).with_labels("ball"))
    return Detections.merge([boxes, *rows])
